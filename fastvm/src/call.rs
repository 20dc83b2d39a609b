//! How the resource methods make a generated call.
//!
//! Every resource method is `call("<operationId>", client, |api| api.<method>()…send()).await`.
//! The closure makes the call; it is made again for each retry, so no copy of the request is
//! kept for a retry that most calls never need. The generated future's result becomes the body
//! on success, and an [`Error`] on failure, mapped from the raw answer so that the body snippet,
//! the request id and a quota's dimension are kept.

use std::future::{Future, ready};

use futures::FutureExt;
use futures::future::Either;

use progenitor_client::ResponseValue;
use reqwest::StatusCode;

use crate::retry::{self, Attempt};
use crate::{Error, FastvmClient, Result, ops};

/// The result of a generated call.
type Generated<T> = std::result::Result<ResponseValue<T>, progenitor_client::Error<()>>;

impl<T> Attempt for Generated<T> {
    fn refused(&mut self) -> Option<&mut reqwest::Response> {
        match self {
            Err(progenitor_client::Error::UnexpectedResponse(resp)) if !resp.status().is_success() => Some(resp),
            _ => None,
        }
    }

    fn failed(&self) -> Option<&reqwest::Error> {
        match self {
            Err(progenitor_client::Error::CommunicationError(e)) => Some(e),
            _ => None,
        }
    }
}

// Why combinators and not `async fn`: an `async fn` keeps its future argument and the value it
// awaits in separate slots of its state, so each layer would hold the generated future (about
// 1.3 KiB) once more, and every call would carry and copy several of them. `then` holds it once,
// in place, and replaces it with the (boxed, rare) retries and error mapping when it fails.

/// Makes the call of `operation` with `make` (given the facade's generated client), retried as
/// the client's policy allows, and returns its body. A 2xx answer with no body is an
/// [`Error::Decode`] naming the operation and the status.
pub(crate) fn call<'a, T, F, Fut>(
    operation: &'static str,
    client: &'a FastvmClient,
    make: F,
) -> impl Future<Output = Result<T>>
where
    F: FnMut(&'a fastvm_api::Client) -> Fut,
    Fut: Future<Output = Generated<T>>,
{
    finish(
        operation,
        client,
        make,
        |value| Ok(value.into_inner()),
        move |status| Err(Error::empty_body(operation, status)),
    )
}

/// [`call`], with the answer's status (launch's 201 or 202).
pub(crate) fn call_with_status<'a, T, F, Fut>(
    operation: &'static str,
    client: &'a FastvmClient,
    make: F,
) -> impl Future<Output = Result<(StatusCode, T)>>
where
    F: FnMut(&'a fastvm_api::Client) -> Fut,
    Fut: Future<Output = Generated<T>>,
{
    finish(
        operation,
        client,
        make,
        |value| Ok((value.status(), value.into_inner())),
        move |status| Err(Error::empty_body(operation, status)),
    )
}

/// [`call`] for an operation whose result the caller already knows (a delete): a 2xx answer
/// with no body gives `known()`.
pub(crate) fn call_or<'a, T, F, Fut>(
    operation: &'static str,
    client: &'a FastvmClient,
    make: F,
    known: impl FnOnce() -> T,
) -> impl Future<Output = Result<T>>
where
    F: FnMut(&'a fastvm_api::Client) -> Fut,
    Fut: Future<Output = Generated<T>>,
{
    finish(
        operation,
        client,
        make,
        |value| Ok(value.into_inner()),
        move |_| Ok(known()),
    )
}

/// The shared body of the `call` functions: `ok` on success, `empty` for a 2xx without a body,
/// the retries and the mapped error otherwise.
fn finish<'a, T, U, F, Fut>(
    operation: &'static str,
    client: &'a FastvmClient,
    mut make: F,
    ok: impl FnOnce(ResponseValue<T>) -> Result<U>,
    empty: impl FnOnce(StatusCode) -> Result<U>,
) -> impl Future<Output = Result<U>>
where
    F: FnMut(&'a fastvm_api::Client) -> Fut,
    Fut: Future<Output = Generated<T>>,
{
    let api = client.calls();
    make(api).then(move |first| match first {
        Ok(value) => Either::Left(ready(ok(value))),
        Err(e) => Either::Right(Box::pin(async move {
            let retries = client.transport().retries(ops::find(operation));
            match retry::repeat(retries, Err(e), |_| Some(make(api))).await {
                Ok(value) => ok(value),
                // `fastvm_api::decode::success` hands back a 2xx without a body this way.
                Err(progenitor_client::Error::UnexpectedResponse(resp)) if resp.status().is_success() => {
                    empty(resp.status())
                }
                Err(e) => Err(map_error(e, operation, &crate::http::own_secrets(&client.transport().settings)).await),
            }
        })),
    })
}

/// Maps an error of a generated call; the server's text is cleared of `secrets` (the client's
/// own, see `http::own_secrets`).
async fn map_error(e: progenitor_client::Error<()>, operation: &'static str, secrets: &[&str]) -> Error {
    use progenitor_client::Error as E;
    match e {
        E::UnexpectedResponse(resp) if resp.status().is_success() => Error::empty_body(operation, resp.status()),
        E::UnexpectedResponse(resp) => crate::http::api_error(resp, Some(operation), secrets).await,
        // The spec declares no error bodies to progenitor (codegen removes them), so this is
        // not reached; it is mapped like any other error answer all the same.
        E::ErrorResponse(rv) => Error::Api {
            error: Box::new(crate::error::ApiError {
                status: rv.status(),
                kind: crate::ApiErrorKind::from_status(rv.status(), false),
                message: rv.status().canonical_reason().unwrap_or("error").to_string(),
                body: String::new(),
                request_id: crate::http::request_id(rv.headers()),
                dimension: None,
                operation: Some(operation),
            }),
        },
        E::CommunicationError(e) | E::ResponseBodyError(e) | E::InvalidUpgrade(e) => {
            Error::from_reqwest(e, Some(operation))
        }
        E::InvalidResponsePayload(bytes, e) => Error::decode(operation, e, &bytes, secrets),
        E::InvalidRequest(m) => Error::invalid("request", m),
        // What the decoder says itself (an answer over its size limit): the SDK's own text.
        E::Custom(m) => Error::Decode {
            operation: Some(operation),
            status: None,
            message: m,
            snippet: String::new(),
            source: None,
        },
    }
}
