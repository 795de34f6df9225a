//! Errors the process's limits and credentials cause — permission denied,
//! a full file system, a file-size limit, a locked-memory limit — reach the
//! caller as `io::Error`s, and nothing is written past them.
//!
//! The tests run as root, whom permission bits do not stop, and limits are
//! per process. So each test runs its body again in a child process of this
//! test binary (`fs_common::child`) that drops to `nobody` (`setuid`, no
//! supplementary groups, hence no capabilities), lowers an `rlimit`, or
//! mounts a 1 MiB tmpfs in a private mount namespace of its own (gone when
//! the child exits).

mod common;
mod fs_common;

use fs_common::{child, pattern, run, scratch_file, TempDir};
use ringloop::buf::FixedBufPool;
use ringloop::fs::{self, File};
use std::ffi::CString;
use std::io::{self, ErrorKind};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

const NOBODY: u32 = 65534;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Writes `data` at offset 0 in 64 KiB `write_at`s until one fails; returns
/// the bytes reported written and the error.
async fn write_until_error(file: &File, data: &[u8]) -> (usize, io::Error) {
    let mut written = 0;
    while written < data.len() {
        let end = data.len().min(written + (64 << 10));
        let (res, _) = file
            .write_at(data[written..end].to_vec(), written as u64)
            .await;
        match res {
            Ok(0) => panic!("a write accepted nothing without an error"),
            Ok(n) => written += n,
            Err(e) => return (written, e),
        }
    }
    panic!("all {} bytes were written: no limit was hit", data.len());
}

/// Asserts the file holds exactly the first `written` bytes of `data`.
async fn assert_holds_exactly(file: &File, data: &[u8], written: usize) {
    assert_eq!(
        file.metadata().await.unwrap().len(),
        written as u64,
        "nothing past the error"
    );
    let (res, back) = file.read_exact_at(Vec::with_capacity(written), 0).await;
    res.unwrap();
    assert!(
        back == data[..written],
        "the bytes reported written are the data"
    );
}

#[test]
fn without_permission_opening_creating_and_removing_are_permission_denied() {
    const NAME: &str = "without_permission_opening_creating_and_removing_are_permission_denied";
    if let Some(dir) = child::role(NAME) {
        let dir = PathBuf::from(dir);
        run(10, move || async move {
            // SAFETY: geteuid has no preconditions.
            assert_eq!(
                unsafe { libc::geteuid() },
                NOBODY,
                "the child runs as nobody"
            );
            let secret = dir.join("secret");
            let denied = |e: io::Error| assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
            denied(File::open(&secret).await.unwrap_err());
            denied(File::create(dir.join("new")).await.unwrap_err());
            denied(fs::write(dir.join("new"), "data").await.unwrap_err());
            denied(fs::remove_file(&secret).await.unwrap_err());
            denied(fs::rename(&secret, dir.join("moved")).await.unwrap_err());
            denied(fs::create_dir(dir.join("sub")).await.unwrap_err());
            assert_eq!(
                fs::read(&secret).await.unwrap_err().raw_os_error(),
                Some(libc::EACCES)
            );
            // Metadata needs only search permission on the directory.
            assert_eq!(fs::metadata(&secret).await.unwrap().len(), 6);
        });
        return;
    }
    if !is_root() {
        eprintln!("SKIPPED: switching to nobody needs root (and a non-root owner could read its own file)");
        return;
    }
    let dir = TempDir::new("eacces");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let secret = dir.join("secret");
    std::fs::write(&secret, b"secret").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = child::spawn(NAME, dir.path().to_str().unwrap(), 30, |cmd| {
        cmd.uid(NOBODY).gid(NOBODY);
    })
    .expect("start the child as nobody");
    child::assert_passed(NAME, &out);
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["secret"], "nothing was created, moved or removed");
    assert_eq!(std::fs::read(&secret).unwrap(), b"secret");
}

