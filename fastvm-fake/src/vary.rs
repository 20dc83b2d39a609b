//! Wire variance on the way out: the one place every answer passes through, which applies the
//! server's [`Variance`] to successful JSON bodies, NDJSON exec streams and statuses. Handlers
//! know nothing of it.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::error::ApiError;
use crate::reshape::reshape;
use crate::shape::{ShapeId, Shapes};
use crate::state::Shared;
use crate::variance::{Rule, Variance};

/// `other-2xx`: (today's status, status under variance) of `op`, for exactly the operations
/// whose success status the spec marks inferred (`x-fastvm-inferred`, from api-notes §2), by
/// the rule: reads say 203 (a transformed copy); a delete whose result the caller already
/// knows (`x-fastvm-empty-answer-known`) 204 with no body, another delete 202; a 201 becomes
/// 200; a creation (a POST not safe to repeat) answered 200 becomes 201; other updates 202
/// (accepted). Operations with a documented status keep it.
fn other_2xx_statuses(op: &str) -> Option<(u16, u16)> {
    let op = crate::spec_operations().iter().find(|o| o.id == op)?;
    let [today] = op.success[..] else { return None };
    if !op.inferred {
        return None;
    }
    let to = match (op.method.as_str(), today) {
        ("GET", _) => 203,
        ("DELETE", _) if op.empty_answer_known => 204,
        ("DELETE", _) => 202,
        (_, 201) => 200,
        ("POST", _) if !op.idempotent => 201,
        _ => 202,
    };
    Some((today, to))
}

const NDJSON: &str = "application/x-ndjson";

/// Middleware: runs the handler, then varies its answer as the server's variance says.
pub async fn respond(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let op = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|p| crate::operation_id(req.method(), p.as_str()));
    let resp = next.run(req).await;
    match op {
        Some(op) => vary(s.config.variance, op, conform(op, resp)).await,
        None => resp,
    }
}

/// A handler's success answer as the spec documents it: when its status is not one the spec
/// lists for `op` and the spec lists exactly one, that one, without a body if the spec
/// documents none (a delete that became a 204 upstream needs no handler change). An answer the
/// spec already documents is left as it is, byte for byte.
fn conform(op: &str, resp: Response) -> Response {
    let Some(facts) = crate::spec_operations().iter().find(|o| o.id == op) else {
        return resp;
    };
    let status = resp.status().as_u16();
    if !resp.status().is_success() || facts.success.contains(&status) {
        return resp;
    }
    let [documented] = facts.success[..] else { return resp };
    let Ok(to) = StatusCode::from_u16(documented) else {
        return resp;
    };
    let (mut parts, body) = resp.into_parts();
    parts.status = to;
    if !facts.has_body || to == StatusCode::NO_CONTENT {
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, body)
}

/// The answer `resp` of `op` as `variance` would send it: body rules first, status last.
async fn vary(variance: Variance, op: &str, resp: Response) -> Response {
    // No variance: today's answer untouched, byte for byte (not even re-encoded).
    if variance.is_none() || !resp.status().is_success() {
        return resp;
    }
    let media = media_type(resp.headers());
    // With only `other-2xx` on, bodies go out as they are, not re-encoded.
    let reshaping = variance.rules().any(|r| r != Rule::Other2xx);
    let shape = Shapes::get().response(op, resp.status().as_u16(), &media);
    let resp = match shape.filter(|_| reshaping) {
        Some(shape) if media == NDJSON => vary_stream(resp, shape, variance),
        Some(shape) => vary_json(resp, shape, variance).await,
        None => resp,
    };
    if variance.contains(Rule::Other2xx) {
        other_2xx(op, resp)
    } else {
        resp
    }
}

/// The media type of a response, without parameters (`application/json; charset=...`).
fn media_type(headers: &HeaderMap) -> String {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    ct.unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Re-encodes a buffered JSON body after the body rules. A body that is not JSON stays as is.
async fn vary_json(resp: Response, shape: ShapeId, variance: Variance) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "reading the answer failed").into_response();
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(vary_line(&bytes, shape, variance)))
}

