//! Runtime-agnostic crates work on ringloop with no glue: their futures
//! only need a `Waker`, and ringloop's wakers are real `Send + Sync` ones.
//!
//! * channels: `async-channel`, `futures::channel::{mpsc, oneshot}`,
//!   `tokio::sync::{mpsc, oneshot, Mutex, Notify}` (tokio with only its
//!   `sync` feature: no tokio runtime exists here);
//! * `futures` combinators: `join!`, `select!`, `FutureExt::map`,
//!   `StreamExt`;
//! * `tracing`: events and spans inside tasks, with no subscriber and with
//!   one that records them.
//!
//! Each test runs on both drivers, each run under a watchdog.

mod common;

use common::watchdog;
use futures::{FutureExt, StreamExt};
use ringloop::time::sleep;
use ringloop::{Builder, Driver, Runtime};
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn runtime(driver: Driver) -> Runtime {
    Builder::new().driver(driver).build().expect("runtime")
}

/// Runs `body` on a runtime of each driver, each run under a watchdog.
fn on_both_drivers<F, Fut>(body: F)
where
    F: Fn() -> Fut + Send + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    for driver in [Driver::Uring, Driver::Epoll] {
        let body = body.clone();
        watchdog(20, move || runtime(driver).block_on(body()));
    }
}

#[test]
fn async_channel_carries_messages_between_tasks_and_from_a_thread() {
    on_both_drivers(|| async {
        // Capacity 1: every send after the first waits for the receiver,
        // so both tasks park and wake each other thousands of times.
        let (tx, rx) = async_channel::bounded::<u64>(1);
        let producer = ringloop::spawn({
            let tx = tx.clone();
            async move {
                for i in 0..5_000 {
                    tx.send(i).await.unwrap();
                }
            }
        });
        let thread = std::thread::spawn(move || {
            for i in 5_000..10_000 {
                tx.send_blocking(i).unwrap();
            }
        });
        let mut sum = 0;
        for _ in 0..10_000 {
            sum += rx.recv().await.unwrap();
        }
        producer.await.unwrap();
        thread.join().unwrap();
        assert_eq!(sum, (0..10_000).sum::<u64>());
        assert!(rx.recv().await.is_err(), "every sender gone: closed");
    });
}

#[test]
fn futures_mpsc_and_oneshot_carry_messages_between_tasks_and_from_a_thread() {
    use futures::channel::{mpsc, oneshot};
    use futures::SinkExt;
    on_both_drivers(|| async {
        let (mut tx, mut rx) = mpsc::channel::<u32>(4);
        let producer = ringloop::spawn(async move {
            for i in 0..1_000 {
                tx.send(i).await.unwrap();
            }
        });
        let got: Vec<u32> = (&mut rx).take(1_000).collect().await;
        assert_eq!(got, (0..1_000).collect::<Vec<_>>(), "in order, none lost");
        producer.await.unwrap();
        assert_eq!(rx.next().await, None, "the sender is gone: the stream ends");

        // From a thread, unbounded; the reply comes back on a oneshot.
        let (tx, rx) = mpsc::unbounded::<u32>();
        let (reply_tx, reply_rx) = oneshot::channel::<u32>();
        let thread = std::thread::spawn(move || {
            for i in 1..=100 {
                tx.unbounded_send(i).unwrap();
                std::thread::yield_now();
            }
        });
        let summer = ringloop::spawn(async move {
            reply_tx
                .send(rx.fold(0, |a, b| async move { a + b }).await)
                .unwrap();
        });
        assert_eq!(reply_rx.await.unwrap(), 5050);
        thread.join().unwrap();
        summer.await.unwrap();
    });
}

