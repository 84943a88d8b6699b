//! Snapshot publication and read marks.
//!
//! The published [`Snapshot`] names the last commit new readers may see. A reader registers
//! its snapshot's sequence number (its *mark*) while it lives; the oldest mark bounds what a
//! checkpoint may copy into the main file. A reader whose snapshot is already entirely in the
//! main file does not use the WAL at all; the WAL may only restart when no reader uses it.
//!
//! Sequence numbers are global: frame `n` of the WAL generation that began after sequence
//! `gen_base` has sequence `gen_base + n`, so marks compare across WAL restarts.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::format::Meta;
use crate::pager::MainMap;
use crate::storage::Map;
use crate::wal::SegmentList;

/// A published commit.
pub struct Snapshot {
    /// The header page as of this commit.
    pub meta: Meta,
    /// Sequence number of the commit frame.
    pub seq: u64,
    /// Sequence number just before the first frame of the commit's WAL generation.
    pub gen_base: u64,
    /// WAL index segments covering every frame up to `seq`.
    pub segments: SegmentList,
}

/// What readers and the checkpointer share, behind one short-held lock.
pub struct State {
    /// The snapshot new readers get.
    pub snapshot: Arc<Snapshot>,
    /// Map of the main file covering every backfilled page.
    pub main_map: Arc<MainMap>,
    /// Map of the WAL covering every published frame.
    pub wal_map: Arc<Map>,
    /// Every frame with sequence `<= nbackfill` is in the main file.
    pub nbackfill: u64,
    /// Live readers per mark.
    pub readers: BTreeMap<u64, usize>,
    /// Live readers that read WAL frames.
    pub wal_readers: usize,
}

impl State {
    /// Registers a reader of the published snapshot; returns whether it uses the WAL.
    pub fn register(&mut self) -> (Arc<Snapshot>, bool) {
        let snap = Arc::clone(&self.snapshot);
        let uses_wal = snap.seq > self.nbackfill;
        *self.readers.entry(snap.seq).or_default() += 1;
        if uses_wal {
            self.wal_readers += 1;
        }
        (snap, uses_wal)
    }

    /// Removes a reader registered with `mark`.
    pub fn unregister(&mut self, mark: u64, uses_wal: bool) {
        if let Some(n) = self.readers.get_mut(&mark) {
            *n -= 1;
            if *n == 0 {
                self.readers.remove(&mark);
            }
        }
        if uses_wal {
            self.wal_readers -= 1;
        }
    }

    /// The oldest mark of a live reader, if any.
    pub fn oldest_mark(&self) -> Option<u64> {
        self.readers.keys().next().copied()
    }

    /// The highest sequence a checkpoint may copy into the main file now: the oldest live
    /// reader's mark, and no further than the published commit or `limit`.
    pub fn backfill_bound(&self, limit: u64) -> u64 {
        self.oldest_mark().unwrap_or(self.snapshot.seq).min(self.snapshot.seq).min(limit)
    }

    /// Whether the WAL may restart after the last commit written, `last_seq`: every committed
    /// frame is in the main file and no reader reads WAL frames.
    pub fn may_restart_wal(&self, last_seq: u64) -> bool {
        self.nbackfill == last_seq && self.wal_readers == 0
    }

    /// Records a WAL restart after `last_seq` (the writer has reset its index to
    /// `segments`): the published snapshot, if it is that commit, moves to the new
    /// generation, so stats and new readers see an empty WAL.
    pub fn restart_wal(&mut self, last_seq: u64, segments: SegmentList) {
        // The one caller checked this under the same lock hold; a restart without it would
        // overwrite frames a reader still reads.
        assert!(self.may_restart_wal(last_seq), "WAL restart while a reader or frame needs it");
        if self.snapshot.seq == last_seq {
            self.snapshot = Arc::new(Snapshot {
                meta: self.snapshot.meta,
                seq: last_seq,
                gen_base: last_seq,
                segments,
            });
        }
    }

    /// Publishes `snap` unless a newer commit is already published.
    pub fn publish(&mut self, snap: Arc<Snapshot>, wal_map: Arc<Map>) {
        if snap.seq > self.snapshot.seq {
            self.snapshot = snap;
            self.wal_map = wal_map;
        }
    }

    /// Asserts the registry's invariants (in every build: they are a few comparisons, and a
    /// broken registry would let a checkpoint or a restart pull pages from under a reader).
    pub fn check_invariants(&self) {
        assert!(self.nbackfill <= self.snapshot.seq, "backfill mark past the published commit");
        assert!(
            self.wal_readers <= self.readers.values().sum::<usize>(),
            "more WAL readers than readers"
        );
    }
}
