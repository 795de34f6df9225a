//! A hyper 1.x HTTP/1.1 "Hello world!" server on ringloop.
//!
//! ```text
//! cargo run --release --features hyper --example hyper -- 127.0.0.1:3000
//! curl http://127.0.0.1:3000/                      # Hello world!
//! wrk -t1 -c64 -d5s http://127.0.0.1:3000/          # keep-alive load
//! ```
//!
//! Each connection is one ringloop task running hyper's
//! `server::conn::http1` over a `ringloop::io::Compat<TcpStream>`, which
//! implements `hyper::rt::Read` and `hyper::rt::Write` (feature `hyper`):
//! no hyper-util, no tokio. HTTP/1 needs no executor (it spawns nothing),
//! and hyper's futures need not be `Send` for it, which suits ringloop's
//! thread-local tasks. `benches/compare` runs this server against the same
//! hyper server on tokio's current-thread runtime (scenario `hyper`).

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use ringloop::io::Compat;
use ringloop::net::TcpListener;
use std::convert::Infallible;
use std::io;

async fn hello(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
    Ok(Response::new(String::from("Hello world!")))
}

#[ringloop::main]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_string());
    let listener = TcpListener::bind(addr.as_str()).await?;
    println!(
        "hyper on ringloop listening on http://{}",
        listener.local_addr()?
    );
    let mut incoming = listener.incoming();
    loop {
        let stream = incoming.next().await?;
        stream.set_nodelay(true)?;
        ringloop::spawn(async move {
            let conn =
                http1::Builder::new().serve_connection(Compat::new(stream), service_fn(hello));
            if let Err(e) = conn.await {
                // A peer that resets mid-request is routine under load.
                if !e.is_incomplete_message() {
                    eprintln!("connection error: {e}");
                }
            }
        });
    }
}
