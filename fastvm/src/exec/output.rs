//! Consuming an [`ExecStream`] whole: [`ExecStream::collect`] and [`ExecStream::tee`].

use std::time::Duration;

use futures::StreamExt as _;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use super::{ExecEvent, ExecStream};
use crate::{Error, Result};

/// The collected output of a streamed command ([`ExecStream::collect`]).
///
/// Unlike the buffered [`Vms::run`](crate::resources::Vms::run), nothing is truncated: the
/// buffers hold everything the command printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecOutput {
    /// All stdout bytes.
    pub stdout: Vec<u8>,
    /// All stderr bytes.
    pub stderr: Vec<u8>,
    /// How the command ended.
    pub exit: ExecExit,
    /// The order the output arrived in: `(from stdout, length)` per chunk.
    order: Vec<(bool, usize)>,
    /// The command, for [`check`](Self::check)'s error.
    command: String,
}

impl ExecOutput {
    /// True when the command exited 0 without being killed by the timeout.
    pub fn success(&self) -> bool {
        self.exit.success()
    }

    /// This output when the command succeeded; otherwise [`Error::CommandFailed`] with the exit
    /// code, whether the timeout killed it, the end of stdout and stderr, and the command.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// let out = client.vms().stream(id, "cargo test").await?.collect().await?.check()?;
    /// # Ok(()) }
    /// ```
    pub fn check(self) -> Result<Self> {
        if self.success() {
            return Ok(self);
        }
        Err(super::run::failed(
            &self.command,
            self.exit.code,
            self.exit.timed_out,
            &self.stdout,
            &self.stderr,
        ))
    }

    /// stdout and stderr interleaved as the chunks arrived (as a terminal would have shown
    /// them, to the granularity of the stream's chunks).
    pub fn combined(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.stdout.len() + self.stderr.len());
        let (mut o, mut e) = (0, 0);
        for &(from_stdout, len) in &self.order {
            if from_stdout {
                out.extend_from_slice(&self.stdout[o..o + len]);
                o += len;
            } else {
                out.extend_from_slice(&self.stderr[e..e + len]);
                e += len;
            }
        }
        out
    }
}

/// How a streamed command ended ([`ExecStream::tee`]): [`ExecEvent::Exit`] as a struct.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecExit {
    /// Exit code.
    pub code: i64,
    /// Whether the server-side timeout killed the command.
    pub timed_out: bool,
    /// Guest-reported run time, when the server sent it.
    pub duration: Option<Duration>,
    /// The server's diagnostic (e.g. why the command could not be spawned), if any.
    pub diagnostic: Option<String>,
}

impl ExecExit {
    /// True when the command exited 0 without being killed by the timeout.
    pub fn success(&self) -> bool {
        self.code == 0 && !self.timed_out
    }

    /// The exit of an [`ExecEvent::Exit`] (the default for any other event).
    pub(super) fn from_event(event: ExecEvent) -> Self {
        match event {
            ExecEvent::Exit {
                code,
                timed_out,
                duration,
                diagnostic,
            } => ExecExit {
                code,
                timed_out,
                duration,
                diagnostic,
            },
            _ => ExecExit::default(),
        }
    }
}

fn write_error(which: &str, e: std::io::Error) -> Error {
    Error::Io {
        message: format!("writing the command's {which}: {e}"),
        source: e,
    }
}

impl ExecStream {
    /// Reads the whole stream and returns the command's output and exit.
    ///
    /// This inherent method takes precedence over [`StreamExt::collect`](futures::StreamExt::collect)
    /// in method-call syntax; call `StreamExt::collect(stream)` for the trait's version. All
    /// output is kept in memory: for large output, iterate the stream or use [`ExecStream::tee`].
    /// Errors are those of the stream (see [`ExecStream`]); a non-zero exit is a result.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// let out = client.vms().stream(id, "cargo test 2>&1").await?.collect().await?;
    /// println!("exit {}: {}", out.exit.code, String::from_utf8_lossy(&out.stdout));
    /// # Ok(()) }
    /// ```
    pub async fn collect(self) -> Result<ExecOutput> {
        self.collect_with(|_| {}).await
    }

    /// [`collect`](Self::collect), also handing each event to `on_event` as it arrives: print
    /// output live and still get all of it, and its exit, to [`check`](ExecOutput::check).
    ///
    /// `on_event` sees every event, [`ExecEvent::Exit`] included, before it is collected.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// use fastvm::exec::ExecEvent;
    /// let out = client
    ///     .vms()
    ///     .stream(id, "cargo test")
    ///     .await?
    ///     .collect_with(|event| match event {
    ///         ExecEvent::Stdout(b) => print!("{}", String::from_utf8_lossy(b)),
    ///         ExecEvent::Stderr(b) => eprint!("{}", String::from_utf8_lossy(b)),
    ///         _ => {}
    ///     })
    ///     .await?
    ///     .check()?;
    /// # Ok(()) }
    /// ```
    pub async fn collect_with(mut self, mut on_event: impl FnMut(&ExecEvent)) -> Result<ExecOutput> {
        let mut out = ExecOutput {
            command: std::mem::take(&mut self.command),
            ..ExecOutput::default()
        };
        while let Some(event) = self.next().await {
            let event = event?;
            on_event(&event);
            match event {
                ExecEvent::Stdout(b) => {
                    out.order.push((true, b.len()));
                    out.stdout.extend_from_slice(&b);
                }
                ExecEvent::Stderr(b) => {
                    out.order.push((false, b.len()));
                    out.stderr.extend_from_slice(&b);
                }
                exit @ ExecEvent::Exit { .. } => {
                    out.exit = ExecExit::from_event(exit);
                    return Ok(out);
                }
                _ => {}
            }
        }
        Err(Error::StreamClosed {
            events: self.events_received(),
        })
    }

