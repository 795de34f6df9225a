//! io_uring forbidden: `Runtime::new` returns a typed error naming the
//! cause, and does not panic.
//!
//! A seccomp filter cannot be removed once installed, so each case runs in
//! a child process: the test binary re-executes itself with
//! `--exact <this test>` and an environment variable selecting the child
//! role. The child installs a filter making `io_uring_setup` fail with a
//! chosen errno, calls `Runtime::new()`, and prints what it got on lines
//! starting with `CHILD:`; the parent asserts on them.

mod common;

use common::{report, reported, run_in_child};
use std::time::Duration;

/// Set in the child: the errno its seccomp filter returns for `io_uring_setup`.
const CHILD_ROLE: &str = "RINGLOOP_TEST_SECCOMP_ERRNO";

/// `AUDIT_ARCH_*` of the native syscall ABI (`<linux/audit.h>`).
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH_NATIVE: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH_NATIVE: u32 = 0xC000_00B7;

/// Offsets in `struct seccomp_data`.
const SECCOMP_DATA_NR: u32 = 0;
const SECCOMP_DATA_ARCH: u32 = 4;

/// Installs on this thread a filter that fails `io_uring_setup` with
/// `errno`, kills the process on a foreign-ABI syscall, allows the rest.
fn deny_io_uring_setup(errno: u32) {
    use libc::{sock_filter, sock_fprog, BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
    let stmt = |code: u32, k: u32| sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| sock_filter {
        code: (BPF_JMP | BPF_JEQ | BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let mut program = [
        stmt(BPF_LD | BPF_W | BPF_ABS, SECCOMP_DATA_ARCH),
        jeq(AUDIT_ARCH_NATIVE, 1, 0),
        stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD | BPF_W | BPF_ABS, SECCOMP_DATA_NR),
        jeq(libc::SYS_io_uring_setup as u32, 0, 1),
        stmt(
            BPF_RET | BPF_K,
            libc::SECCOMP_RET_ERRNO | (errno & libc::SECCOMP_RET_DATA),
        ),
        stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_ALLOW),
    ];
    let prog = sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: plain prctl calls; `prog` points at a live, well-formed BPF
    // program for the duration of the call (the kernel copies it).
    unsafe {
        assert_eq!(
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
            0,
            "PR_SET_NO_NEW_PRIVS"
        );
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const sock_fprog
            ),
            0,
            "PR_SET_SECCOMP: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// The child's side: install the filter, try, report.
fn child(errno: u32) {
    // The automatic choice below must not be overridden by the test pass.
    std::env::remove_var("RINGLOOP_DRIVER");
    deny_io_uring_setup(errno);
    // The filter works: the raw syscall now fails with `errno`.
    let mut params = [0u8; 120]; // struct io_uring_params
                                 // SAFETY: io_uring_setup reads and writes `params` (120 bytes, live).
    let raw = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4, params.as_mut_ptr()) };
    report("raw_setup", raw);
    report(
        "raw_errno",
        format!("{:?}", std::io::Error::last_os_error().raw_os_error()),
    );
    // Asked for io_uring explicitly: a typed error.
    match ringloop::Builder::new()
        .driver(ringloop::Driver::Uring)
        .build()
    {
        Ok(_) => report("runtime", "ok"),
        Err(e) => {
            let inner = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<ringloop::runtime::UringUnavailable>());
            report("runtime", "error");
            report("kind", format!("{:?}", e.kind()));
            report("uring_unavailable", inner.is_some());
            report("errno", format!("{:?}", inner.and_then(|u| u.errno())));
            report("message", e);
        }
    }
    // Left to choose (the default): falls back to epoll, and works.
    match ringloop::Runtime::new() {
        Ok(rt) => {
            report("auto_driver", format!("{:?}", rt.driver()));
            let worked = rt.block_on(async {
                let (r, w) = ringloop::io::pipe().expect("pipe");
                let (res, _) = w.write_all(b"hi" as &'static [u8]).await;
                res.expect("write");
                let (n, buf) = r.read(vec![0u8; 8]).await;
                ringloop::nop().await.is_ok() && n.expect("read") == 2 && &buf[..2] == b"hi"
            });
            report("auto_works", worked);
        }
        Err(e) => report("auto_driver", format!("error: {e}")),
    }
}

/// Runs this test as the child (returns `None`) or as the parent (returns
/// the child's report).
fn check(test: &str, errno: i32) -> Option<Vec<String>> {
    if let Ok(role) = std::env::var(CHILD_ROLE) {
        child(role.parse().expect("an errno"));
        return None;
    }
    // Without the filter, io_uring works here: the child's error is the filter's doing.
    drop(
        ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .build()
            .expect("io_uring is usable outside the filter"),
    );
    Some(run_in_child(
        test,
        CHILD_ROLE,
        &errno.to_string(),
        Duration::from_secs(20),
    ))
}

#[test]
fn runtime_new_under_a_seccomp_filter_denying_io_uring_setup_is_a_permission_error_naming_seccomp()
{
    let Some(report) = check(
        "runtime_new_under_a_seccomp_filter_denying_io_uring_setup_is_a_permission_error_naming_seccomp",
        libc::EPERM,
    ) else {
        return;
    };
    assert_eq!(
        reported(&report, "raw_setup"),
        "-1",
        "the filter denies the syscall"
    );
    assert_eq!(
        reported(&report, "raw_errno"),
        format!("Some({})", libc::EPERM),
        "{report:?}"
    );
    assert_eq!(
        reported(&report, "runtime"),
        "error",
        "Runtime::new must fail under the filter"
    );
    assert_eq!(reported(&report, "kind"), "PermissionDenied");
    assert_eq!(
        reported(&report, "uring_unavailable"),
        "true",
        "the inner error is a UringUnavailable"
    );
    assert_eq!(reported(&report, "errno"), format!("Some({})", libc::EPERM));
    let message = reported(&report, "message");
    assert!(
        message.contains("seccomp"),
        "the message names the likely cause: {message}"
    );
    assert_eq!(
        reported(&report, "auto_driver"),
        "Epoll",
        "Runtime::new falls back to the readiness driver"
    );
    assert_eq!(reported(&report, "auto_works"), "true");
}

#[test]
fn runtime_new_when_io_uring_setup_is_missing_is_an_unsupported_error() {
    let Some(report) = check(
        "runtime_new_when_io_uring_setup_is_missing_is_an_unsupported_error",
        libc::ENOSYS,
    ) else {
        return;
    };
    assert_eq!(
        reported(&report, "raw_errno"),
        format!("Some({})", libc::ENOSYS),
        "{report:?}"
    );
    assert_eq!(reported(&report, "kind"), "Unsupported");
    assert_eq!(reported(&report, "uring_unavailable"), "true");
    assert_eq!(
        reported(&report, "errno"),
        format!("Some({})", libc::ENOSYS)
    );
    let message = reported(&report, "message");
    assert!(
        message.contains("ENOSYS") || message.contains("no io_uring"),
        "{message}"
    );
    assert_eq!(reported(&report, "auto_driver"), "Epoll");
    assert_eq!(reported(&report, "auto_works"), "true");
}
