//! How the resource methods await a generated call.
//!
//! Every resource method is `call(op, <generated builder>.send()).await`: the generated
//! future's result becomes the body on success, and an [`Error`] on failure, mapped from the raw
//! answer so that the body snippet, the request id and a quota's dimension are kept.

use std::future::{Future, ready};

use futures::FutureExt;
use futures::future::Either;

use progenitor_client::ResponseValue;

use crate::{Error, Result};

/// The result of a generated call.
type Generated<T> = std::result::Result<ResponseValue<T>, progenitor_client::Error<()>>;

// Why combinators and not `async fn`: an `async fn` keeps its future argument and the value it
// awaits in separate slots of its state, so each layer would hold the generated future (about
// 1.6 KiB) once more, and every call would carry and copy several of them. `then` holds it once,
// in place, and replaces it with the (boxed, rare) error mapping when it is done.

/// Awaits a generated call of `operation` and returns its body. A 2xx answer with no body is a
/// [`Error::Decode`] naming the operation and the status.
pub(crate) fn call<T>(
    operation: &'static str,
    generated: impl Future<Output = Generated<T>>,
) -> impl Future<Output = Result<T>> {
    finish(generated, move |value| Ok(value.into_inner()), operation)
}

/// [`call`], with the answer's status (launch's 201 or 202).
pub(crate) fn call_with_status<T>(
    operation: &'static str,
    generated: impl Future<Output = Generated<T>>,
) -> impl Future<Output = Result<(reqwest::StatusCode, T)>> {
    finish(
        generated,
        move |value| Ok((value.status(), value.into_inner())),
        operation,
    )
}

/// [`call`] for an operation whose result the caller already knows (a delete): a 2xx answer
/// with no body gives `known()`.
pub(crate) fn call_or<T>(
    operation: &'static str,
    generated: impl Future<Output = Generated<T>>,
    known: impl FnOnce() -> T,
) -> impl Future<Output = Result<T>> {
    generated.then(move |result| match result {
        Ok(value) => Either::Left(ready(Ok(value.into_inner()))),
        Err(progenitor_client::Error::UnexpectedResponse(resp)) if resp.status().is_success() => {
            Either::Left(ready(Ok(known())))
        }
        Err(e) => Either::Right(map_error(e, operation).map(Err)),
    })
}

/// The shared tail of [`call`] and [`call_with_status`]: `ok` on success, the mapped error
/// otherwise.
fn finish<T, U>(
    generated: impl Future<Output = Generated<T>>,
    ok: impl FnOnce(ResponseValue<T>) -> Result<U>,
    operation: &'static str,
) -> impl Future<Output = Result<U>> {
    generated.then(move |result| match result {
        Ok(value) => Either::Left(ready(ok(value))),
        Err(e) => Either::Right(map_error(e, operation).map(Err)),
    })
}

/// Maps an error of a generated call.
async fn map_error(e: progenitor_client::Error<()>, operation: &'static str) -> Error {
    use progenitor_client::Error as E;
    match e {
        // `fastvm_api::decode::success` hands back a 2xx without a body this way.
        E::UnexpectedResponse(resp) if resp.status().is_success() => Error::empty_body(operation, resp.status()),
        E::UnexpectedResponse(resp) => crate::http::api_error(resp, Some(operation)).await,
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
        E::InvalidResponsePayload(bytes, e) => Error::decode(operation, e, &bytes),
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
