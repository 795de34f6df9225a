//! One file per operation. Each holds three things: the data the op owns
//! while in flight, how that data becomes an SQE, and how the terminal CQE
//! becomes the op's output. The shared submit/poll/cancel machinery lives
//! once, in `driver::op`.

pub(crate) mod nop;
pub(crate) mod read;
pub(crate) mod write;
