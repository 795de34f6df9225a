//! `write_all` on stream sockets and pipes: every byte, in order, in as
//! many writes as it takes; the buffer always comes back.

mod common;

use common::run;
use ringloop::io::pipe;
use ringloop::net::UnixStream;
use std::io::ErrorKind;

#[test]
fn a_buffer_larger_than_the_socket_buffer_arrives_whole_and_in_order() {
    run(30, || async {
        let (a, b) = UnixStream::pair().unwrap();
        let data: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
        let expected = data.clone();
        let reader = ringloop::spawn(async move {
            let mut got = Vec::with_capacity(4 << 20);
            let mut buf = vec![0u8; 64 << 10];
            while got.len() < 4 << 20 {
                let (res, b2) = b.read(buf).await;
                buf = b2;
                let n = res.unwrap();
                assert!(n > 0, "EOF after {} bytes", got.len());
                got.extend_from_slice(&buf[..n]);
            }
            got
        });
        let (res, back) = a.write_all(data).await;
        res.unwrap();
        assert_eq!(back.len(), 4 << 20, "the whole buffer comes back");
        assert!(reader.await.unwrap() == expected, "bytes differ");
    });
}

#[test]
fn an_empty_buffer_completes_without_an_op() {
    run(10, || async {
        let (_reader, writer) = pipe().unwrap();
        let before = ringloop::stats().ops_submitted;
        let (res, back) = writer.write_all(Vec::<u8>::new()).await;
        res.unwrap();
        assert!(back.is_empty());
        assert_eq!(ringloop::stats().ops_submitted, before);
    });
}

#[test]
fn a_closed_reader_ends_it_with_broken_pipe_and_the_buffer_back() {
    run(10, || async {
        let (reader, writer) = pipe().unwrap();
        drop(reader);
        let (res, back) = writer.write_all(vec![7u8; 1024]).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::BrokenPipe);
        assert_eq!(back, vec![7u8; 1024]);
    });
}
