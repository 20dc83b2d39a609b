//! Families of snapshot names: the newest of a family ([`FastvmClient::newest_snapshot`]) and
//! keeping only the newest N of it ([`FastvmClient::prune_snapshots`]). The rotation of
//! [`build_image`](FastvmClient::build_image) is a prune too.

use super::fleet::{SweepError, SweptKind, delete_each};
use crate::resources::Snapshots;
use crate::resources::into_future;
use crate::types::{Snapshot, SnapshotStatus};
use crate::{Error, FastvmClient, Result};

/// The names of a family of snapshots: one exact name, or a prefix followed by a suffix of a
/// given shape. Used by [`FastvmClient::newest_snapshot`] and [`FastvmClient::prune_snapshots`].
///
/// A bare prefix is rarely what a family is: `agent-t1-` also starts `agent-t1-x-1715700000`,
/// a snapshot of task `t1-x`. [`numbered`](Self::numbered) matches only the prefix followed
/// by digits (a counter, a Unix time, a compact date such as `20260514` or
/// `20260514101500`), which such a name is not.
///
/// ```
/// use fastvm::workflows::SnapshotFamily;
/// let task = SnapshotFamily::numbered("agent-t1-");
/// assert!(task.matches("agent-t1-1715700000"));
/// assert!(!task.matches("agent-t1-x-1715700000"));
/// assert!(!task.matches("agent-t1-"));
///
/// let image = SnapshotFamily::exact("reviewer-base");
/// assert!(image.matches("reviewer-base") && !image.matches("reviewer-base-2"));
///
/// let loose = SnapshotFamily::prefix("nightly-");
/// assert!(loose.matches("nightly-anything"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SnapshotFamily {
    /// The name (exact) or the prefix.
    text: String,
    suffix: Suffix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Suffix {
    /// No suffix: `text` is the whole name, compared as the server stores names.
    None,
    /// One or more ASCII digits.
    Digits,
    /// Anything, nothing included.
    Any,
}

impl SnapshotFamily {
    /// The snapshots named `name`, compared as the server stores names (trimmed, each
    /// whitespace run collapsed to one space, at most 64 characters; see
    /// [`names`](crate::names)), as [`Snapshots::find_by_name`] compares.
    ///
    /// ```
    /// let family = fastvm::workflows::SnapshotFamily::exact("  golden  image ");
    /// assert!(family.matches("golden image"));
    /// ```
    pub fn exact(name: impl Into<String>) -> Self {
        SnapshotFamily {
            text: name.into(),
            suffix: Suffix::None,
        }
    }

    /// The snapshots named `prefix` followed by one or more ASCII digits and nothing else
    /// (`app-1`, `app-1715700000`, `app-20260514`; not `app-`, `app-1a`, `app-2026-05-14`).
    /// Compared as given, case-sensitively.
    ///
    /// ```
    /// let family = fastvm::workflows::SnapshotFamily::numbered("app-");
    /// assert!(family.matches("app-20260514"));
    /// assert!(!family.matches("app-2026-05-14"));
    /// ```
    pub fn numbered(prefix: impl Into<String>) -> Self {
        SnapshotFamily {
            text: prefix.into(),
            suffix: Suffix::Digits,
        }
    }

    /// The snapshots whose name starts with `prefix`, whatever follows (the match of
    /// [`Snapshots::newest_with_prefix`]). Compared as given, case-sensitively. Prefer
    /// [`numbered`](Self::numbered) when the names end in a number: a bare prefix also matches
    /// the names of other families that share it.
    ///
    /// ```
    /// let family = fastvm::workflows::SnapshotFamily::prefix("ci-");
    /// assert!(family.matches("ci-") && family.matches("ci-main-42"));
    /// ```
    pub fn prefix(prefix: impl Into<String>) -> Self {
        SnapshotFamily {
            text: prefix.into(),
            suffix: Suffix::Any,
        }
    }

