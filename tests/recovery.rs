//! WAL recovery: damage the WAL of a crashed database in the ways a crash or bit rot can
//! (garbage after the end, a torn tail, flipped bytes) and check that recovery keeps exactly
//! the complete commits before the damage, reports what it discarded (and, for damage to
//! synced frames, the commits lost: `tests/wal_damage.rs`), leaves a clean database, and
//! accepts new commits that survive further crashes and reopens.
//!
//! Crashes are simulated by copying the files of a live handle (opened with auto-checkpoint
//! off, so every commit is still only in the WAL) and opening the copy.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{Rng, Tables, assert_check_ok, assert_matches, copy_db, wal_path};
use folio::{Database, Options, RecoveryInfo};

const PAGE: usize = 4096;
const WAL_HEADER: usize = 48;
const FRAME_HEADER: usize = 88;
const FRAME: usize = FRAME_HEADER + PAGE;

fn frame_offset(n: usize) -> usize {
    WAL_HEADER + (n - 1) * FRAME
}

/// One frame of the current WAL generation, as found on disk.
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// 1-based frame number.
    n: usize,
    pgno: u32,
    commit: bool,
    /// The transaction id in the commit record (0 on other frames).
    txn_id: u64,
}

/// The frames of the WAL's current generation (those repeating the header's salt).
fn wal_frames(wal: &[u8]) -> Vec<Frame> {
    assert_eq!(&wal[0..8], b"folioWAL");
    let salt = &wal[24..32];
    let mut frames = Vec::new();
    let mut n = 1;
    while let Some(h) = wal.get(frame_offset(n)..frame_offset(n) + FRAME) {
        if &h[8..16] != salt {
            break;
        }
        frames.push(Frame {
            n,
            pgno: u32::from_le_bytes(h[0..4].try_into().unwrap()),
            commit: u32::from_le_bytes(h[4..8].try_into().unwrap()) & 1 == 1,
            txn_id: u64::from_le_bytes(h[24 + 16..24 + 24].try_into().unwrap()),
        });
        n += 1;
    }
    frames
}

/// A database with several commits still in its WAL, the model after each commit, and the
/// live handle that wrote them (kept open so nothing is checkpointed or removed).
struct Crashed {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    path: PathBuf,
    live: Option<Database>,
    /// `models[i]` is the state after the first `i` commits (`models[0]` is empty).
    models: Vec<Tables>,
    /// Frame ranges (first, commit frame) of each commit, in order.
    commits: Vec<(usize, usize)>,
}

fn empty_model() -> Tables {
    let mut m = Tables::new();
    m.insert(None, BTreeMap::new());
    m
}

/// Writes `n_small` small commits and then one large commit (hundreds of keys, deletes and
/// updates of earlier keys, a large value, a named table), all left in the WAL.
fn crashed(n_small: usize, cache_size: usize) -> Crashed {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.db");
    let db = Options::new().auto_checkpoint(0).cache_size(cache_size).open(&path).unwrap();
    let mut rng = Rng::new(n_small as u64 * 31 + cache_size as u64);
    let mut models = vec![empty_model()];
    let mut model = empty_model();
    for c in 0..n_small {
        let mut tx = db.begin_write().unwrap();
        let main = model.get_mut(&None).unwrap();
        for j in 0..40 {
            let k = format!("c{c:02}/{j:03}").into_bytes();
            let v = rng.bytes_between(0, 120);
            tx.put(&k, &v).unwrap();
            main.insert(k, v);
        }
        tx.put(b"last", format!("{c}").as_bytes()).unwrap();
        main.insert(b"last".to_vec(), format!("{c}").into_bytes());
        if c % 2 == 1 {
            let k = format!("{c}").into_bytes();
            tx.table("odd").unwrap().put(&k, b"1").unwrap();
            model.entry(Some("odd".into())).or_default().insert(k, b"1".to_vec());
        }
        tx.commit().unwrap();
        models.push(model.clone());
    }
    // The large commit.
    let mut tx = db.begin_write().unwrap();
    let main = model.get_mut(&None).unwrap();
    for j in 0..600 {
        let k = format!("big/{j:04}").into_bytes();
        let v = rng.bytes_between(100, 400);
        tx.put(&k, &v).unwrap();
        main.insert(k, v);
    }
    let victims: Vec<Vec<u8>> =
        main.keys().filter(|k| k.starts_with(b"c")).step_by(3).cloned().collect();
    for k in victims {
        assert!(tx.delete(&k).unwrap());
        main.remove(&k);
    }
    tx.put(b"last", b"big").unwrap();
    main.insert(b"last".to_vec(), b"big".to_vec());
    let huge = rng.bytes(50_000);
    tx.put(b"huge", &huge).unwrap();
    main.insert(b"huge".to_vec(), huge);
    tx.table("big-table").unwrap().put(b"k", b"v").unwrap();
    model.entry(Some("big-table".into())).or_default().insert(b"k".to_vec(), b"v".to_vec());
    tx.commit().unwrap();
    models.push(model);

    let wal = std::fs::read(wal_path(&path)).unwrap();
    let frames = wal_frames(&wal);
    let mut commits = Vec::new();
    let mut first = 1;
    for f in &frames {
        if f.commit {
            commits.push((first, f.n));
            first = f.n + 1;
        }
    }
    assert_eq!(commits.len(), n_small + 1, "commit frames in the WAL: {frames:?}");
    let (a, b) = *commits.last().unwrap();
    assert!(b - a >= 10, "the large commit should span many frames: {a}..={b}");
    Crashed { dir: dir.path().to_path_buf(), _dir: dir, path, live: Some(db), models, commits }
}

