//! Vacuum: move live pages from the end of the file into free pages nearer the start, then
//! shrink the database; and the policy by which the background worker does so on its own
//! (`AutoVacuum`).
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
//! its commit has released the write lock (lock order: checkpoint, write, state). The
//! background worker never waits long for the write lock ([`AUTO_WRITE_WAIT`]), and a vacuum
//! gives up between two moves once the handle closes or is fenced.

mod locate;
mod plan;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::db::Shared;
use crate::error::{Error, Result};
use crate::format::Meta;
use crate::options::AutoVacuum;
use crate::txn::WriteTxn;

/// `AutoVacuum::Incremental` steps in when the free pages are at least this percentage of
/// the database's pages ...
pub(crate) const INCREMENTAL_FREE_PERCENT: u64 = 10;
/// ... and at least this many pages.
pub(crate) const INCREMENTAL_MIN_FREE_PAGES: u32 = 256;
/// Pages an `AutoVacuum::Incremental` step reclaims at most.
pub(crate) const INCREMENTAL_STEP_PAGES: u64 = 1024;
/// How long the background worker waits for the write lock before it leaves a vacuum to its
/// next pass (a writer may hold it for long; the worker has other duties).
const AUTO_WRITE_WAIT: Duration = Duration::from_millis(10);

/// What the vacuums of an open handle did, explicit and background ones together (see
/// [`Stats::vacuum`](crate::Stats::vacuum)). Only vacuums that shrank the database count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VacuumStats {
    /// Vacuums that shrank the database.
    pub runs: u64,
    /// Of those, the ones the background worker ran (`AutoVacuum::Full`/`Incremental`).
    pub auto_runs: u64,
    /// Pages the database shrank by.
    pub pages_reclaimed: u64,
    /// Live pages moved from the tail into free pages.
    pub pages_moved: u64,
    /// Pages the vacuums read: free-list trunks, the pages moved, and the pages of the
    /// descents and links that found the references to them.
    pub pages_read: u64,
    /// Pages the vacuums' commits wrote to the WAL.
    pub pages_written: u64,
    /// Passes of the background worker that applied the `AutoVacuum` rule, whatever the
    /// mode (`None` included) and whether or not they vacuumed. A pass is counted once it is
    /// done, vacuum included.
    pub auto_passes: u64,
}

/// The counters behind [`VacuumStats`], shared by the handle and its worker.
#[derive(Default)]
pub(crate) struct Counters {
    runs: AtomicU64,
    auto_runs: AtomicU64,
    reclaimed: AtomicU64,
    moved: AtomicU64,
    read: AtomicU64,
    written: AtomicU64,
    auto_passes: AtomicU64,
    /// One more than the transaction id at which a background vacuum last reclaimed nothing
    /// (0: none); the worker does not try again until a newer commit is published.
    stalled_at: AtomicU64,
}

impl Counters {
    /// The totals so far.
    pub(crate) fn stats(&self) -> VacuumStats {
        let get = |c: &AtomicU64| c.load(Ordering::Acquire);
        VacuumStats {
            runs: get(&self.runs),
            auto_runs: get(&self.auto_runs),
            pages_reclaimed: get(&self.reclaimed),
            pages_moved: get(&self.moved),
            pages_read: get(&self.read),
            pages_written: get(&self.written),
            auto_passes: get(&self.auto_passes),
        }
    }

