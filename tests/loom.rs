//! loom models of folio's concurrency core, run with
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release --test loom`.
//!
//! Each model drives the real types: the lock-free WAL index (`wal::index`, with tiny
//! segments under loom), the reader registry and checkpoint bound (`snapshot::State`), and
//! group commit (`commit::GroupCommit` with the `Fence`), all built on `src/sync.rs`, which
//! swaps in loom's atomics, mutex and condition variable. What the models add is only the
//! file contents, as atomics holding "which version of the page is here", so a reader that
//! could see a page change under it, or a copy of a frame the WAL no longer holds, fails an
//! assertion in some interleaving.
//!
//! 1. Publication: a writer inserts frames and publishes commits while readers take the
//!    published mark and look pages up: always exactly the newest frame at or below the mark.
//! 2. Reader marks against a checkpoint: no live reader's mark is ever below the bound a
//!    checkpoint copies up to, and every read returns the version of the reader's snapshot.
//! 3. WAL restart: the writer restarts the WAL only when no reader uses it and no checkpoint
//!    runs; a reader never reads a frame of the new generation under an old mark.
//! 4. Group commit: every committer returns only after a sync that covered its commit; a
//!    failed sync trips the fence, is never retried, and no uncovered committer succeeds.
#![cfg(loom)]

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use folio::format::Meta;
use folio::loom_hooks::{GroupCommit, Mutex, Snapshot, State};
use folio::storage::{Fence, Map, Storage};
use folio::wal::SegmentList;
use folio::wal::index::{WalIndex, lookup, page_of};
use loom::sync::atomic::{AtomicU64, Ordering};
use loom::thread;

/// Runs `f` under loom with a preemption bound (every model here stays within a few seconds
/// at the default bound; `LOOM_BOUND=5` explores more, in about two minutes in all) and
/// prints how many interleavings it explored.
fn model<F: Fn() + Sync + Send + 'static>(bound: usize, f: F) {
    let bound = std::env::var("LOOM_BOUND").ok().map_or(bound, |b| b.parse().unwrap());
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(bound);
    let counter = Arc::clone(&runs);
    let started = std::time::Instant::now();
    b.check(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f()
    });
    eprintln!(
        "loom: {} interleavings in {:.2?} (preemption bound {bound})",
        runs.load(std::sync::atomic::Ordering::Relaxed),
        started.elapsed()
    );
}

/// A registry whose published snapshot is `seq` of the generation after `gen_base`.
fn state(seq: u64, gen_base: u64, segments: SegmentList, nbackfill: u64) -> State {
    State {
        snapshot: snapshot(seq, gen_base, segments),
        main_map: Arc::new(folio::pager::MainMap::empty(4096)),
        wal_map: Arc::new(Map::empty()),
        nbackfill,
        readers: Default::default(),
        wal_readers: 0,
    }
}

fn snapshot(seq: u64, gen_base: u64, segments: SegmentList) -> Arc<Snapshot> {
    Arc::new(Snapshot { meta: Meta::new(4096, 1), seq, gen_base, segments })
}

/// Atomics standing for pages (or WAL frame slots); each holds the global sequence number of
/// the frame whose version of the page it carries (0: the page as it was before any frame).
fn cells(n: usize) -> Arc<Vec<AtomicU64>> {
    Arc::new((0..n).map(|_| AtomicU64::new(0)).collect())
}

/// What a reader's view returns for `pgno`: the newest WAL frame at or below its local mark
/// (the version that frame slot holds), else the main file's page. Mirrors `pager::View`.
fn read_page(
    snap: &Snapshot,
    uses_wal: bool,
    pgno: u32,
    wal: &[AtomicU64],
    main: &[AtomicU64],
) -> u64 {
    let wal_mark = if uses_wal { snap.seq - snap.gen_base } else { 0 };
    if wal_mark != 0 {
        if let Some(f) = lookup(&snap.segments, pgno, wal_mark) {
            return wal[f as usize].load(Ordering::Relaxed);
        }
    }
    main[pgno as usize].load(Ordering::Relaxed)
}

/// Newest entry of `history` (global sequence, page) for `pgno` at or below `mark`.
fn expected(history: &[(u64, u32)], pgno: u32, mark: u64) -> u64 {
    history.iter().filter(|&&(s, p)| p == pgno && s <= mark).map(|&(s, _)| s).max().unwrap_or(0)
}

/// Model 1: snapshot publication. The writer appends two commits to the index (the second
/// crosses into a new segment) and publishes each under the state lock; two readers take
/// whatever is published and look up every page while the writer keeps inserting.
#[test]
fn published_marks_find_exactly_the_newest_frame() {
    // (frame, page): commit A is frames 1..=3, commit B frames 4..=5 (page 0 commits).
    const COMMITS: [&[(u64, u32)]; 2] = [&[(1, 1), (2, 2), (3, 0)], &[(4, 1), (5, 0)]];
    model(3, || {
        let mut idx = WalIndex::new();
        let st = Arc::new(Mutex::new(state(0, 0, idx.segments(), 0)));

        let writer = {
            let st = Arc::clone(&st);
            thread::spawn(move || {
                for commit in COMMITS {
                    for &(f, p) in commit {
                        idx.append(f, p);
                    }
                    let seq = idx.max_frame();
                    st.lock().publish(snapshot(seq, 0, idx.segments()), Arc::new(Map::empty()));
                }
            })
        };
        let reader = {
            let st = Arc::clone(&st);
            move || {
                let (snap, uses_wal) = st.lock().register();
                assert_eq!(uses_wal, snap.seq > 0);
                let all: Vec<(u64, u32)> = COMMITS.concat();
                for p in 0..3u32 {
                    let got = lookup(&snap.segments, p, snap.seq);
                    let want =
                        all.iter().filter(|&&(f, q)| q == p && f <= snap.seq).map(|x| x.0).max();
                    assert_eq!(got, want, "page {p} under mark {}", snap.seq);
                    if let Some(f) = got {
                        assert_eq!(page_of(&snap.segments, f), p, "torn entry for frame {f}");
                    }
                }
                let mut g = st.lock();
                g.unregister(snap.seq, uses_wal);
                g.check_invariants();
            }
        };
        let other = thread::spawn(reader.clone());
        reader();
        other.join().unwrap();
        writer.join().unwrap();
        assert!(st.lock().readers.is_empty());
    });
}

/// The registry plus the bound a checkpoint is copying up to, if one is.
struct Registry {
    st: State,
    copying: Option<u64>,
}

/// One passive checkpoint pass as `checkpoint::backfill` runs it: take the bound under the
/// lock, copy the newest frame of each page at or below it into the main file, then advance
/// `nbackfill`. Returns the bound.
fn backfill(reg: &Mutex<Registry>, wal: &[AtomicU64], main: &[AtomicU64]) -> u64 {
    let (snap, nbackfill, bound) = {
        let mut r = reg.lock();
        let bound = r.st.backfill_bound(u64::MAX);
        assert!(
            r.st.oldest_mark().is_none_or(|m| m >= bound),
            "bound {bound} is above a live reader's mark"
        );
        r.copying = Some(bound);
        (Arc::clone(&r.st.snapshot), r.st.nbackfill, bound)
    };
    if bound > nbackfill {
        let (lo, hi) = (nbackfill - snap.gen_base + 1, bound - snap.gen_base);
        for f in lo..=hi {
            let p = page_of(&snap.segments, f);
            if lookup(&snap.segments, p, hi) == Some(f) {
                let v = wal[f as usize].load(Ordering::Relaxed);
                assert_eq!(v, snap.gen_base + f, "frame {f} was overwritten while copied");
                main[p as usize].store(v, Ordering::Relaxed);
            }
        }
    }
    let mut r = reg.lock();
    if bound > r.st.nbackfill {
        r.st.nbackfill = bound;
    }
    r.copying = None;
    r.st.check_invariants();
    bound
}

/// Registers a reader, checks its mark against a checkpoint in progress, reads page 1 twice
/// and checks both reads against the history, then unregisters.
fn read_and_check(
    reg: &Mutex<Registry>,
    wal: &[AtomicU64],
    main: &[AtomicU64],
    hist: &[(u64, u32)],
) {
    let (snap, uses_wal) = {
        let mut r = reg.lock();
        let (snap, uses_wal) = r.st.register();
        if let Some(b) = r.copying {
            assert!(snap.seq >= b, "reader mark {} below the copy bound {b}", snap.seq);
        }
        (snap, uses_wal)
    };
    let want = expected(hist, 1, snap.seq);
    for _ in 0..2 {
        let got = read_page(&snap, uses_wal, 1, wal, main);
        assert_eq!(got, want, "page 1 under mark {} (uses_wal {uses_wal})", snap.seq);
    }
    let mut r = reg.lock();
    r.st.unregister(snap.seq, uses_wal);
    r.st.check_invariants();
}

/// Model 2: reader marks against the checkpointer. Commit seq 2 (page 1 at frame 1) is
/// published and not yet backfilled; a writer publishes commit seq 4 (page 1 at frame 3)
/// while a checkpointer runs two passes and a reader registers, reads and leaves.
#[test]
fn checkpoint_bound_never_passes_a_live_reader() {
    const HIST: [(u64, u32); 4] = [(1, 1), (2, 0), (3, 1), (4, 0)];
    model(3, || {
        let wal = cells(5);
        let main = cells(3);
        let mut idx = WalIndex::new();
        for &(f, p) in &HIST[..2] {
            idx.append(f, p);
            wal[f as usize].store(f, Ordering::Relaxed);
        }
        let reg =
            Arc::new(Mutex::new(Registry { st: state(2, 0, idx.segments(), 0), copying: None }));

        let writer = {
            let (reg, wal) = (Arc::clone(&reg), Arc::clone(&wal));
            thread::spawn(move || {
                for &(f, p) in &HIST[2..] {
                    wal[f as usize].store(f, Ordering::Relaxed);
                    idx.append(f, p);
                }
                reg.lock().st.publish(snapshot(4, 0, idx.segments()), Arc::new(Map::empty()));
            })
        };
        let checkpointer = {
            let (reg, wal, main) = (Arc::clone(&reg), Arc::clone(&wal), Arc::clone(&main));
            thread::spawn(move || {
                let first = backfill(&reg, &wal, &main);
                let second = backfill(&reg, &wal, &main);
                assert!(second >= first);
            })
        };
        read_and_check(&reg, &wal, &main, &HIST);
        writer.join().unwrap();
        checkpointer.join().unwrap();
        let r = reg.lock();
        assert!(r.st.readers.is_empty() && r.st.wal_readers == 0);
        assert!(r.st.nbackfill <= r.st.snapshot.seq);
    });
}

/// Model 3: the WAL restart. Commit seq 2 (page 1 at frame 1) is published, not backfilled.
/// A checkpointer backfills it under the checkpoint lock; the writer tries to restart the
/// WAL (as `Shared::try_restart_wal` does: try the checkpoint lock, then ask the registry)
/// and commits page 1 again, overwriting frame slots 1 and 2 if it restarted; a reader
/// registers, reads page 1 and leaves.
#[test]
fn wal_restarts_only_when_no_reader_or_checkpoint_needs_it() {
    const HIST: [(u64, u32); 4] = [(1, 1), (2, 0), (3, 1), (4, 0)];
    model(3, || {
        // Frame slots of the WAL file: slot n holds the global sequence of the frame there.
        let wal = cells(5);
        let main = cells(3);
        let mut idx = WalIndex::new();
        for &(f, p) in &HIST[..2] {
            idx.append(f, p);
            wal[f as usize].store(f, Ordering::Relaxed);
        }
        let reg =
            Arc::new(Mutex::new(Registry { st: state(2, 0, idx.segments(), 0), copying: None }));
        let ck_lock = Arc::new(Mutex::new(()));

        let writer = {
            let (reg, wal, ck_lock) = (Arc::clone(&reg), Arc::clone(&wal), Arc::clone(&ck_lock));
            thread::spawn(move || {
                let (last_seq, mut gen_base) = (2u64, 0u64);
                if let Some(_ck) = ck_lock.try_lock() {
                    let mut r = reg.lock();
                    if r.st.may_restart_wal(last_seq) {
                        assert_eq!(r.st.wal_readers, 0);
                        assert!(r.copying.is_none());
                        idx.reset();
                        gen_base = last_seq;
                        r.st.restart_wal(last_seq, idx.segments());
                    }
                }
                let first = idx.max_frame() + 1;
                for (i, &(seq, p)) in HIST[2..].iter().enumerate() {
                    let f = first + i as u64;
                    assert_eq!(gen_base + f, seq);
                    wal[f as usize].store(seq, Ordering::Relaxed);
                    idx.append(f, p);
                }
                let snap = snapshot(4, gen_base, idx.segments());
                reg.lock().st.publish(snap, Arc::new(Map::empty()));
            })
        };
        let checkpointer = {
            let (reg, wal, main) = (Arc::clone(&reg), Arc::clone(&wal), Arc::clone(&main));
            thread::spawn(move || {
                let _ck = ck_lock.lock();
                backfill(&reg, &wal, &main);
            })
        };
        read_and_check(&reg, &wal, &main, &HIST);
        writer.join().unwrap();
        checkpointer.join().unwrap();
        let r = reg.lock();
        assert!(r.st.readers.is_empty() && r.st.wal_readers == 0);
    });
}

/// A WAL for group commit: "writes" record the highest sequence on file, and each sync logs
/// how far the file was written when it ran and whether it succeeded.
struct FakeWal {
    written: AtomicU64,
    syncs: Mutex<Vec<(u64, bool)>>,
    /// Index of the sync that fails with EIO, if any.
    fail: Option<usize>,
}

impl FakeWal {
    fn new(fail: Option<usize>) -> Self {
        FakeWal { written: AtomicU64::new(0), syncs: Mutex::new(Vec::new()), fail }
    }
}

impl Storage for FakeWal {
    fn read_at(&self, _buf: &mut [u8], _off: u64) -> io::Result<()> {
        Ok(())
    }
    fn write_at(&self, _buf: &[u8], _off: u64) -> io::Result<()> {
        Ok(())
    }
    fn sync(&self) -> io::Result<()> {
        let covered = self.written.load(Ordering::SeqCst);
        let mut log = self.syncs.lock();
        let ok = self.fail != Some(log.len());
        log.push((covered, ok));
        if ok { Ok(()) } else { Err(io::Error::from_raw_os_error(5)) }
    }
    fn len(&self) -> io::Result<u64> {
        Ok(0)
    }
    fn set_len(&self, _len: u64) -> io::Result<()> {
        Ok(())
    }
    fn map(&self, _len: u64) -> io::Result<Map> {
        Ok(Map::empty())
    }
}

/// `n` committers each write a commit under the write lock, note it, and ask for durability
/// as `Shared::finish_commit` does; the sync with index `fail` fails.
fn group_commit(n: usize, fail: Option<usize>) {
    model(3, move || {
        let group = Arc::new(GroupCommit::default());
        let wal = Arc::new(FakeWal::new(fail));
        let fence = Arc::new(Fence::new());
        let write_lock = Arc::new(Mutex::new(0u64));
        let commit = {
            let (group, wal, fence) = (Arc::clone(&group), Arc::clone(&wal), Arc::clone(&fence));
            move || {
                let seq = {
                    let mut w = write_lock.lock();
                    *w += 1;
                    wal.written.store(*w, Ordering::SeqCst);
                    group.note_written(*w);
                    *w
                };
                let r = group.sync_upto(seq, &*wal, &fence, Duration::ZERO, Path::new("wal"));
                if r.is_ok() {
                    let log = wal.syncs.lock();
                    assert!(
                        log.iter().any(|&(covered, ok)| ok && covered >= seq),
                        "commit {seq} acknowledged without a sync covering it: {:?}",
                        *log
                    );
                } else {
                    assert!(fence.is_tripped(), "commit {seq} failed but the fence is open");
                }
                (seq, r)
            }
        };
        let others: Vec<_> = (1..n).map(|_| thread::spawn(commit.clone())).collect();
        let mut results = vec![commit()];
        results.extend(others.into_iter().map(|h| h.join().unwrap()));

        let log = wal.syncs.lock();
        assert!(log.len() <= n, "more syncs than commits: {:?}", *log);
        match log.iter().position(|&(_, ok)| !ok) {
            None => {
                assert!(!fence.is_tripped());
                for (seq, r) in &results {
                    assert!(r.is_ok(), "commit {seq} failed without a failed sync: {r:?}");
                }
            }
            Some(i) => {
                assert!(fence.is_tripped());
                assert_eq!(i + 1, log.len(), "a sync ran after a failed one: {:?}", *log);
                let io = results
                    .iter()
                    .filter(|(_, r)| matches!(r, Err(folio::Error::Io { .. })))
                    .count();
                assert_eq!(io, 1, "exactly the leader of the failed sync gets the I/O error");
                for (seq, r) in &results {
                    match r {
                        Ok(()) | Err(folio::Error::Io { .. }) => {}
                        Err(folio::Error::NeedsRecovery(_)) => {}
                        Err(e) => panic!("commit {seq}: unexpected error {e}"),
                    }
                }
            }
        }
        assert_eq!(group.written(), n as u64);
        assert!(!group.has_unsynced() || fence.is_tripped());
    });
}

/// Model 4a: three committers, every sync succeeds.
#[test]
fn group_commit_acknowledges_only_synced_commits() {
    group_commit(3, None);
}

/// Model 4b: the first sync fails: its leader gets the I/O error, the rest `NeedsRecovery`.
#[test]
fn group_commit_first_sync_fails() {
    group_commit(3, Some(0));
}

/// Model 4c: the second sync fails after a first one covered some committers.
#[test]
fn group_commit_second_sync_fails() {
    group_commit(3, Some(1));
}
