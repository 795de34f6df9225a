//! Out of file descriptors, accepting backs off instead of spinning, and
//! recovers once descriptors are free again.
//!
//! `RLIMIT_NOFILE` is per process, so each test runs in a child process
//! (see `net_common::in_child`) where lowering it disturbs nobody.

mod common;
mod net_common;

use common::{open_fds, watchdog};
use net_common::{in_child, is_child};
use ringloop::buf::IoBuf;
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

#[test]
fn an_echo_server_under_ulimit_64_survives_500_connection_attempts() {
    // `ulimit -n 64`, an echo server, and 500 clients from another thread
    // trying at once: the server backs off while out of fds (low CPU),
    // keeps serving the connections it has, and serves everyone in the end.
    if !child_runs("an_echo_server_under_ulimit_64_survives_500_connection_attempts") {
        return;
    }
    watchdog(60, || {
        let rt = Runtime::new().unwrap();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        // The clients live in this process too: make their 500 sockets
        // first, so that only the server's accepts meet the limit (a limit
        // constrains new descriptors, not those already open).
        let sockets: Vec<std::net::TcpStream> = (0..500)
            .map(|_| {
                // SAFETY: plain socket(2); the result is checked below.
                let fd = unsafe {
                    libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0)
                };
                assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
                // The limit is on descriptor *numbers*: move the client's
                // socket above it, leaving the low numbers to the server.
                // SAFETY: F_DUPFD on our own fd, then closing the original.
                let high = unsafe {
                    let high = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 1000);
                    libc::close(fd);
                    high
                };
                assert!(high >= 1000, "F_DUPFD: {}", std::io::Error::last_os_error());
                // SAFETY: a fresh socket we own.
                unsafe { std::os::fd::FromRawFd::from_raw_fd(high) }
            })
            .collect();
        set_fd_limit(64);
        let clients = std::thread::spawn(move || {
            use std::io::{Read, Write};
            use std::os::fd::AsRawFd;
            let std::net::SocketAddr::V4(v4) = addr else {
                unreachable!("bound to 127.0.0.1")
            };
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*v4.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            let mut attempts = 0;
            let mut streams = Vec::new();
            for s in sockets {
                attempts += 1;
                // SAFETY: `sin` is a valid sockaddr_in for the call.
                let ret = unsafe {
                    libc::connect(
                        s.as_raw_fd(),
                        (&sin as *const libc::sockaddr_in).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    )
                };
                // Connect and send at once: the handshake and the bytes wait
                // in the listener's backlog until the server gets to them.
                let mut s = s;
                if ret == 0 && s.write_all(b"hello").is_ok() {
                    streams.push(s);
                }
            }
            let mut served = 0;
            for mut s in streams {
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                let mut buf = [0u8; 5];
                if s.read_exact(&mut buf).is_ok() && &buf == b"hello" {
                    served += 1;
                }
            }
            (served, attempts)
        });
        let cpu = cpu_time();
        let started = std::time::Instant::now();
        rt.block_on(async {
            let mut incoming = listener.incoming();
            let mut echoes = Vec::new();
            while echoes.len() < 500 {
                let stream = incoming.next().await.unwrap();
                echoes.push(ringloop::spawn(async move {
                    let (res, buf) = stream.read(vec![0u8; 5]).await;
                    if let Ok(n) = res {
                        let _ = stream.write_all(buf.slice(..n)).await;
                    }
                }));
            }
            for echo in echoes {
                echo.await.unwrap();
            }
        });
        let (served, attempts) = clients.join().unwrap();
        let (spent, wall) = (cpu_time() - cpu, started.elapsed());
        assert_eq!(attempts, 500);
        assert_eq!(served, 500, "every client was served in the end");
        assert!(
            spent < wall / 2 + Duration::from_millis(200),
            "the server spun while out of fds: {spent:?} of CPU in {wall:?}"
        );
    });
}
