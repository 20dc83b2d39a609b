//! How the generated operations decode answers: tolerant, as the official SDKs are.
//!
//! `codegen/tolerance.rs` points the generated code here; see its module comment for the whole
//! set of adaptations.

use progenitor_client::{Error, ResponseValue};
use serde::{Deserialize, Deserializer, de::DeserializeOwned};

/// The largest 2xx body a generated operation reads: 32 MiB. An answer is decoded whole, so a
/// larger one (many times any real answer: a list of 10,000 VMs is about 10 MiB) is refused
/// with [`Error::Custom`] ([`too_large`]) once its `Content-Length` or its first bytes past the
/// limit tell, instead of being held in memory.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// The message of an answer over [`MAX_BODY_BYTES`].
pub fn too_large() -> String {
    format!(
        "the answer is larger than {} MiB, the most the SDK reads for one answer",
        MAX_BODY_BYTES >> 20
    )
}

/// Decodes the JSON body of a 2xx answer into `T`.
///
/// A `null` body is the empty value of `T` where it has one (an empty list; see [`body_of`]),
/// and is otherwise treated as no body. A 2xx without a body (a `204`, or a `200` with nothing
/// in it) is handed back as
/// [`Error::UnexpectedResponse`], with its status and headers kept and an empty body: whether
/// that is acceptable depends on the operation (a delete's result is known to its caller), so
/// the caller decides. A body that does not decode is [`Error::InvalidResponsePayload`], with the
/// bytes, as progenitor's own decoder does. A body over [`MAX_BODY_BYTES`] is
/// [`Error::Custom`] with the [`too_large`] message.
pub async fn success<T: DeserializeOwned, E>(response: reqwest::Response) -> Result<ResponseValue<T>, Error<E>> {
    let status = response.status();
    if response.content_length().is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(Error::Custom(too_large()));
    }
    // The head is moved out rather than its headers copied (an allocation per call).
    let (head, body) = http::Response::<reqwest::Body>::from(response).into_parts();
    let headers = head.headers;
    let body = http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_BODY_BYTES))
        .await
        .map_err(|e| match e.downcast::<reqwest::Error>() {
            Ok(e) => Error::ResponseBodyError(*e),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Error::Custom(too_large()),
            Err(e) => Error::Custom(e.to_string()),
        })?
        .to_bytes();
    match body_of(&body) {
        Some(Ok(inner)) => Ok(ResponseValue::new(inner, status, headers)),
        Some(Err(e)) => Err(Error::InvalidResponsePayload(body, e)),
        None => {
            let mut empty = http::Response::new(reqwest::Body::from(Vec::<u8>::new()));
            *empty.status_mut() = status;
            *empty.headers_mut() = headers;
            Err(Error::UnexpectedResponse(reqwest::Response::from(empty)))
        }
    }
}

/// What a 2xx body holds, the one rule for generated and hand-built requests: `None` when there
/// is no body (empty, or a `null` where `T` has no empty value), else the decoded value. A
/// `null` body is the empty value of `T` where it has one: an empty list, or an object whose
/// members all tolerate absence.
pub fn body_of<T: DeserializeOwned>(body: &[u8]) -> Option<Result<T, serde_json::Error>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    if is_null(body) {
        return empty_value().map(Ok);
    }
    Some(serde_json::from_slice(body))
}

/// Whether a body is the JSON `null` (a Go server encodes an empty slice or a nil pointer so).
fn is_null(body: &[u8]) -> bool {
    body.trim_ascii() == b"null"
}

/// What a `null` body means for a result of type `T`: an empty list for a list, an object
/// whose members are all absent for an object that tolerates that; `None` when `T` has
/// members it cannot do without (the answer is then treated as having no body).
fn empty_value<T: DeserializeOwned>() -> Option<T> {
    serde_json::from_slice(b"[]")
        .or_else(|_| serde_json::from_slice(b"{}"))
        .ok()
}

/// Deserializes an optional date leniently: an RFC 3339 date-time is the date; anything else
/// (`null`, `""`, another format, a number) is `None`, never a failure of the whole answer.
pub fn lenient_date<'de, D>(deserializer: D) -> Result<Option<chrono::DateTime<chrono::Utc>>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(s) => chrono::DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc)),
        _ => None,
    })
}

/// Deserializes `null` as `T::default()`: for the fields that decode an absent member as their
/// empty value, a `null` member means the same.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The value of an absent member of a required enum field (in a type the client also sends):
/// `Unknown("")`, a value visibly not one the server named. The facade refuses to send an empty
/// unknown value back, so it can never go out in place of the absent one.
pub fn unknown_when_absent<T: From<&'static str>>() -> T {
    T::from("")
}

/// Deserializes `null` as [`unknown_when_absent`]: for a required enum field, a `null` member
/// means the same as an absent one.
pub fn null_as_unknown<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + From<&'static str>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_else(unknown_when_absent))
}
