//! UDP: datagrams round-trip over IPv4 and IPv6, addressed and connected.

mod common;
mod net_common;

use common::watchdog;
use net_common::{ipv6_loopback, loopback};
use ringloop::net::UdpSocket;
use ringloop::Runtime;

#[test]
fn datagrams_round_trip_with_their_sender_address() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        let families: &[bool] = if ipv6_loopback() {
            &[false, true]
        } else {
            &[false]
        };
        for &v6 in families {
            rt.block_on(async {
                let a = UdpSocket::bind(loopback(v6)).await.unwrap();
                let b = UdpSocket::bind(loopback(v6)).await.unwrap();
                let b_addr = b.local_addr().unwrap();
                for i in 0..10u8 {
                    let (res, _) = a.send_to(vec![i; 100 + usize::from(i)], b_addr).await;
                    assert_eq!(res.unwrap(), 100 + usize::from(i));
                }
                for i in 0..10u8 {
                    let (res, buf) = b.recv_from(vec![0; 2048]).await;
                    let (n, from) = res.unwrap();
                    assert_eq!(from, a.local_addr().unwrap());
                    assert_eq!(
                        &buf[..n],
                        &vec![i; 100 + usize::from(i)][..],
                        "one datagram each, in order"
                    );
                }
            });
        }
    });
}

#[test]
fn a_connected_socket_sends_and_receives_without_addresses() {
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            a.connect(b.local_addr().unwrap()).await.unwrap();
            b.connect(a.local_addr().unwrap()).await.unwrap();
            assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
            let (res, _) = a.send(b"hello".to_vec()).await;
            res.unwrap();
            let (res, buf) = b.recv(vec![0; 64]).await;
            assert_eq!(&buf[..res.unwrap()], b"hello");
            let (res, _) = b.send(b"world".to_vec()).await;
            res.unwrap();
            let (res, buf) = a.recv(Vec::with_capacity(64)).await;
            res.unwrap();
            assert_eq!(buf, b"world");
        });
    });
}

#[test]
fn a_datagram_larger_than_the_buffer_is_truncated() {
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let (res, _) = a.send_to(vec![9u8; 1000], b.local_addr().unwrap()).await;
            res.unwrap();
            let (res, buf) = b.recv_from(vec![0; 10]).await;
            assert_eq!(res.unwrap().0, 10);
            assert_eq!(buf, vec![9u8; 10]);
        });
    });
}

#[test]
fn sending_to_a_closed_port_is_refused_on_a_connected_socket() {
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            let closed = std::net::UdpSocket::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            a.connect(closed).await.unwrap();
            let (res, _) = a.send(b"anyone?".to_vec()).await;
            res.unwrap();
            // The ICMP port-unreachable comes back as an error on the next call.
            let (res, _) = a.recv(vec![0; 16]).await;
            assert_eq!(
                res.unwrap_err().kind(),
                std::io::ErrorKind::ConnectionRefused
            );
        });
    });
}
