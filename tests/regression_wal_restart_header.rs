//! Regression: a power cut during the first commit after a WAL restart could replay a stale
//! prefix of the previous WAL generation over a newer main file, losing acknowledged (and
//! already checkpointed) commits. The new header is now synced before any new frame when
//! older frames may follow it.
//!
//! A restart rewrites the WAL from offset 0: the new header (new salt) and the new frames go
//! out in one batch of writes, synced together at the end of the commit. Until that sync,
//! the old header and the old frames are still on the disk. If the crash keeps some of the
//! new frames but loses the new header and the first new frames, recovery reads the *old*
//! header, accepts the old generation's first frames (their salt and chain still match it),
//! and stops at the first overwritten frame. If that prefix ends in a commit frame, recovery
//! replays that old commit on top of a main file that already holds later commits: the later
//! commits vanish (or, when the file shrank since, open fails with "header claims N pages").
//! `crash_vacuum_compact.rs` hits the same bug at random (vacuum(4) scenario, step 325).
//!
//! SQLite avoids this by syncing the new WAL header before writing the first frame after a
//! restart (`syncHeader`); writing and syncing the header (or zeroing the old frames'
//! validity some other way) before the first new frame would close it here.

use std::path::Path;
use std::sync::Arc;

use folio::format::wal::frame_offset;
use folio::storage::SimVfs;
use folio::{CheckpointMode, Database, Options, Synchronous};

const DB: &str = "/sim/app.db";

fn open(vfs: &SimVfs) -> Database {
    Options::new()
        .vfs(Arc::new(vfs.clone()))
        .synchronous(Synchronous::Full)
        .auto_checkpoint(0)
        .open(DB)
        .unwrap()
}

/// Commits A (`a=1`) and B (`a=2`), each two frames in WAL generation 1; a passive checkpoint
/// copies both into the main file. The next commit (a 10 KB value: overflow pages, five
/// frames) restarts the WAL. Returns the handle and the step count before that commit.
fn before_restart(vfs: &SimVfs) -> (Database, u64) {
    let db = open(vfs);
    db.put(b"a", b"1").unwrap();
    db.put(b"a", b"2").unwrap();
    let info = db.checkpoint(CheckpointMode::Passive).unwrap();
    assert_eq!(info.frames_remaining, 0);
    let steps = vfs.steps();
    (db, steps)
}

#[test]
fn regression_wal_restart_never_replays_the_old_generation() {
    // Count the steps of the restarting commit; at `Full` its last step is the WAL sync.
    let dry = SimVfs::new();
    let (db, s0) = before_restart(&dry);
    db.put(b"big", &[9u8; 10_000]).unwrap();
    let sync_step = dry.steps();
    drop(db);

    let vfs = SimVfs::new();
    let (db, s) = before_restart(&vfs);
    assert_eq!(s, s0);
    vfs.crash_at(sync_step);
    assert!(db.put(b"big", &[9u8; 10_000]).is_err(), "the crash hits the commit's sync");
    drop(db);

    // The crash keeps every unsynced write except the new WAL header and the first two new
    // frames: the old header and old frames 1-2 (commit A) survive, new frame 3 follows.
    let wal = Path::new("/sim/app.db-wal");
    let lost_below = frame_offset(3, 4096);
    let image = vfs.crash_image_with(|p, off, _| !(p == wal && off < lost_below)).unwrap();

    let db = open(&image);
    let a = db.get(b"a").unwrap();
    let rec = db.recovery_info();
    let report = db.check().unwrap();
    assert!(
        a.as_deref() == Some(&b"2"[..]) && report.is_ok(),
        "commit B (a=2) was acknowledged and checkpointed before the crash, but the reopened \
         database has a = {:?} (recovery replayed {} commit(s), {} frame(s) of the previous \
         WAL generation); check: {report}",
        a.map(|v| String::from_utf8_lossy(&v).into_owned()),
        rec.commits_replayed,
        rec.frames_replayed,
    );
}
