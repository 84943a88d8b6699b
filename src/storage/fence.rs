//! The fence: the first failed sync (or failed write that a commit depends on) latches the
//! database into a needs-recovery state. Linux may mark pages clean after a failed `fsync`,
//! so retrying could report success for data that never reached the disk; the only safe
//! continuation is to reopen and recover from what is durable.

use crate::error::{Error, Result};
use crate::sync::{AtomicBool, Mutex, Ordering};

/// Latches the first I/O failure; every later check fails with [`Error::NeedsRecovery`].
#[derive(Debug, Default)]
pub struct Fence {
    tripped: AtomicBool,
    reason: Mutex<String>,
}

impl Fence {
    /// A fence that has not tripped.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fails with `NeedsRecovery` if the fence has tripped.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    #[inline]
    pub fn check(&self) -> Result<()> {
        if self.tripped.load(Ordering::Acquire) {
            return Err(Error::NeedsRecovery(self.reason.lock().clone()));
        }
        Ok(())
    }

    /// Whether the fence has tripped.
    pub fn is_tripped(&self) -> bool {
        self.tripped.load(Ordering::Acquire)
    }

    /// Trips the fence (the first reason is kept).
    pub fn trip(&self, reason: &str) {
        let mut r = self.reason.lock();
        if !self.tripped.load(Ordering::Acquire) {
            *r = reason.to_string();
            self.tripped.store(true, Ordering::Release);
        }
    }
}
