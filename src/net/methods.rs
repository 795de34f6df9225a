//! The I/O methods every stream socket type has, written once.
//!
//! `TcpStream`, `UnixStream` and the split halves differ only in how they
//! are made; their reads and writes are the same calls on the inner
//! [`Socket`](super::socket::Socket). These macros expand to those methods
//! in each type's `impl` block (the type provides `fn socket(&self)`).
//!
//! A method hands back the inner socket's future itself instead of wrapping
//! it in an `async fn` of its own: one state machine less to step through at
//! every poll of a hot send or receive.

/// Receiving methods of a stream socket.
macro_rules! stream_read_methods {
    () => {
        /// Reads at most `buf.bytes_total()` bytes into `buf` (one `RECV`);
        /// returns how many, with the buffer. `Ok(0)` is EOF: the peer shut
        /// down its writing side or closed.
        ///
        /// # Errors
        ///
        /// The receive's error: `ConnectionReset` when the peer reset the
        /// connection, …
        pub fn read<B: $crate::buf::IoBufMut>(
            &self,
            buf: B,
        ) -> impl ::std::future::Future<Output = (::std::io::Result<usize>, B)> + '_ {
            self.socket().recv_stream(buf, 0)
        }

        /// Like [`read`](Self::read), with `recv(2)` flags (`MSG_PEEK`,
        /// `MSG_WAITALL`, …).
        ///
        /// # Errors
        ///
        /// As for [`read`](Self::read); `InvalidInput` for flags the kernel
        /// refuses.
        pub fn recv<B: $crate::buf::IoBufMut>(
            &self,
            buf: B,
            flags: ::libc::c_int,
        ) -> impl ::std::future::Future<Output = (::std::io::Result<usize>, B)> + '_ {
            self.socket().recv_stream(buf, flags)
        }

        /// Reads into `bufs` in order (one `READV`); returns the total.
        ///
        /// # Errors
        ///
        /// As for [`read`](Self::read).
        pub fn readv<B: $crate::buf::IoBufMut>(
            &self,
            bufs: Vec<B>,
        ) -> impl ::std::future::Future<Output = (::std::io::Result<usize>, Vec<B>)> + '_ {
            self.socket().readv(bufs)
        }

        /// Reads into a buffer the kernel picks from `ring` when data
        /// arrives (one `RECV` with buffer select); `Ok(None)` is EOF. While
        /// the ring is empty it waits for a buffer to be returned.
        ///
        /// # Errors
        ///
        /// As for [`read`](Self::read).
        pub async fn read_ring(
            &self,
            ring: &$crate::buf::BufRing,
        ) -> ::std::io::Result<Option<$crate::buf::RingBuf>> {
            self.socket().read_ring(ring).await
        }

        /// Everything this socket receives, as buffers of `ring`, from one
        /// multishot receive (see [`RecvStream`]($crate::net::RecvStream)).
        /// Only one receive should be in flight on a socket at a time.
        pub fn recv_multishot(&self, ring: &$crate::buf::BufRing) -> $crate::net::RecvStream {
            self.socket().recv_multishot(ring)
        }
    };
}