    /// Copies stdout and stderr into two writers as the output arrives, and returns the exit.
    ///
    /// Memory stays bounded by one event whatever the command prints. Both writers are flushed
    /// before returning. A failed write ends the stream and the request, and is reported as
    /// [`Error::Io`] with the I/O error as source.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// let log = tokio::fs::File::create("build.log").await.expect("create build.log");
    /// let mut errors = Vec::new();
    /// let exit = client.vms().stream(id, "./build.sh").await?.tee(log, &mut errors).await?;
    /// if !exit.success() {
    ///     eprintln!("build failed with exit {}: {}", exit.code, String::from_utf8_lossy(&errors));
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn tee<O, E>(mut self, mut stdout: O, mut stderr: E) -> Result<ExecExit>
    where
        O: AsyncWrite + Unpin,
        E: AsyncWrite + Unpin,
    {
        while let Some(event) = self.next().await {
            match event? {
                ExecEvent::Stdout(b) => stdout.write_all(&b).await.map_err(|e| write_error("stdout", e))?,
                ExecEvent::Stderr(b) => stderr.write_all(&b).await.map_err(|e| write_error("stderr", e))?,
                exit @ ExecEvent::Exit { .. } => {
                    stdout.flush().await.map_err(|e| write_error("stdout", e))?;
                    stderr.flush().await.map_err(|e| write_error("stderr", e))?;
                    return Ok(ExecExit::from_event(exit));
                }
                _ => {}
            }
        }
        Err(Error::StreamClosed {
            events: self.events_received(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::Bytes;

    use super::*;

    /// A writer whose every write fails, like a closed pipe.
    struct Broken;

    impl AsyncWrite for Broken {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<std::io::Result<usize>> {
            Poll::Ready(Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "pipe closed")))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn body(lines: &str) -> ExecStream {
        ExecStream::from_chunks(futures::stream::iter([Ok(Bytes::from(lines.to_string()))]))
    }

    #[tokio::test]
    async fn tee_reports_a_failed_write_as_io() {
        let stream = body("{\"t\":\"o\",\"d\":\"aGk=\"}\n{\"t\":\"x\",\"ms\":1}\n");
        let err = stream.tee(Broken, Vec::new()).await.unwrap_err();
        match err {
            Error::Io { message, source } => {
                assert!(message.contains("stdout"), "{message}");
                assert_eq!(source.kind(), std::io::ErrorKind::BrokenPipe);
            }
            other => panic!("expected Error::Io, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn collect_interleaves_combined_output_and_checks_the_exit() {
        let mut stream = body(
            "{\"t\":\"o\",\"d\":\"YQ==\"}\n{\"t\":\"e\",\"d\":\"Yg==\"}\n{\"t\":\"o\",\"d\":\"Yw==\"}\n{\"t\":\"x\",\"c\":1}\n",
        );
        stream.command = "make".into();
        let out = stream.collect().await.unwrap();
        assert_eq!(out.combined(), b"abc");
        assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b"ac"[..], &b"b"[..]));
        match out.check().unwrap_err() {
            Error::CommandFailed {
                command,
                exit_code,
                stderr_tail,
                ..
            } => {
                assert_eq!((command.as_str(), exit_code, stderr_tail.as_str()), ("make", 1, "b"));
            }
            other => panic!("{other:?}"),
        }
        let ok = body("{\"t\":\"x\"}\n").collect().await.unwrap();
        assert!(ok.check().is_ok());
    }

    #[tokio::test]
    async fn collect_with_sees_every_event_in_order_and_still_collects() {
        let stream = body("{\"t\":\"o\",\"d\":\"YQ==\"}\n{\"t\":\"e\",\"d\":\"Yg==\"}\n{\"t\":\"x\",\"c\":2}\n");
        let mut seen = Vec::new();
        let out = stream
            .collect_with(|event| {
                seen.push(match event {
                    ExecEvent::Stdout(b) => format!("o:{}", String::from_utf8_lossy(b)),
                    ExecEvent::Stderr(b) => format!("e:{}", String::from_utf8_lossy(b)),
                    ExecEvent::Exit { code, .. } => format!("x:{code}"),
                    other => format!("{other:?}"),
                })
            })
            .await
            .unwrap();
        assert_eq!(seen, ["o:a", "e:b", "x:2"]);
        assert_eq!((out.combined(), out.exit.code), (b"ab".to_vec(), 2));
    }

    #[tokio::test]
    async fn tee_returns_the_exit_and_copies_both_streams() {
        let stream = body(
            "{\"t\":\"o\",\"d\":\"aGk=\"}\n{\"t\":\"e\",\"d\":\"ZXJy\"}\n{\"t\":\"x\",\"c\":3,\"to\":true,\"ms\":7}\n",
        );
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let exit = stream.tee(&mut out, &mut err).await.unwrap();
        assert_eq!((out.as_slice(), err.as_slice()), (&b"hi"[..], &b"err"[..]));
        assert_eq!(
            (exit.code, exit.timed_out, exit.duration),
            (3, true, Some(std::time::Duration::from_millis(7)))
        );
        assert!(!exit.success());
    }
}
