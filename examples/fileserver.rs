//! Serves a directory over HTTP/1.1: `GET` and `HEAD`, `Content-Length`,
//! keep-alive (and pipelining), 404 for what is not there — and nothing
//! outside the directory, whatever the request says.
//!
//! ```text
//! cargo run --release --example fileserver -- 127.0.0.1:8080 ./public
//! curl -i http://127.0.0.1:8080/index.html
//! wrk -t1 -c64 -d10s http://127.0.0.1:8080/index.html
//! ```
//!
//! # Staying inside the root
//!
//! Two independent fences:
//!
//! 1. The request target is percent-decoded once and split on `/`; a `..`
//!    segment is refused (403), as are NUL bytes and bad escapes (400).
//! 2. Files are opened with `openat2` relative to the root directory's fd
//!    with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`: the kernel refuses
//!    (`EXDEV`, 403) any resolution that leaves the root — through `..` or
//!    through a symlink, absolute or relative — while symlinks that stay
//!    inside work. This one also closes the race of a path swapped between
//!    a check and the open.
//!
//! Only regular files are served: the file is opened with `O_NONBLOCK` (so
//! a FIFO planted in the root cannot stall the open), checked with `statx`,
//! and set back to blocking. A directory serves its `index.html`.

use ringloop::buf::IoBuf;
use ringloop::fs::{File, OpenOptions};
use ringloop::net::{TcpListener, TcpStream};
use std::ffi::OsStr;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

/// Longest request head (request line and headers).
const MAX_HEAD: usize = 8 << 10;
/// Files up to this size go out in the same write as the response head.
const SMALL_FILE: u64 = 64 << 10;
/// Chunk size for larger files.
const CHUNK: usize = 256 << 10;

#[allow(dead_code)] // the tests include this file for `serve`
fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let root = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let result = ringloop::Runtime::new().and_then(|rt| {
        rt.block_on(async {
            let dir = open_root(&root).await?;
            let listener = TcpListener::bind(addr.as_str()).await?;
            eprintln!(
                "serving {} on http://{}",
                root.display(),
                listener.local_addr()?
            );
            serve(listener, dir).await
        })
    });
    if let Err(e) = result {
        eprintln!("fileserver: {e}");
        std::process::exit(1);
    }
}

/// Opens the directory to serve.
///
/// # Errors
///
/// `NotFound`, `NotADirectory` …
pub async fn open_root(path: &Path) -> io::Result<Rc<File>> {
    let dir = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(path)
        .await?;
    Ok(Rc::new(dir))
}

/// Accepts connections forever, one task each.
///
/// # Errors
///
/// None so far: accept errors are reported and retried.
pub async fn serve(listener: TcpListener, root: Rc<File>) -> io::Result<()> {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let root = Rc::clone(&root);
                ringloop::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    // A failed connection only ends that connection.
                    let _ = connection(stream, &root).await;
                });
            }
            Err(e) => {
                eprintln!("accept: {e}");
                ringloop::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Answers the requests of one connection until it closes.
async fn connection(stream: TcpStream, root: &File) -> io::Result<()> {
    let mut input: Vec<u8> = Vec::with_capacity(MAX_HEAD);
    let mut out: Vec<u8> = Vec::with_capacity(SMALL_FILE as usize + 512);
    loop {
        let head_len = loop {
            if let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if input.len() == MAX_HEAD {
                let reply = Reply::error(431, false);
                stream.write_all(reply.head(0)).await.0?;
                return Ok(());
            }
            let filled = input.len();
            let (res, slice) = stream.read(input.slice(filled..MAX_HEAD)).await;
            input = slice.into_inner();
            if res? == 0 {
                return Ok(()); // the client is done
            }
        };
        let keep_alive = respond(&stream, root, &input[..head_len], &mut out).await?;
        input.drain(..head_len); // a pipelined next request stays
        if !keep_alive {
            return Ok(());
        }
    }
}

/// Answers one request; returns whether the connection stays open.
async fn respond(
    stream: &TcpStream,
    root: &File,
    head: &[u8],
    out: &mut Vec<u8>,
) -> io::Result<bool> {
    let request = match Request::parse(head) {
        Some(request) => request,
        None => {
            stream.write_all(Reply::error(400, false).head(0)).await.0?;
            return Ok(false);
        }
    };
    let keep_alive = request.keep_alive;
    if request.method != "GET" && request.method != "HEAD" {
        stream
            .write_all(Reply::error(405, keep_alive).head(0))
            .await
            .0?;
        return Ok(keep_alive);
    }
    let opened = match resolve_target(request.target) {
        Ok(rel) => open_file(root, &rel).await,
        Err(status) => Err(status),
    };
    let (file, len, path) = match opened {
        Ok(found) => found,
        Err(status) => {
            stream
                .write_all(Reply::error(status, keep_alive).head(0))
                .await
                .0?;
            return Ok(keep_alive);
        }
    };
    let reply = Reply {
        status: 200,
        content_type: content_type(&path),
        keep_alive,
    };
    let head = reply.head(len);
    if request.method == "HEAD" {
        stream.write_all(head).await.0?;
        return Ok(keep_alive);
    }
    if len <= SMALL_FILE {
        // Head and body in one buffer, one read and one write.
        let mut buf = std::mem::take(out);
        buf.clear();
        buf.extend_from_slice(head.as_bytes());
        let start = buf.len();
        buf.reserve(len as usize);
        let (res, slice) = file
            .read_exact_at(buf.slice(start..start + len as usize), 0)
            .await;
        buf = slice.into_inner();
        res?; // a file cut short meanwhile: the connection ends
        let (res, buf) = stream.write_all(buf).await;
        *out = buf;
        res?;
    } else {
        stream.write_all(head).await.0?;
        let mut buf = Vec::with_capacity(CHUNK);
        let mut pos = 0;
        while pos < len {
            buf.clear();
            let (res, back) = file.read_at(buf, pos).await;
            buf = back;
            match res? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => pos += n as u64,
            }
            let (res, back) = stream.write_all(buf).await;
            buf = back;
            res?;
        }
    }
    Ok(keep_alive)
}

