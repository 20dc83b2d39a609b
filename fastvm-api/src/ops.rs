//! What the SDK knows about each operation of the spec: the table [`OPERATIONS`](crate::OPERATIONS),
//! generated from `openapi.json`'s `x-fastvm-*` extensions and `security` (see the spec's
//! top-level `x-fastvm-extensions` and CONTRIBUTING.md). The `fastvm` facade's transport reads
//! it for retries, timeouts and the operation's name in errors and logs.

/// How long an operation's answer may take (`x-fastvm-timing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// An ordinary call (no extension).
    Ordinary,
    /// `slow`: the server may take minutes to answer (a launch from a large snapshot).
    Slow,
    /// `unbounded`: lasts as long as the command or transfer it runs.
    Unbounded,
}

/// One operation of the spec and what its extensions say.
#[derive(Debug, PartialEq, Eq)]
pub struct Op {
    /// The spec's `operationId`.
    pub id: &'static str,
    /// Upper-case HTTP method.
    pub method: &'static str,
    /// The path template (`/v1/vms/{id}`).
    pub path: &'static str,
    /// Safe to repeat (`x-fastvm-idempotent`, or the HTTP method's semantics).
    pub idempotent: bool,
    /// `x-fastvm-timing`.
    pub timing: Timing,
    /// Sent without the API key (`security: []`).
    pub public: bool,
    /// A 2xx answer without a body is complete: the caller knows the result
    /// (`x-fastvm-empty-answer-known`).
    pub empty_answer_known: bool,
    /// Marked `deprecated` in the spec.
    pub deprecated: bool,
}

/// The operation whose `operationId` is `id`.
///
/// ```
/// let op = fastvm_api::ops::find("launchVm").unwrap();
/// assert!(!op.idempotent && op.timing == fastvm_api::ops::Timing::Slow);
/// assert!(fastvm_api::ops::find("getHealth").unwrap().public);
/// assert!(fastvm_api::ops::find("nope").is_none());
/// ```
pub fn find(id: &str) -> Option<&'static Op> {
    crate::OPERATIONS.iter().find(|op| op.id == id)
}
