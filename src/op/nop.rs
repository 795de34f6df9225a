//! `IORING_OP_NOP`: a round trip through the ring that does nothing.

use crate::driver::op::Readiness;
use crate::driver::{Cqe, Op, OpData};
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct Nop;

// SAFETY: a NOP's SQE carries no pointer.
unsafe impl OpData for Nop {
    type Output = io::Result<()>;
    const NAME: &'static str = "nop";

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Nop::new().build()
    }

    fn complete(self, cqe: Cqe) -> io::Result<()> {
        cqe.result.map(drop)
    }

    fn readiness(&self) -> Readiness<'_> {
        Readiness::Inline
    }

    fn attempt(&mut self) -> i32 {
        0
    }
}

/// Submits one `IORING_OP_NOP` and waits for its completion.
///
/// Useful to measure the runtime's own cost per operation: the kernel
/// completes a NOP inline, so what remains is the SQE, the CQE, the op table
/// and the wake.
///
/// # Errors
///
/// Outside a ringloop runtime.
pub async fn nop() -> io::Result<()> {
    Op::new(Nop).await
}
