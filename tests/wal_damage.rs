//! Damage to WAL frames that had been synced is data loss, not a torn tail (SPEC §6):
//! recovery reports the commits lost, a read-write open keeps a byte-identical copy of the
//! WAL as found (`<wal>.damaged-N`) before anything can overwrite it, and `check()` reports
//! the damage until it is acknowledged. A tail torn by a crash, with intact frames after a
//! lost one, must never be reported as damage.

mod common;
#[path = "common/crash.rs"]
mod crash;

use std::path::{Path, PathBuf};

use common::{Tables, copy_db, wal_path};
use crash::{DB, SimOpts, read_all};
use folio::format::wal::{FRAME_HEADER_SIZE, FrameHeader, frame_offset};
use folio::storage::{Fault, SimVfs};
use folio::{Database, Options, Synchronous};

const PAGE: usize = 4096;

fn key(i: u32) -> Vec<u8> {
    format!("key{i:03}").into_bytes()
}

/// A database whose WAL holds `n` durable one-frame commits (`key000`..), as a crash would
/// leave it: the files of a live handle, copied to `name` beside it.
fn durable_commits(dir: &Path, n: u32, name: &str) -> PathBuf {
    let live = dir.join(format!("{name}-live.db"));
    let db = Options::new().auto_checkpoint(0).open(&live).unwrap();
    for i in 0..n {
        db.put(&key(i), &i.to_le_bytes()).unwrap();
    }
    let path = dir.join(name);
    copy_db(&live, &path);
    drop(db);
    path
}

fn damaged_copy(path: &Path, n: u32) -> PathBuf {
    let mut s = wal_path(path).into_os_string();
    s.push(format!(".damaged-{n}"));
    PathBuf::from(s)
}

fn keys_of(db: &Database) -> Vec<Vec<u8>> {
    db.begin_read().unwrap().range(..).unwrap().map(|r| r.unwrap().0.to_vec()).collect()
}

fn problems(db: &Database) -> Vec<String> {
    db.check().unwrap().problems
}

/// Regression: a flipped bit in frame 25 of 50 durable commits made recovery keep 24 of them
/// and drop the rest silently: `check()` said ok, and only `stats` mentioned a "damaged
/// tail". Each commit here is one frame (one page changed), so frame 25 is commit 25.
#[test]
fn regression_mid_wal_damage_silently_drops_every_later_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = durable_commits(dir.path(), 50, "flip.db");
    let wal = wal_path(&path);
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes[frame_offset(25, PAGE as u32) as usize + FRAME_HEADER_SIZE + 200] ^= 0x04;
    std::fs::write(&wal, &bytes).unwrap();

    // Read-only: reports the damage, writes nothing.
    let ro = Options::new().read_only(true).open(&path).unwrap();
    let info = ro.recovery_info();
    assert_eq!(info.commits_replayed, 24, "{info:?}");
    assert_eq!(info.damaged_frame, Some(25), "{info:?}");
    assert_eq!(info.commits_lost, 26, "commits 25..=50: {info:?}");
    assert_eq!(info.frames_intact_after_damage, 25, "frames 26..=50: {info:?}");
    assert!(info.data_lost() && info.tail_corrupt);
    let p = problems(&ro);
    assert!(p.len() == 1 && p[0].contains("frame 25"), "{p:?}");
    drop(ro);
    assert_eq!(std::fs::read(&wal).unwrap(), bytes, "a read-only open changed the WAL");
    assert!(!damaged_copy(&path, 1).exists(), "a read-only open made a copy");

    // Read-write: the copy is the WAL as found, made before anything overwrites it.
    let db = Database::open(&path).unwrap();
    assert_eq!(db.recovery_info(), info);
    let copy = damaged_copy(&path, 1);
    assert_eq!(std::fs::read(&copy).unwrap(), bytes, "the copy differs from the WAL found");
    assert_eq!(keys_of(&db), (0..24).map(key).collect::<Vec<_>>());
    let p = problems(&db);
    assert!(p.len() == 1 && p[0].contains("26 commit(s)"), "{p:?}");
    assert!(p[0].contains(&copy.display().to_string()), "{p:?}");
    // New commits overwrite the damaged frames; the report stays until acknowledged, across
    // a reopen, and the reopen finds no new damage (no second copy).
    for i in 100..103 {
        db.put(&key(i), b"new").unwrap();
    }
    drop(db);
    let db = Database::open(&path).unwrap();
    assert!(!db.recovery_info().data_lost(), "{:?}", db.recovery_info());
    assert!(!damaged_copy(&path, 2).exists());
    let p = problems(&db);
    assert!(p.len() == 1 && p[0].contains(&copy.display().to_string()), "{p:?}");
    assert_eq!(keys_of(&db).len(), 27);

    let acked = db.acknowledge_wal_damage().unwrap();
    let mut want = copy.clone().into_os_string();
    want.push(".acknowledged");
    assert_eq!(acked, vec![PathBuf::from(want)]);
    assert!(acked[0].exists() && !copy.exists());
    assert!(db.check().unwrap().is_ok());
    db.close().unwrap();
    let db = Database::open(&path).unwrap();
    assert!(db.check().unwrap().is_ok(), "the acknowledgement did not survive a reopen");
    assert_eq!(keys_of(&db).len(), 27);
}

