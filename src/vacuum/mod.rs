//! Vacuum: move live pages from the end of the file into free pages nearer the start, then
//! shrink the database.
//!
//! A vacuum is one write transaction (`plan.rs`). It chooses the smallest new end `E` such
//! that the live pages at or beyond `E` fit into the free pages below it (and, with a budget,
//! such that it drops no more pages than the budget), and moves each of them to the lowest
//! free page. The one reference to a moved page is found without walking the database
//! (`locate.rs`): tree pages by a descent from their table's root, overflow pages through
//! their chain's back pointers and owner record. So a vacuum reads and writes a few pages per
//! page it moves (plus the free list's trunks), whatever the size of the database. The free
//! list is rebuilt from what remains below `E`, and the page count becomes `E`. Readers of
//! older snapshots are unaffected (the WAL keeps the old versions); the commit is followed by
//! a passive checkpoint, whose last step truncates the main file once no reader can need the
//! tail.
//!
//! Locks: the vacuum takes the write lock like any writer, and the checkpoint lock only after
//! its commit has released the write lock (lock order: checkpoint, write, state). A vacuum
//! gives up between two moves once the handle closes or is fenced.

mod locate;
mod plan;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::db::Shared;
use crate::error::Result;
use crate::txn::WriteTxn;

/// What the vacuums of an open handle did (see [`Stats::vacuum`](crate::Stats::vacuum)). Only
/// vacuums that shrank the database count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VacuumStats {
    /// Vacuums that shrank the database.
    pub runs: u64,
    /// Pages the database shrank by.
    pub pages_reclaimed: u64,
    /// Live pages moved from the tail into free pages.
    pub pages_moved: u64,
    /// Pages the vacuums read: free-list trunks, the pages moved, and the pages of the
    /// descents and links that found the references to them.
    pub pages_read: u64,
    /// Pages the vacuums' commits wrote to the WAL.
    pub pages_written: u64,
}

/// The counters behind [`VacuumStats`], shared by the handle and its worker.
#[derive(Default)]
pub(crate) struct Counters {
    runs: AtomicU64,
    reclaimed: AtomicU64,
    moved: AtomicU64,
    read: AtomicU64,
    written: AtomicU64,
}

impl Counters {
    /// The totals so far.
    pub(crate) fn stats(&self) -> VacuumStats {
        let get = |c: &AtomicU64| c.load(Ordering::Acquire);
        VacuumStats {
            runs: get(&self.runs),
            pages_reclaimed: get(&self.reclaimed),
            pages_moved: get(&self.moved),
            pages_read: get(&self.read),
            pages_written: get(&self.written),
        }
    }

    fn record(&self, r: &plan::Relocated, written: u64) {
        let add = |c: &AtomicU64, v: u64| c.fetch_add(v, Ordering::Relaxed);
        add(&self.runs, 1);
        add(&self.reclaimed, r.reclaimed);
        add(&self.moved, r.moved);
        add(&self.read, r.reads);
        add(&self.written, written);
    }
}

/// Runs a vacuum of at most `budget` pages (0: as far as possible); returns the pages
/// reclaimed.
pub(crate) fn vacuum(s: &Shared, budget: u64) -> Result<u64> {
    let tx = WriteTxn::begin(s)?;
    run(s, tx, budget)
}

/// Relocates and commits in `tx`, then lets a checkpoint shrink the file.
fn run(s: &Shared, mut tx: WriteTxn<'_>, budget: u64) -> Result<u64> {
    let stop = || s.closed.load(Ordering::Acquire) || s.fence.is_tripped();
    let r = plan::relocate(&mut tx, budget, &stop)?;
    if r.reclaimed == 0 {
        return Ok(0);
    }
    let written = tx.pages().frames_to_write();
    tx.commit()?;
    s.vacuum.record(&r, written);
    if !s.memory {
        let _ck = s.checkpoint_lock.lock();
        crate::checkpoint::backfill(s, u64::MAX)?;
    }
    Ok(r.reclaimed)
}
