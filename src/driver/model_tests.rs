//! A randomized model test of the op lifecycle on a real ring.
//!
//! Seeded sequences interleave: submitting ops (a pipe read nobody writes
//! to, so the kernel never completes it by itself), polling them, dropping
//! them, injecting terminal CQEs (successes that "make an fd", errors,
//! `-ECANCELED`), injecting `F_MORE` CQEs into orphaned ops (as `SEND_ZC`
//! does), letting the loop reap the kernel's own CQEs (cancels of dropped
//! ops), and finally dropping the runtime. After every step and at the end
//! it checks, from a shared log:
//!
//! * each op's data is dropped exactly once, and never before a terminal
//!   CQE for it reached the op table;
//! * each "fd" a successful CQE made is delivered to its owner or closed,
//!   exactly once.
//!
//! (Injected CQEs complete ops the kernel still holds; that is safe here
//! only because nothing is ever written to the pipe, so the kernel never
//! writes into a buffer — the real reads are cancelled when the ring
//! closes.)

use super::op::{Cqe, Op, OpData, RawCqe};
use super::Driver;
use crate::runtime::context;
use io_uring::{opcode, squeue, types};
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

const F_MORE: u32 = 1 << 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// A terminal CQE for op `id` reached the table.
    Terminal(usize),
    DataDropped(usize),
    FdMade(usize),
    FdDelivered(usize),
    FdClosed(usize),
}

type Log = Rc<RefCell<Vec<Entry>>>;

/// A kernel-made resource in an op's output: logs whether it was delivered
/// (the owner took it) or closed (dropped unclaimed).
struct FakeFd {
    id: usize,
    log: Log,
    delivered: bool,
}

impl Drop for FakeFd {
    fn drop(&mut self) {
        let entry = if self.delivered {
            Entry::FdDelivered(self.id)
        } else {
            Entry::FdClosed(self.id)
        };
        self.log.borrow_mut().push(entry);
    }
}

struct Tracked {
    id: usize,
    log: Log,
    fd: i32,
    buf: Vec<u8>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.log.borrow_mut().push(Entry::DataDropped(self.id));
    }
}

