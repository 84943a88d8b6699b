//! Group commit: the handoff between committers and the `fdatasync` that makes them durable.
//!
//! Committers write their frames under the write lock, record how far the WAL has been
//! written, release the lock, and then ask for durability up to their own commit. If no sync
//! is running, the asker becomes the leader: it optionally lingers (`commit_linger`) so more
//! committers can join, syncs once, and everyone whose frames were written before that sync
//! began is durable. Committers that arrive during a sync wait for it and, if it did not
//! cover them, the next leader's sync does.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::storage::{Fence, Storage};
use crate::sync::{Condvar, Mutex};

#[derive(Default)]
struct SyncState {
    written: u64,
    synced: u64,
    in_flight: bool,
}

/// Coordinates WAL syncs between committers.
#[derive(Default)]
pub struct GroupCommit {
    state: Mutex<SyncState>,
    done: Condvar,
}

impl GroupCommit {
    /// Records that the WAL holds frames up to sequence `seq`.
    pub fn note_written(&self, seq: u64) {
        let mut s = self.state.lock();
        s.written = s.written.max(seq);
    }

    /// Highest sequence written.
    pub fn written(&self) -> u64 {
        self.state.lock().written
    }

    /// Highest sequence a completed sync covers: every frame up to it is durable.
    pub fn synced(&self) -> u64 {
        self.state.lock().synced
    }

    /// Whether frames were written since the last sync.
    pub fn has_unsynced(&self) -> bool {
        let s = self.state.lock();
        s.written > s.synced
    }

    /// Returns once every frame up to `target` is durable, syncing if needed. A failed sync
    /// trips the fence: the error goes to the leader, `NeedsRecovery` to the others.
    pub fn sync_upto(
        &self,
        target: u64,
        wal: &dyn Storage,
        fence: &Fence,
        linger: Duration,
        wal_name: &std::path::Path,
    ) -> Result<()> {
        let mut s = self.state.lock();
        loop {
            if s.synced >= target {
                return Ok(());
            }
            fence.check()?;
            if s.in_flight {
                self.done.wait(&mut s);
                continue;
            }
            s.in_flight = true;
            if !linger.is_zero() {
                drop(s);
                std::thread::sleep(linger);
                s = self.state.lock();
            }
            let upto = s.written;
            drop(s);
            let r = wal.sync();
            s = self.state.lock();
            s.in_flight = false;
            self.done.notify_all();
            match r {
                Ok(()) => s.synced = s.synced.max(upto),
                Err(e) => {
                    fence.trip(&format!("fdatasync of {} failed: {e}", wal_name.display()));
                    return Err(Error::io(wal_name, e));
                }
            }
        }
    }
}
