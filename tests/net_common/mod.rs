//! Helpers for the networking tests (`tests/net_*.rs`), on top of
//! `tests/common` (watchdog, fd counting, `poll_once` …).
//!
//! * [`tcp_pair`]: a connected client/server pair on loopback.
//! * [`reset_on_close`]: `SO_LINGER{0}`, so closing sends a RST.
//! * [`raise_fd_limit`]: lift `RLIMIT_NOFILE` for the big tests.
//! * [`in_child`]: run one test in a fresh process (SIGPIPE at its default).
//! * [`ipv6_loopback`]: whether `[::1]` can be bound here.

#![allow(dead_code)]

use ringloop::net::{TcpListener, TcpStream};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::process::{Command, Output};

/// A connected pair on `addr`'s loopback: `(client, server)`.
pub async fn tcp_pair(addr: &str) -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let client = TcpStream::connect(addr).await?;
    let (server, peer) = listener.accept().await?;
    assert_eq!(
        peer,
        client.local_addr()?,
        "accept reports the client's address"
    );
    Ok((client, server))
}

/// Sets `SO_LINGER{on, 0}`: closing the socket sends a RST, and the peer's
/// pending and next operations fail with `ECONNRESET`.
pub fn reset_on_close(socket: &impl AsRawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `linger` is a valid struct linger and the length says so.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "setsockopt(SO_LINGER): {}",
        io::Error::last_os_error()
    );
}

/// Raises `RLIMIT_NOFILE` (soft, and hard if we may) to at least `want`;
/// returns the soft limit in force afterwards (maybe less than `want`).
pub fn raise_fd_limit(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-parameter.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if lim.rlim_cur >= want {
        return lim.rlim_cur;
    }
    let raised = libc::rlimit {
        rlim_cur: want,
        rlim_max: lim.rlim_max.max(want),
    };
    // SAFETY: as above; raising the hard limit needs CAP_SYS_RESOURCE and
    // fails harmlessly without it.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        let soft_only = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above; the soft limit may always rise to the hard one.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft_only) };
    }
    // SAFETY: as above.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    lim.rlim_cur
}

/// Environment variable that tells a test it runs as [`in_child`]'s child.
pub const CHILD_ENV: &str = "RINGLOOP_NET_TEST_CHILD";

/// Whether this process is the child [`in_child`] started.
pub fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// Runs test `name` of this test binary alone in a new process (with
/// [`CHILD_ENV`] set) and returns how it ended.
pub fn in_child(name: &str) -> Output {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("could not start the child test process")
}

/// Puts `SIGPIPE` back to its default action (terminate), which the Rust
/// runtime replaces with "ignore" before `main`.
pub fn default_sigpipe() {
    // SAFETY: changing a signal's disposition to SIG_DFL is always sound.
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(old, libc::SIG_ERR, "signal(SIGPIPE, SIG_DFL) failed");
}

/// Whether an IPv6 loopback socket can be bound on this machine.
pub fn ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

/// The loopback listening address for family `v6`.
pub fn loopback(v6: bool) -> SocketAddr {
    if v6 {
        "[::1]:0".parse().unwrap()
    } else {
        "127.0.0.1:0".parse().unwrap()
    }
}