/// Applies the body rules to each NDJSON line as it passes, so the stream stays a stream: every
/// complete line goes out as soon as it is in, and an unterminated last line at the end.
fn vary_stream(resp: Response, shape: ShapeId, variance: Variance) -> Response {
    let (parts, body) = resp.into_parts();
    let lines = futures::stream::unfold(Some((body.into_data_stream(), Vec::new())), move |state| async move {
        let (mut data, mut buf) = state?;
        loop {
            match data.next().await {
                Some(Ok(chunk)) => {
                    buf.extend_from_slice(&chunk);
                    let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
                        continue;
                    };
                    let rest = buf.split_off(end + 1);
                    let mut out = Vec::with_capacity(buf.len());
                    for line in buf.split_inclusive(|&b| b == b'\n') {
                        out.extend_from_slice(&vary_line(line.strip_suffix(b"\n").unwrap_or(line), shape, variance));
                        out.push(b'\n');
                    }
                    return Some((Ok(Bytes::from(out)), Some((data, rest))));
                }
                Some(Err(e)) => return Some((Err(e), None)),
                None if buf.is_empty() => return None,
                None => return Some((Ok(Bytes::from(vary_line(&buf, shape, variance))), None)),
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(lines))
}

/// One JSON document (a body or an NDJSON line) after the body rules; not JSON: unchanged.
fn vary_line(bytes: &[u8], shape: ShapeId, variance: Variance) -> Vec<u8> {
    match serde_json::from_slice(bytes) {
        Ok(mut v) => {
            reshape(&mut v, shape, variance);
            serde_json::to_vec(&v).expect("JSON of a JSON value")
        }
        Err(_) => bytes.to_vec(),
    }
}

/// `other-2xx` for `op`, when its answer has today's status.
fn other_2xx(op: &str, mut resp: Response) -> Response {
    let from = resp.status().as_u16();
    let Some(to) = other_2xx_statuses(op)
        .filter(|(today, _)| *today == from)
        .map(|(_, to)| to)
    else {
        return resp;
    };
    let to = StatusCode::from_u16(to).expect("statuses in the table are valid");
    if to == StatusCode::NO_CONTENT {
        let (mut parts, _) = resp.into_parts();
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove(header::CONTENT_LENGTH);
        resp = Response::from_parts(parts, Body::empty());
    }
    *resp.status_mut() = to;
    resp
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use axum::Json;
    use serde_json::{Value, json};

    use super::*;

    /// Each operation's documented success statuses, from the spec itself.
    fn spec_statuses() -> BTreeMap<String, BTreeSet<u16>> {
        let spec: Value = serde_json::from_str(crate::shape::SPEC).unwrap();
        let mut out = BTreeMap::new();
        for (_, _, _, op) in crate::spec_walk::operations(&spec) {
            let ok = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .filter_map(|s| s.parse::<u16>().ok());
            let ok: BTreeSet<u16> = ok.filter(|s| (200..300).contains(s)).collect();
            out.insert(op["operationId"].as_str().unwrap().to_string(), ok);
        }
        out
    }

    #[test]
    fn other_2xx_covers_exactly_the_inferred_statuses() {
        let statuses = spec_statuses();
        let spec: Value = serde_json::from_str(crate::shape::SPEC).unwrap();
        let mut varied = 0;
        for (_, _, _, op) in crate::spec_walk::operations(&spec) {
            let id = op["operationId"].as_str().unwrap();
            let inferred = op["responses"]
                .as_object()
                .unwrap()
                .values()
                .any(|r| r.get("x-fastvm-inferred") == Some(&json!(true)));
            match other_2xx_statuses(id) {
                Some((from, to)) => {
                    varied += 1;
                    assert!(inferred, "{id}: its status is documented, not inferred");
                    assert_eq!(
                        statuses[id],
                        BTreeSet::from([from]),
                        "{id}: today's status is the spec's"
                    );
                    assert!((200..300).contains(&to) && to != from, "{id}");
                }
                None => assert!(!inferred, "{id}: inferred, but not varied"),
            }
        }
        assert!(varied > 0, "the spec marks inferred statuses");
        // The rule on the reference's operations.
        let to = |op| other_2xx_statuses(op).map(|(_, to)| to);
        assert_eq!(
            ["getVm", "updateVm", "addSshKey", "presignFile", "deleteVm", "pauseVm"].map(to),
            [Some(203), Some(202), Some(200), Some(201), Some(204), None]
        );
    }

    /// One request to `server` over loopback, with hyper's own client.
    async fn http(
        server: &crate::FakeServer,
        method: &str,
        path: &str,
        accept: &str,
        body: &str,
    ) -> (StatusCode, Bytes) {
        let addr = server.base_url().strip_prefix("http://").unwrap();
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let io = hyper_util::rt::TokioIo::new(tcp);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        let req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, addr)
            .header(header::ACCEPT, accept)
            .header("x-api-key", server.api_key())
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, headers, bytes) = parts(sender.send_request(req).await.unwrap().map(Body::new)).await;
        assert_eq!(headers[header::CONTENT_TYPE], accept);
        (status, bytes)
    }

    /// The guard that variance off changes nothing: the bytes a client receives from a default
    /// server are exactly what the handlers produce.
    #[tokio::test]
    async fn without_variance_clients_get_the_handlers_bytes() {
        let server = crate::FakeServer::start().await.unwrap();
        let (status, bytes) = http(&server, "POST", "/v1/vms", "application/json", "{}").await;
        assert_eq!(status, StatusCode::CREATED);
        let id: uuid::Uuid = serde_json::from_slice::<Value>(&bytes).unwrap()["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let vm = format!("/v1/vms/{id}");
        let (status, bytes) = http(&server, "GET", &vm, "application/json", "").await;
        let expected = {
            let (g, _) = server.shared.lock();
            serde_json::to_vec(&server.shared.vm_json(&g.vms[&id])).unwrap()
        };
        assert_eq!((status, &bytes[..]), (StatusCode::OK, &expected[..]));

        let echo = r#"{"command":["echo","hi"]}"#;
        let (_, stream) = http(&server, "POST", &format!("{vm}/exec"), NDJSON, echo).await;
        let mut keys = Vec::new();
        for line in stream.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line: Value = serde_json::from_slice(line).unwrap();
            let mut k: Vec<String> = line.as_object().unwrap().keys().cloned().collect();
            k.sort();
            keys.push(k);
        }
        assert_eq!(keys, [vec!["d", "t"], vec!["ms", "t"]]);

        let (status, bytes) = http(&server, "DELETE", &vm, "application/json", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            bytes,
            serde_json::to_vec(&json!({ "id": id.to_string(), "deleted": true })).unwrap()
        );
    }

    async fn parts(resp: Response) -> (StatusCode, HeaderMap, Bytes) {
        let (p, body) = resp.into_parts();
        (
            p.status,
            p.headers,
            axum::body::to_bytes(body, usize::MAX).await.unwrap(),
        )
    }

    #[test]
    fn an_answer_the_spec_does_not_document_takes_the_documented_status_and_body() {
        // getVm documents 200 with a body: a 201 from a handler becomes that 200, body kept.
        let resp = conform("getVm", (StatusCode::CREATED, Json(json!({"id": "x"}))).into_response());
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers().contains_key(header::CONTENT_TYPE));
        // deleteService documents a 204 without a body: a 200 with one becomes that.
        let resp = conform("deleteService", deleted());
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert!(!resp.headers().contains_key(header::CONTENT_TYPE));
        // Documented answers, errors and launch's two statuses are left alone.
        assert_eq!(conform("deleteVm", deleted()).status(), StatusCode::OK);
        let accepted = (StatusCode::ACCEPTED, Json(json!({"id": "x"}))).into_response();
        assert_eq!(conform("launchVm", accepted).status(), StatusCode::ACCEPTED);
        let missing = (StatusCode::NOT_FOUND, Json(json!({"error": "no"}))).into_response();
        assert_eq!(conform("getVm", missing).status(), StatusCode::NOT_FOUND);
    }

    fn deleted() -> Response {
        Json(json!({ "id": "x", "deleted": true })).into_response()
    }

    #[tokio::test]
    async fn no_variance_leaves_answers_untouched() {
        let body = r#"{ "id" : "x",   "deleted":true}"#;
        let resp = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
        let (status, headers, bytes) = parts(vary(Variance::none(), "deleteVm", resp).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers.get(header::CONTENT_TYPE).unwrap(), "application/json");
        assert_eq!(bytes, body.as_bytes(), "not even re-encoded");
    }

    #[tokio::test]
    async fn other_2xx_empties_deletes_and_keeps_other_bodies_byte_for_byte() {
        let v = Variance::all();
        let (status, headers, bytes) = parts(vary(v, "deleteSnapshot", deleted()).await).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(bytes.is_empty() && headers.get(header::CONTENT_TYPE).is_none());
        let body = r#"{ "id" : "x",   "deleted":true}"#;
        let resp = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
        let (status, _, bytes) = parts(vary(Rule::Other2xx.into(), "getVm", resp).await).await;
        assert_eq!(status, StatusCode::NON_AUTHORITATIVE_INFORMATION);
        assert_eq!(bytes, body.as_bytes(), "the same body, not even re-encoded");
    }

    #[tokio::test]
    async fn errors_and_unvaried_operations_keep_status_and_body() {
        let v = Variance::all();
        let err = ApiError::not_found("vm", "x").into_response();
        let (status, _, bytes) = parts(vary(v, "getVm", err).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(bytes, r#"{"error":"vm x not found"}"#.as_bytes());
        let (status, _, _) = parts(vary(v, "deleteService", StatusCode::NO_CONTENT.into_response()).await).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let created = (
            StatusCode::CREATED,
            Json(json!({ "name": "web", "port": 8080, "h2c": false })),
        );
        let (status, _, bytes) = parts(vary(v, "registerService", created.into_response()).await).await;
        assert_eq!(status, StatusCode::CREATED);
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(
            body.get("h2c").is_none() && body.get("fakeExtraArray").is_some(),
            "{body}"
        );
    }

    #[tokio::test]
    async fn stream_lines_are_varied_one_by_one_whatever_the_chunking() {
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"{\"t\":\"o\",\"d\":\"aGk=\"}\n{\"t\":")),
            Ok(Bytes::from_static(b"\"x\",\"ms\":0}\n")),
            Ok(Bytes::from_static(b"{\"t\":\"x\",\"c\":0}")),
        ];
        let resp = (
            [(header::CONTENT_TYPE, NDJSON)],
            Body::from_stream(futures::stream::iter(chunks)),
        )
            .into_response();
        let (status, _, bytes) = parts(vary(Rule::Omitempty.into(), "execVm", resp).await).await;
        assert_eq!(status, StatusCode::OK);
        let text = std::str::from_utf8(&bytes).unwrap();
        let lines: Vec<Value> = text.split('\n').map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(
            lines,
            [
                json!({ "t": "o", "d": "aGk=" }),
                json!({ "t": "x" }),
                json!({ "t": "x" })
            ]
        );
    }
}