    fn record(&self, r: &plan::Relocated, written: u64, auto: bool) {
        let add = |c: &AtomicU64, v: u64| c.fetch_add(v, Ordering::Relaxed);
        add(&self.runs, 1);
        add(&self.auto_runs, auto as u64);
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
    run(s, tx, budget, false)
}

/// The background worker's turn: vacuums if the `AutoVacuum` rule asks for it. Errors are
/// left for the next explicit call to report (a failed commit has fenced the handle).
pub(crate) fn auto(s: &Shared) {
    if s.closed.load(Ordering::Acquire) || s.fence.is_tripped() {
        return;
    }
    let meta = s.state.lock().snapshot.meta;
    if let Some(budget) = auto_budget(s.opts.auto_vacuum, &meta) {
        auto_vacuum(s, &meta, budget);
    }
    s.vacuum.auto_passes.fetch_add(1, Ordering::Release);
}

/// A background vacuum of `budget` pages, unless the last one found nothing to do at this
/// commit already or the write lock is busy.
fn auto_vacuum(s: &Shared, meta: &Meta, budget: u64) {
    if s.vacuum.stalled_at.load(Ordering::Relaxed) == meta.txn_id + 1 {
        return;
    }
    let Ok(Some(tx)) = WriteTxn::try_begin(s, AUTO_WRITE_WAIT) else { return };
    if !matches!(run(s, tx, budget, true), Ok(n) if n > 0) {
        s.vacuum.stalled_at.store(meta.txn_id + 1, Ordering::Relaxed);
    }
}

/// Whether a commit that published `meta` should wake the worker for a vacuum: with
/// `AutoVacuum::Full`, every commit that leaves free pages. (`Incremental` steps run on the
/// worker's regular passes.)
pub(crate) fn wake_after_commit(mode: AutoVacuum, meta: &Meta) -> bool {
    mode == AutoVacuum::Full && meta.free_count > 0
}

/// The budget of the vacuum the `AutoVacuum` rule asks for on a database whose published
/// header is `meta`, if any (0: everything).
///
/// * `None`: never.
/// * `Full`: whenever there are free pages, a vacuum of everything (`vacuum(0)`).
/// * `Incremental`: when the free pages are at least [`INCREMENTAL_FREE_PERCENT`] of the
///   pages and at least [`INCREMENTAL_MIN_FREE_PAGES`], a step of at most
///   [`INCREMENTAL_STEP_PAGES`].
pub(crate) fn auto_budget(mode: AutoVacuum, meta: &Meta) -> Option<u64> {
    let (free, pages) = (meta.free_count as u64, meta.page_count as u64);
    match mode {
        AutoVacuum::None => None,
        AutoVacuum::Full => (free > 0).then_some(0),
        AutoVacuum::Incremental => (free >= INCREMENTAL_MIN_FREE_PAGES as u64
            && free * 100 >= pages * INCREMENTAL_FREE_PERCENT)
            .then_some(INCREMENTAL_STEP_PAGES),
    }
}

/// Relocates and commits in `tx`, then lets a checkpoint shrink the file.
fn run(s: &Shared, mut tx: WriteTxn<'_>, budget: u64, auto: bool) -> Result<u64> {
    let stop = || {
        s.fence.check()?;
        if s.closed.load(Ordering::Acquire) {
            return Err(Error::Busy("the database is closing; the vacuum was abandoned".into()));
        }
        Ok(())
    };
    let r = plan::relocate(&mut tx, budget, &stop)?;
    if r.reclaimed == 0 {
        return Ok(0);
    }
    let written = tx.pages().frames_to_write();
    tx.commit()?;
    s.vacuum.record(&r, written, auto);
    if !s.memory {
        let _ck = s.checkpoint_lock.lock();
        crate::checkpoint::backfill(s, u64::MAX)?;
    }
    Ok(r.reclaimed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(page_count: u32, free_count: u32) -> Meta {
        Meta { page_count, free_count, ..Meta::new(4096, 1) }
    }

    #[test]
    fn the_auto_vacuum_rule_of_each_mode() {
        for m in [meta(100, 0), meta(100, 50), meta(100_000, 50_000)] {
            assert_eq!(auto_budget(AutoVacuum::None, &m), None, "{m:?}");
        }
        assert_eq!(auto_budget(AutoVacuum::Full, &meta(100, 0)), None);
        assert_eq!(auto_budget(AutoVacuum::Full, &meta(100, 1)), Some(0));
        let inc = |pages, free| auto_budget(AutoVacuum::Incremental, &meta(pages, free));
        assert_eq!(inc(100, 60), None, "fewer than the minimum of free pages");
        assert_eq!(inc(10_000, 999), None, "under 10% free");
        assert_eq!(inc(10_000, 1000), Some(INCREMENTAL_STEP_PAGES));
        assert_eq!(inc(2_000, 256), Some(INCREMENTAL_STEP_PAGES));
        assert_eq!(inc(2_000, 255), None);
        assert!(wake_after_commit(AutoVacuum::Full, &meta(100, 1)));
        assert!(!wake_after_commit(AutoVacuum::Full, &meta(100, 0)));
        assert!(!wake_after_commit(AutoVacuum::Incremental, &meta(100, 90)));
        assert!(!wake_after_commit(AutoVacuum::None, &meta(100, 90)));
    }
}