/// A flipped salt bit used to read as a clean end of the log, dropping every later commit
/// without even `tail_corrupt`. Removing the copy acknowledges the damage too.
#[test]
fn flipped_salt_bit_in_a_durable_frame_is_data_loss() {
    let dir = tempfile::tempdir().unwrap();
    let path = durable_commits(dir.path(), 30, "salt.db");
    let wal = wal_path(&path);
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes[frame_offset(10, PAGE as u32) as usize + 8] ^= 0x01;
    std::fs::write(&wal, &bytes).unwrap();
    let db = Database::open(&path).unwrap();
    let info = db.recovery_info();
    assert_eq!((info.commits_replayed, info.damaged_frame), (9, Some(10)), "{info:?}");
    assert_eq!(info.commits_lost, 21, "{info:?}");
    assert!(info.tail_corrupt, "{info:?}");
    assert!(!db.check().unwrap().is_ok());
    std::fs::remove_file(damaged_copy(&path, 1)).unwrap();
    assert!(db.check().unwrap().is_ok());
}

/// Copies are numbered by the first number no copy (acknowledged or not) uses.
#[test]
fn each_damaged_wal_gets_the_next_unused_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = durable_commits(dir.path(), 12, "twice.db");
    let damage = |path: &Path, frame: u64| {
        let wal = wal_path(path);
        let mut bytes = std::fs::read(&wal).unwrap();
        bytes[frame_offset(frame, PAGE as u32) as usize + FRAME_HEADER_SIZE + 9] ^= 0x80;
        std::fs::write(&wal, &bytes).unwrap();
        bytes
    };
    let first = damage(&path, 5);
    let db = Database::open(&path).unwrap();
    db.acknowledge_wal_damage().unwrap();
    for i in 200..210 {
        db.put(&key(i), b"x").unwrap();
    }
    let again = dir.path().join("again.db");
    copy_db(&path, &again);
    drop(db);
    // The acknowledged copy of `twice.db` sits beside `again.db`'s files under the other
    // name; give `again.db` one of its own to skip.
    let mut acked = damaged_copy(&again, 1).into_os_string();
    acked.push(".acknowledged");
    std::fs::write(&acked, &first).unwrap();
    let second = damage(&again, 8);
    let db = Database::open(&again).unwrap();
    assert!(db.recovery_info().data_lost());
    assert!(!damaged_copy(&again, 1).exists());
    assert_eq!(std::fs::read(damaged_copy(&again, 2)).unwrap(), second);
}

/// If the copy cannot be made, the open fails and changes nothing: the damaged WAL is never
/// overwritten without a copy. Each step of keeping the copy is failed in turn.
#[test]
fn failing_to_keep_the_copy_fails_the_open_and_keeps_the_wal() {
    let vfs = SimVfs::new();
    let opts = SimOpts::default();
    let db = opts.open(&vfs).unwrap();
    for i in 0..20 {
        db.put(&key(i), b"v").unwrap();
    }
    vfs.crash_now();
    drop(db);
    let image = vfs.crash_image(0).unwrap();
    let wal = Path::new("/sim/app.db-wal");
    let mut bytes = image.read_file(wal).unwrap();
    bytes[frame_offset(7, PAGE as u32) as usize + FRAME_HEADER_SIZE + 50] ^= 0x10;
    let plant = || {
        let v = SimVfs::new();
        v.write_file(Path::new(DB), &image.read_file(Path::new(DB)).unwrap()).unwrap();
        v.write_file(wal, &bytes).unwrap();
        v
    };
    let copy = Path::new("/sim/app.db-wal.damaged-1");
    // Steps of a good open: create the copy, write it, sync it, sync the directory, cut and
    // sync the WAL.
    let v = plant();
    let before = v.steps();
    let db = opts.open(&v).unwrap();
    let steps = v.steps() - before;
    drop(db);
    assert!(steps >= 6, "steps to keep a copy: {steps}");
    for k in 1..=steps - 2 {
        let v = plant();
        v.fail_at(v.steps() + k, Fault::NoSpace);
        let e = opts.open(&v).expect_err("the copy failed");
        assert!(matches!(e, folio::Error::Io { .. }), "step {k}: {e:?}");
        assert_eq!(v.read_file(wal).unwrap(), bytes, "step {k}: the WAL changed");
        assert!(v.read_file(copy).is_none(), "step {k}: an incomplete copy was left");
        // Once space is available, the open succeeds.
        let db = opts.open(&v).unwrap();
        assert!(db.recovery_info().data_lost());
        assert_eq!(v.read_file(copy).unwrap(), bytes, "step {k}");
    }
    // Cutting the WAL back fails: the copy is complete, the next open uses it rather than
    // making a second one, and check() reports it.
    for k in steps - 1..=steps {
        let v = plant();
        v.fail_at(v.steps() + k, Fault::NoSpace);
        opts.open(&v).expect_err("cutting the WAL failed");
        assert_eq!(v.read_file(copy).unwrap(), bytes, "step {k}");
        // (When only the sync failed, the WAL was cut already and reads clean.)
        let db = opts.open(&v).unwrap();
        assert!(v.read_file(Path::new("/sim/app.db-wal.damaged-2")).is_none(), "step {k}");
        let p = db.check().unwrap().problems;
        assert!(p.len() == 1 && p[0].contains("damaged-1"), "step {k}: {p:?}");
    }
}

