//! The fuzz targets' inputs replayed as plain tests: every seed under `fuzz/seeds/`, and the
//! minimized reproducer of every finding of the fuzzers, through the same code the targets
//! run (`fuzz/harness.rs`). Every finding is fixed and runs here by default. To regenerate
//! the seeds after a format change:
//! `cargo test --release --test fuzz_regressions -- --ignored write_seeds`.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};

use folio::{CheckpointMode, Database, Options};

/// A target's name and its entry point.
type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 3] = [
    ("open_files", harness::open_files),
    ("wal_recovery", harness::wal_recovery),
    ("ops_model", harness::ops_model),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Runs every file under `fuzz/<kind>/<target>/` through the target; returns how many.
fn replay(kind: &str) -> usize {
    let mut n = 0;
    for (target, run) in TARGETS {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            eprintln!("replaying {}", f.display());
            run(&data);
            n += 1;
        }
    }
    n
}

#[test]
fn seed_corpus_replays_cleanly() {
    let n = replay("seeds");
    assert!(n >= 13, "expected the seed corpus under fuzz/seeds, found {n} inputs");
}

/// Replays one input file in strict mode (known findings fail too), e.g.
/// `FOLIO_FUZZ_TARGET=ops_model FOLIO_FUZZ_INPUT=fuzz/artifacts/ops_model/crash-...
/// FOLIO_FUZZ_TRACE=1 cargo test --release --test fuzz_regressions -- --ignored replay_one
/// --nocapture`.
#[test]
#[ignore = "needs FOLIO_FUZZ_TARGET and FOLIO_FUZZ_INPUT"]
fn replay_one() {
    let target = std::env::var("FOLIO_FUZZ_TARGET").expect("FOLIO_FUZZ_TARGET");
    let input = std::fs::read(std::env::var("FOLIO_FUZZ_INPUT").expect("FOLIO_FUZZ_INPUT"))
        .expect("read FOLIO_FUZZ_INPUT");
    let (_, run) = TARGETS.iter().find(|(t, _)| *t == target).expect("a target name");
    harness::set_strict(true);
    run(&input);
}

/// A database made through the public API: its main file and WAL, copied while it is open
/// (so the WAL holds commits) or after close (`closed`: main file only).
fn sample_files(closed: bool, page_size: u32) -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.db");
    let db = Options::new().page_size(page_size).auto_checkpoint(0).open(&path).unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..60u32 {
        tx.put(format!("k{i:04}").as_bytes(), &[i as u8; 30]).unwrap();
    }
    tx.put(b"big", &[9u8; 6000]).unwrap();
    tx.table("t1").unwrap().put(b"a", b"1").unwrap();
    tx.commit().unwrap();
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in (0..60u32).step_by(4) {
        tx.delete(format!("k{i:04}").as_bytes()).unwrap();
    }
    tx.table("t2").unwrap().put(b"b", b"2").unwrap();
    tx.commit().unwrap();
    let read = |p: &Path| std::fs::read(p).unwrap_or_default();
    let wal_path = dir.path().join("seed.db-wal");
    let out = if closed {
        db.close().unwrap();
        (read(&path), Vec::new())
    } else {
        let files = (read(&path), read(&wal_path));
        drop(db);
        files
    };
    // Trim the WAL's preallocated zeros (they add nothing but length), keeping whole frames.
    let (main, mut wal) = out;
    let used = wal.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    if used > 0 {
        let frame = folio::format::wal::FRAME_HEADER_SIZE + page_size as usize;
        wal.truncate(48 + (used - 48).div_ceil(frame) * frame);
    }
    (main, wal)
}

fn open_files_input(main: &[u8], wal: &[u8]) -> Vec<u8> {
    let mut v = (main.len() as u32).to_le_bytes().to_vec();
    v.extend_from_slice(main);
    v.extend_from_slice(wal);
    v
}

