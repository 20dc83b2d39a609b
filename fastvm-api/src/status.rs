//! What the spec says about the generated status enums, as methods.
//!
//! The enums themselves are generated (open: a value this SDK does not know is kept in
//! `Unknown`); the meaning of their values is in the spec's descriptions, written here once.

use crate::types::{BuildStatus, SnapshotStatus, VmStatus};

impl VmStatus {
    /// `error` or `stopped`: the statuses the spec calls terminal failures. A VM in one of
    /// them will not become `running` by itself.
    ///
    /// ```
    /// use fastvm_api::types::VmStatus;
    /// assert!(VmStatus::Error.is_terminal());
    /// assert!(!VmStatus::Unknown("hibernating".into()).is_terminal());
    /// ```
    pub fn is_terminal(&self) -> bool {
        matches!(self, VmStatus::Error | VmStatus::Stopped)
    }

    /// In flight: `provisioning`, `pausing`, `resuming`, `deleting`, or a value this SDK does not
    /// know (the spec asks clients to treat unknown values as "in transition").
    pub fn is_transitional(&self) -> bool {
        matches!(
            self,
            VmStatus::Provisioning | VmStatus::Pausing | VmStatus::Resuming | VmStatus::Deleting | VmStatus::Unknown(_)
        )
    }
}

impl SnapshotStatus {
    /// `ready` or `error`: the snapshot will not change status by itself. Any other value,
    /// known (`creating`) or not, means it is still being made.
    ///
    /// ```
    /// use fastvm_api::types::SnapshotStatus;
    /// assert!(SnapshotStatus::Ready.is_terminal());
    /// assert!(!SnapshotStatus::Unknown("archiving".into()).is_terminal());
    /// ```
    pub fn is_terminal(&self) -> bool {
        matches!(self, SnapshotStatus::Ready | SnapshotStatus::Error)
    }
}

impl BuildStatus {
    /// `completed` or `failed`: the build is over. Any other value, known (`pending`,
    /// `running`) or not, means it is in progress.
    ///
    /// ```
    /// use fastvm_api::types::BuildStatus;
    /// assert!(BuildStatus::Failed.is_terminal());
    /// assert!(!BuildStatus::Unknown("queued".into()).is_terminal());
    /// ```
    pub fn is_terminal(&self) -> bool {
        matches!(self, BuildStatus::Completed | BuildStatus::Failed)
    }
}