// SAFETY: the SQE points into `buf`'s heap memory, owned by `Tracked`.
unsafe impl OpData for Tracked {
    type Output = Option<FakeFd>;
    const NAME: &'static str = "model-read";

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Read::new(types::Fd(self.fd), self.buf.as_mut_ptr(), 64)
            .offset(u64::MAX)
            .build()
    }

    fn complete(self, cqe: Cqe) -> Option<FakeFd> {
        // A success "makes an fd", as accept or open would.
        cqe.result.ok().map(|_| {
            self.log.borrow_mut().push(Entry::FdMade(self.id));
            FakeFd {
                id: self.id,
                log: Rc::clone(&self.log),
                delivered: false,
            }
        })
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: room for two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fresh descriptors we own.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Injects one CQE as if the ring had produced it; wakes what it woke.
fn inject(user_data: u64, res: i32, flags: u32) {
    let driver = context::driver().expect("inside the runtime");
    let routed = {
        let mut guard = driver.borrow_mut();
        let Driver::Uring(uring) = &mut *guard else {
            unreachable!("the model runs on io_uring")
        };
        uring.ops.complete(user_data, RawCqe { res, flags })
    };
    if let super::op::Routed::Op(Some(waker)) = routed {
        waker.wake();
    }
}

fn run_model(seed: u64, steps: usize) {
    let log: Log = Rc::default();
    let observer_log = Rc::clone(&log);
    // Which op a key belongs to, for CQEs the kernel itself produces.
    let keys: Rc<RefCell<HashMap<u64, usize>>> = Rc::default();
    let observer_keys = Rc::clone(&keys);
    let rt = crate::Builder::new()
        .driver(crate::Driver::Uring)
        .entries(8)
        .on_event(move |event| {
            if let crate::trace::Event::CqeReaped {
                user_data, flags, ..
            } = *event
            {
                if let Some(&id) = observer_keys.borrow().get(&user_data) {
                    if flags & F_MORE == 0 {
                        observer_log.borrow_mut().push(Entry::Terminal(id));
                    }
                }
            }
        })
        .build()
        .expect("runtime");
    let (reader, _writer) = pipe();
    let mut rng = Rng(seed | 1);
    let mut made = 0usize;
    rt.block_on(async {
        let mut live: Vec<(usize, Pin<Box<Op<Tracked>>>)> = Vec::new();
        let mut orphans: Vec<(usize, u64)> = Vec::new();
        let mut ended: Vec<usize> = Vec::new();
        for _ in 0..steps {
            match rng.below(7) {
                0 | 1 => {
                    let id = made;
                    made += 1;
                    let data = Tracked {
                        id,
                        log: Rc::clone(&log),
                        fd: reader.as_raw_fd(),
                        buf: vec![0; 64],
                    };
                    let mut op = Box::pin(Op::new(data));
                    let polled = std::future::poll_fn(|cx| Poll::Ready(op.as_mut().poll(cx))).await;
                    assert!(polled.is_pending(), "a pipe read nobody writes to waits");
                    let ud = op.user_data().expect("submitted");
                    keys.borrow_mut().insert(ud, id);
                    live.push((id, op));
                }
                2 if !live.is_empty() => {
                    let i = rng.below(live.len());
                    let mut cx = Context::from_waker(Waker::noop());
                    if let Poll::Ready(output) = live[i].1.as_mut().poll(&mut cx) {
                        let (id, _) = live.swap_remove(i);
                        if let Some(mut fd) = output {
                            fd.delivered = true;
                        }
                        ended.push(id);
                    }
                }
                3 if !live.is_empty() => {
                    let (id, op) = live.swap_remove(rng.below(live.len()));
                    let ud = op.user_data().expect("submitted");
                    drop(op);
                    orphans.push((id, ud));
                }
                4 if !live.is_empty() || !orphans.is_empty() => {
                    // A terminal CQE: success, an error, or a cancel.
                    let pick = rng.below(live.len() + orphans.len());
                    let (id, ud) = if pick < live.len() {
                        (live[pick].0, live[pick].1.user_data().expect("submitted"))
                    } else {
                        orphans[pick - live.len()]
                    };
                    let res = match rng.below(3) {
                        0 => 5,
                        1 => -libc::ECONNRESET,
                        _ => -libc::ECANCELED,
                    };
                    if keys.borrow_mut().remove(&ud).is_some() {
                        log.borrow_mut().push(Entry::Terminal(id));
                        inject(ud, res, 0);
                    }
                    orphans.retain(|&(o, _)| o != id);
                }
                5 if !orphans.is_empty() => {
                    // SEND_ZC-like: a result with F_MORE, the notification later.
                    let (_, ud) = orphans[rng.below(orphans.len())];
                    if keys.borrow().contains_key(&ud) {
                        inject(ud, 5, F_MORE);
                    }
                }
                _ => crate::yield_now().await, // the loop reaps kernel CQEs
            }
            check_never_before_terminal(&log.borrow());
        }
        drop(live); // owners gone; the runtime's drop drains the rest
    });
    drop(rt);
    let log = log.borrow();
    check_never_before_terminal(&log);
    for id in 0..made {
        let count = |e: Entry| log.iter().filter(|&&x| x == e).count();
        assert_eq!(
            count(Entry::DataDropped(id)),
            1,
            "seed {seed}: op {id}'s data dropped once"
        );
        let fds = count(Entry::FdMade(id));
        assert_eq!(
            count(Entry::FdDelivered(id)) + count(Entry::FdClosed(id)),
            fds,
            "seed {seed}: op {id}'s fds are each delivered or closed"
        );
    }
}

/// No op's data is dropped before a terminal CQE for it reached the table.
fn check_never_before_terminal(log: &[Entry]) {
    let mut terminal = std::collections::HashSet::new();
    for entry in log {
        match *entry {
            Entry::Terminal(id) => {
                terminal.insert(id);
            }
            Entry::DataDropped(id) => assert!(
                terminal.contains(&id),
                "op {id}'s data was dropped before its terminal CQE: {log:?}"
            ),
            _ => {}
        }
    }
}

#[test]
fn random_interleavings_free_each_ops_data_once_after_its_terminal_cqe() {
    let base: u64 = std::env::var("RINGLOOP_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    for run in 0..200 {
        run_model(base.wrapping_add(run), 300);
    }
}
