//! Checkpoints: copying committed WAL frames back into the main file.
//!
//! Sync order: (1) the WAL is synced up to the frames being copied (write-ahead: no byte of
//! the main file is overwritten before the frame carrying it is durable); (2) the newest
//! version of each page at or below the bound has its checksum verified (all of them, before
//! any is written) and is written into the main file; (3) the main
//! file is synced; (4) only then does the backfill mark advance, and only after that may the
//! WAL restart. The bound is the oldest live reader's mark, so no reader ever sees a main-file
//! page change under it. These syncs happen at every level, `Off` included: `Off` may lose
//! recent commits in a power cut, but it never corrupts the database.
//!
//! The background worker wakes at least every 100 ms: it syncs the WAL at `Normal`, runs a
//! passive checkpoint once more than `auto_checkpoint` frames are pending, and restarts the
//! WAL when it has grown past that threshold and nothing needs it. Each pass also gives the
//! `AutoVacuum` policy its turn (`vacuum::auto`).

use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::db::{Shared, WalEnd};
use crate::error::{Error, Result};
use crate::format::checksum::page_crc_ok;
use crate::options::{CheckpointMode, Synchronous};
use crate::pager::{wal_commit_meta, wal_frame_page};
use crate::wal::index::{lookup, page_of};

/// How long an explicit `Full`/`Restart`/`Truncate` checkpoint waits for readers.
const READER_WAIT: Duration = Duration::from_secs(5);
/// How long the worker waits for a commit in flight to publish.
const PUBLISH_WAIT: Duration = Duration::from_secs(1);
/// How long the worker holds writers back for readers of the WAL to finish before a restart.
const DRAIN_WAIT: Duration = Duration::from_millis(50);
/// How often the worker wakes when nothing wakes it sooner.
const WORKER_TICK: Duration = Duration::from_millis(100);

/// What a checkpoint did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// Frames (distinct page versions or superseded ones) now covered by the main file.
    pub frames_backfilled: u64,
    /// Committed frames still only in the WAL.
    pub frames_remaining: u64,
    /// Whether the WAL was restarted (the next commit writes from its beginning).
    pub wal_reset: bool,
}

/// Runs a checkpoint in `mode`.
pub fn run(s: &Shared, mode: CheckpointMode) -> Result<CheckpointInfo> {
    s.fence.check()?;
    if s.read_only {
        return Err(Error::ReadOnly);
    }
    if s.memory {
        return Ok(CheckpointInfo::default());
    }
    let ck = s.checkpoint_lock.lock();
    if mode == CheckpointMode::Passive {
        return backfill(s, u64::MAX);
    }
    // Block new writers; wait for commits in flight to publish and for older readers to end.
    let deadline = Instant::now() + READER_WAIT;
    let Some(mut w) = s.writer.try_lock_until(deadline) else {
        // A write transaction is open (perhaps on this very thread): copy what we can.
        return backfill(s, u64::MAX);
    };
    let target = w.seq;
    wait_until(s, deadline, |st| {
        st.snapshot.seq >= target && st.oldest_mark().is_none_or(|m| m >= target)
    });
    let mut info = backfill(s, target)?;
    if mode == CheckpointMode::Full || info.frames_remaining > 0 {
        return Ok(info);
    }
    // No reader can start using the WAL now: the write lock is held and every frame is in
    // the main file, so new readers read the main file only. Readers already using it drain.
    wait_until(s, deadline, |st| st.wal_readers == 0);
    let end = if mode == CheckpointMode::Truncate { WalEnd::Truncate } else { WalEnd::Keep };
    info.wal_reset = s.restart_wal(&ck, &mut w, end)?;
    Ok(info)
}

pub(crate) fn wait_until(s: &Shared, deadline: Instant, done: impl Fn(&crate::db::State) -> bool) {
    let mut st = s.state.lock();
    while !done(&st) {
        if s.readers_changed.wait_until(&mut st, deadline).timed_out() {
            return;
        }
    }
}

