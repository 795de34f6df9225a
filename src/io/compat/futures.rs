//! `futures_io::{AsyncRead, AsyncBufRead, AsyncWrite, AsyncSeek}` for
//! [`Compat`] (feature `futures-io`): each method is one call into the
//! core.

use super::{Compat, CompatRead, CompatSeek, CompatWrite};
use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};
use std::io::{self, IoSlice, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll};

impl<S: CompatRead> AsyncRead for Compat<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let (io, core) = self.get_mut().parts();
        let room = buf.len();
        core.poll_read(io, cx, room, |data| buf[..data.len()].copy_from_slice(data))
    }
}

impl<S: CompatRead> AsyncBufRead for Compat<S> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let (io, core) = self.get_mut().parts();
        core.poll_fill_buf(io, cx)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().core.consume(amt);
    }
}

impl<S: CompatWrite> AsyncWrite for Compat<S> {
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

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (io, core) = self.get_mut().parts();
        core.poll_flush(io, cx)
    }

    /// Flushes and shuts down the writing side (the stream itself closes
    /// when the adapter is dropped).
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (io, core) = self.get_mut().parts();
        core.poll_shutdown(io, cx)
    }
}

impl<S: CompatSeek> AsyncSeek for Compat<S> {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let (io, core) = self.get_mut().parts();
        core.poll_seek(io, cx, pos)
    }
}