#[test]
fn a_full_file_system_is_storage_full_with_nothing_written_past_it() {
    const NAME: &str = "a_full_file_system_is_storage_full_with_nothing_written_past_it";
    if let Some(mnt) = child::role(NAME) {
        let path = PathBuf::from(mnt).join("big");
        run(20, move || async move {
            let file = scratch_file(&path).await;
            let data = pattern(3 << 20, 0);
            let (written, err) = write_until_error(&file, &data).await;
            assert_eq!(err.kind(), ErrorKind::StorageFull, "{err}");
            assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
            assert!(
                written > 0 && written <= 1 << 20,
                "{written} bytes fit in 1 MiB"
            );
            assert_holds_exactly(&file, &data, written).await;
            let (res, _) = file.write_all_at(pattern(8192, 1), written as u64).await;
            assert_eq!(res.unwrap_err().kind(), ErrorKind::StorageFull);
            assert_eq!(file.metadata().await.unwrap().len(), written as u64);
        });
        return;
    }
    let mnt = TempDir::new("enospc");
    let target = CString::new(mnt.path().to_str().unwrap()).unwrap();
    let spawned = child::spawn(NAME, mnt.path().to_str().unwrap(), 30, move |cmd| {
        // SAFETY: the hook runs in the forked child before exec and makes
        // only async-signal-safe syscalls on data prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                let ok = |ret: libc::c_int| {
                    if ret == 0 {
                        Ok(())
                    } else {
                        Err(io::Error::last_os_error())
                    }
                };
                ok(libc::unshare(libc::CLONE_NEWNS))?;
                ok(libc::mount(
                    c"none".as_ptr(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ))?;
                ok(libc::mount(
                    c"tmpfs".as_ptr(),
                    target.as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    c"size=1m".as_ptr().cast(),
                ))
            })
        };
    });
    match spawned {
        Ok(out) => child::assert_passed(NAME, &out),
        Err(e) => eprintln!(
            "SKIPPED: cannot mount a 1 MiB tmpfs in a private mount namespace ({e}); \
             the RLIMIT_FSIZE test covers a write limit"
        ),
    }
}

#[test]
fn a_file_size_limit_is_file_too_large_with_nothing_written_past_it() {
    const NAME: &str = "a_file_size_limit_is_file_too_large_with_nothing_written_past_it";
    const LIMIT: usize = 64 << 10;
    if let Some(dir) = child::role(NAME) {
        let path = PathBuf::from(dir).join("capped");
        run(20, move || async move {
            let file = scratch_file(&path).await;
            let data = pattern(4 * LIMIT, 0);
            let (written, err) = write_until_error(&file, &data).await;
            assert_eq!(err.kind(), ErrorKind::FileTooLarge, "{err}");
            assert_eq!(err.raw_os_error(), Some(libc::EFBIG));
            assert_eq!(written, LIMIT, "writes stop exactly at the limit");
            assert_holds_exactly(&file, &data, written).await;
            // Straddling the limit: the part below it is written (short).
            let (res, _) = file.write_at(pattern(100, 7), LIMIT as u64 - 10).await;
            assert_eq!(res.unwrap(), 10);
            assert_eq!(file.metadata().await.unwrap().len(), LIMIT as u64);
        });
        return;
    }
    let dir = TempDir::new("efbig");
    let out = child::spawn(NAME, dir.path().to_str().unwrap(), 30, |cmd| {
        // SAFETY: the hook runs in the forked child before exec and makes
        // only async-signal-safe syscalls.
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: LIMIT as u64,
                    rlim_max: LIMIT as u64,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // Without this the process is killed instead of told.
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                Ok(())
            })
        };
    })
    .expect("start the child with RLIMIT_FSIZE");
    child::assert_passed(NAME, &out);
}

#[test]
fn a_fixed_buffer_pool_over_the_memlock_limit_is_a_clear_out_of_memory_error() {
    const NAME: &str = "a_fixed_buffer_pool_over_the_memlock_limit_is_a_clear_out_of_memory_error";
    const LIMIT: u64 = 256 << 10;
    if child::role(NAME).is_some() {
        fs_common::run_uring(10, || async {
            let err = FixedBufPool::new(16, 1 << 20).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::OutOfMemory, "{err}");
            let msg = err.to_string();
            assert!(
                msg.contains("RLIMIT_MEMLOCK") && msg.contains("262144 bytes"),
                "{msg}"
            );
            let small = FixedBufPool::new(4, 4096).expect("a pool under the limit");
            assert_eq!(small.available(), 4);
        });
        return;
    }
    let out = child::spawn(NAME, "", 30, |cmd| {
        if is_root() {
            // Root has CAP_IPC_LOCK, which lifts the limit: drop it.
            cmd.uid(NOBODY).gid(NOBODY);
        }
        // SAFETY: the hook runs in the forked child before exec and makes
        // one async-signal-safe syscall.
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: LIMIT,
                    rlim_max: LIMIT,
                };
                if libc::setrlimit(libc::RLIMIT_MEMLOCK, &limit) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            })
        };
    })
    .expect("start the child as nobody with a small RLIMIT_MEMLOCK");
    child::assert_passed(NAME, &out);
}