impl Crashed {
    /// A copy of the crashed files under a new name, with `damage` applied to its WAL bytes.
    fn copy_with(&self, name: &str, damage: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
        let dst = self.dir.join(name);
        copy_db(&self.path, &dst);
        let mut wal = std::fs::read(wal_path(&dst)).unwrap();
        damage(&mut wal);
        std::fs::write(wal_path(&dst), &wal).unwrap();
        dst
    }

    fn wal_len(&self) -> usize {
        std::fs::metadata(wal_path(&self.path)).unwrap().len() as usize
    }
}

impl Drop for Crashed {
    fn drop(&mut self) {
        if let Some(db) = self.live.take() {
            db.close().unwrap();
        }
    }
}

/// Opens a damaged copy and checks it holds exactly `model`, having replayed `commits`.
fn open_and_verify(
    path: &Path,
    model: &Tables,
    commits: usize,
    ctx: &str,
) -> (Database, RecoveryInfo) {
    let db = Database::open(path).unwrap_or_else(|e| panic!("{ctx}: open failed: {e}"));
    let info = db.recovery_info();
    assert_eq!(info.commits_replayed, commits as u64, "{ctx}: {info:?}");
    assert_matches(&db.begin_read().unwrap(), model, ctx);
    assert_check_ok(&db, ctx);
    (db, info)
}

/// After recovery: new commits work, survive a crash (files copied while open) and a clean
/// close and reopen.
fn commit_after_recovery(db: Database, path: &Path, mut model: Tables, ctx: &str) {
    let mut tx = db.begin_write().unwrap();
    let main = model.get_mut(&None).unwrap();
    for j in 0..300 {
        let k = format!("after/{j:04}").into_bytes();
        tx.put(&k, &[j as u8; 150]).unwrap();
        main.insert(k, vec![j as u8; 150]);
    }
    tx.put(b"last", b"after").unwrap();
    main.insert(b"last".to_vec(), b"after".to_vec());
    tx.commit().unwrap();
    db.put(b"one-more", b"x").unwrap();
    main.insert(b"one-more".to_vec(), b"x".to_vec());
    assert_matches(&db.begin_read().unwrap(), &model, &format!("{ctx}: after new commits"));
    assert_check_ok(&db, &format!("{ctx}: after new commits"));

    // Crash again: the new commits overwrote the discarded tail and must be recovered.
    let again = path.with_extension("again");
    copy_db(path, &again);
    {
        let db2 = Database::open(&again).unwrap();
        let info = db2.recovery_info();
        assert!(info.commits_replayed >= 2, "{ctx}: second crash: {info:?}");
        assert_matches(&db2.begin_read().unwrap(), &model, &format!("{ctx}: second crash"));
        assert_check_ok(&db2, &format!("{ctx}: second crash"));
        db2.close().unwrap();
    }

    db.close().unwrap();
    let db = Database::open(path).unwrap();
    assert_matches(&db.begin_read().unwrap(), &model, &format!("{ctx}: clean reopen"));
    assert_check_ok(&db, &format!("{ctx}: clean reopen"));
    db.close().unwrap();
}