/// Sending methods of a stream socket.
macro_rules! stream_write_methods {
    () => {
        /// Sends some of `buf`'s initialised bytes (one `SEND`, with
        /// `MSG_NOSIGNAL`); returns how many, with the buffer.
        ///
        /// # Errors
        ///
        /// `BrokenPipe` when the peer is gone (never `SIGPIPE`),
        /// `ConnectionReset` when it reset the connection, …
        pub fn write<B: $crate::buf::IoBuf>(
            &self,
            buf: B,
        ) -> impl ::std::future::Future<Output = (::std::io::Result<usize>, B)> + '_ {
            self.socket().send(buf, 0)
        }

        /// Sends all of `buf`'s initialised bytes, in as many sends as it
        /// takes.
        ///
        /// # Errors
        ///
        /// As for [`write`](Self::write); `WriteZero` if the kernel accepts
        /// nothing.
        pub fn write_all<B: $crate::buf::IoBuf>(
            &self,
            buf: B,
        ) -> impl ::std::future::Future<Output = (::std::io::Result<()>, B)> + '_ {
            self.socket().write_all(buf)
        }

        /// Like [`write`](Self::write), with `send(2)` flags (`MSG_MORE`,
        /// …); `MSG_NOSIGNAL` is always added.
        ///
        /// # Errors
        ///
        /// As for [`write`](Self::write).
        pub fn send<B: $crate::buf::IoBuf>(
            &self,
            buf: B,
            flags: ::libc::c_int,
        ) -> impl ::std::future::Future<Output = (::std::io::Result<usize>, B)> + '_ {
            self.socket().send(buf, flags)
        }

        /// Sends the initialised bytes of `bufs`, in order, in one call
        /// (`SENDMSG` with an iovec per buffer and `MSG_NOSIGNAL`); returns
        /// how many bytes were sent in all.
        ///
        /// # Errors
        ///
        /// As for [`write`](Self::write).
        pub fn writev<B: $crate::buf::IoBuf>(
            &self,
            bufs: Vec<B>,
        ) -> impl ::std::future::Future<Output = (::std::io::Result<usize>, Vec<B>)> + '_ {
            self.socket().writev(bufs)
        }

        /// Sends some of `buf` without copying it, where the kernel can
        /// (`SEND_ZC`, Linux 6.0; a plain send elsewhere). Resolves — and
        /// hands the buffer back — only once the kernel has notified that
        /// it no longer reads it; dropped before, the buffer is kept until
        /// that notification. Worth it for large buffers.
        ///
        /// # Errors
        ///
        /// As for [`write`](Self::write).
        pub fn send_zc<B: $crate::buf::IoBuf>(
            &self,
            buf: B,
        ) -> impl ::std::future::Future<Output = (::std::io::Result<usize>, B)> + '_ {
            self.socket().send_zc(buf)
        }

        /// Shuts down the reading side, the writing side (the peer reads
        /// EOF), or both.
        ///
        /// # Errors
        ///
        /// `NotConnected` if the socket is not connected.
        pub fn shutdown(
            &self,
            how: ::std::net::Shutdown,
        ) -> impl ::std::future::Future<Output = ::std::io::Result<()>> + '_ {
            self.socket().shutdown(how)
        }
    };
}

/// Fixed-file registration of a socket (`fn socket(&self)`).
macro_rules! fixed_file_methods {
    () => {
        /// Puts the socket in a slot of `table`, the ring's table of
        /// registered files (shared with [`File::register`]($crate::fs::File::register)).
        /// Its receives and sends (`read`, `recv`, `readv`, `recv_multishot`,
        /// `read_ring`, `write`, `send`, `writev`, `send_zc`, `recv_from`,
        /// `send_to`, `shutdown`) then name the slot (`IOSQE_FIXED_FILE`)
        /// instead of the fd, which spares the kernel a descriptor lookup
        /// and a file reference count per op. The fd stays open beside the
        /// slot: `as_raw_fd`, `into_std` and socket options work as before.
        /// The slot is freed when the socket is closed and its last op has
        /// completed. Registering again in the same table does nothing.
        ///
        /// Opt-in: in a loopback ping-pong benchmark it saved about 2% of
        /// the CPU per round trip (`cargo bench --bench net_fixed`), on the
        /// HTTP example nothing measurable (`docs/architecture.md`, "Fixed
        /// files for sockets").
        ///
        /// # Errors
        ///
        /// `QuotaExceeded` if every slot of `table` is taken;
        /// `InvalidInput` if the socket is in another table.
        pub fn register(&self, table: &$crate::fs::FixedFiles) -> ::std::io::Result<()> {
            self.socket().register(table)
        }

        /// Whether the socket is in a [`FixedFiles`]($crate::fs::FixedFiles) table.
        pub fn is_registered(&self) -> bool {
            self.socket().is_registered()
        }
    };
}

/// `AsRawFd` and `AsFd` for a type with `fn socket(&self)`.
macro_rules! fd_impls {
    ($($t:ty),*) => {$(
        impl ::std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> ::std::os::fd::RawFd {
                self.socket().raw()
            }
        }

        impl ::std::os::fd::AsFd for $t {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                self.socket().as_fd()
            }
        }
    )*};
}

pub(crate) use {fd_impls, fixed_file_methods, stream_read_methods, stream_write_methods};