    /// Whether the snapshot name `name` belongs to the family.
    ///
    /// ```
    /// let family = fastvm::workflows::SnapshotFamily::numbered("build-");
    /// assert!(family.matches("build-7"));
    /// assert!(!family.matches("Build-7"));
    /// ```
    pub fn matches(&self, name: &str) -> bool {
        match self.suffix {
            Suffix::None => crate::names::server_form(name) == crate::names::server_form(&self.text),
            Suffix::Digits => name
                .strip_prefix(self.text.as_str())
                .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())),
            Suffix::Any => name.starts_with(self.text.as_str()),
        }
    }

    /// Refuses a family that would match every name (an empty prefix) or none (a blank name).
    fn check(&self) -> Result<()> {
        match self.suffix {
            Suffix::None if crate::names::server_form(&self.text).is_empty() => {
                Err(Error::invalid("family", "the exact name must not be empty or blank"))
            }
            Suffix::Any if self.text.is_empty() => Err(Error::invalid(
                "family",
                "the prefix must not be empty: the family would hold every snapshot",
            )),
            _ => Ok(()),
        }
    }
}

impl std::fmt::Display for SnapshotFamily {
    /// `name`, `prefix<digits>` or `prefix*`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.suffix {
            Suffix::None => write!(f, "{}", self.text),
            Suffix::Digits => write!(f, "{}<digits>", self.text),
            Suffix::Any => write!(f, "{}*", self.text),
        }
    }
}

/// The members of `family` in `all`, newest first by `created_at` (one without it counts as
/// the oldest; of equally new ones, the one listed last first, as [`Snapshots::find_by_name`]
/// chooses).
fn members(family: &SnapshotFamily, all: Vec<Snapshot>) -> Vec<Snapshot> {
    let mut members: Vec<Snapshot> = all.into_iter().filter(|s| family.matches(&s.name)).collect();
    members.reverse();
    // Stable: equally new snapshots keep the reversed listing order.
    members.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    members
}

/// The newest snapshot of `family` ([`FastvmClient::newest_snapshot`]).
pub(crate) async fn newest(client: &FastvmClient, family: &SnapshotFamily) -> Result<Option<Snapshot>> {
    family.check()?;
    let all = Snapshots::new(client).list().await?;
    Ok(members(family, all).into_iter().next())
}

/// The request of [`FastvmClient::prune_snapshots`]; await it.
///
/// ```no_run
/// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
/// use fastvm::workflows::{PruneSnapshots, SnapshotFamily};
/// let prune: PruneSnapshots<'_> = client.prune_snapshots(SnapshotFamily::numbered("ci-")).keep(3);
/// let preview = prune.clone().await?;
/// if preview.pruned.len() < 10 {
///     prune.dry_run(false).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct PruneSnapshots<'a> {
    client: &'a FastvmClient,
    family: SnapshotFamily,
    keep: usize,
    dry_run: bool,
    /// A rotation's new snapshot: always kept, and nothing newer is touched.
    anchor: Option<Snapshot>,
}

/// What a [`PruneSnapshots`] kept and pruned, and whether it deleted what it pruned.
///
/// ```no_run
/// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
/// use fastvm::workflows::SnapshotFamily;
/// let report = client.prune_snapshots(SnapshotFamily::exact("golden")).dry_run(false).await?;
/// if let Some(newest) = report.kept.first() {
///     println!("kept {} ({})", newest.name, newest.id);
/// }
/// for gone in &report.pruned {
///     println!("pruned {}", gone.id);
/// }
/// for failure in &report.errors {
///     eprintln!("cannot delete snapshot {}: {}", failure.id, failure.error);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct PruneReport {
    /// The snapshots of the family that are kept, newest first: the newest
    /// [`keep`](PruneSnapshots::keep), and any still `creating`.
    pub kept: Vec<Snapshot>,
    /// The older snapshots of the family, newest first: deleted, or for a dry run, the ones a
    /// prune would delete.
    pub pruned: Vec<Snapshot>,
    /// Whether the prune deleted what it pruned (`false` for a dry run). Every snapshot in
    /// [`pruned`](Self::pruned) was deleted except those in [`errors`](Self::errors).
    pub deleted: bool,
    /// The deletes that failed, as a sweep reports them (a snapshot already gone is not a
    /// failure).
    pub errors: Vec<SweepError>,
}

