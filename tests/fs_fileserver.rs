//! `examples/fileserver.rs`, hit over loopback with raw HTTP requests: it
//! serves files with their length, 404s what is missing, and never serves
//! anything outside its root, however the path is spelled.

mod common;
mod fs_common;

#[allow(dead_code)]
#[path = "../examples/fileserver.rs"]
mod fileserver;

use fs_common::TempDir;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// Starts the file server on `root` in a thread of its own (it runs until
/// the test binary exits); returns its address.
fn start(root: &Path) -> SocketAddr {
    let root = root.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = ringloop::Runtime::new().unwrap();
        rt.block_on(async move {
            let dir = fileserver::open_root(&root).await.unwrap();
            let listener = ringloop::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let _ = fileserver::serve(listener, dir).await;
        });
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the server starts")
}

/// Sends `raw` on a new connection and reads until the server closes it.
fn exchange_bytes(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.write_all(raw).unwrap();
    let mut reply = Vec::new();
    conn.read_to_end(&mut reply)
        .expect("the server answers and closes");
    reply
}

fn exchange(addr: SocketAddr, raw: &[u8]) -> String {
    String::from_utf8_lossy(&exchange_bytes(addr, raw)).into_owned()
}

fn get(addr: SocketAddr, target: &str) -> (u16, String) {
    let reply = exchange(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let status = reply.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A root `www` with files, a subdirectory and symlinks, next to a secret
/// that must stay out of reach.
fn site() -> TempDir {
    let dir = TempDir::new("fileserver");
    let www = dir.join("www");
    std::fs::create_dir_all(www.join("sub")).unwrap();
    std::fs::write(www.join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(www.join("hello.txt"), "hello").unwrap();
    std::fs::write(www.join("sub/index.html"), "sub home").unwrap();
    std::fs::write(www.join("big.bin"), fs_common::pattern(300_000, 1)).unwrap();
    std::fs::write(dir.join("secret.txt"), "TOP SECRET").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", www.join("abs-escape")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", www.join("rel-escape")).unwrap();
    std::os::unix::fs::symlink(dir.path(), www.join("dir-escape")).unwrap();
    std::os::unix::fs::symlink("hello.txt", www.join("inside")).unwrap();
    dir
}

#[test]
fn serves_files_with_their_length_and_404s_what_is_missing() {
    let dir = site();
    let www = dir.join("www");
    common::watchdog(30, move || {
        let addr = start(&www);
        assert_eq!(get(addr, "/hello.txt"), (200, "hello".into()));
        assert_eq!(get(addr, "/"), (200, "<h1>home</h1>".into()));
        assert_eq!(get(addr, "/sub/"), (200, "sub home".into()));
        assert_eq!(
            get(addr, "/inside"),
            (200, "hello".into()),
            "a symlink inside the root"
        );
        assert_eq!(get(addr, "/hello.txt?x=1#top"), (200, "hello".into()));
        assert_eq!(get(addr, "/missing").0, 404);
        assert_eq!(get(addr, "/hello.txt/x").0, 404);

        let reply = exchange_bytes(addr, b"GET /big.bin HTTP/1.1\r\nConnection: close\r\n\r\n");
        let split = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8_lossy(&reply[..split]);
        assert!(head.contains("Content-Length: 300000"), "{head}");
        assert!(
            reply[split..] == fs_common::pattern(300_000, 1),
            "the body is the file"
        );

        let reply = exchange(
            addr,
            b"HEAD /hello.txt HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert!(reply.starts_with("HTTP/1.1 200") && reply.contains("Content-Length: 5"));
        assert!(reply.ends_with("\r\n\r\n"), "HEAD has no body: {reply:?}");
        let reply = exchange(
            addr,
            b"POST /hello.txt HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert!(reply.starts_with("HTTP/1.1 405"), "{reply}");
    });
}

#[test]
fn keeps_connections_alive_and_answers_pipelined_requests_in_order() {
    let dir = site();
    let www = dir.join("www");
    common::watchdog(30, move || {
        let addr = start(&www);
        let reply = exchange(
            addr,
            b"GET /hello.txt HTTP/1.1\r\n\r\nGET /missing HTTP/1.1\r\n\r\n\
              GET /sub/ HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        let statuses: Vec<&str> = reply
            .match_indices("HTTP/1.1 ")
            .map(|(i, _)| &reply[i + 9..i + 12])
            .collect();
        assert_eq!(statuses, ["200", "404", "200"], "{reply}");
        assert!(reply.ends_with("sub home"), "{reply}");
    });
}

#[test]
fn refuses_every_path_that_leads_out_of_the_root() {
    let dir = site();
    let www = dir.join("www");
    common::watchdog(30, move || {
        let addr = start(&www);
        let attempts = [
            "/../secret.txt",
            "/../../../../../../etc/passwd",
            "/sub/../../secret.txt",
            "/./../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E/%2e%2e/%2e%2e/etc/passwd",
            "/..%2fsecret.txt",
            "/%2e%2e%2fsecret.txt",
            "/sub/..%2f..%2fsecret.txt",
            "/%252e%252e/secret.txt",
            "/..%00/secret.txt",
            "/%zz",
            "/abs-escape",
            "/rel-escape",
            "/dir-escape/secret.txt",
            "/sub/../rel-escape",
            "../secret.txt",
            "http://x/../secret.txt",
            "//etc/passwd",
        ];
        for target in attempts {
            let (status, body) = get(addr, target);
            assert!(
                [400, 403, 404].contains(&status),
                "{target}: status {status}, body {body:?}"
            );
            assert!(
                !body.contains("TOP SECRET") && !body.contains("root:"),
                "{target} leaked a file outside the root: {body:?}"
            );
        }
        assert_eq!(
            get(addr, "/../secret.txt").0,
            403,
            "`..` is refused outright"
        );
        assert_eq!(
            get(addr, "/rel-escape").0,
            403,
            "the kernel refuses the symlink"
        );
        assert_eq!(get(addr, "/%zz").0, 400);
        assert_eq!(
            get(addr, "/hello.txt").0,
            200,
            "and the server still serves"
        );
    });
}

#[test]
fn request_targets_decode_once_and_never_keep_a_dot_dot() {
    use fileserver::resolve_target;
    assert_eq!(
        resolve_target("/a/b%20c.txt?q").unwrap(),
        Path::new("a/b c.txt")
    );
    assert_eq!(resolve_target("/").unwrap(), Path::new("index.html"));
    assert_eq!(resolve_target("//a/./b/").unwrap(), Path::new("a/b"));
    assert_eq!(resolve_target("/%252e%252e").unwrap(), Path::new("%2e%2e"));
    assert_eq!(resolve_target("/a/../b"), Err(403));
    assert_eq!(resolve_target("/a/%2e%2E/b"), Err(403));
    assert_eq!(resolve_target("/a%00"), Err(400));
    assert_eq!(resolve_target("/%4"), Err(400));
    assert_eq!(resolve_target("a/b"), Err(400));
}
