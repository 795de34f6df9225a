//! What a connection does with the bytes it reads, the same on every
//! runtime: the runtimes' modules only move bytes (each with its own buffer
//! API), this decides what to send back.

/// The protocol the server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// A minimal HTTP/1.1 keep-alive "Hello world!" responder: count the
    /// complete requests a read brought (each ends with an empty line),
    /// keep the bytes of an incomplete one, answer all the complete ones
    /// with one write. The same responder as ringloop's `examples/http.rs`.
    Http,
    /// Write back what each read brought, as it is (no copy), like
    /// ringloop's `examples/echo.rs`.
    Echo,
}

impl Protocol {
    pub fn parse(name: &str) -> Option<Protocol> {
        match name {
            "http" => Some(Protocol::Http),
            "echo" => Some(Protocol::Echo),
            _ => None,
        }
    }

    /// Each connection's read buffer. Echo: large enough for the suite's
    /// largest message (16 KiB) in one read, as the ringloop echo server
    /// is run (`--buf 16384`).
    pub fn buf_len(self) -> usize {
        match self {
            Protocol::Http => 4096,
            Protocol::Echo => 16384,
        }
    }
}

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\nHello world!";

/// What to send after a read.
pub enum Reply {
    /// Nothing yet (an incomplete request).
    Nothing,
    /// The first `n` bytes of the read buffer: what the read brought.
    Echo(usize),
    /// The responses in [`Session::out`].
    Out,
}

/// One connection's state. The loop on every runtime is:
///
/// ```text
/// while let Some(at) = session.read_at() {
///     n = read(&mut buf[at..])          // 0: EOF, stop
///     match session.on_read(&mut buf, n) { … send what it says … }
/// }
/// ```
pub struct Session {
    protocol: Protocol,
    /// HTTP: bytes of an incomplete request at the start of the buffer.
    filled: usize,
    /// HTTP: the responses to send.
    out: Vec<u8>,
}

impl Session {
    pub fn new(protocol: Protocol) -> Session {
        Session {
            protocol,
            filled: 0,
            out: Vec::with_capacity(RESPONSE.len() * 16),
        }
    }

    /// Where the next read goes in the buffer; `None` when an incomplete
    /// request fills the buffer (close the connection).
    pub fn read_at(&self) -> Option<usize> {
        (self.filled < self.protocol.buf_len()).then_some(self.filled)
    }

    /// A read put `n` bytes at `buf[read_at()..]`.
    pub fn on_read(&mut self, buf: &mut [u8], n: usize) -> Reply {
        match self.protocol {
            Protocol::Echo => Reply::Echo(n),
            Protocol::Http => {
                self.filled += n;
                let (requests, used) = count_requests(&buf[..self.filled]);
                buf.copy_within(used..self.filled, 0);
                self.filled -= used;
                if requests == 0 {
                    return Reply::Nothing;
                }
                self.out.clear();
                for _ in 0..requests {
                    self.out.extend_from_slice(RESPONSE);
                }
                Reply::Out
            }
        }
    }

    pub fn out(&self) -> &[u8] {
        &self.out
    }

    /// For owned-buffer writes: lend the responses out, then give them back.
    pub fn take_out(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    pub fn put_out(&mut self, out: Vec<u8>) {
        self.out = out;
    }
}

/// Number of complete requests (each ends with `\r\n\r\n`) at the start of
/// `buf`, and how many bytes they take. The same function as ringloop's
/// example.
fn count_requests(buf: &[u8]) -> (usize, usize) {
    let mut count = 0;
    let mut used = 0;
    let mut i = 0;
    while i + 4 <= buf.len() {
        match buf[i + 3..].iter().position(|&b| b == b'\n') {
            None => break,
            Some(p) => {
                let end = i + 3 + p;
                if &buf[end - 3..=end] == b"\r\n\r\n" {
                    count += 1;
                    used = end + 1;
                    i = end + 1;
                } else {
                    i = end - 2;
                }
            }
        }
    }
    (count, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_requests_split_across_reads_are_answered_once_complete() {
        let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let stream = [&req[..], &req[..], &req[..]].concat();
        let mut s = Session::new(Protocol::Http);
        let mut buf = vec![0u8; Protocol::Http.buf_len()];
        let mut answered = 0;
        for chunk in stream.chunks(10) {
            let at = s.read_at().unwrap();
            buf[at..at + chunk.len()].copy_from_slice(chunk);
            if let Reply::Out = s.on_read(&mut buf, chunk.len()) {
                answered += s.out().len() / RESPONSE.len();
            }
        }
        assert_eq!(answered, 3);
        assert_eq!(s.read_at(), Some(0));
    }

    #[test]
    fn echo_sends_back_what_was_read() {
        let mut s = Session::new(Protocol::Echo);
        let mut buf = vec![0u8; 8];
        assert!(matches!(s.on_read(&mut buf, 5), Reply::Echo(5)));
        assert_eq!(s.read_at(), Some(0));
    }
}
