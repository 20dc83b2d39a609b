//! The generated test tables [`ANSWERS`] and [`CALLS`] (written by `codegen/tables.rs` into
//! the generated module `test_tables`) and what they are made of. Behind the feature `tables`, which only the workspace's
//! tests turn on: they drive every operation and decode every answer type of the spec without a
//! hand-written line per operation.

use std::future::Future;
use std::pin::Pin;

use progenitor_client::{Error, ResponseValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use crate::test_tables::{ANSWERS, CALLS};

/// The future of a [`Call`]: the decoded answer, re-encoded as JSON (`null` for none), with the
/// answer's status and headers.
pub type CallFuture<'a> = Pin<Box<dyn Future<Output = Result<ResponseValue<Value>, Error<()>>> + Send + 'a>>;

/// One operation and a call of its generated builder.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// The spec's `operationId`.
    pub id: &'static str,
    /// Calls the operation with the generated client, each builder setter fed from the
    /// argument object's member of the same name (case and separators aside: `serviceName`
    /// feeds `service_name`), the request body from `body`; an absent member leaves its setter
    /// unset.
    pub call: for<'a> fn(&'a crate::Client, &'a Value) -> CallFuture<'a>,
}

/// One answer type of the spec and the generated type that decodes it.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    /// The answer's schema as the spec writes it: `Schema`, or `[Schema]` for a list.
    pub schema: &'static str,
    /// The generated Rust type, as a reader writes it (`Vm`, `Vec<Vm>`).
    pub rust: &'static str,
    /// Decodes a JSON answer as that type and gives it back re-encoded, or the decoder's
    /// message (see [`decode`]).
    pub decode: fn(&Value) -> Result<Value, String>,
}

/// The call table's lookup: the member of `args` whose name, with case and separators folded
/// away, is `setter`'s.
pub fn find<'a>(args: &'a Value, setter: &str) -> Option<&'a Value> {
    let fold = |s: &str| {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect::<String>()
    };
    let wanted = fold(setter);
    args.as_object()?
        .iter()
        .find(|(k, _)| fold(k) == wanted)
        .map(|(_, v)| v)
}

/// The argument `name` as the setter's type `T`; one that does not fit is the request error the
/// builder would give.
pub fn arg<T: DeserializeOwned>(name: &str, v: &Value) -> Result<T, Error<()>> {
    serde_json::from_value(v.clone()).map_err(|e| Error::InvalidRequest(format!("argument {name}: {e}")))
}

/// A generated call's answer, re-encoded as JSON.
pub fn encoded<T: Serialize>(answer: ResponseValue<T>) -> Result<ResponseValue<Value>, Error<()>> {
    let (status, headers) = (answer.status(), answer.headers().clone());
    let value = serde_json::to_value(answer.into_inner())
        .map_err(|e| Error::Custom(format!("the answer does not re-encode: {e}")))?;
    Ok(ResponseValue::new(value, status, headers))
}

/// Decodes `v` as a `T` the way a generated call does (its bytes, through
/// [`body_of`](crate::decode::body_of)) and gives it back re-encoded, or the decoder's message.
///
/// # Panics
/// When decoding the bytes and decoding the JSON value disagree (a test helper: that would be a
/// bug of a type's `Deserialize`).
pub fn decode<T: DeserializeOwned + Serialize>(v: &Value) -> Result<Value, String> {
    let bytes = serde_json::to_vec(v).expect("a JSON value encodes");
    let from_bytes = match crate::decode::body_of::<T>(&bytes) {
        Some(r) => r.map_err(|e| e.to_string()),
        None => Err("no body".to_string()),
    };
    let from_value = serde_json::from_value::<T>(v.clone()).map_err(|e| e.to_string());
    assert_eq!(
        from_bytes.is_ok(),
        from_value.is_ok() || v.is_null(),
        "decoding the bytes and the value disagree on {v}: {:?} / {:?}",
        from_bytes.as_ref().err(),
        from_value.as_ref().err()
    );
    from_bytes.map(|t| serde_json::to_value(&t).expect("a decoded value re-encodes"))
}