/// The frames of the current generation after the first one that breaks the chain that
/// verify against the checksum stored in the frame before them (how recovery finds frames
/// intact after a hole).
fn intact_after_hole(wal: &[u8]) -> usize {
    let fsize = FRAME_HEADER_SIZE + PAGE;
    let salt = &wal[24..32];
    let at = |n: u64| frame_offset(n, PAGE as u32) as usize;
    let crc_of = |n: u64| u32::from_le_bytes(wal[at(n) + 16..at(n) + 20].try_into().unwrap());
    let valid = |n: u64, seed: u32| {
        let raw = &wal[at(n)..at(n) + fsize];
        let (hdr, page) = raw.split_at(FRAME_HEADER_SIZE);
        &hdr[8..16] == salt && FrameHeader::decode(hdr).unwrap().verify(hdr, seed, page)
    };
    let mut seed = u32::from_le_bytes(wal[40..44].try_into().unwrap());
    let mut n = 1;
    while at(n) + fsize <= wal.len() && valid(n, seed) {
        seed = crc_of(n);
        n += 1;
    }
    let mut intact = 0;
    let mut m = n + 1;
    while at(m) + fsize <= wal.len() {
        intact += usize::from(valid(m, crc_of(m - 1)));
        m += 1;
    }
    intact
}

/// Power cuts on the simulator while unsynced commits (at `Off`) follow durable ones: any
/// unsynced write may be lost or torn, so lost frames are often followed by intact ones.
/// None of that is data loss: `check()` is clean and nothing is copied.
#[test]
fn torn_tails_from_the_simulator_are_not_reported_as_damage() {
    let (mut holes, mut images) = (0, 0);
    for workload in 0..6u32 {
        let vfs = SimVfs::new();
        let db = SimOpts::default().open(&vfs).unwrap();
        let mut model = Tables::new();
        for i in 0..15 {
            db.put(&key(i), &[i as u8; 700]).unwrap();
            model.entry(None).or_default().insert(key(i), vec![i as u8; 700]);
        }
        let durable = model.clone();
        db.set_synchronous(Synchronous::Off);
        for c in 0..12 + workload {
            let mut tx = db.begin_write().unwrap();
            for j in 0..4 {
                tx.put(&key(300 + c * 10 + j), &[7u8; 1500]).unwrap();
            }
            tx.commit().unwrap();
        }
        vfs.crash_now();
        drop(db);
        for seed in 0..24u64 {
            let ctx = format!("workload {workload}, image seed {seed}");
            let image = vfs.crash_image(u64::from(workload) << 32 | seed).unwrap();
            let wal = image.read_file(Path::new("/sim/app.db-wal")).unwrap();
            let hole = intact_after_hole(&wal) > 0;
            holes += usize::from(hole);
            images += 1;
            let db = SimOpts::default().open(&image).unwrap();
            let info = db.recovery_info();
            assert!(!info.data_lost(), "{ctx}: a torn tail reported as data loss: {info:?}");
            assert!(db.check().unwrap().is_ok(), "{ctx}: {}", db.check().unwrap());
            let got = read_all(&db).unwrap();
            for (k, v) in &durable[&None] {
                assert_eq!(got[&None].get(k), Some(v), "{ctx}: a durable commit was lost");
            }
            drop(db);
            assert!(image.read_file(Path::new("/sim/app.db-wal.damaged-1")).is_none(), "{ctx}");
        }
    }
    eprintln!("torn-tail images: {images}, with intact frames after a lost one: {holes}");
    assert!(holes >= images / 4, "too few images exercise a hole ({holes} of {images})");
}
