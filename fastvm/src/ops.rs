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
    /// Lasts as long as the command or transfer it runs: no default per-request timeout (its own
    /// `timeoutSec` bounds it server-side).
    pub(crate) long_running: bool,
}

const fn op(id: &'static str, idempotent: bool, long_running: bool) -> Op {
    Op {
        id,
        idempotent,
        long_running,
    }
}

/// Every operation of `openapi.json` (a test keeps the two in step). Not idempotent: the
/// creations the official TypeScript SDK never retries (api-notes §5.1), plus `addSshKey`.
pub(crate) const OPS: &[Op] = &[
    op("getHealth", true, false),
    op("listVms", true, false),
    op("launchVm", false, false),
    op("getVm", true, false),
    op("updateVm", true, false),
    op("deleteVm", true, false),
    op("pauseVm", true, false),
    op("resumeVm", true, false),
    op("refreshVmTtl", true, false),
    op("setVmFirewall", true, false),
    op("patchVmFirewall", true, false),
    op("createConsoleToken", true, false),
    op("execVm", false, true),
    op("listServices", true, false),
    op("registerService", false, false),
    op("updateService", true, false),
    op("deleteService", true, false),
    op("listSshKeys", true, false),
    op("addSshKey", false, false),
    op("deleteSshKey", true, false),
    op("presignFile", false, false),
    op("fetchFileToVm", false, true),
    op("listSnapshots", true, false),
    op("createSnapshot", false, false),
    op("getSnapshot", true, false),
    op("updateSnapshot", true, false),
    op("deleteSnapshot", true, false),
    op("createBuild", false, false),
    op("getBuild", true, false),
    op("presignBuildContext", false, false),
    op("getOrgQuotas", true, false),
];

/// What is assumed of an operation missing from the table (none is: a test checks): the
/// cautious answer, not safe to repeat.
const UNLISTED: Op = op("unknown", false, false);

/// The facts of the operation with `id` (the spec's operationId).
pub(crate) fn find(id: &str) -> &'static Op {
    OPS.iter().find(|op| op.id == id).unwrap_or(&UNLISTED)
}

/// Whether a call of `id` may be repeated without harm.
pub(crate) fn is_idempotent(id: &str) -> bool {
    find(id).idempotent
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table has one row per operation of the spec, and nothing else.
    #[test]
    fn the_table_lists_exactly_the_spec_operations() {
        let spec: serde_json::Value = serde_json::from_str(include_str!("../../openapi.json")).unwrap();
        let mut in_spec: Vec<&str> = spec["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .filter_map(|op| op.get("operationId").and_then(|id| id.as_str()))
            .collect();
        let mut in_table: Vec<&str> = OPS.iter().map(|op| op.id).collect();
        in_spec.sort_unstable();
        in_table.sort_unstable();
        assert_eq!(in_table, in_spec);
        assert_eq!(find("nope"), &UNLISTED);
        assert!(!is_idempotent("launchVm") && !is_idempotent("execVm") && is_idempotent("getVm"));
        assert!(find("execVm").long_running && find("fetchFileToVm").long_running && !find("getVm").long_running);
    }
}
