//! Signals: an `EINTR` from a signal landing while the loop waits in
//! `io_uring_enter` is absorbed by the loop and never reaches an op.

mod common;

use common::watchdog;
use ringloop::io::pipe;
use ringloop::{spawn, Runtime};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

extern "C" fn ignore_signal(_: libc::c_int) {}

/// Installs a do-nothing SIGALRM handler *without* `SA_RESTART`, so that a
/// SIGALRM sent to a thread interrupts its blocking syscall with `EINTR`.
fn install_interrupting_sigalrm_handler() {
    // SAFETY: a zeroed sigaction with a valid handler and an empty mask is
    // well-formed; the handler does nothing, so it is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = ignore_signal as extern "C" fn(libc::c_int) as usize;
        action.sa_flags = 0;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGALRM, &action, std::ptr::null_mut()),
            0
        );
    }
}

#[test]
fn a_storm_of_signals_on_the_loop_thread_never_fails_an_op_with_eintr() {
    const ROUNDS: u64 = 2_000;
    const SIGNALS: u64 = 2_000;
    watchdog(60, || {
        install_interrupting_sigalrm_handler();
        // SAFETY: plain call; the id names this (the loop's) thread.
        let loop_thread = unsafe { libc::pthread_self() };
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let signaller = {
            let (stop, sent) = (Arc::clone(&stop), Arc::clone(&sent));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    // SAFETY: the loop thread outlives this thread: it
                    // joins us before it returns.
                    unsafe { libc::pthread_kill(loop_thread, libc::SIGALRM) };
                    sent.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_micros(100));
                }
            })
        };

        let rt = Runtime::new().unwrap();
        let before = rt.stats();
        let outcome = rt.block_on(async {
            let (ping_r, ping_w) = pipe().unwrap();
            let (pong_r, pong_w) = pipe().unwrap();
            let echo = spawn(async move {
                loop {
                    let (res, buf) = ping_r.read(Vec::with_capacity(8)).await;
                    if res? == 0 {
                        return Ok::<_, std::io::Error>(());
                    }
                    let (res, _) = pong_w.write_all(buf).await;
                    res?;
                }
            });
            // Ping-pong until both enough rounds and enough signals happened.
            let mut i = 0u64;
            while i < ROUNDS || sent.load(Ordering::SeqCst) < SIGNALS {
                let msg = i.to_le_bytes().to_vec();
                let (res, _) = ping_w.write_all(msg).await;
                res?;
                let (res, buf) = pong_r.read(Vec::with_capacity(8)).await;
                assert_eq!(res?, 8);
                assert_eq!(buf, i.to_le_bytes());
                if i % 100 == 0 {
                    // Waits on a timer, too, while signals keep landing.
                    ringloop::time::sleep(Duration::from_millis(1)).await;
                    ringloop::nop().await?;
                }
                i += 1;
            }
            drop(ping_w);
            echo.await.unwrap()
        });
        stop.store(true, Ordering::SeqCst);
        signaller.join().unwrap();
        let sent = sent.load(Ordering::SeqCst);

        outcome.expect("no op may fail because a signal interrupted the loop");
        let stats = rt.stats().since(&before);
        assert!(
            stats.eintr_retries > 0,
            "{sent} signals landed, yet no wait was interrupted: {stats:?}"
        );
    });
}
