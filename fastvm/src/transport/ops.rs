//! Per-operation facts: the one table the transport, the retry policy, errors and logs read.

/// What the SDK knows about one operation of the spec.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Op {
    /// The spec's `operationId`: also the operation's name in errors and logs.
    pub(crate) id: &'static str,
    /// Safe to repeat. An operation that is not (a repeat could launch a second VM, run a
    /// command twice, …) is retried only when the request provably never reached the server (a
    /// connect error), or when the caller opts in with
    /// [`RequestOptions::retry_non_idempotent`](crate::RequestOptions::retry_non_idempotent).
    pub(crate) idempotent: bool,
    /// How long its answer may take: what its default per-request timeout is.
    pub(crate) timing: Timing,
}

/// How long an operation's answer may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timing {
    /// An ordinary call: the client's timeout (default 60 s).
    Ordinary,
    /// A call the server may take minutes to answer and that is not safe to repeat (a launch
    /// from a large snapshot, a snapshot of a large VM): at least [`SLOW_TIMEOUT`], so that a
    /// client-side timeout does not abandon a VM or snapshot being made (real-clients §1.2, §1.3:
    /// the apps raised it to 300 s by hand).
    Slow,
    /// Lasts as long as the command or transfer it runs: no default per-request timeout (its own
    /// `timeoutSec` bounds it server-side).
    Unbounded,
}

/// The least default timeout of a [`Timing::Slow`] operation.
pub(crate) const SLOW_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

use Timing::{Ordinary, Slow, Unbounded};

const fn op(id: &'static str, idempotent: bool, timing: Timing) -> Op {
    Op { id, idempotent, timing }
}

/// Every operation of `openapi.json` (a test keeps the two in step). Not idempotent: the
/// creations the official TypeScript SDK never retries (api-notes §5.1), plus `addSshKey`.
pub(crate) const OPS: &[Op] = &[
    op("getHealth", true, Ordinary),
    op("listVms", true, Ordinary),
    op("launchVm", false, Slow),
    op("getVm", true, Ordinary),
    op("updateVm", true, Ordinary),
    op("deleteVm", true, Ordinary),
    op("pauseVm", true, Ordinary),
    op("resumeVm", true, Ordinary),
    op("refreshVmTtl", true, Ordinary),
    op("setVmFirewall", true, Ordinary),
    op("patchVmFirewall", true, Ordinary),
    op("createConsoleToken", true, Ordinary),
    op("execVm", false, Unbounded),
    op("listServices", true, Ordinary),
    op("registerService", false, Ordinary),
    op("updateService", true, Ordinary),
    op("deleteService", true, Ordinary),
    op("listSshKeys", true, Ordinary),
    op("addSshKey", false, Ordinary),
    op("deleteSshKey", true, Ordinary),
    op("presignFile", false, Ordinary),
    op("fetchFileToVm", false, Unbounded),
    op("listSnapshots", true, Ordinary),
    op("createSnapshot", false, Slow),
    op("getSnapshot", true, Ordinary),
    op("updateSnapshot", true, Ordinary),
    op("deleteSnapshot", true, Ordinary),
    op("createBuild", false, Ordinary),
    op("getBuild", true, Ordinary),
    op("presignBuildContext", false, Ordinary),
    op("getOrgQuotas", true, Ordinary),
];

/// What is assumed of an operation missing from the table (none is: a test checks): the
/// cautious answer, not safe to repeat.
const UNLISTED: Op = op("unknown", false, Ordinary);

/// The facts of the operation with `id` (the spec's operationId).
pub(crate) fn find(id: &str) -> &'static Op {
    OPS.iter().find(|op| op.id == id).unwrap_or(&UNLISTED)
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

    /// The table has one row per operation of the spec, and nothing else.
    #[test]
    fn the_table_lists_exactly_the_spec_operations() {
        let spec: serde_json::Value = serde_json::from_str(include_str!("../../../openapi.json")).unwrap();
        let mut in_spec: Vec<&str> = spec_walk::operations(&spec)
            .filter_map(|(_, _, _, op)| op.get("operationId").and_then(|id| id.as_str()))
            .collect();
        let mut in_table: Vec<&str> = OPS.iter().map(|op| op.id).collect();
        in_spec.sort_unstable();
        in_table.sort_unstable();
        assert_eq!(in_table, in_spec);
        assert_eq!(find("nope"), &UNLISTED);
        assert!(!is_idempotent("launchVm") && !is_idempotent("execVm") && is_idempotent("getVm"));
        assert_eq!(
            [
                find("execVm").timing,
                find("fetchFileToVm").timing,
                find("getVm").timing
            ],
            [Unbounded, Unbounded, Ordinary]
        );
        assert_eq!([find("launchVm").timing, find("createSnapshot").timing], [Slow, Slow]);
    }
}
