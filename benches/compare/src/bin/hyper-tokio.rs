//! The tokio peer of the `hyper` scenario: the same hyper 1.x HTTP/1.1
//! "Hello world!" server as ringloop's `examples/hyper.rs`, on tokio's
//! current-thread runtime, written as a tokio user writes it (hyper-util's
//! `TokioIo`, one task per connection).
//!
//! ```text
//! hyper-tokio ADDR
//! ```

use std::convert::Infallible;
use std::io;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn hello(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
    Ok(Response::new(String::from("Hello world!")))
}

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_string());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(addr.as_str()).await?;
        println!(
            "hyper on tokio listening on http://{}",
            listener.local_addr()?
        );
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                let conn =
                    http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(hello));
                if let Err(e) = conn.await {
                    if !e.is_incomplete_message() {
                        eprintln!("connection error: {e}");
                    }
                }
            });
        }
    })
}