/// Writes the seed corpus (run by hand; see the module comment).
#[test]
#[ignore = "rewrites fuzz/seeds; run by hand"]
fn write_seeds() {
    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = fuzz_dir().join("seeds").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    };
    let (main, wal) = sample_files(false, 4096);
    write("open_files", "with_wal", &open_files_input(&main, &wal));
    let (main, _) = sample_files(true, 4096);
    write("open_files", "closed", &open_files_input(&main, &[]));
    let (main, wal) = sample_files(false, 8192);
    write("open_files", "with_wal_8k", &open_files_input(&main, &wal));
    write("open_files", "empty", &[0, 0, 0, 0]);
    // The same files with the reseal bits set (mutations keep valid checksums).
    let (main, wal) = sample_files(false, 4096);
    let mut resealed = open_files_input(&main, &wal);
    resealed[3] |= 0xC0;
    write("open_files", "with_wal_resealed", &resealed);
    // A WAL header holding the largest generation (resealed, so its commits are valid): the
    // restart at close once overflowed the counter.
    let mut wal_max = wal.clone();
    wal_max[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
    let mut generation_max = open_files_input(&main, &wal_max);
    generation_max[3] |= 0xC0;
    write("open_files", "regression_wal_generation_max", &generation_max);
    // A default table claiming u64::MAX entries, in page 0 and in every commit record
    // (resealed): the next insert once overflowed the count.
    let (mut main, mut wal) = sample_files(false, 4096);
    main[72..80].copy_from_slice(&u64::MAX.to_le_bytes());
    let frame = folio::format::wal::FRAME_HEADER_SIZE + 4096;
    for f in wal[48..].chunks_exact_mut(frame) {
        if f[4] & 1 != 0 {
            f[64..72].copy_from_slice(&u64::MAX.to_le_bytes());
        }
    }
    let mut entry_count_max = open_files_input(&main, &wal);
    entry_count_max[3] |= 0xC0;
    write("open_files", "regression_entry_count_max", &entry_count_max);

    write("wal_recovery", "all_commits", &harness::wal_recovery_seed(usize::MAX, &[]));
    write("wal_recovery", "first_frames", &harness::wal_recovery_seed(5, &[]));
    // A forged header page committing after the donor frames, then a torn tail.
    let mut forged = harness::wal_recovery_seed(8, &[]);
    forged[3] += 1;
    forged.extend_from_slice(&[0x01, 0x03, 0x10, 0x20, 0x02, 0x00]);
    forged.extend_from_slice(&[0xAB; 100]);
    write("wal_recovery", "forged_commit", &forged);
    // Frames that each record every earlier frame as synced, and a broken chain in the
    // middle: data loss, with a copy of the WAL kept at the read-write open.
    let mut lost = harness::wal_recovery_seed(12, &[]);
    lost[2] |= 4;
    let mid = 4 + 2 * 5;
    lost.splice(mid..mid + 2, [0x40, 5, 0xDE, 0xAD, 0xBE, 0xEF]);
    write("wal_recovery", "damage_mid_wal", &lost);

    // ops_model: a config byte, then per operation an op byte and its arguments; a
    // transaction is a count, then (kind, key, value, extra) per write, then commit or not.
    // Puts in three tables (one overflow value, 64 keys at once), checkpoint, reopen, read.
    write(
        "ops_model",
        "commit_checkpoint_reopen",
        &[
            0x00, 0x00, 3, 0x00, 0x11, 0x05, 0x00, 0x12, 0x22, 0x06, 0x00, 0x21, 0x30, 0x08, 0x40,
            0x01, 0x06, 0x01, 0x09, 0x05, 0x00, 0x11, 0x0D,
        ],
    );
    // Small cache (spills), 200 keys, then a crash 5 steps into the next commit.
    write(
        "ops_model",
        "crash_mid_commit",
        &[
            0x04, 0x00, 2, 0x03, 0x22, 0x09, 0xC8, 0x00, 0x33, 0x0A, 0x00, 0x01, 0x0B, 0x05, 0x00,
            1, 0x00, 0x44, 0x05, 0x00, 0x01, 0x05, 0x00, 0x22, 0x0D,
        ],
    );
    // Auto-vacuum, 80 keys then their deletion, an EIO on the next step of a commit (fence,
    // reopen), then vacuum and compact.
    write(
        "ops_model",
        "fault_then_vacuum",
        &[
            0x10, 0x00, 2, 0x03, 0x55, 0x05, 0x50, 0x00, 0x66, 0x0E, 0x00, 0x01, 0x00, 1, 0x04,
            0x55, 0x00, 0x00, 0x01, 0x0A, 0x00, 0x00, 0x00, 1, 0x00, 0x77, 0x05, 0x00, 0x01, 0x07,
            0x00, 0x08, 0x0D,
        ],
    );
    // Level Off: a commit, a reader spanning another commit and a checkpoint, a power cut.
    write(
        "ops_model",
        "reader_and_power_cut",
        &[
            0x01, 0x00, 1, 0x00, 0x10, 0x05, 0x00, 0x01, 0x0F, 1, 0x00, 0x10, 0x09, 0x00, 0x01,
            0x0C, 0x07, 0x05, 0x00, 0x10, 0x0D,
        ],
    );
    // Level Extra: ENOSPC on the next step of a commit, more commits, a clean reopen.
    write(
        "ops_model",
        "no_space",
        &[
            0x02, 0x00, 1, 0x00, 0x20, 0x05, 0x00, 0x01, 0x0A, 0x00, 0x01, 0x00, 1, 0x00, 0x21,
            0x05, 0x00, 0x01, 0x00, 1, 0x00, 0x22, 0x05, 0x00, 0x01, 0x09, 0x0D,
        ],
    );
}