impl PruneSnapshots<'_> {
    /// How many of the newest snapshots of the family to keep (default 1). `keep(0)` prunes
    /// the whole family (except snapshots still `creating`).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// use fastvm::workflows::SnapshotFamily;
    /// let report = client.prune_snapshots(SnapshotFamily::numbered("nightly-")).keep(7).await?;
    /// println!("a prune would delete {} snapshots", report.pruned.len());
    /// # Ok(()) }
    /// ```
    pub fn keep(mut self, n: usize) -> Self {
        self.keep = n;
        self
    }

    /// `true` (the default): list what would be pruned and delete nothing. `false`: delete it.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// use fastvm::workflows::SnapshotFamily;
    /// let report = client
    ///     .prune_snapshots(SnapshotFamily::exact("reviewer-base"))
    ///     .keep(2)
    ///     .dry_run(false)
    ///     .await?;
    /// assert!(report.deleted);
    /// # Ok(()) }
    /// ```
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Keeps `snapshot` (it counts as one of the kept, the newest) and leaves alone every
    /// snapshot of the family created after it: a rotation's new image must survive, and one a
    /// concurrent build made later too.
    pub(crate) fn anchored(mut self, snapshot: Snapshot) -> Self {
        self.anchor = Some(snapshot);
        self
    }

    async fn send(self) -> Result<PruneReport> {
        self.family.check()?;
        let client = self.client;
        let all = Snapshots::new(client).list().await?;
        let (kept, pruned) = plan(&self.family, all, self.keep, self.anchor.as_ref());

        let mut errors = Vec::new();
        if !self.dry_run {
            let targets = pruned.iter().map(|s| (SweptKind::Snapshot, s.id.clone())).collect();
            errors = delete_each(client, targets).await;
        }
        Ok(PruneReport {
            kept,
            pruned,
            deleted: !self.dry_run,
            errors,
        })
    }
}

into_future!(PruneSnapshots => PruneReport, |p: &PruneSnapshots<'_>| tracing::debug_span!(
    "fastvm.prune",
    family = %p.family,
    keep = p.keep,
    dry_run = p.dry_run
));

/// Splits the members of `family` in `all` into (kept, pruned), both newest first: the newest
/// `keep` and those still `creating` are kept. With an `anchor`, the anchor comes first and
/// snapshots created after it are not members.
fn plan(
    family: &SnapshotFamily,
    all: Vec<Snapshot>,
    keep: usize,
    anchor: Option<&Snapshot>,
) -> (Vec<Snapshot>, Vec<Snapshot>) {
    let mut members = members(family, all);
    if let Some(anchor) = anchor {
        members.retain(|s| s.id != anchor.id && s.created_at <= anchor.created_at);
        members.insert(0, anchor.clone());
    }
    let mut kept = Vec::new();
    let mut pruned = Vec::new();
    for (rank, snapshot) in members.into_iter().enumerate() {
        if rank < keep || snapshot.status == SnapshotStatus::Creating {
            kept.push(snapshot);
        } else {
            pruned.push(snapshot);
        }
    }
    (kept, pruned)
}

