//! Out of file descriptors, accepting backs off instead of spinning, and
//! recovers once descriptors are free again.
//!
//! `RLIMIT_NOFILE` is per process, so each test runs in a child process
//! (see `net_common::in_child`) where lowering it disturbs nobody.

mod common;
mod net_common;

use common::{open_fds, watchdog};
use net_common::{in_child, is_child};
use ringloop::net::TcpListener;
use ringloop::Runtime;
use std::time::Duration;

/// CPU time (user + system) this process has used.
fn cpu_time() -> Duration {
    // SAFETY: `usage` is a valid out-parameter for getrusage.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn set_fd_limit(n: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out- and in-parameters.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = n;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
}

/// In the parent: runs `name` in a child and asserts it passed.
fn child_runs(name: &str) -> bool {
    if is_child() {
        return true;
    }
    let out = in_child(name);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// Connects `n` clients (the kernel completes each handshake into the
/// backlog), then leaves `spare` free fds: the server runs out after
/// accepting `spare` of them. Returns the clients.
fn exhaust(addr: std::net::SocketAddr, n: usize, spare: usize) -> Vec<std::net::TcpStream> {
    let clients: Vec<_> = (0..n)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    set_fd_limit((open_fds() + spare) as u64);
    clients
}

#[test]
fn incoming_backs_off_on_emfile_and_recovers() {
    if !child_runs("incoming_backs_off_on_emfile_and_recovers") {
        return;
    }
    watchdog(30, || {
        Runtime::new().unwrap().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let clients = exhaust(listener.local_addr().unwrap(), 40, 5);
            let mut incoming = listener.incoming();
            let mut accepted = Vec::new();
            let cpu = cpu_time();
            // Accept as much as the limit allows, for 500 ms.
            let _ = ringloop::time::timeout(Duration::from_millis(500), async {
                loop {
                    accepted.push(incoming.next().await.unwrap());
                }
            })
            .await;
            let spent = cpu_time() - cpu;
            assert!(accepted.len() < 40, "the limit stopped accepting");
            assert!(
                spent < Duration::from_millis(150),
                "500 ms out of fds cost {spent:?} of CPU: the accept loop spins"
            );
            // Free the fds: the rest are accepted.
            set_fd_limit(4096);
            while accepted.len() < 40 {
                accepted.push(incoming.next().await.unwrap());
            }
            drop(clients);
        });
    });
}

#[test]
fn accept_backs_off_on_emfile_and_recovers() {
    if !child_runs("accept_backs_off_on_emfile_and_recovers") {
        return;
    }
    watchdog(30, || {
        Runtime::new().unwrap().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let clients = exhaust(listener.local_addr().unwrap(), 20, 5);
            let mut accepted = Vec::new();
            let cpu = cpu_time();
            let _ = ringloop::time::timeout(Duration::from_millis(500), async {
                loop {
                    accepted.push(listener.accept().await.unwrap().0);
                }
            })
            .await;
            let spent = cpu_time() - cpu;
            assert!(accepted.len() < 20);
            assert!(
                spent < Duration::from_millis(150),
                "500 ms out of fds cost {spent:?} of CPU: accept spins"
            );
            set_fd_limit(4096);
            while accepted.len() < 20 {
                accepted.push(listener.accept().await.unwrap().0);
            }
            drop(clients);
        });
    });
}