/// The replay helper sees the same database the public API makes (sanity check of the seed
/// builder itself).
#[test]
fn sample_files_open() {
    let (main, wal) = sample_files(false, 4096);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    std::fs::write(&path, &main).unwrap();
    std::fs::write(dir.path().join("x.db-wal"), &wal).unwrap();
    let db = Database::open(&path).unwrap();
    assert!(db.check().unwrap().is_ok());
    assert!(db.begin_read().unwrap().table("t2").is_ok());
}

/// Finding (open_files): with an empty main file and a WAL that is not a valid WAL, a
/// read-write open writes a fresh header page into the main file (`open::open_files` →
/// `load_or_create_main` creates the database) and only then refuses the WAL with
/// `Error::Corrupt`, so an open that fails has changed a file (SPEC §6: a refused open
/// changes nothing on disk). Minimized input: an empty main file and a 2-byte WAL.
#[test]
fn regression_failed_open_initializes_an_empty_main_file() {
    harness::set_strict(true);
    harness::open_files(&[0x00, 0x00, 0x00, 0x00, 0x00, 0x40]);
}

/// Finding (ops_model): a commit that allocates pages and frees them again (here: a large
/// value put into a named table and deleted in the same transaction, whose overflow pages
/// end up on the free list) raises the header's page count without writing those pages
/// anywhere. Until a checkpoint grows the main file, the pages exist in neither file, and
/// `open::check_page_count` refuses the header as corrupt ("header claims 7 pages but the
/// main file holds 1 and the WAL 4 frames"): after a crash or a failed close, the database
/// cannot be opened at all.
#[test]
fn regression_pages_freed_by_their_own_commit_fail_the_reopen() {
    // The minimized fuzz input: that commit, an EIO on the next I/O step (the close's
    // checkpoint), and a reopen.
    harness::set_strict(true);
    harness::ops_model(&[
        0x00, 0x00, 0x03, 0x00, 0x11, 0x05, 0x00, 0x12, 0x22, 0xc6, 0x05, 0x10, 0x27, 0xff, 0x33,
        0xff, 0x8a, 0x00, 0x00, 0x09, 0x0d,
    ]);
}

/// The same finding through the public API: that commit, then a power cut before any
/// checkpoint.
#[test]
fn regression_pages_freed_by_their_own_commit_fail_the_reopen_after_a_crash() {
    use folio::storage::SimVfs;
    use std::sync::Arc;

    let vfs = SimVfs::new();
    let db = Options::new().vfs(Arc::new(vfs.clone())).auto_checkpoint(0).open("/db").unwrap();
    let mut tx = db.begin_write().unwrap();
    tx.put(b"a", b"x").unwrap();
    tx.table("t1").unwrap().put(b"big", &[1u8; 12_350]).unwrap();
    assert!(tx.table("t1").unwrap().delete(b"big").unwrap());
    tx.commit().unwrap();
    vfs.crash_now();
    let image = vfs.crash_image(0).unwrap();
    drop(db);
    let db = Options::new().vfs(Arc::new(image)).open("/db").expect("reopen after the crash");
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"x"[..]));
    assert!(db.check().unwrap().is_ok());
}

/// Finding (ops_model): at `Synchronous::Extra`, a commit that grows the WAL syncs the
/// directory after the WAL (`db::Shared::finish_commit` → `Shared::sync_dir`). When that
/// directory sync fails, the commit returns the error, but the fence is not tripped and the
/// commit, already durable in the WAL, stays in the writer's state unpublished: the next
/// commit publishes it with its own changes, `close` waits 5 s for it to publish and leaves
/// it in the WAL, and the next open replays it. A commit reported as failed comes back.
/// Minimized input: an ENOSPC at the directory sync of the first commit, then a reopen.
#[test]
fn regression_failed_directory_sync_commit_comes_back() {
    harness::set_strict(true);
    harness::ops_model(&[
        0x12, 0x2a, 0xff, 0xff, 0xff, 0x41, 0xff, 0x05, 0x45, 0x9d, 0x9d, 0x01, 0x9d, 0x9d, 0x99,
        0x99,
    ]);
}

