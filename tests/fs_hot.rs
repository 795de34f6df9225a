//! Hot files: after its first 128 ops a `File` is put in the runtime's own
//! fixed-file table, and its ops name the slot; `Builder::hot_files` sizes
//! the table or turns it off; a `FixedFiles` table and hot files share the
//! ring's one file table without surprises.
//!
//! That an op names the slot, not the fd, is shown the way
//! `tests/net_fixed.rs` shows it for sockets: `dup2` points the file's fd
//! *number* at another file; an op through the slot still reaches the
//! original file, one through the number reaches the other.

mod common;
mod fs_common;

use fs_common::TempDir;
use ringloop::fs::{File, FixedFiles};
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Ops after which a file is hot (the runtime's threshold).
const HOT_AFTER: usize = 128;

fn runtime(hot_files: Option<u32>) -> ringloop::Runtime {
    let builder = ringloop::Builder::new().driver(ringloop::Driver::Uring);
    match hot_files {
        Some(slots) => builder.hot_files(slots),
        None => builder,
    }
    .build()
    .expect("an io_uring runtime")
}

/// Runs `body` on a fresh io_uring runtime (hot-file slots as given) under
/// a watchdog.
fn run<F: std::future::Future<Output = ()>>(
    hot_files: Option<u32>,
    body: impl FnOnce() -> F + Send + 'static,
) {
    common::watchdog(20, move || runtime(hot_files).block_on(body()));
}

/// Two files, "a" holding `aaaa` and "b" holding `bbbb`.
fn two_files(dir: &TempDir) -> (std::path::PathBuf, std::path::PathBuf) {
    let (a, b) = (dir.join("a"), dir.join("b"));
    std::fs::write(&a, b"aaaa").unwrap();
    std::fs::write(&b, b"bbbb").unwrap();
    (a, b)
}

/// `n` reads of the whole (4-byte) file.
async fn read_times(file: &File, n: usize) {
    for _ in 0..n {
        let (res, _) = file.read_at(vec![0u8; 4], 0).await;
        assert_eq!(res.unwrap(), 4);
    }
}

/// What a read at offset 0 sees.
async fn contents(file: &File) -> Vec<u8> {
    let (res, mut buf) = file.read_at(vec![0u8; 4], 0).await;
    buf.truncate(res.unwrap());
    buf
}

/// Points `file`'s fd number at the file at `other` (see the module doc).
fn repoint(file: &File, other: &Path) {
    let other = std::fs::File::open(other).unwrap();
    // SAFETY: both fds are open; dup2 atomically replaces what the file's
    // number refers to, which the `File` still closes (once).
    let rc = unsafe { libc::dup2(other.as_raw_fd(), file.as_raw_fd()) };
    assert_eq!(rc, file.as_raw_fd());
}

#[test]
fn a_file_becomes_hot_at_its_128th_op_and_then_names_its_slot() {
    let dir = TempDir::new("hot");
    let (a, b) = two_files(&dir);
    run(None, move || async move {
        let file = File::open(&a).await.unwrap();
        read_times(&file, HOT_AFTER - 1).await;
        assert!(!file.is_hot(), "not before its 128th op");
        read_times(&file, 1).await;
        assert!(file.is_hot(), "hot from its 128th op");
        assert!(!file.is_registered(), "hot is not registered by the user");

        repoint(&file, &b);
        assert_eq!(
            contents(&file).await,
            b"aaaa",
            "the read went through the slot"
        );
        // Writes and syncs name the slot as well: fsync of the original.
        file.sync_data().await.unwrap();
    });
}

#[test]
fn zero_slots_turn_hot_files_off() {
    let dir = TempDir::new("hot-off");
    let (a, b) = two_files(&dir);
    run(Some(0), move || async move {
        let file = File::open(&a).await.unwrap();
        read_times(&file, 3 * HOT_AFTER).await;
        assert!(!file.is_hot());
        repoint(&file, &b);
        assert_eq!(contents(&file).await, b"bbbb", "the read named the fd");
    });
}

#[test]
fn a_full_table_leaves_files_on_their_fds_until_a_slot_frees() {
    let dir = TempDir::new("hot-full");
    let (a, b) = two_files(&dir);
    run(Some(1), move || async move {
        let first = File::open(&a).await.unwrap();
        let second = File::open(&a).await.unwrap();
        read_times(&first, HOT_AFTER).await;
        read_times(&second, 2 * HOT_AFTER).await;
        assert!(first.is_hot());
        assert!(!second.is_hot(), "the one slot is taken");
        assert_eq!(contents(&second).await, b"aaaa");

        // A file is promoted once, at its 128th op: `second` stays on its
        // fd, but a file opened after the slot is free gets it.
        drop(first);
        let third = File::open(&a).await.unwrap();
        read_times(&third, HOT_AFTER).await;
        assert!(third.is_hot(), "the slot was cleared with the first file");
        repoint(&third, &b);
        assert_eq!(contents(&third).await, b"aaaa");
    });
}

#[test]
fn a_fixed_files_table_made_first_turns_hot_files_off() {
    let dir = TempDir::new("hot-after-fixed");
    let (a, _) = two_files(&dir);
    run(None, move || async move {
        let table = FixedFiles::new(4).unwrap();
        let mut registered = File::open(&a).await.unwrap();
        registered.register(&table).unwrap();
        let plain = File::open(&a).await.unwrap();
        read_times(&registered, 2 * HOT_AFTER).await;
        read_times(&plain, 2 * HOT_AFTER).await;
        assert!(!registered.is_hot() && !plain.is_hot());
        assert_eq!(
            table.available(),
            3,
            "hot files took no slot of the user's table"
        );
        assert_eq!(contents(&plain).await, b"aaaa");
    });
}

#[test]
fn fixed_files_take_the_ring_over_once_no_hot_file_is_left() {
    let dir = TempDir::new("hot-then-fixed");
    let (a, b) = two_files(&dir);
    run(None, move || async move {
        let hot = File::open(&a).await.unwrap();
        read_times(&hot, HOT_AFTER).await;
        assert!(hot.is_hot());

        let Err(err) = FixedFiles::new(4) else {
            panic!("the ring's table is in use: FixedFiles::new must fail");
        };
        assert_eq!(err.kind(), ErrorKind::ResourceBusy);
        assert!(
            err.to_string().contains("hot_files(0)"),
            "the error says how to avoid it: {err}"
        );
        assert_eq!(contents(&hot).await, b"aaaa", "the hot file still works");

        drop(hot);
        let table = FixedFiles::new(4).expect("no hot file left: the ring is free");
        let mut registered = File::open(&a).await.unwrap();
        registered.register(&table).unwrap();
        repoint(&registered, &b);
        assert_eq!(
            contents(&registered).await,
            b"aaaa",
            "through the user's slot"
        );

        // Hot files are off from now on.
        let plain = File::open(&a).await.unwrap();
        read_times(&plain, HOT_AFTER).await;
        assert!(!plain.is_hot());
    });
}

#[test]
fn a_hot_file_used_on_another_runtime_is_named_by_its_fd_there() {
    let dir = TempDir::new("hot-two-runtimes");
    let (a, b) = two_files(&dir);
    common::watchdog(20, move || {
        let first = runtime(None);
        let file = first.block_on(async {
            let file = File::open(&a).await.unwrap();
            read_times(&file, HOT_AFTER).await;
            assert!(file.is_hot());
            file
        });
        repoint(&file, &b);
        // The slot is the first ring's; this ring knows only the number.
        let seen = runtime(None).block_on(contents(&file));
        assert_eq!(seen, b"bbbb");
        let seen = first.block_on(contents(&file));
        assert_eq!(seen, b"aaaa", "back on its own ring, through the slot");
    });
}

#[test]
fn hot_files_are_off_on_the_epoll_driver() {
    let dir = TempDir::new("hot-epoll");
    let (a, _) = two_files(&dir);
    common::watchdog(20, move || {
        let rt = ringloop::Builder::new()
            .driver(ringloop::Driver::Epoll)
            .build()
            .unwrap();
        rt.block_on(async {
            let file = File::open(&a).await.unwrap();
            read_times(&file, 2 * HOT_AFTER).await;
            assert!(!file.is_hot());
            assert_eq!(contents(&file).await, b"aaaa");
        });
    });
}