#[test]
fn intact_wal_replays_every_commit() {
    let c = crashed(5, 64 << 20);
    let p = c.copy_with("copy.db", |_| {});
    let all = c.commits.len();
    let (db, info) = open_and_verify(&p, &c.models[all], all, "intact");
    assert_eq!(info.bytes_discarded, 0, "{info:?}");
    assert!(!info.tail_corrupt, "{info:?}");
    assert_eq!(info.frames_replayed as usize, c.commits.last().unwrap().1);
    commit_after_recovery(db, &p, c.models[all].clone(), "intact");
}

#[test]
fn garbage_appended_after_the_wal_is_discarded() {
    let c = crashed(5, 64 << 20);
    let all = c.commits.len();
    let mut rng = Rng::new(5);
    for (i, len) in [1usize, 100, FRAME - 1, FRAME, 3 * FRAME + 17].into_iter().enumerate() {
        let p = c.copy_with(&format!("garbage{i}.db"), |wal| {
            let mut junk = rng.bytes(len);
            junk[0] |= 1; // never all zeros
            wal.extend_from_slice(&junk);
        });
        let ctx = format!("{len} bytes of garbage appended");
        let (db, info) = open_and_verify(&p, &c.models[all], all, &ctx);
        assert!(info.bytes_discarded > 0, "{ctx}: {info:?}");
        commit_after_recovery(db, &p, c.models[all].clone(), &ctx);
    }
}

#[test]
fn garbage_written_right_after_the_last_commit_is_discarded() {
    let c = crashed(5, 64 << 20);
    let all = c.commits.len();
    let end = frame_offset(c.commits.last().unwrap().1 + 1);
    let mut rng = Rng::new(6);

    // Random bytes where the next frame would go (the WAL is preallocated with zeros).
    let p = c.copy_with("junk.db", |wal| {
        let junk = rng.bytes(2 * FRAME + 100);
        if wal.len() < end + junk.len() {
            wal.resize(end + junk.len(), 0);
        }
        wal[end..end + junk.len()].copy_from_slice(&junk);
    });
    let (db, info) = open_and_verify(&p, &c.models[all], all, "junk after last commit");
    assert!(info.bytes_discarded > 0, "{info:?}");
    commit_after_recovery(db, &p, c.models[all].clone(), "junk after last commit");

    // A forged frame that repeats the salt (and claims to commit) but fails its checksum.
    let p = c.copy_with("forged.db", |wal| {
        let salt: [u8; 8] = wal[24..32].try_into().unwrap();
        let mut frame = rng.bytes(FRAME);
        frame[0..4].copy_from_slice(&0u32.to_le_bytes());
        frame[4..8].copy_from_slice(&1u32.to_le_bytes());
        frame[8..16].copy_from_slice(&salt);
        if wal.len() < end + FRAME {
            wal.resize(end + FRAME, 0);
        }
        wal[end..end + FRAME].copy_from_slice(&frame);
    });
    let (db, info) = open_and_verify(&p, &c.models[all], all, "forged frame");
    assert!(info.bytes_discarded > 0, "{info:?}");
    assert!(info.tail_corrupt, "a frame with the right salt and a bad checksum: {info:?}");
    commit_after_recovery(db, &p, c.models[all].clone(), "forged frame");
}

fn truncation_points(c: &Crashed) -> Vec<(String, usize)> {
    let (first, last) = *c.commits.last().unwrap();
    let mid = (first + last) / 2;
    vec![
        ("inside the first frame header of the last commit".into(), frame_offset(first) + 10),
        (
            "inside the first page of the last commit".into(),
            frame_offset(first) + FRAME_HEADER + 1000,
        ),
        ("inside a middle frame of the last commit".into(), frame_offset(mid) + FRAME / 2),
        ("inside the commit frame's header".into(), frame_offset(last) + 20),
        ("one byte short of the commit frame's end".into(), frame_offset(last) + FRAME - 1),
        ("halfway through the commit frame".into(), frame_offset(last) + FRAME / 2),
    ]
}

fn check_truncations(c: &Crashed, tag: &str) {
    let survivors = c.commits.len() - 1;
    for (i, (what, at)) in truncation_points(c).into_iter().enumerate() {
        let ctx = format!("{tag}: WAL truncated {what} (offset {at})");
        assert!(at < c.wal_len());
        let p = c.copy_with(&format!("{tag}-trunc{i}.db"), |wal| wal.truncate(at));
        let (db, info) = open_and_verify(&p, &c.models[survivors], survivors, &ctx);
        assert!(info.bytes_discarded > 0, "{ctx}: {info:?}");
        assert!(info.tail_corrupt, "{ctx}: a torn frame is a corrupt tail: {info:?}");
        assert_eq!(info.frames_replayed as usize, c.commits[survivors - 1].1, "{ctx}: {info:?}");
        commit_after_recovery(db, &p, c.models[survivors].clone(), &ctx);
    }
}

