//! Concatenates files to standard output, reading and writing on the ring.
//!
//! ```text
//! cargo run --release --example cat -- FILE... > out
//! ```
//!
//! With no file (or `-`), copies standard input. Standard input and output
//! may be files, pipes or terminals: I/O on pipes and terminals ignores the
//! offset, so the positions below only matter for files. Positional writes
//! do not move a file's shared offset, so when standard output is a file
//! its offset is moved past what was written at the end, as `write(2)`
//! would have, for whoever writes to it next (`(cat a; echo b) > out`).

use ringloop::fs::File;
use std::io::{self, Seek};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

const CHUNK: usize = 128 << 10;

fn main() {
    let mut paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        paths.push("-".into());
    }
    let rt = match ringloop::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cat: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let failed = rt.block_on(async {
        let (out, mut out_pos) = match std_file(io::stdout().as_fd().try_clone_to_owned()) {
            Ok(out) => out,
            Err(e) => {
                eprintln!("cat: stdout: {e}");
                return true;
            }
        };
        let mut failed = false;
        let mut buf = Vec::with_capacity(CHUNK);
        for path in &paths {
            let input = if path == "-" {
                std_file(io::stdin().as_fd().try_clone_to_owned())
            } else {
                File::open(path).await.map(|f| (f, 0))
            };
            let (input, in_pos) = match input {
                Ok(input) => input,
                Err(e) => {
                    eprintln!("cat: {path}: {e}");
                    failed = true;
                    continue;
                }
            };
            match copy(&input, in_pos, &out, &mut out_pos, buf).await {
                (Ok(()), back) => buf = back,
                (Err(e), back) => {
                    eprintln!("cat: {path}: {e}");
                    failed = true;
                    buf = back;
                    if e.kind() == io::ErrorKind::BrokenPipe {
                        break;
                    }
                }
            }
        }
        if let Ok(pos) = i64::try_from(out_pos) {
            // SAFETY: lseek on our duplicate of stdout; a pipe or terminal
            // refuses it (ESPIPE), which is fine.
            unsafe { libc::lseek(out.as_raw_fd(), pos, libc::SEEK_SET) };
        }
        failed
    });
    std::process::exit(i32::from(failed));
}

/// A ring file for a standard stream, and its current position (0 for a
/// pipe or terminal, whose offset is ignored).
fn std_file(fd: io::Result<OwnedFd>) -> io::Result<(File, u64)> {
    let mut file = std::fs::File::from(fd?);
    let pos = file.stream_position().unwrap_or(0);
    Ok((File::from_std(file), pos))
}

/// Copies `input` from `pos` to its end into `out` at `*out_pos`.
async fn copy(
    input: &File,
    mut pos: u64,
    out: &File,
    out_pos: &mut u64,
    mut buf: Vec<u8>,
) -> (io::Result<()>, Vec<u8>) {
    loop {
        buf.clear();
        let (res, back) = input.read_at(buf, pos).await;
        buf = back;
        let n = match res {
            Ok(0) => return (Ok(()), buf),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return (Err(e), buf),
        };
        pos += n as u64;
        let (res, back) = out.write_all_at(buf, *out_pos).await;
        buf = back;
        if let Err(e) = res {
            return (Err(e), buf);
        }
        *out_pos += n as u64;
    }
}