/// The same finding through the public API: ENOSPC injected at each I/O step of a commit
/// that creates the WAL's first frames at `Extra`; a failure that does not fence the handle
/// must leave no trace of the commit, before or after a reopen.
#[test]
fn regression_failed_directory_sync_commit_comes_back_through_the_api() {
    use folio::storage::{Fault, SimVfs};
    use folio::{Error, Synchronous};
    use std::sync::Arc;

    let open = |vfs: &SimVfs| {
        Options::new()
            .vfs(Arc::new(vfs.clone()))
            .synchronous(Synchronous::Extra)
            .auto_checkpoint(0)
            .open("/db")
            .unwrap()
    };
    for k in 1..=12 {
        let vfs = SimVfs::new();
        let db = open(&vfs);
        vfs.fail_at(vfs.steps() + k, Fault::NoSpace);
        if db.put(b"k", &[1u8; 3000]).is_ok() {
            continue;
        }
        if matches!(db.begin_read(), Err(Error::NeedsRecovery(_))) {
            continue; // fenced: the next open decides, which is allowed either way
        }
        assert_eq!(db.get(b"k").unwrap(), None, "step +{k}: the failed commit is visible");
        db.put(b"other", b"v").unwrap();
        assert_eq!(db.get(b"k").unwrap(), None, "step +{k}: the next commit published it");
        db.close().unwrap();
        let db = open(&vfs);
        assert_eq!(db.get(b"k").unwrap(), None, "step +{k}: the failed commit came back");
    }
}

/// Finding (ops_model): at `Synchronous::Extra`, a checkpoint that grows the main file syncs
/// the directory after syncing the main file (`checkpoint::backfill`). When that directory
/// sync fails, the error is returned without tripping the fence and before the new main map
/// is published and `nbackfill` advances. The next checkpoint finds the file already long
/// enough (`need > have` is false), so it publishes no new map, yet advances `nbackfill`:
/// readers then read pages from the main file through the old, too short map and get
/// `Error::Corrupt` ("page 5 lies beyond the end of the main file (4096 bytes)") on a
/// healthy database. Input as found (minimizing drifted to the page-count finding above):
/// a commit, an ENOSPC at the checkpoint's directory sync, a second checkpoint.
#[test]
fn regression_failed_checkpoint_directory_sync_leaves_the_main_map_short() {
    harness::set_strict(true);
    harness::ops_model(&[
        0x56, 0x56, 0x56, 0x04, 0x00, 0x02, 0x03, 0x58, 0x22, 0x09, 0x33, 0xff, 0xc7, 0xf5, 0xda,
        0x2d, 0xda, 0xda, 0xda, 0x81, 0xda, 0xda, 0xda, 0x80, 0xda, 0xda, 0x84, 0x0a, 0xda, 0xda,
        0x84, 0x0a, 0x79, 0x00, 0x01, 0xe1, 0x34, 0x00, 0x00, 0x00, 0x0a, 0x0a, 0x3b, 0x86, 0x7e,
        0x0b, 0x2a, 0xf6, 0xff, 0xff, 0xff, 0x0d,
    ]);
}

/// The same finding through the public API: ENOSPC injected at each I/O step of a
/// checkpoint that grows the main file at `Extra`; when the failure does not fence the
/// handle, a second checkpoint must leave every key readable.
#[test]
fn regression_failed_checkpoint_directory_sync_leaves_the_main_map_short_through_the_api() {
    use folio::storage::{Fault, SimVfs};
    use folio::{Error, Synchronous};
    use std::sync::Arc;

    let key = |i: u32| format!("key{i:05}").into_bytes();
    let mut unfenced_failures = 0;
    for k in 1..=24 {
        let vfs = SimVfs::new();
        let db = Options::new()
            .vfs(Arc::new(vfs.clone()))
            .synchronous(Synchronous::Extra)
            .auto_checkpoint(0)
            .open("/db")
            .unwrap();
        let mut tx = db.begin_write().unwrap();
        for i in 0..200 {
            tx.put(&key(i), &[i as u8; 100]).unwrap();
        }
        tx.commit().unwrap();
        vfs.fail_at(vfs.steps() + k, Fault::NoSpace);
        if db.checkpoint(CheckpointMode::Passive).is_ok()
            || matches!(db.begin_read(), Err(Error::NeedsRecovery(_)))
        {
            continue;
        }
        // Every failure now fences the handle; should one not, the database must still read.
        unfenced_failures += 1;
        db.checkpoint(CheckpointMode::Passive).unwrap();
        let rx = db.begin_read().unwrap();
        for i in 0..200 {
            let got = rx.get(&key(i)).unwrap_or_else(|e| panic!("step +{k}: key {i}: {e}"));
            assert_eq!(got.as_deref(), Some(&[i as u8; 100][..]), "step +{k}: key {i}");
        }
    }
    assert_eq!(unfenced_failures, 0, "a failed checkpoint left the handle unfenced");
}