#[test]
fn tokio_sync_channels_mutex_and_notify_work_without_a_tokio_runtime() {
    use std::rc::Rc;
    use tokio::sync::{mpsc, oneshot, Mutex as AsyncMutex, Notify};
    on_both_drivers(|| async {
        // mpsc with back-pressure, between tasks and from a thread.
        let (tx, mut rx) = mpsc::channel::<u32>(2);
        let task_tx = tx.clone();
        let producer = ringloop::spawn(async move {
            for i in 0..500 {
                task_tx.send(i).await.unwrap();
            }
        });
        let thread = std::thread::spawn(move || {
            for i in 500..1_000 {
                tx.blocking_send(i).unwrap();
            }
        });
        let mut sum = 0;
        while let Some(i) = rx.recv().await {
            sum += i;
        }
        assert_eq!(sum, (0..1_000).sum::<u32>());
        producer.await.unwrap();
        thread.join().unwrap();

        // A Mutex held across an await: the other tasks queue behind it.
        let counter = Rc::new(AsyncMutex::new(0u32));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let counter = Rc::clone(&counter);
                ringloop::spawn(async move {
                    let mut guard = counter.lock().await;
                    let seen = *guard;
                    sleep(Duration::from_millis(1)).await; // still holding it
                    *guard = seen + 1;
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*counter.lock().await, 10, "no increment was lost");

        // Notify from another thread wakes the waiting task; a oneshot says
        // it did.
        let notify = Arc::new(Notify::new());
        let (done_tx, done_rx) = oneshot::channel();
        let waiter = ringloop::spawn({
            let notify = Arc::clone(&notify);
            async move {
                notify.notified().await;
                done_tx.send(()).unwrap();
            }
        });
        ringloop::yield_now().await; // the waiter is registered now
        let notifier = std::thread::spawn(move || notify.notify_one());
        done_rx.await.unwrap();
        waiter.await.unwrap();
        notifier.join().unwrap();
    });
}

#[test]
fn futures_join_and_select_combine_ringloop_futures() {
    on_both_drivers(|| async {
        let start = Instant::now();
        let task = ringloop::spawn(async { 40 });
        let (a, b, c) = futures::join!(
            sleep(Duration::from_millis(30)).map(|()| 1),
            ringloop::nop().map(|r| r.map(|()| 1).unwrap()),
            task,
        );
        assert_eq!(a + b + c.unwrap(), 42);
        assert!(start.elapsed() < Duration::from_secs(2), "run concurrently");

        let short = sleep(Duration::from_millis(10)).fuse();
        let long = sleep(Duration::from_secs(30)).fuse();
        futures::pin_mut!(short, long);
        let winner = futures::select! {
            () = short => "short",
            () = long => "long",
        };
        assert_eq!(winner, "short", "select! takes the first to finish");
    });
}

#[test]
fn future_ext_and_stream_ext_drive_ringloop_futures() {
    use futures::stream;
    on_both_drivers(|| async {
        let ok = ringloop::nop().map(|r| r.is_ok()).await;
        assert!(ok, "FutureExt::map over a ringloop op");

        // `then` runs a ringloop future per item, in order.
        let doubled: Vec<u32> = stream::iter(0..20u32)
            .then(|i| async move {
                ringloop::yield_now().await;
                i * 2
            })
            .filter(|i| std::future::ready(i % 4 == 0))
            .collect()
            .await;
        assert_eq!(
            doubled,
            (0..20)
                .map(|i| i * 2)
                .filter(|i| i % 4 == 0)
                .collect::<Vec<_>>()
        );

        // `buffer_unordered` keeps 50 sleeps in flight at once: the whole
        // batch takes about one sleep, not fifty.
        let start = Instant::now();
        let n = stream::iter(0..50)
            .map(|_| sleep(Duration::from_millis(20)))
            .buffer_unordered(50)
            .count()
            .await;
        assert_eq!(n, 50);
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "concurrent, not serial"
        );
    });
}

/// A `tracing` subscriber that records event messages and counts span
/// entries (no `tracing-subscriber`: the trait is small).
#[derive(Clone, Default)]
struct Capture {
    events: Arc<Mutex<Vec<String>>>,
    enters: Arc<AtomicUsize>,
    next_span: Arc<AtomicU64>,
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(self.next_span.fetch_add(1, Ordering::SeqCst) + 1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        self.events.lock().unwrap().push(message.0);
    }
    fn enter(&self, _: &tracing::span::Id) {
        self.enters.fetch_add(1, Ordering::SeqCst);
    }
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Tasks that log, some inside a span that spans awaits.
async fn logging_tasks() {
    use tracing::Instrument;
    let tasks: Vec<_> = (0..3)
        .map(|i| {
            ringloop::spawn(
                async move {
                    tracing::info!("task {i} starts");
                    sleep(Duration::from_millis(1)).await;
                    ringloop::nop().await.unwrap();
                    tracing::info!(answer = 42, "task {i} ends");
                }
                .instrument(tracing::info_span!("worker", i)),
            )
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[test]
fn tracing_inside_tasks_needs_no_subscriber_and_reaches_one_when_set() {
    for driver in [Driver::Uring, Driver::Epoll] {
        watchdog(20, move || {
            // No subscriber: the macros are no-ops, nothing breaks.
            runtime(driver).block_on(logging_tasks());

            // A subscriber for this thread (the runtime's): every event of
            // every task arrives, and each span is entered at every poll.
            let capture = Capture::default();
            tracing::subscriber::with_default(capture.clone(), || {
                runtime(driver).block_on(logging_tasks());
            });
            let mut events = capture.events.lock().unwrap().clone();
            events.sort();
            let mut want: Vec<String> = (0..3)
                .flat_map(|i| [format!("task {i} starts"), format!("task {i} ends")])
                .collect();
            want.sort();
            assert_eq!(events, want);
            assert!(
                capture.enters.load(Ordering::SeqCst) >= 3 * 2,
                "each task's span is entered at each of its polls (at least two)"
            );
        });
    }
}