#[test]
fn wal_truncated_mid_frame_loses_only_the_torn_commit() {
    let c = crashed(6, 64 << 20);
    check_truncations(&c, "big-cache");
}

#[test]
fn wal_truncated_mid_frame_of_a_spilled_commit() {
    // With a 64 KiB cache the large commit spills its dirty pages to the WAL before its
    // commit frame is written.
    let c = crashed(6, 64 << 10);
    check_truncations(&c, "small-cache");
}

/// Byte positions (offsets into the WAL) covered by the frame checksum: page number, flags,
/// the checksum itself, the commit record and the page bytes of `frame`.
fn flip_points(frame: usize) -> Vec<(String, usize)> {
    let o = frame_offset(frame);
    vec![
        (format!("frame {frame} page number"), o),
        (format!("frame {frame} flags"), o + 4),
        (format!("frame {frame} checksum"), o + 17),
        (format!("frame {frame} commit record, first byte"), o + 24),
        (format!("frame {frame} commit record, transaction id"), o + 24 + 16),
        (format!("frame {frame} commit record, last byte"), o + FRAME_HEADER - 1),
        (format!("frame {frame} page checksum"), o + FRAME_HEADER + 1),
        (format!("frame {frame} page body"), o + FRAME_HEADER + 100),
        (format!("frame {frame} last page byte"), o + FRAME - 1),
    ]
}

#[test]
fn flipped_byte_in_the_last_commit_discards_it_whole() {
    for cache in [64 << 20, 64 << 10] {
        let c = crashed(4, cache);
        let survivors = c.commits.len() - 1;
        let (first, last) = *c.commits.last().unwrap();
        let mut points = flip_points(first);
        points.extend(flip_points((first + last) / 2));
        points.extend(flip_points(last));
        for (i, (what, at)) in points.into_iter().enumerate() {
            let ctx = format!("cache {cache}: flipped {what} (offset {at})");
            let p = c.copy_with(&format!("flip{i}.db"), |wal| wal[at] ^= 0x20);
            let (db, info) = open_and_verify(&p, &c.models[survivors], survivors, &ctx);
            assert!(info.bytes_discarded > 0, "{ctx}: {info:?}");
            assert!(info.tail_corrupt, "{ctx}: {info:?}");
            commit_after_recovery(db, &p, c.models[survivors].clone(), &ctx);
        }
    }
}

#[test]
fn flipped_salt_in_the_last_commit_discards_it_whole() {
    // A frame whose salt does not match reads as the end of the log (like a stale frame of
    // an earlier generation): the commit is dropped whole, whatever tail_corrupt says.
    let c = crashed(4, 64 << 20);
    let survivors = c.commits.len() - 1;
    let (first, last) = *c.commits.last().unwrap();
    for (i, f) in [first, last].into_iter().enumerate() {
        let ctx = format!("flipped salt of frame {f}");
        let p = c.copy_with(&format!("salt{i}.db"), |wal| wal[frame_offset(f) + 9] ^= 0x01);
        let (db, info) = open_and_verify(&p, &c.models[survivors], survivors, &ctx);
        assert!(info.bytes_discarded > 0, "{ctx}: {info:?}");
        commit_after_recovery(db, &p, c.models[survivors].clone(), &ctx);
    }
}

#[test]
fn flipped_byte_in_an_earlier_commit_is_data_loss() {
    // The checksum chain makes every later frame invalid too: recovery keeps exactly the
    // commits before the damaged one. Those commits had been synced, and later frames say
    // so: the loss is reported, and a copy of the WAL is kept until acknowledged.
    let c = crashed(6, 64 << 20);
    for damaged in [0, 2, 5] {
        let (first, last) = c.commits[damaged];
        let at = frame_offset((first + last) / 2) + FRAME_HEADER + 7;
        let ctx = format!("flipped a byte in commit {damaged}");
        let p = c.copy_with(&format!("early{damaged}.db"), |wal| wal[at] ^= 0xff);
        let db = Database::open(&p).unwrap_or_else(|e| panic!("{ctx}: open failed: {e}"));
        let info = db.recovery_info();
        assert_eq!(info.commits_replayed, damaged as u64, "{ctx}: {info:?}");
        assert_matches(&db.begin_read().unwrap(), &c.models[damaged], &ctx);
        assert!(info.tail_corrupt && info.bytes_discarded > 0, "{ctx}: {info:?}");
        assert_eq!(info.damaged_frame, Some(((first + last) / 2) as u64), "{ctx}: {info:?}");
        assert_eq!(info.commits_lost as usize, c.commits.len() - damaged, "{ctx}: {info:?}");
        let report = db.check().unwrap();
        assert_eq!(report.problems.len(), 1, "{ctx}: {report}");
        assert_eq!(db.acknowledge_wal_damage().unwrap().len(), 1, "{ctx}");
        commit_after_recovery(db, &p, c.models[damaged].clone(), &ctx);
    }
}

