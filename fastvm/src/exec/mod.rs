//! Exec: the buffered [`run`](crate::resources::Vms::run) and the NDJSON
//! [`stream`](crate::resources::Vms::stream) of `POST /v1/vms/{id}/exec`.

mod command;
mod decode;
mod event;
mod output;

pub use command::Command;
pub use decode::{ExecStream, MAX_LINE_BYTES};
pub use event::ExecEvent;
pub use output::{ExecExit, ExecOutput};

use crate::types::ExecVmRequest;
use crate::{Error, FastvmClient, Result};

/// Sends the NDJSON exec request through the client's transport (same auth, tracing and
/// timeout policy as generated calls; `execVm` is never retried) and starts decoding.
pub(crate) async fn send_stream(client: &FastvmClient, id: &str, body: &ExecVmRequest) -> Result<ExecStream> {
    // The generated client cannot ask for NDJSON (progenitor always sends Accept:
    // application/json), so this one request is built here, with the same path encoding.
    let url = format!(
        "{}/v1/vms/{}/exec",
        client.base_url(),
        progenitor_client::encode_path(id)
    );
    let json = serde_json::to_vec(body).map_err(|e| Error::invalid("command", e.to_string()))?;
    let request = client
        .http()
        .post(url)
        .header(reqwest::header::ACCEPT, "application/x-ndjson")
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(json)
        .build()
        .map_err(Error::from_reqwest)?;
    use fastvm_api::hooks::Transport as _;
    let response = client
        .transport()
        .send(client.http(), request, "execVm")
        .await
        .map_err(Error::from_reqwest)?;
    if !response.status().is_success() {
        return Err(crate::http::api_error(response, Some("execVm")).await);
    }
    Ok(ExecStream::new(response.bytes_stream()))
}
