//! Exec: commands, the buffered [`run`](crate::resources::Vms::run)'s output and the NDJSON
//! [`stream`](crate::resources::Vms::stream) of `POST /v1/vms/{id}/exec`, decoded; shell
//! quoting. No HTTP here: the requests are made by [`Vms`](crate::resources::Vms).

mod command;
mod decode;
mod event;
mod lines;
mod output;
mod run;
pub(crate) mod shell;

pub use command::Command;
pub use decode::ExecStream;
pub use event::ExecEvent;
pub use lines::{ExecLines, Line, StdStream};
pub use output::{ExecExit, ExecOutput};
pub use run::RunOutput;
pub use shell::quote as shell_quote;
