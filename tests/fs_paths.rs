//! The free functions on paths (`read`, `write`, directories, links,
//! renames, metadata), and `open_at` with resolve flags confining a path
//! to a directory.

mod common;
mod fs_common;

use fs_common::{pattern, run, TempDir};
use ringloop::fs::{self, File, OpenOptions};
use std::io::ErrorKind;

#[test]
fn write_then_read_returns_the_whole_content_whatever_its_size() {
    let dir = TempDir::new("readwrite");
    let root = dir.path().to_path_buf();
    run(10, move || async move {
        fs::write(root.join("s"), "a string").await.unwrap();
        assert_eq!(fs::read(root.join("s")).await.unwrap(), b"a string");
        for len in [0, 1, 511, 512, 4096, (1 << 20) + 3] {
            let path = root.join(format!("f{len}"));
            fs::write(&path, pattern(len, len)).await.unwrap();
            assert!(
                fs::read(&path).await.unwrap() == pattern(len, len),
                "{len} bytes"
            );
        }
        fs::write(root.join("s"), "short").await.unwrap();
        assert_eq!(
            fs::read(root.join("s")).await.unwrap(),
            b"short",
            "write truncates"
        );
        // procfs says 0 bytes and has more: read goes on until EOF.
        let status = fs::read("/proc/self/status").await.unwrap();
        assert!(String::from_utf8_lossy(&status).contains("Pid:"));
    });
}

#[test]
fn create_dir_all_makes_every_missing_parent_and_accepts_an_existing_directory() {
    let dir = TempDir::new("mkdirs");
    let root = dir.path().to_path_buf();
    run(10, move || async move {
        let deep = root.join("a/b/c/d");
        fs::create_dir_all(&deep).await.unwrap();
        assert!(fs::metadata(&deep).await.unwrap().is_dir());
        fs::create_dir_all(&deep).await.unwrap();
        fs::create_dir_all(root.join("a/b/e")).await.unwrap();
        assert_eq!(
            fs::create_dir(&deep).await.unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );

        fs::write(root.join("file"), "x").await.unwrap();
        let err = fs::create_dir_all(root.join("file/sub")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotADirectory, "{err}");
        let err = fs::create_dir_all(root.join("file")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    });
}

#[test]
fn remove_dir_removes_only_empty_directories_and_remove_file_only_files() {
    let dir = TempDir::new("remove");
    let root = dir.path().to_path_buf();
    run(10, move || async move {
        fs::create_dir(root.join("d")).await.unwrap();
        fs::write(root.join("d/f"), "x").await.unwrap();
        let err = fs::remove_dir(root.join("d")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DirectoryNotEmpty);
        let err = fs::remove_dir(root.join("d/f")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotADirectory);
        fs::remove_file(root.join("d/f")).await.unwrap();
        fs::remove_dir(root.join("d")).await.unwrap();
        assert_eq!(
            fs::metadata(root.join("d")).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    });
}

#[test]
fn rename_replaces_the_target_and_moves_directories() {
    let dir = TempDir::new("rename");
    let root = dir.path().to_path_buf();
    run(10, move || async move {
        fs::write(root.join("new"), "new").await.unwrap();
        fs::write(root.join("old"), "old").await.unwrap();
        fs::rename(root.join("new"), root.join("old"))
            .await
            .unwrap();
        assert_eq!(fs::read(root.join("old")).await.unwrap(), b"new");
        assert_eq!(
            fs::metadata(root.join("new")).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        fs::create_dir_all(root.join("x/y")).await.unwrap();
        fs::rename(root.join("x"), root.join("z")).await.unwrap();
        assert!(fs::metadata(root.join("z/y")).await.unwrap().is_dir());
    });
}

#[test]
fn hard_links_share_an_inode_and_symlinks_are_seen_or_followed() {
    let dir = TempDir::new("links");
    let root = dir.path().to_path_buf();
    run(10, move || async move {
        fs::write(root.join("f"), "content").await.unwrap();
        fs::hard_link(root.join("f"), root.join("h")).await.unwrap();
        let (f, h) = (
            fs::metadata(root.join("f")).await.unwrap(),
            fs::metadata(root.join("h")).await.unwrap(),
        );
        assert_eq!((f.ino(), f.nlink()), (h.ino(), 2));
        let err = fs::hard_link(root.join("f"), root.join("h"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);

        fs::symlink("f", root.join("s")).await.unwrap();
        let link = fs::symlink_metadata(root.join("s")).await.unwrap();
        assert!(link.is_symlink() && !link.is_file());
        let target = fs::metadata(root.join("s")).await.unwrap();
        assert!(
            target.is_file() && target.ino() == f.ino(),
            "metadata follows the link"
        );
        assert_eq!(fs::read(root.join("s")).await.unwrap(), b"content");
        assert_eq!(
            std::fs::read_link(root.join("s")).unwrap(),
            std::path::Path::new("f")
        );

        fs::symlink("nowhere", root.join("dangling")).await.unwrap();
        assert_eq!(
            fs::metadata(root.join("dangling"))
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert!(fs::symlink_metadata(root.join("dangling"))
            .await
            .unwrap()
            .is_symlink());
        fs::remove_file(root.join("dangling")).await.unwrap();
    });
}

#[test]
fn open_at_with_resolve_beneath_refuses_paths_leading_out_of_the_directory() {
    let dir = TempDir::new("beneath");
    let root = dir.path().to_path_buf();
    std::fs::create_dir_all(root.join("jail/inner")).unwrap();
    std::fs::write(root.join("jail/inner/f"), "inside").unwrap();
    std::fs::write(root.join("outside"), "outside").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("jail/abs")).unwrap();
    std::os::unix::fs::symlink("../outside", root.join("jail/up")).unwrap();
    std::os::unix::fs::symlink("inner/f", root.join("jail/ok")).unwrap();
    run(10, move || async move {
        let jail = File::open(root.join("jail")).await.unwrap();
        let mut beneath = OpenOptions::new();
        beneath.read(true).resolve(libc::RESOLVE_BENEATH);
        for inside in ["inner/f", "ok", "inner/../inner/f"] {
            let file = beneath.open_at(&jail, inside).await.unwrap();
            let (res, buf) = file.read_at(Vec::with_capacity(16), 0).await;
            assert_eq!(&buf[..res.unwrap()], b"inside", "{inside}");
        }
        for escape in [
            "../outside",
            "inner/../../outside",
            "abs",
            "up",
            "/etc/passwd",
        ] {
            let err = beneath.open_at(&jail, escape).await.unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EXDEV), "{escape}: {err}");
            assert_eq!(err.kind(), ErrorKind::CrossesDevices);
        }
        // Without the flag, openat follows them.
        let plain = OpenOptions::new()
            .read(true)
            .open_at(&jail, "../outside")
            .await;
        assert!(plain.is_ok());
        let not_dir = File::open(root.join("outside")).await.unwrap();
        let err = OpenOptions::new()
            .read(true)
            .open_at(&not_dir, "x")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotADirectory);
    });
}
