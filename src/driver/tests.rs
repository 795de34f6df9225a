//! Lifecycle of the op table, driven by fake CQEs (no ring, no runtime).

use super::op::{orphan, Cqe, Lifecycle, OpData, OpTable, RawCqe, Routed, RESERVED_INDEX};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

/// `IORING_CQE_F_MORE` (io_uring.h): more CQEs follow for this SQE.
const F_MORE: u32 = 1 << 1;

/// Op data that logs when it is completed and when its output is dropped.
struct Logged {
    log: Rc<RefCell<Vec<&'static str>>>,
}

struct LoggedOutput {
    log: Rc<RefCell<Vec<&'static str>>>,
}

impl Drop for LoggedOutput {
    fn drop(&mut self) {
        self.log.borrow_mut().push("output dropped");
    }
}

// SAFETY: builds no SQE; only exercises the table.
unsafe impl OpData for Logged {
    type Output = LoggedOutput;
    const NAME: &'static str = "logged";
    fn sqe(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::Nop::new().build()
    }
    fn complete(self, _cqe: Cqe) -> LoggedOutput {
        self.log.borrow_mut().push("completed");
        LoggedOutput { log: self.log }
    }
}

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn ok(res: i32) -> RawCqe {
    RawCqe { res, flags: 0 }
}

fn with_flags(res: i32, flags: u32) -> RawCqe {
    RawCqe { res, flags }
}

#[test]
fn a_cqe_before_the_first_poll_is_stored_as_completed() {
    let mut table = OpTable::default();
    let ud = table.insert(0, Lifecycle::Submitted);
    assert!(matches!(table.complete(ud, ok(7)), Routed::Op(None)));
    let slot = table.remove(ud).expect("slot stays until taken");
    assert!(matches!(
        slot.lifecycle,
        Lifecycle::Completed(RawCqe { res: 7, .. })
    ));
}

#[test]
fn a_waiting_op_hands_back_its_waker_on_the_terminal_cqe() {
    let mut table = OpTable::default();
    let counter = Arc::new(CountingWaker::default());
    let ud = table.insert(0, Lifecycle::Waiting(Waker::from(counter.clone())));
    let Routed::Op(Some(waker)) = table.complete(ud, ok(0)) else {
        panic!("the waiting op's waker must be returned");
    };
    waker.wake();
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    assert_eq!(
        table.in_flight(),
        0,
        "a completed op is no longer in flight"
    );
}

#[test]
fn errors_in_res_become_io_errors() {
    let mut table = OpTable::default();
    let ud = table.insert(0, Lifecycle::Submitted);
    table.complete(ud, ok(-libc::ECANCELED));
    let Some(Lifecycle::Completed(cqe)) = table.remove(ud).map(|s| s.lifecycle) else {
        panic!("expected a completed slot");
    };
    let cqe = Cqe::from(cqe);
    assert_eq!(
        cqe.result.unwrap_err().raw_os_error(),
        Some(libc::ECANCELED)
    );
}

#[test]
fn a_stale_generation_is_ignored_never_routed_to_the_slots_new_owner() {
    let mut table = OpTable::default();
    let old = table.insert(0, Lifecycle::Submitted);
    table.complete(old, ok(0));
    table.remove(old);
    let new = table.insert(0, Lifecycle::Submitted);
    assert_eq!(
        old & 0xffff_ffff,
        new & 0xffff_ffff,
        "the slot index is reused"
    );
    assert!(matches!(table.complete(old, ok(1)), Routed::Stale));
    assert!(matches!(
        table.get_mut(new).map(|s| &s.lifecycle),
        Some(Lifecycle::Submitted)
    ));
}

#[test]
fn unknown_and_reserved_user_data_are_ignored() {
    let mut table = OpTable::default();
    assert!(matches!(table.complete(12345, ok(0)), Routed::Stale));
    assert!(matches!(
        table.complete(u64::from(RESERVED_INDEX), ok(0)),
        Routed::Stale
    ));
    assert!(matches!(table.complete(u64::MAX, ok(0)), Routed::Stale));
}

#[test]
fn an_ignored_op_keeps_its_data_until_the_terminal_cqe_then_finalises_it() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut table = OpTable::default();
    let ud = table.insert(0, Lifecycle::Submitted);
    let data = Logged { log: log.clone() };
    table.get_mut(ud).unwrap().lifecycle = Lifecycle::Ignored(orphan(data));
    assert!(log.borrow().is_empty(), "nothing is freed before the CQE");
    assert_eq!(table.in_flight(), 1);

    table.complete(ud, ok(3));
    assert_eq!(*log.borrow(), ["completed", "output dropped"]);
    assert_eq!(table.len(), 0, "the slot is freed at the terminal CQE");
}

#[test]
fn an_ignored_op_survives_cqes_that_carry_f_more() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut table = OpTable::default();
    let ud = table.insert(0, Lifecycle::Submitted);
    table.get_mut(ud).unwrap().lifecycle = Lifecycle::Ignored(orphan(Logged { log: log.clone() }));
    table.complete(ud, with_flags(1, F_MORE));
    assert_eq!(table.len(), 1, "F_MORE: more CQEs follow, the slot stays");
    assert!(
        log.borrow().is_empty(),
        "the data is held until the last CQE"
    );
    table.complete(ud, ok(0));
    assert_eq!(table.len(), 0);
    assert_eq!(log.borrow().len(), 2, "finalised exactly once");
}

#[test]
fn a_multishot_op_queues_cqes_in_order_until_one_without_f_more() {
    let mut table = OpTable::default();
    let counter = Arc::new(CountingWaker::default());
    let ud = table.insert(
        0,
        Lifecycle::Multishot {
            cqes: Default::default(),
            waker: Some(Waker::from(counter.clone())),
            ended: false,
        },
    );
    for res in 1..=3 {
        if let Routed::Op(Some(w)) = table.complete(ud, with_flags(res, F_MORE)) {
            w.wake();
        }
    }
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        1,
        "the waker is taken once"
    );
    assert_eq!(table.in_flight(), 1);
    table.complete(ud, ok(4));
    assert_eq!(table.in_flight(), 0, "a CQE without F_MORE ends it");
    let Some(Lifecycle::Multishot { cqes, ended, .. }) = table.remove(ud).map(|s| s.lifecycle)
    else {
        panic!("expected the multishot slot");
    };
    assert!(ended);
    let results: Vec<u32> = cqes.into_iter().map(|c| c.result.unwrap()).collect();
    assert_eq!(results, [1, 2, 3, 4]);
}

#[test]
fn in_flight_keys_name_exactly_the_ops_without_a_terminal_cqe() {
    let mut table = OpTable::default();
    let a = table.insert(0, Lifecycle::Submitted);
    let b = table.insert(0, Lifecycle::Submitted);
    table.complete(a, ok(0));
    assert_eq!(table.in_flight_keys(), [b]);
}