#[test]
fn zeroed_wal_header_recovers_nothing_and_keeps_the_main_file() {
    // A WAL whose header is destroyed holds nothing usable: the main file's state (here the
    // empty database) is what remains, and the database works.
    let c = crashed(3, 64 << 20);
    let p = c.copy_with("nohdr.db", |wal| wal[0..WAL_HEADER].fill(0));
    let (db, info) = open_and_verify(&p, &c.models[0], 0, "zeroed WAL header");
    assert!(info.bytes_discarded > 0, "{info:?}");
    commit_after_recovery(db, &p, c.models[0].clone(), "zeroed WAL header");
}

#[test]
fn missing_wal_opens_the_checkpointed_state() {
    let c = crashed(3, 64 << 20);
    let p = c.dir.join("nowal.db");
    std::fs::copy(&c.path, &p).unwrap();
    let (db, info) = open_and_verify(&p, &c.models[0], 0, "missing WAL");
    assert_eq!(info, RecoveryInfo::default());
    commit_after_recovery(db, &p, c.models[0].clone(), "missing WAL");
}

/// Regression: after the WAL has been restarted (e.g. by a `Truncate` checkpoint), a write
/// transaction that spilled dirty pages to the WAL and was then rolled back used to leave
/// the WAL header and its spilled frames behind: `close()` neither truncated nor removed the
/// WAL, and the next open reported them as a discarded tail.
#[test]
fn regression_close_removes_wal_after_rolled_back_spill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let db = Options::new().cache_size(64 << 10).open(&path).unwrap();
    db.put(b"a", b"1").unwrap();
    db.checkpoint(folio::CheckpointMode::Truncate).unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..5000u32 {
        tx.put(format!("k{i:06}").as_bytes(), &[7u8; 100]).unwrap();
    }
    tx.rollback(); // spilled frames were written; nothing committed
    db.close().unwrap();
    let wal = std::fs::metadata(wal_path(&path)).map(|m| m.len());
    let db = Database::open(&path).unwrap();
    let info = db.recovery_info();
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    assert!(db.get(b"k000000").unwrap().is_none());
    assert!(
        wal.is_err(),
        "close() left a WAL of {wal:?} bytes; the next open discarded {} bytes ({info:?})",
        info.bytes_discarded
    );
    assert_eq!(info, RecoveryInfo::default());
}

/// A transaction that changes one page writes one frame: the page, flagged as the commit and
/// carrying the new header in its commit record. Recovery rebuilds the database from those
/// frames alone.
#[test]
fn one_page_commit_writes_one_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.db");
    let db = Options::new().auto_checkpoint(0).open(&path).unwrap();
    let mut model = empty_model();
    for i in 0..20u32 {
        let (k, v) = (format!("key{:02}", i % 7).into_bytes(), i.to_le_bytes().to_vec());
        db.put(&k, &v).unwrap();
        model.get_mut(&None).unwrap().insert(k, v);
    }
    let frames = wal_frames(&std::fs::read(wal_path(&path)).unwrap());
    assert_eq!(frames.len(), 20, "one frame per commit: {frames:?}");
    for (i, f) in frames.iter().enumerate() {
        assert!(f.commit && f.pgno != 0, "frame {f:?} commits a tree page");
        assert_eq!(f.txn_id, i as u64 + 1, "frame {f:?} carries its transaction's header");
    }

    let copy = dir.path().join("copy.db");
    copy_db(&path, &copy);
    let reopened = Database::open(&copy).unwrap();
    let info = reopened.recovery_info();
    assert_eq!((info.commits_replayed, info.frames_replayed), (20, 20), "{info:?}");
    let ctx = "after recovering one-frame commits";
    assert_matches(&reopened.begin_read().unwrap(), &model, ctx);
    assert_check_ok(&reopened, ctx);
    drop(db);
}
