//! Exec: the buffered [`run`](crate::resources::Vms::run) and the NDJSON
//! [`stream`](crate::resources::Vms::stream) of `POST /v1/vms/{id}/exec`.

mod command;
mod decode;
mod event;
mod output;
mod run;
pub(crate) mod shell;

pub use command::Command;
pub use decode::{ExecStream, MAX_LINE_BYTES};
pub use event::ExecEvent;
pub use output::{ExecExit, ExecOutput};
pub use run::RunOutput;
pub use shell::quote as shell_quote;

use crate::types::ExecVmRequest;
use crate::{FastvmClient, Result};

/// Sends the NDJSON exec request through the client's transport (same auth, tracing and
/// timeout policy as generated calls; `execVm` is never retried) and starts decoding.
pub(crate) async fn send_stream(
    client: &FastvmClient,
    id: &str,
    body: &ExecVmRequest,
    command: String,
) -> Result<ExecStream> {
    // The generated client cannot ask for NDJSON (progenitor always sends Accept:
    // application/json), so this request is hand-built, with the same path encoding.
    let path = format!("/v1/vms/{}/exec", fastvm_api::hooks::encode_path(id));
    let request = crate::transport::http::request(client, reqwest::Method::POST, &path)
        .header(reqwest::header::ACCEPT, "application/x-ndjson")
        .json(body);
    let response = crate::transport::http::send_raw(client, request, crate::transport::ops::find("execVm")).await?;
    let mut stream = ExecStream::new(response.bytes_stream());
    stream.command = command;
    Ok(stream)
}
