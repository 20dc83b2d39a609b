//! Per-operation facts: what the transport, the retry policy, errors and logs read.
//!
//! They are stated once, in `openapi.json` (`x-fastvm-idempotent`, `x-fastvm-timing`,
//! `security`; see the spec's `x-fastvm-extensions` and CONTRIBUTING.md), and generated into
//! [`fastvm_api::OPERATIONS`]; nothing here lists an operation.

/// What the SDK knows about one operation of the spec: `id` (the spec's `operationId`, also the
/// operation's name in errors and logs), `idempotent` (safe to repeat: an operation that is not,
/// which could launch a second VM or run a command twice, is retried only when the request
/// provably never reached the server (a connect error), or when the caller opts in with
/// [`RequestOptions::retry_non_idempotent`](crate::RequestOptions::retry_non_idempotent)), and
/// `timing` (what its default per-request timeout is).
pub(crate) use fastvm_api::ops::Op;
/// How long an operation's answer may take: `Ordinary` (the client's timeout, default 60 s),
/// `Slow` (the server may take minutes and the call is not safe to repeat, a launch from a
/// large snapshot or a snapshot of a large VM: at least [`SLOW_TIMEOUT`], so that a client-side
/// timeout does not abandon a VM or snapshot being made; real-clients §1.2, §1.3: the apps
/// raised it to 300 s by hand), `Unbounded` (lasts as long as the command or transfer it runs:
/// no default per-request timeout; its own `timeoutSec` bounds it server-side).
pub(crate) use fastvm_api::ops::Timing;

/// The least default timeout of a [`Timing::Slow`] operation.
pub(crate) const SLOW_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// What is assumed of an operation missing from the table (none is: the table is generated
/// from the spec the calls are generated from): the cautious answer, not safe to repeat.
const UNLISTED: Op = Op {
    id: "unknown",
    method: "",
    path: "",
    idempotent: false,
    timing: Timing::Ordinary,
    public: false,
    empty_answer_known: false,
    deprecated: false,
};

/// The facts of the operation with `id` (the spec's operationId).
pub(crate) fn find(id: &str) -> &'static Op {
    fastvm_api::ops::find(id).unwrap_or(&UNLISTED)
}

/// Whether a call of `id` may be repeated without harm.
pub(crate) fn is_idempotent(id: &str) -> bool {
    find(id).idempotent
}

#[cfg(test)]
// The workspace's one walker of a spec's operations (a link to `fastvm-api/spec_walk.rs`).
#[path = "../../spec_walk.rs"]
#[allow(dead_code)]
mod spec_walk;

#[cfg(test)]
mod tests {
    use super::*;

    /// The table has one row per operation of the spec, and nothing else; the facts the
    /// transport reads come through (the spec's extensions are what the table says).
    #[test]
    fn the_table_is_the_spec_operations_with_their_extensions() {
        let spec: serde_json::Value = serde_json::from_str(include_str!("../../../openapi.json")).unwrap();
        let in_spec: Vec<(&str, &serde_json::Value)> = spec_walk::operations(&spec)
            .map(|(_, _, _, op)| (op["operationId"].as_str().unwrap(), op))
            .collect();
        let in_table: Vec<&str> = fastvm_api::OPERATIONS.iter().map(|op| op.id).collect();
        let ids: Vec<&str> = in_spec.iter().map(|(id, _)| *id).collect();
        assert_eq!(in_table, ids);
        for (id, op) in &in_spec {
            let found = find(id);
            if let Some(stated) = op.get("x-fastvm-idempotent").and_then(|v| v.as_bool()) {
                assert_eq!(found.idempotent, stated, "{id}");
            }
            let timing = match op.get("x-fastvm-timing").and_then(|v| v.as_str()) {
                Some("slow") => Timing::Slow,
                Some("unbounded") => Timing::Unbounded,
                _ => Timing::Ordinary,
            };
            assert_eq!(found.timing, timing, "{id}");
        }
        assert_eq!(find("nope"), &UNLISTED);
        assert!(!is_idempotent("nope"));
        // What the retry policy and timeouts are tested with elsewhere.
        assert!(!is_idempotent("launchVm") && !is_idempotent("execVm") && is_idempotent("getVm"));
        assert_eq!(
            [find("execVm").timing, find("launchVm").timing, find("getVm").timing],
            [Timing::Unbounded, Timing::Slow, Timing::Ordinary]
        );
    }
}
