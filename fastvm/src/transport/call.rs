//! How the resource methods make a generated call.
//!
//! Every resource method is `call("<operationId>", client, |api| api.<method>()…send()).await`.
//! The generated client sends through the view's transport, which prepares, retries and traces
//! the request (`http.rs`); here its result becomes the body on success, and an [`Error`] on
//! failure, mapped from the raw answer so that the body snippet, the request id and a quota's
//! dimension are kept.

use std::future::Future;

use progenitor_client::ResponseValue;
use reqwest::StatusCode;

use crate::{Error, FastvmClient, Result};

/// The result of a generated call.
pub(crate) type Generated<T> = std::result::Result<ResponseValue<T>, progenitor_client::Error<()>>;

/// Makes the call of `operation` with `make` (given the view's generated client) and returns its
/// body. A 2xx answer with no body is an [`Error::Decode`] naming the operation and the status.
pub(crate) async fn call<'a, T, Fut>(
    operation: &'static str,
    client: &'a FastvmClient,
    make: impl FnOnce(&'a fastvm_api::Client) -> Fut,
) -> Result<T>
where
    Fut: Future<Output = Generated<T>>,
{
    Ok(call_with_status(operation, client, make).await?.1)
}

/// [`call`], with the answer's status (launch's 201 or 202).
pub(crate) async fn call_with_status<'a, T, Fut>(
    operation: &'static str,
    client: &'a FastvmClient,
    make: impl FnOnce(&'a fastvm_api::Client) -> Fut,
) -> Result<(StatusCode, T)>
where
    Fut: Future<Output = Generated<T>>,
{
    match make(&client.inner.api).await {
        Ok(value) => Ok((value.status(), value.into_inner())),
        Err(e) => Err(map_error(e, operation, client).await),
    }
}

/// [`call`] for an operation whose result the caller already knows (a delete): a 2xx answer
/// with no body gives `known()`.
///
/// The generated call may return the result's type (the spec documents a body) or `()` (the
/// spec documents a body-less success): [`Known`] turns either into the facade's result, so a
/// spec change between the two changes no facade code.
pub(crate) async fn call_or<'a, T, G, Fut>(
    operation: &'static str,
    client: &'a FastvmClient,
    make: impl FnOnce(&'a fastvm_api::Client) -> Fut,
    known: impl FnOnce() -> T,
) -> Result<T>
where
    Fut: Future<Output = Generated<G>>,
    G: Known<T>,
{
    match make(&client.inner.api).await {
        Ok(value) => Ok(value.into_inner().or_known(known)),
        // `fastvm_api::decode::success` hands back a 2xx without a body this way.
        Err(progenitor_client::Error::UnexpectedResponse(resp)) if resp.status().is_success() => Ok(known()),
        Err(e) => Err(map_error(e, operation, client).await),
    }
}

/// What a generated call's success gives for a result `T` the caller knows without an answer
/// (see [`call_or`]): the decoded answer itself, or, when the spec documents no body (the
/// generated call returns `()`), the known result.
pub(crate) trait Known<T> {
    /// The facade's result: `self`, or `known()` where `self` holds nothing.
    fn or_known(self, known: impl FnOnce() -> T) -> T;
}

impl<T> Known<T> for T {
    fn or_known(self, _known: impl FnOnce() -> T) -> T {
        self
    }
}

// One impl per result type the facade knows (the compiler names a missing one, `Known<X>` not
// implemented for `()`): a blanket `impl<T> Known<T> for ()` would overlap the one above at
// `T = ()`.
impl Known<fastvm_api::types::DeleteResponse> for () {
    fn or_known(self, known: impl FnOnce() -> fastvm_api::types::DeleteResponse) -> fastvm_api::types::DeleteResponse {
        known()
    }
}

impl Known<fastvm_api::types::Service> for () {
    fn or_known(self, known: impl FnOnce() -> fastvm_api::types::Service) -> fastvm_api::types::Service {
        known()
    }
}

/// Maps an error of a generated call (after the transport's retries); the server's text is
/// cleared of the client's own secrets (see `http::own_secrets`).
async fn map_error(e: progenitor_client::Error<()>, operation: &'static str, client: &FastvmClient) -> Error {
    use progenitor_client::Error as E;
    let secrets = crate::transport::http::own_secrets(&client.transport().settings);
    let secrets = &secrets;
    match e {
        E::UnexpectedResponse(resp) if resp.status().is_success() => Error::empty_body(operation, resp.status()),
        E::UnexpectedResponse(resp) => crate::transport::response::api_error(resp, Some(operation), secrets).await,
        // The spec declares no error bodies to progenitor (codegen removes them), so this is
        // not reached; it is mapped like any other error answer all the same.
        E::ErrorResponse(rv) => Error::Api {
            error: Box::new(crate::error::ApiError {
                status: rv.status(),
                kind: crate::ApiErrorKind::from_status(rv.status(), false),
                message: rv.status().canonical_reason().unwrap_or("error").to_string(),
                body: String::new(),
                request_id: crate::transport::response::request_id(rv.headers()),
                dimension: None,
                operation: Some(operation),
            }),
        },
        E::CommunicationError(e) | E::ResponseBodyError(e) | E::InvalidUpgrade(e) => {
            Error::from_reqwest(e, Some(operation))
        }
        E::InvalidResponsePayload(bytes, e) => Error::decode(operation, e, &bytes, secrets),
        // What the decoder says itself (an answer over its size limit): the SDK's own text.
        E::InvalidRequest(m) => Error::invalid("request", m),
        E::Custom(m) => Error::Decode {
            operation: Some(operation),
            status: None,
            message: m,
            snippet: String::new(),
            source: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use fastvm_api::types::DeleteResponse;

    use super::Known;

    #[test]
    fn a_decoded_answer_is_the_result_and_a_body_less_one_the_known_result() {
        let known = || DeleteResponse::new("asked", true);
        let answered = DeleteResponse::new("told", false);
        assert_eq!(answered.clone().or_known(known), answered);
        // The generated call of an operation documented without a body returns `()`.
        assert_eq!(().or_known(known), known());
    }
}
