//! File and directory transfer between the client and a VM.

mod archive;
mod error;
pub(crate) mod remote;
mod storage;

pub use error::{FileTransferError, FileTransferErrorKind};