/// The parts of a request head we use.
struct Request<'a> {
    method: &'a str,
    target: &'a str,
    keep_alive: bool,
}

impl<'a> Request<'a> {
    fn parse(head: &'a [u8]) -> Option<Request<'a>> {
        let head = std::str::from_utf8(head).ok()?;
        let mut lines = head.split("\r\n");
        let mut parts = lines.next()?.split(' ');
        let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !version.starts_with("HTTP/1.") {
            return None;
        }
        let mut keep_alive = version == "HTTP/1.1";
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("connection") {
                let value = value.trim();
                if value.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if value.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        }
        Some(Request {
            method,
            target,
            keep_alive,
        })
    }
}

/// Turns a request target (`/a/b%20c.txt?x=1`) into a path relative to the
/// root, or the status refusing it: 400 for what is not an origin-form path
/// (bad escapes, NUL bytes), 403 for any `..` segment.
pub fn resolve_target(target: &str) -> Result<PathBuf, u16> {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') {
        return Err(400);
    }
    let decoded = percent_decode(path.as_bytes()).ok_or(400u16)?;
    if decoded.contains(&0) {
        return Err(400);
    }
    let mut rel = PathBuf::new();
    for segment in decoded.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => return Err(403),
            name => rel.push(OsStr::from_bytes(name)),
        }
    }
    if rel.as_os_str().is_empty() {
        rel.push("index.html");
    }
    Ok(rel)
}

fn percent_decode(bytes: &[u8]) -> Option<Vec<u8>> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let high = hex(*bytes.get(i + 1)?)?;
            let low = hex(*bytes.get(i + 2)?)?;
            out.push(high << 4 | low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Opens `rel` beneath `root` (a directory: its `index.html`); returns the
/// file, its size and the path served, or the status refusing it.
async fn open_file(root: &File, rel: &Path) -> Result<(File, u64, PathBuf), u16> {
    let mut path = rel.to_path_buf();
    for _ in 0..2 {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .resolve(libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS)
            .open_at(root, &path)
            .await
            .map_err(|e| status_of(&e))?;
        let meta = file.metadata().await.map_err(|e| status_of(&e))?;
        if meta.is_dir() {
            path.push("index.html");
            continue;
        }
        if !meta.is_file() {
            return Err(404);
        }
        // SAFETY: F_SETFL on our own descriptor; clears O_NONBLOCK (the
        // only status flag it was opened with) so reads may block.
        unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, 0) };
        return Ok((file, meta.len(), path));
    }
    Err(404)
}

fn status_of(e: &io::Error) -> u16 {
    match e.raw_os_error() {
        Some(libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG) => 404,
        // EXDEV: the path would leave the root; ELOOP: a symlink loop.
        Some(libc::EACCES | libc::EPERM | libc::EXDEV | libc::ELOOP) => 403,
        _ => 500,
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(OsStr::to_str) {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// A response head.
struct Reply {
    status: u16,
    content_type: &'static str,
    keep_alive: bool,
}

impl Reply {
    fn error(status: u16, keep_alive: bool) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            keep_alive,
        }
    }

    /// The head for a body of `len` bytes; an error status carries its
    /// reason as the body.
    fn head(&self, len: u64) -> String {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            _ => "Internal Server Error",
        };
        let connection = if self.keep_alive {
            "keep-alive"
        } else {
            "close"
        };
        let body = if self.status == 200 {
            String::new()
        } else {
            format!("{} {reason}\n", self.status)
        };
        let len = if self.status == 200 {
            len
        } else {
            body.len() as u64
        };
        format!(
            "HTTP/1.1 {} {reason}\r\nContent-Length: {len}\r\nContent-Type: {}\r\n\
             Connection: {connection}\r\n\r\n{body}",
            self.status, self.content_type
        )
    }
}