/// Copies frames up to `limit` (and no further than the oldest reader) into the main file,
/// then shrinks the file if the database got smaller. The caller holds the checkpoint lock.
pub(crate) fn backfill(s: &Shared, limit: u64) -> Result<CheckpointInfo> {
    s.fence.check()?; // callers may have waited (the worker up to a second) since theirs
    let (snap, nbackfill, wal_map, bound) = {
        let st = s.state.lock();
        let snap = Arc::clone(&st.snapshot);
        let bound = st.backfill_bound(limit);
        (snap, st.nbackfill, Arc::clone(&st.wal_map), bound)
    };
    if bound <= nbackfill {
        shrink_main(s)?;
        return Ok(CheckpointInfo { frames_remaining: snap.seq - nbackfill, ..Default::default() });
    }
    // The frames to copy must belong to the snapshot's generation, or the local frame
    // numbers below would name other frames.
    assert!(snap.gen_base <= nbackfill, "backfill across a WAL generation");
    // Always, whatever the level: copying frames that are not durable into the main file
    // could leave a power-cut database with a mix of old and new pages and no WAL to mend
    // it. At `Off` this costs one sync per checkpoint, not one per commit.
    let level = s.level();
    s.group.sync_upto(bound, &*s.wal, &s.fence, Duration::ZERO, &s.wal_path)?;
    let ps = s.page_size;
    let (lo, hi) = (nbackfill - snap.gen_base + 1, bound - snap.gen_base);
    let meta = wal_commit_meta(&wal_map, hi, ps)?;
    let segs = &snap.segments;
    // Page 0 is written from the bound's commit record below, not from a frame.
    let mut writes: Vec<(u32, u64)> = (lo..=hi)
        .map(|f| (page_of(segs, f), f))
        .filter(|&(p, f)| p != 0 && p < meta.page_count && lookup(segs, p, hi) == Some(f))
        .collect();
    writes.sort_unstable();
    // Every page is verified before any is written: a frame damaged since it was written
    // stops the checkpoint with nothing copied, rather than copying damage into the file.
    let pages: Vec<(u32, &[u8])> = writes
        .iter()
        .map(|&(p, f)| {
            let page = wal_frame_page(&wal_map, f, ps)?;
            if !page_crc_ok(page) {
                return Err(Error::corrupt_page(
                    p,
                    format!("WAL frame {f} fails its page checksum; the checkpoint stopped"),
                )
                .in_file(&s.wal_path));
            }
            Ok((p, page))
        })
        .collect::<Result<_>>()?;
    let header = meta.sealed_page();

    let fail = |what: &str, e: io::Error| {
        s.fence.trip(&format!("checkpoint {what} {} failed: {e}", s.path.display()));
        Error::io(&s.path, e)
    };
    let main = s.main();
    let need = meta.page_count as u64 * ps as u64;
    let have = main.len().map_err(|e| Error::io(&s.path, e))?;
    if need > have {
        main.set_len(need).map_err(|e| fail("growing", e))?;
    }
    for &(p, page) in &pages {
        main.write_at(page, p as u64 * ps as u64).map_err(|e| fail("writing", e))?;
    }
    main.write_at(&header, 0).map_err(|e| fail("writing", e))?;
    main.sync().map_err(|e| fail("syncing", e))?;
    if level == Synchronous::Extra && need > have {
        s.sync_dir()?;
    }
    let new_map = if need > have {
        let old = Arc::clone(&s.state.lock().main_map);
        Some(s.map_main(&*main, need, Some(&old))?)
    } else {
        None
    };
    {
        let mut st = s.state.lock();
        st.nbackfill = bound;
        if let Some(m) = new_map {
            st.main_map = m;
        }
        st.check_invariants();
    }
    s.checkpoints.fetch_add(1, Ordering::Relaxed);
    shrink_main(s)?;
    Ok(CheckpointInfo {
        frames_backfilled: bound - nbackfill,
        frames_remaining: snap.seq - bound,
        wal_reset: false,
    })
}