impl<'a> PruneSnapshots<'a> {
    /// The request of [`FastvmClient::prune_snapshots`].
    pub(crate) fn new(client: &'a FastvmClient, family: SnapshotFamily) -> Self {
        PruneSnapshots {
            client,
            family,
            keep: 1,
            dry_run: true,
            anchor: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: &str, name: &str, created_secs: Option<i64>, status: &str) -> Snapshot {
        let mut value = serde_json::json!({
            "id": id, "name": name, "orgId": "org", "vmId": "vm", "status": status,
        });
        if let Some(secs) = created_secs {
            value["createdAt"] = serde_json::json!(format!("2026-05-14T10:00:{secs:02}Z"));
        }
        serde_json::from_value(value).expect("a snapshot")
    }

    fn ready(id: &str, name: &str, created_secs: Option<i64>) -> Snapshot {
        snap(id, name, created_secs, "ready")
    }

    fn ids(snapshots: &[Snapshot]) -> Vec<&str> {
        snapshots.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn the_prune_future_is_send() {
        use std::future::IntoFuture;
        fn is_send<F: std::future::Future + Send>(_: F) {}
        let client = FastvmClient::builder().api_key("k").build().unwrap();
        is_send(client.prune_snapshots(SnapshotFamily::exact("x")).into_future());
        is_send(newest(&client, &SnapshotFamily::exact("x")));
    }

    #[test]
    fn numbered_matches_the_prefix_and_digits_only() {
        let family = SnapshotFamily::numbered("agent-t1-");
        for name in ["agent-t1-0", "agent-t1-1715700000", "agent-t1-20260514101500"] {
            assert!(family.matches(name), "{name}");
        }
        for name in [
            "agent-t1-",
            "agent-t1-x",
            "agent-t1-x-1715700000",
            "agent-t1-2-1715700000",
            "agent-t1-12a",
            "agent-t1-١٢",
            "Agent-t1-1",
            "xagent-t1-1",
        ] {
            assert!(!family.matches(name), "{name}");
        }
    }

    #[test]
    fn exact_compares_in_the_server_form_and_prefix_matches_any_suffix() {
        let family = SnapshotFamily::exact("golden  image");
        assert!(family.matches(" golden image "));
        assert!(!family.matches("golden image 2"));
        assert!(SnapshotFamily::prefix("a-").matches("a-"));
        assert!(!SnapshotFamily::prefix("a-").matches("b-a-"));
        assert_eq!(SnapshotFamily::numbered("n-").to_string(), "n-<digits>");
    }

    #[test]
    fn families_matching_everything_or_nothing_are_refused() {
        for family in [
            SnapshotFamily::prefix(""),
            SnapshotFamily::exact("   "),
            SnapshotFamily::exact(""),
        ] {
            assert!(
                matches!(family.check(), Err(Error::InvalidInput { ref field, .. }) if field == "family"),
                "{family:?}"
            );
        }
        // A bare number is a family: `1`, `2`, ...
        assert!(SnapshotFamily::numbered("").check().is_ok());
        assert!(SnapshotFamily::numbered("").matches("42"));
    }

    #[test]
    fn plan_keeps_the_newest_n_and_what_is_still_being_made() {
        let all = vec![
            ready("a", "t1-1", Some(1)),
            ready("other", "t1-x-9", Some(9)),
            ready("c", "t1-3", Some(3)),
            ready("undated", "t1-0", None),
            snap("making", "t1-2", Some(2), "creating"),
            snap("broken", "t1-4", Some(4), "error"),
            ready("d", "t1-5", Some(5)),
        ];
        let family = SnapshotFamily::numbered("t1-");
        let (kept, pruned) = plan(&family, all.clone(), 2, None);
        assert_eq!(ids(&kept), ["d", "broken", "making"]);
        assert_eq!(ids(&pruned), ["c", "a", "undated"]);
        let (kept, pruned) = plan(&family, all.clone(), 0, None);
        assert_eq!(ids(&kept), ["making"]);
        assert_eq!(pruned.len(), 5);
        let (kept, pruned) = plan(&family, all, 100, None);
        assert_eq!((kept.len(), pruned.len()), (6, 0));
    }

    #[test]
    fn equally_new_snapshots_rank_as_find_by_name_chooses() {
        let all = vec![ready("first", "n", Some(1)), ready("second", "n", Some(1))];
        let (kept, pruned) = plan(&SnapshotFamily::exact("n"), all.clone(), 1, None);
        assert_eq!((ids(&kept), ids(&pruned)), (vec!["second"], vec!["first"]));
        // `Snapshots::find_by_name` takes the last of the newest (`max_by_key`).
        let newest = all.into_iter().max_by_key(|s| s.created_at);
        assert_eq!(newest.map(|s| s.id), Some("second".to_string()));
    }

    #[test]
    fn an_anchor_is_kept_and_nothing_newer_is_touched() {
        let new = ready("new", "img", Some(5));
        let all = vec![
            ready("old", "img", Some(1)),
            ready("same-time", "img", Some(5)),
            new.clone(),
            ready("later", "img", Some(8)),
            ready("elsewhere", "img-2", Some(0)),
        ];
        let (kept, pruned) = plan(&SnapshotFamily::exact("img"), all.clone(), 1, Some(&new));
        assert_eq!(ids(&kept), ["new"]);
        assert_eq!(ids(&pruned), ["same-time", "old"]);
        // Names are compared case-sensitively.
        let (_, pruned) = plan(&SnapshotFamily::exact("Img"), all, 0, None);
        assert!(pruned.is_empty());
        // A new snapshot without `created_at` replaces only undated ones.
        let undated = ready("new", "img", None);
        let all = vec![
            ready("dated", "img", Some(1)),
            ready("also-undated", "img", None),
            undated.clone(),
        ];
        let (kept, pruned) = plan(&SnapshotFamily::exact("img"), all, 1, Some(&undated));
        assert_eq!((ids(&kept), ids(&pruned)), (vec!["new"], vec!["also-undated"]));
    }
}
