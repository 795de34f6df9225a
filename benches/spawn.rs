//! spawn + join of many trivial tasks (the executor's own cost).
//!
//! The spawner spawns N tasks (each returns its index), keeps the handles,
//! then awaits them in order. Peers run the same shape in
//! `benches/compare` (`cargo run --release -p ringloop-compare -- spawn`).
//!
//! `cargo bench --bench spawn`.

mod common;

use common::{header, interleave, pin, print_table, quick, rate, Case};

fn spawn_join(n: u64) -> f64 {
    let rt = ringloop::Runtime::new().expect("runtime");
    rate(n, || {
        let sum = rt.block_on(async {
            let handles: Vec<_> = (0..n).map(|i| ringloop::spawn(async move { i })).collect();
            let mut sum = 0u64;
            for h in handles {
                sum += h.await.expect("task");
            }
            sum
        });
        assert_eq!(sum, n * (n - 1) / 2);
    })
}

fn spawn_join_one_by_one(n: u64) -> f64 {
    let rt = ringloop::Runtime::new().expect("runtime");
    rate(n, || {
        rt.block_on(async {
            for i in 0..n {
                assert_eq!(ringloop::spawn(async move { i }).await.expect("task"), i);
            }
        })
    })
}

fn main() {
    pin();
    let n = if quick() { 200_000 } else { 1_000_000 };
    header("spawn + join (tasks/s)");
    let mut cases = [
        Case {
            name: "spawn all, then join all",
            run: Box::new(|| spawn_join(n)),
        },
        Case {
            name: "spawn and join one by one",
            run: Box::new(|| spawn_join_one_by_one(n)),
        },
    ];
    let summaries = interleave(&mut cases);
    print_table(&format!("{n} trivial tasks"), "tasks/s", &summaries);
}