/// Truncates the main file to the database's size once everything is backfilled and no
/// reader's snapshot is older than the last commit (so none can need the tail).
fn shrink_main(s: &Shared) -> Result<()> {
    let target = {
        let st = s.state.lock();
        let snap = &st.snapshot;
        if st.nbackfill != snap.seq || st.oldest_mark().is_some_and(|m| m < snap.seq) {
            return Ok(());
        }
        snap.meta.page_count as u64 * s.page_size as u64
    };
    let main = s.main();
    let len = main.len().map_err(|e| Error::io(&s.path, e))?;
    if len <= target || target == 0 {
        return Ok(());
    }
    main.set_len(target).map_err(|e| s.fence_io(&s.path, "truncating", e))?;
    main.sync().map_err(|e| s.fence_io(&s.path, "syncing", e))?;
    if s.level() == Synchronous::Extra {
        s.sync_dir()?;
    }
    let old = Arc::clone(&s.state.lock().main_map);
    let map = s.map_main(&*main, target, Some(&old))?;
    s.state.lock().main_map = map;
    Ok(())
}

/// After a passive pass, restarts the WAL if it outgrew the threshold and nothing needs it.
/// Briefly blocks new writers (never waits for readers).
fn restart_if_large(s: &Shared) -> Result<()> {
    let threshold = s.opts.auto_checkpoint as u64;
    {
        let st = s.state.lock();
        if st.snapshot.seq - st.snapshot.gen_base <= threshold || st.wal_readers != 0 {
            return Ok(());
        }
    }
    let ck = s.checkpoint_lock.lock();
    // Never wait for a writer here: a thread holding a write transaction may be blocked on
    // the checkpoint lock we hold. The next tick tries again.
    let Some(mut w) = s.writer.try_lock_for(Duration::from_millis(10)) else { return Ok(()) };
    if w.wal.commit_frame() <= threshold {
        return Ok(());
    }
    // The write lock may have come straight from a committer still syncing its commit:
    // let that commit publish, or the backfill would stop one commit short of a restart.
    let target = w.seq;
    wait_until(s, Instant::now() + PUBLISH_WAIT, |st| st.snapshot.seq >= target);
    backfill(s, w.seq)?;
    // Readers that began after the backfill read the main file only (and no commit can
    // happen while we hold the write lock), so the WAL's readers drain: give short ones a
    // moment rather than letting overlapping readers starve the restart forever.
    wait_until(s, Instant::now() + DRAIN_WAIT, |st| st.wal_readers == 0);
    s.restart_wal(&ck, &mut w, WalEnd::Keep)?;
    Ok(())
}

/// Starts the background worker; it exits when the database closes or is fenced.
pub fn spawn_worker(weak: Weak<Shared>) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("folio-worker".into()).spawn(move || {
        loop {
            let Some(s) = weak.upgrade() else { return };
            {
                let (m, cv) = &s.wake;
                let mut woken = m.lock();
                if !*woken && !s.closed.load(Ordering::Acquire) {
                    cv.wait_for(&mut woken, WORKER_TICK);
                }
                *woken = false;
            }
            if s.closed.load(Ordering::Acquire) || s.fence.is_tripped() {
                return;
            }
            if s.level() == Synchronous::Normal && s.group.has_unsynced() {
                let _ = s.sync_wal();
            }
            crate::vacuum::auto(&s);
            let threshold = s.opts.auto_checkpoint as u64;
            if threshold == 0 {
                continue;
            }
            let pending = {
                let st = s.state.lock();
                st.snapshot.seq - st.nbackfill
            };
            if pending > threshold {
                // Also on memory-only databases, whose WAL would otherwise grow forever.
                let _ck = s.checkpoint_lock.lock();
                let _ = backfill(&s, u64::MAX);
            }
            let _ = restart_if_large(&s);
        }
    })
}
