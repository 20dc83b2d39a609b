//! Resource groups mirroring the reference: `client.vms()`, `client.vms().services()`, ….
//!
//! One convention throughout: what a call needs is positional; everything optional is set on
//! the request builder the method returns, which is awaited directly:
//!
//! ```no_run
//! # async fn demo(client: fastvm::FastvmClient, vm: &str) -> fastvm::Result<()> {
//! use fastvm::types::VmStatus;
//! let running = client.vms().list().status(VmStatus::Running).metadata("team", "red").await?;
//! let web = client.vms().services().register(vm, "web", 8080).h2c(true).await?;
//! let snap = client.snapshots().create(vm).name("golden").await?;
//! # Ok(()) }
//! ```

mod bucket_mounts;
mod build_contexts;
mod builds;
mod files;
mod health;
mod import_wait;
pub(crate) mod poll;
mod pricing;
mod quotas;
pub(crate) mod services;
mod snapshot_imports;
mod snapshots;
pub(crate) mod ssh_keys;
mod user_ssh_keys;
mod vms;
mod volumes;
mod wait;

pub use bucket_mounts::{BucketMounts, CreateBucketMount};
pub use build_contexts::BuildContexts;
pub use builds::{Builds, CreateBuild};
pub use files::{FetchFile, Files};
pub use health::Health;
pub use import_wait::CreateSnapshotImportReady;
pub(crate) use import_wait::{own_until_finished, until_finished};
pub use pricing::Pricing;
pub use quotas::Quotas;
pub use services::{RegisterService, Services, UpdateService};
pub use snapshot_imports::{CreateSnapshotImport, PresignContext, SnapshotImports};
pub(crate) use snapshot_imports::{Draft, import_setters};
pub use snapshots::{CreateSnapshot, Snapshots, UpdateSnapshot};
pub use ssh_keys::{AddSshKey, SshKeys};
pub use user_ssh_keys::{AddUserSshKey, UserSshKeys};
pub use vms::{LaunchResponse, LaunchWarnings, ListVms, UpdateVm, Vms};
pub use volumes::{AttachVolume, CreateVolume, UpdateVolume, Volumes};
pub use wait::{CreateSnapshotReady, Settles, Wait};

pub use fastvm_api::InvalidKeyFile;

use crate::transport::call::{Generated, Known, call_or};
use crate::types::DeleteResponse;
use crate::{FastvmClient, Result};

/// The delete `operation` of `id` (an id, a name or a fingerprint) made with `make`: the
/// answer, with `id` where it left the id out; a 2xx answer without a body says `id` is
/// deleted (see [`call_or`]).
pub(crate) async fn call_delete<'a, G, Fut>(
    operation: &'static str,
    client: &'a FastvmClient,
    id: &str,
    make: impl FnOnce(&'a fastvm_api::Client) -> Fut,
) -> Result<DeleteResponse>
where
    Fut: std::future::Future<Output = Generated<G>>,
    G: Known<DeleteResponse>,
{
    let answer = call_or(operation, client, make, || deleted(id)).await?;
    Ok(known_id(answer, id))
}

/// The result of a delete whose answer has no body: the id the caller gave, deleted.
pub(crate) fn deleted(id: &str) -> DeleteResponse {
    DeleteResponse::new(id, true)
}

/// A delete's result with the caller's id where the answer left it out.
pub(crate) fn known_id(mut response: DeleteResponse, id: &str) -> DeleteResponse {
    if response.id.is_empty() {
        response.id = id.to_string();
    }
    response
}

/// Makes a request builder awaitable: `impl IntoFuture for $builder<'a>`, running its
/// `async fn send(self) -> Result<$out>`. With a third argument, a closure that makes a
/// `tracing` span from the builder, the work runs in that span (a workflow's span: the
/// requests it makes are logged inside it).
macro_rules! into_future {
    ($builder:ident => $out:ty) => {
        impl<'a> ::std::future::IntoFuture for $builder<'a> {
            type Output = $crate::Result<$out>;
            type IntoFuture = ::futures::future::BoxFuture<'a, $crate::Result<$out>>;

            fn into_future(self) -> Self::IntoFuture {
                Box::pin(self.send())
            }
        }
    };
    ($builder:ident => $out:ty, $span:expr) => {
        impl<'a> ::std::future::IntoFuture for $builder<'a> {
            type Output = $crate::Result<$out>;
            type IntoFuture = ::futures::future::BoxFuture<'a, $crate::Result<$out>>;

            fn into_future(self) -> Self::IntoFuture {
                let span: ::tracing::Span = ($span)(&self);
                Box::pin(::tracing::Instrument::instrument(self.send(), span))
            }
        }
    };
}
pub(crate) use into_future;
