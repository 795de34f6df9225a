//! `hyper::rt::{Read, Write}` for [`Compat`] (feature `hyper`): hyper 1.x
//! serves and requests over ringloop streams with no other glue (no
//! `hyper-util`, no tokio). Each method is one call into the core.
//!
//! Writes are vectored: hyper hands its head and body buffers over as they
//! are, and the adapter copies them once into its own write buffer.

use super::{Compat, CompatRead, CompatWrite};
use hyper::rt::{Read, ReadBufCursor, Write};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

impl<S: CompatRead> Read for Compat<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let (io, core) = self.get_mut().parts();
        let room = buf.remaining();
        core.poll_read(io, cx, room, |data| buf.put_slice(data))
            .map_ok(drop)
    }
}

impl<S: CompatWrite> Write for Compat<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let (io, core) = self.get_mut().parts();
        core.poll_write(io, cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let (io, core) = self.get_mut().parts();
        core.poll_write_vectored(io, cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (io, core) = self.get_mut().parts();
        core.poll_flush(io, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (io, core) = self.get_mut().parts();
        core.poll_shutdown(io, cx)
    }
}
