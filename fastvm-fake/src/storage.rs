//! Presigned staging storage served by the fake itself: `PUT`/`GET /storage/<key>?expires=
//! <unix>&sig=<hex>`, where `sig` is an HMAC-SHA256 (per-server secret) of the method, key and
//! expiry. Bodies stream to and from disk, so multi-gigabyte objects never sit in memory.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::state::{Inner, Object, Shared};

/// Lifetime of presigned URLs.
pub const PRESIGN_TTL_SECS: i64 = 3600;

fn mac(secret: &[u8], method: &str, key: &str, expires: i64) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(format!("{method}\n{key}\n{expires}").as_bytes());
    m
}

fn signed_url(s: &Shared, method: &str, key: &str, expires: i64) -> String {
    let sig = hex::encode(mac(&s.secret, method, key, expires).finalize().into_bytes());
    format!("{}/storage/{key}?expires={expires}&sig={sig}", s.base_url)
}

/// Mints a staging object and its `FilePresignResponse`.
pub fn presign(s: &Shared, g: &mut Inner, now_ms: i64, max_bytes: u64) -> Value {
    presign_key(s, g, now_ms, max_bytes).1
}

/// [`presign`], with the object's key (what a snapshot import's `contextRef` stands for).
pub fn presign_key(s: &Shared, g: &mut Inner, now_ms: i64, max_bytes: u64) -> (String, Value) {
    let key = Uuid::new_v4().simple().to_string();
    g.objects.insert(key.clone(), Object { max_bytes });
    let expires = now_ms / 1000 + PRESIGN_TTL_SECS;
    let urls = json!({
        "uploadUrl": signed_url(s, "PUT", &key, expires),
        "downloadUrl": signed_url(s, "GET", &key, expires),
        "expiresInSec": PRESIGN_TTL_SECS,
        "maxUploadBytes": max_bytes,
    });
    (key, urls)
}

/// Checks a signature; returns the object's settings.
fn verify(s: &Shared, method: &str, key: &str, expires: Option<&str>, sig: Option<&str>) -> Result<Object, String> {
    let (Some(expires), Some(sig)) = (expires, sig) else {
        return Err("missing signature".into());
    };
    let expires: i64 = expires.parse().map_err(|_| "malformed expiry".to_string())?;
    let sig = hex::decode(sig).map_err(|_| "malformed signature".to_string())?;
    mac(&s.secret, method, key, expires)
        .verify_slice(&sig)
        .map_err(|_| "signature does not match".to_string())?;
    let (g, now) = s.lock();
    if now / 1000 > expires {
        return Err("signed URL has expired".into());
    }
    g.objects.get(key).cloned().ok_or_else(|| "unknown object".into())
}

/// Validates a `downloadUrl` given to `files/fetch` or as a build context; returns the key.
pub fn verify_download_url(s: &Shared, url: &str) -> Result<String, String> {
    let prefix = format!("{}/storage/", s.base_url);
    let rest = url
        .strip_prefix(&prefix)
        .ok_or_else(|| "url was not minted by files/presign of this server".to_string())?;
    let (key, query) = rest.split_once('?').unwrap_or((rest, ""));
    let params: HashMap<&str, &str> = query.split('&').filter_map(|kv| kv.split_once('=')).collect();
    verify(
        s,
        "GET",
        key,
        params.get("expires").copied(),
        params.get("sig").copied(),
    )?;
    Ok(key.to_string())
}

/// A refused storage request: status and plain-text reason, like an object store's.
type Refusal = (StatusCode, String);

fn refuse(status: StatusCode, msg: impl Into<String>) -> Refusal {
    (status, msg.into())
}

fn respond((status, msg): Refusal) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], msg).into_response()
}

/// Shared checks of PUT and GET: no API key (signed URLs must not carry one) and a valid
/// signature.
fn admit(
    s: &Shared,
    method: &str,
    key: &str,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
) -> Result<Object, Refusal> {
    if headers.contains_key("x-api-key") {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "presigned URLs reject extra headers such as X-API-Key",
        ));
    }
    let hex_key = key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex_key {
        return Err(refuse(StatusCode::NOT_FOUND, "no such object"));
    }
    verify(
        s,
        method,
        key,
        q.get("expires").map(String::as_str),
        q.get("sig").map(String::as_str),
    )
    .map_err(|e| refuse(StatusCode::FORBIDDEN, e))
}

pub async fn put(
    State(s): State<Arc<Shared>>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let obj = match admit(&s, "PUT", &key, req.headers(), &q) {
        Ok(o) => o,
        Err(r) => return respond(r),
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > obj.max_bytes) {
        return respond(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("object exceeds {} bytes", obj.max_bytes),
        ));
    }
    let dir = s.objects_dir();
    // A unique part file, so concurrent PUTs of one key cannot interleave; the rename publishes.
    let part = dir.join(format!("{key}.{}.part", Uuid::new_v4().simple()));
    match write_body(req.into_body(), &part, obj.max_bytes).await {
        Ok(()) => match tokio::fs::rename(&part, dir.join(&key)).await {
            Ok(()) => StatusCode::OK.into_response(),
            Err(e) => respond(refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        },
        Err(r) => {
            let _ = tokio::fs::remove_file(&part).await;
            respond(r)
        }
    }
}

async fn write_body(body: Body, path: &std::path::Path, max: u64) -> Result<(), Refusal> {
    let internal = |e: std::io::Error| refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let mut file = tokio::fs::File::create(path).await.map_err(internal)?;
    let mut stream = body.into_data_stream();
    let mut written: u64 = 0;
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("reading body: {e}")))?
    {
        written += chunk.len() as u64;
        if written > max {
            return Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("object exceeds {max} bytes"),
            ));
        }
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.flush().await.map_err(internal)?;
    Ok(())
}

pub async fn get(
    State(s): State<Arc<Shared>>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admit(&s, "GET", &key, &headers, &q) {
        return respond(r);
    }
    let file = match tokio::fs::File::open(s.objects_dir().join(&key)).await {
        Ok(f) => f,
        Err(_) => return respond(refuse(StatusCode::NOT_FOUND, "no object has been uploaded to this URL")),
    };
    let len = match file.metadata().await {
        Ok(m) => m.len(),
        Err(e) => return respond(refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024));
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        body,
    )
        .into_response()
}

/// Path of a stored object, for `files/fetch`.
pub fn object_path(s: &Shared, key: &str) -> std::path::PathBuf {
    s.objects_dir().join(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_method_key_and_expiry() {
        let secret = [7u8; 32];
        let sig = mac(&secret, "GET", "k", 10).finalize().into_bytes();
        assert!(mac(&secret, "GET", "k", 10).verify_slice(&sig).is_ok());
        assert!(mac(&secret, "PUT", "k", 10).verify_slice(&sig).is_err());
        assert!(mac(&secret, "GET", "j", 10).verify_slice(&sig).is_err());
        assert!(mac(&secret, "GET", "k", 11).verify_slice(&sig).is_err());
        assert!(mac(&[8u8; 32], "GET", "k", 10).verify_slice(&sig).is_err());
    }
}
