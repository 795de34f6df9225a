//! 100k concurrent sleeps: lateness, memory, and what they cost the ring.
//!
//! Each task sleeps until a random deadline 300..400 ms after the start and
//! records how late it woke (`Instant::now() - deadline`); no sleep may wake
//! early. The 300 ms head start lets all 100k tasks register their timers
//! before the first deadline, so the lateness measures the timers, not the
//! time it takes one thread to start 100k tasks. Reports the
//! lateness percentiles, the resident memory the sleeping tasks took, and
//! how many SQEs and `io_uring_enter` calls the whole run needed.
//!
//! `cargo bench --bench timers`.

mod common;

use common::{header, pin, quick};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4
}

fn main() {
    pin();
    let n: u64 = if quick() { 20_000 } else { 100_000 };
    header(&format!("{n} concurrent sleeps"));
    let rt = ringloop::Runtime::new().expect("runtime");
    let lateness = Rc::new(RefCell::new(Vec::with_capacity(n as usize)));
    let rss_before = rss_kib();
    let before = rt.stats();
    let started = Instant::now();
    let rss_peak = rt.block_on(async {
        let start = Instant::now() + Duration::from_millis(300);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let handles: Vec<_> = (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let ms = seed % 100;
                let lateness = Rc::clone(&lateness);
                ringloop::spawn(async move {
                    let deadline = start + Duration::from_millis(ms);
                    ringloop::time::sleep_until(deadline).await;
                    let now = Instant::now();
                    assert!(now >= deadline, "a sleep woke early");
                    lateness.borrow_mut().push(now - deadline);
                })
            })
            .collect();
        ringloop::time::sleep(Duration::from_millis(5)).await;
        let peak = rss_kib();
        for h in handles {
            h.await.expect("sleeper");
        }
        peak
    });
    let elapsed = started.elapsed();
    let stats = rt.stats().since(&before);
    let mut l = lateness.borrow().clone();
    l.sort();
    let pct = |p: f64| l[((l.len() - 1) as f64 * p) as usize];
    println!("\n| metric | value |\n|---|---:|");
    println!("| sleeps | {} (all fired, none early) |", l.len());
    println!("| lateness p50 | {:.1} µs |", pct(0.5).as_secs_f64() * 1e6);
    println!("| lateness p99 | {:.1} µs |", pct(0.99).as_secs_f64() * 1e6);
    println!("| lateness max | {:.1} µs |", pct(1.0).as_secs_f64() * 1e6);
    println!(
        "| memory while sleeping | {} KiB RSS ({:.0} B per sleeping task) |",
        rss_peak.saturating_sub(rss_before),
        (rss_peak.saturating_sub(rss_before) * 1024) as f64 / n as f64
    );
    println!("| SQEs submitted | {} |", stats.ops_submitted);
    println!("| io_uring_enter calls | {} |", stats.enters);
    println!("| wall time | {:.0} ms |", elapsed.as_secs_f64() * 1e3);
}
