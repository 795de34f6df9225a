//! `tokio::io::{AsyncRead, AsyncBufRead, AsyncWrite, AsyncSeek}` for
//! [`Compat`] (feature `tokio-io`): each method is one call into the core.

use super::{Compat, CompatRead, CompatSeek, CompatWrite};
use std::io::{self, IoSlice, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

impl<S: CompatRead> AsyncRead for Compat<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let (io, core) = self.get_mut().parts();
        let room = buf.remaining();
        core.poll_read(io, cx, room, |data| buf.put_slice(data))
            .map_ok(drop)
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

impl<S: CompatSeek> AsyncSeek for Compat<S> {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        self.get_mut().core.pending_seek = Some(position);
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let (io, core) = self.get_mut().parts();
        match core.pending_seek {
            None => Poll::Ready(Ok(core.position())),
            Some(to) => {
                let result = std::task::ready!(core.poll_seek(io, cx, to));
                core.pending_seek = None;
                Poll::Ready(result)
            }
        }
    }
}
