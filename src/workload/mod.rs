//! The client workload: K writers, each writing uniquely keyed records (writer, seq,
//! payload) to whichever node the clients are pointed at, recording every op.
mod writer;

pub use writer::{ClientTarget, Workload};
