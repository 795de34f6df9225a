//! With `RINGLOOP_FS_BLOCKING=1`, every probed fs op runs its syscall on
//! the blocking pool — the path taken on kernels that lack the opcode — and
//! behaves the same: only reads and writes reach the ring.
//!
//! One test in its own binary: the switch is read once per process.

mod common;
mod fs_common;

use fs_common::{pattern, TempDir};
use ringloop::fs::{self, File, OpenOptions};
use ringloop::trace::Event;
use std::cell::RefCell;
use std::io::ErrorKind;
use std::rc::Rc;

#[test]
fn every_probed_op_falls_back_to_the_blocking_pool_transparently() {
    // Before any runtime or thread of ours reads the environment.
    std::env::set_var("RINGLOOP_FS_BLOCKING", "1");
    let dir = TempDir::new("fallback");
    let root = dir.path().to_path_buf();
    let ring_ops = common::watchdog(20, move || {
        let seen: Rc<RefCell<Vec<&'static str>>> = Rc::default();
        let log = seen.clone();
        let rt = ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .on_event(move |e| {
                if let Event::SqePushed { op, .. } = e {
                    log.borrow_mut().push(op);
                }
            })
            .build()
            .unwrap();
        rt.block_on(async {
            fs::create_dir_all(root.join("a/b")).await.unwrap();
            let path = root.join("a/b/f");
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .open(&path)
                .await
                .unwrap();
            file.write_all_at(pattern(10_000, 1), 0).await.0.unwrap();
            file.sync_all().await.unwrap();
            file.sync_data().await.unwrap();
            file.set_len(5000).await.unwrap();
            file.fallocate(0, 8192, 0).await.unwrap();
            let meta = file.metadata().await.unwrap();
            assert_eq!(meta.len(), 8192);
            let (res, buf) = file.read_exact_at(Vec::with_capacity(5000), 0).await;
            res.unwrap();
            assert!(buf == pattern(5000, 1));
            file.close().await.unwrap();

            let jail = File::open(root.join("a")).await.unwrap();
            let beneath = OpenOptions::new()
                .read(true)
                .resolve(libc::RESOLVE_BENEATH)
                .open_at(&jail, "b/f")
                .await;
            assert!(beneath.is_ok());
            let err = OpenOptions::new()
                .read(true)
                .resolve(libc::RESOLVE_BENEATH)
                .open_at(&jail, "../a")
                .await
                .unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EXDEV));

            fs::hard_link(&path, root.join("h")).await.unwrap();
            fs::symlink(&path, root.join("s")).await.unwrap();
            assert!(fs::symlink_metadata(root.join("s"))
                .await
                .unwrap()
                .is_symlink());
            fs::rename(root.join("h"), root.join("h2")).await.unwrap();
            assert_eq!(fs::read(root.join("h2")).await.unwrap().len(), 8192);
            fs::remove_file(root.join("h2")).await.unwrap();
            fs::remove_file(root.join("s")).await.unwrap();
            assert_eq!(
                fs::remove_dir(root.join("a/b")).await.unwrap_err().kind(),
                ErrorKind::DirectoryNotEmpty
            );
            assert_eq!(
                File::open(root.join("missing")).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
        });
        let ops = seen.borrow().clone();
        ops
    });
    assert!(!ring_ops.is_empty(), "reads and writes still use the ring");
    for op in &ring_ops {
        assert!(
            ["read", "write"].contains(op),
            "`{op}` reached the ring: {ring_ops:?}"
        );
    }
}
