//! Synchronisation primitives, swapped for loom's model-checked versions under `--cfg loom`.

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicU16, AtomicU32, Ordering};
#[cfg(not(loom))]
pub use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
