//! The incremental NDJSON decoder. (Stub; replaced by the exec work.)

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;

use super::ExecEvent;
use crate::Result;

/// Longest accepted NDJSON line.
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// A stream of [`ExecEvent`]s decoded from an NDJSON body.
pub struct ExecStream {
    inner: Pin<Box<dyn Stream<Item = Result<ExecEvent>> + Send>>,
}

impl ExecStream {
    /// Decodes `body`.
    pub(crate) fn new<S>(_body: S) -> Self
    where
        S: Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
    {
        ExecStream {
            inner: Box::pin(futures::stream::empty()),
        }
    }
}

impl Stream for ExecStream {
    type Item = Result<ExecEvent>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}
