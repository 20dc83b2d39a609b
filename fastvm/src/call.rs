//! The future of one generated call, as the resource methods await it.
//!
//! Every resource method is `call(operation, <generated builder>.send()).await`: the generated
//! future's result becomes the body (or the status and body) on success, and an
//! [`Error`] on failure, mapped from the raw response so the body snippet, the request id and a
//! quota's dimension are kept.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use progenitor_client::ResponseValue;

use crate::error::{ApiError, ApiErrorKind};
use crate::{Error, Result};

/// The result of a generated call.
type Generated<T> = std::result::Result<ResponseValue<T>, progenitor_client::Error<()>>;

pin_project_lite::pin_project! {
    /// Polls a generated call, then, only if it failed, the mapping of its error.
    ///
    /// A hand-written future rather than an `async fn` or combinators, for the size and the
    /// copies of the common path: an `async fn` keeps its future argument twice in its state,
    /// and `then`/`map` chains move the result through each layer; the generated future is
    /// about 1.6 KiB and a VM about 0.5 KiB, so those copies were a measurable share of a
    /// call's cost. Here the success value is moved once, and the error path (which reads the
    /// error body) is boxed: large and rarely taken. The generated future is not boxed:
    /// measured, an allocation of its size (beyond glibc's per-thread cache) cost as much as the
    /// copies it saves.
    pub(crate) struct Call<F, T, O> {
        #[pin]
        generated: F,
        error: Option<Pin<Box<dyn Future<Output = Error> + Send>>>,
        operation: &'static str,
        ok: fn(ResponseValue<T>) -> O,
    }
}

impl<F, T, O> Future for Call<F, T, O>
where
    F: Future<Output = Generated<T>>,
{
    type Output = Result<O>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(error) = this.error.as_mut() {
            return error.as_mut().poll(cx).map(Err);
        }
        match ready!(this.generated.poll(cx)) {
            Ok(value) => Poll::Ready(Ok((this.ok)(value))),
            Err(e) => {
                let error = this.error.insert(Box::pin(map_error(e, this.operation)));
                error.as_mut().poll(cx).map(Err)
            }
        }
    }
}

impl<F, T, O> Call<F, T, O> {
    fn new(operation: &'static str, generated: F, ok: fn(ResponseValue<T>) -> O) -> Self {
        Call {
            generated,
            error: None,
            operation,
            ok,
        }
    }
}

/// Awaits a generated call and returns its body.
pub(crate) fn call<F, T>(operation: &'static str, generated: F) -> Call<F, T, T>
where
    F: Future<Output = Generated<T>>,
{
    Call::new(operation, generated, ResponseValue::into_inner)
}

/// Awaits a generated call and returns its status with its body (launch's 201 or 202).
pub(crate) fn call_with_status<F, T>(operation: &'static str, generated: F) -> Call<F, T, (reqwest::StatusCode, T)>
where
    F: Future<Output = Generated<T>>,
{
    Call::new(operation, generated, |value| (value.status(), value.into_inner()))
}

/// Maps an error of a generated call.
async fn map_error(e: progenitor_client::Error<()>, operation: &'static str) -> Error {
    use progenitor_client::Error as E;
    match e {
        E::UnexpectedResponse(resp) => crate::http::api_error(resp, Some(operation)).await,
        E::ErrorResponse(rv) => Error::Api(Box::new(ApiError {
            status: rv.status(),
            kind: ApiErrorKind::from_status(rv.status(), false),
            message: rv.status().canonical_reason().unwrap_or("error").to_string(),
            body: String::new(),
            request_id: crate::http::request_id(rv.headers()),
            dimension: None,
            operation: Some(operation),
        })),
        E::CommunicationError(e) | E::ResponseBodyError(e) => Error::from_reqwest(e),
        E::InvalidResponsePayload(bytes, e) => Error::decode(operation, e, &bytes),
        E::InvalidRequest(m) => Error::invalid("request", m),
        E::InvalidUpgrade(e) => Error::from_reqwest(e),
        E::Custom(m) => Error::Decode {
            message: m,
            snippet: String::new(),
        },
    }
}
