//! Hostile and mistaken inputs: random bytes as a database, damaged headers and pages (with
//! their checksums resealed so the damage reaches the parsers), bad paths and options, a
//! second open, read-only handles, and a WAL that belongs to another database. Every case
//! must end in an error or a working database: never a panic, a hang, or a changed file.

mod common;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use common::{Rng, assert_check_ok, copy_db, wal_path};
use folio::format::checksum::seal_page;
use folio::{CheckpointMode, Database, Error, Options};

const PAGE: usize = 4096;

/// Runs `f` on another thread and fails if it panics or takes longer than `secs` seconds
/// (an infinite loop on hostile input).
fn guarded<T: Send + 'static>(secs: u64, ctx: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => {
            handle.join().unwrap();
            v
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{ctx}: panicked (see above)"),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{ctx}: did not finish in {secs} s"),
    }
}

/// What opening and using a hostile database did (anything but a panic is acceptable).
#[derive(Debug)]
enum Outcome {
    OpenFailed(#[allow(dead_code)] String),
    /// Opened; whether `check()` was clean and whether every read succeeded.
    Opened {
        check_ok: bool,
        reads_ok: bool,
    },
    /// Opened although its header claims far more pages than the main file and the WAL
    /// hold (pinned by `regression_page_count_beyond_the_files_is_corrupt`). `check()` and
    /// writes are skipped: `check()` allocates memory per claimed page, and a write would
    /// grow the file to the claimed size.
    BogusPageCount(#[allow(dead_code)] u64),
}

/// Opens `path` and, if that works, reads everything, checks, writes and closes. Errors are
/// fine; panics and hangs are not (see [`guarded`]).
fn exercise(path: PathBuf) -> Outcome {
    let db = match Database::open(&path) {
        Ok(db) => db,
        Err(e) => return Outcome::OpenFailed(e.to_string()),
    };
    let claimed = implausible_page_count(&db, &path);
    let mut reads_ok = true;
    if let Ok(rx) = db.begin_read() {
        reads_ok &= drain(rx.range(..));
        reads_ok &= drain(rx.range(..).map(|r| r.rev()));
        reads_ok &= drain(rx.prefix(b"k"));
        reads_ok &= rx.get(b"").is_ok() & rx.get(b"key00100").is_ok();
        match rx.table_names() {
            Ok(names) => {
                for n in names.iter().take(10) {
                    match rx.table(n) {
                        Ok(t) => {
                            reads_ok &= t.get(b"x").is_ok();
                            reads_ok &= drain(t.range(..));
                        }
                        Err(_) => reads_ok = false,
                    }
                }
            }
            Err(_) => reads_ok = false,
        }
    } else {
        reads_ok = false;
    }
    if let Some(pages) = claimed {
        std::mem::forget(db); // closing would checkpoint, growing the file to the claim
        return Outcome::BogusPageCount(pages);
    }
    let check_ok = matches!(db.check(), Ok(r) if r.is_ok());
    let _ = db.stats();
    let _ = db.put(b"hostile", b"write");
    let _ = db.delete(b"key00001");
    if let Ok(mut tx) = db.begin_write() {
        let _ = tx.put(b"x", &[1u8; 5000]);
        if let Ok(mut t) = tx.table("t0") {
            let _ = t.put(b"y", b"z");
        }
        let _ = tx.commit();
    }
    let _ = db.checkpoint(CheckpointMode::Passive);
    let _ = db.close();
    Outcome::Opened { check_ok, reads_ok }
}

/// The page count the database claims, if it is far more than the main file and the WAL can
/// hold. Taken from the stats, or (when the stats fail) from the main file's header.
fn implausible_page_count(db: &Database, path: &Path) -> Option<u64> {
    let file_pages = std::fs::metadata(path).map_or(0, |m| m.len()) / PAGE as u64;
    let wal_frames = std::fs::metadata(wal_path(path)).map_or(0, |m| m.len()) / PAGE as u64;
    let claimed = match db.stats() {
        Ok(st) => st.page_count,
        Err(_) => {
            let head = std::fs::read(path).ok()?;
            u32::from_le_bytes(head.get(32..36)?.try_into().ok()?) as u64
        }
    };
    (claimed > file_pages + wal_frames + 16).then_some(claimed)
}

/// Reads up to 100,000 entries; whether all of them could be read.
fn drain<'a, I>(it: Result<I, Error>) -> bool
where
    I: Iterator<Item = folio::Result<(&'a [u8], folio::Value<'a>)>>,
{
    match it {
        Ok(it) => it.take(100_000).all(|item| item.is_ok()),
        Err(_) => false,
    }
}

#[test]
fn random_bytes_as_a_database_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    // Every size up to 100 bytes with a few seeds; page-sized files with many.
    let mut cases: Vec<(u64, usize)> =
        (0..8).flat_map(|s| (0..=100).map(move |n| (s, n))).collect();
    for seed in 0..60 {
        for size in [PAGE - 1, PAGE, PAGE + 1, 2 * PAGE, 3 * PAGE + 7, 16 * PAGE] {
            cases.push((seed, size));
        }
    }
    let mut counts = [0usize; 3];
    for (seed, size) in cases {
        let mut rng = Rng::new(seed << 32 | size as u64);
        let mut bytes = rng.bytes(size);
        // Odd seeds make it look like a folio database, so the parsers past the magic
        // check see random fields: a header with random or plausible fields, and pages
        // of random content but a valid type and checksum.
        if seed % 2 == 1 && size >= 96 {
            bytes[4] = 1;
            bytes[16..24].copy_from_slice(b"folio-db");
            bytes[24..28].copy_from_slice(&1u32.to_le_bytes());
            if rng.percent(70) {
                bytes[28..32].copy_from_slice(&(PAGE as u32).to_le_bytes());
            }
            let pages = (size / PAGE) as u64;
            if pages >= 1 && rng.percent(70) {
                let h = &mut bytes[..PAGE];
                put_u32(h, 32, pages as u32);
                put_u32(h, 36, 0);
                put_u32(h, 40, 0);
                put_u32(h, 64, rng.below(pages) as u32);
                put_u32(h, 80, rng.below(pages) as u32 * rng.below(2) as u32);
                for p in 1..pages as usize {
                    let page = &mut bytes[p * PAGE..(p + 1) * PAGE];
                    page[4] = rng.range(2, 5) as u8;
                    page[5] = 0;
                    if rng.percent(50) {
                        // A plausible cell count and content start.
                        page[6..8].copy_from_slice(&(rng.below(40) as u16).to_le_bytes());
                        put_u32(page, 8, rng.range(16, PAGE) as u32);
                    }
                    seal_page(page);
                }
            }
            if size >= PAGE && rng.percent(80) {
                seal_page(&mut bytes[..PAGE]);
            }
        }
        let path = dir.path().join(format!("r{seed}-{size}.db"));
        std::fs::write(&path, &bytes).unwrap();
        let ctx = format!("random file, seed {seed}, {size} bytes");
        let outcome = guarded(20, &ctx, move || exercise(path));
        if size == 0 {
            // An empty file is a new database.
            assert!(
                matches!(outcome, Outcome::Opened { check_ok: true, .. }),
                "{ctx}: {outcome:?}"
            );
        }
        match outcome {
            Outcome::OpenFailed(_) => counts[0] += 1,
            Outcome::Opened { .. } => counts[1] += 1,
            Outcome::BogusPageCount(_) => counts[2] += 1,
        }
    }
    println!(
        "random files: open failed {}, opened {}, bogus page count accepted {}",
        counts[0], counts[1], counts[2]
    );
}

#[test]
fn random_wal_beside_a_valid_database_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.db");
    let live = populated(&base);
    for seed in 0..40u64 {
        let mut rng = Rng::new(seed);
        let path = dir.path().join(format!("w{seed}.db"));
        copy_db(&base, &path);
        let wal = wal_path(&path);
        let mut bytes = std::fs::read(&wal).unwrap();
        match seed % 4 {
            // Entirely random.
            0 => bytes = rng.bytes_between(0, 5 * (PAGE + 24)),
            // Valid header, random frames.
            1 => {
                let body = rng.bytes_between(0, 5 * (PAGE + 24));
                bytes.truncate(48);
                bytes.extend(body);
            }
            // Random bytes scattered over real frames.
            2 => {
                for _ in 0..rng.range(1, 20) {
                    let i = rng.below(bytes.len() as u64) as usize;
                    bytes[i] = rng.next_u64() as u8;
                }
            }
            // Truncated at a random point.
            _ => bytes.truncate(rng.range(0, bytes.len())),
        }
        std::fs::write(&wal, &bytes).unwrap();
        let ctx = format!("damaged WAL, seed {seed}");
        let copy = {
            let mut s = wal.clone().into_os_string();
            s.push(".damaged-1");
            std::path::PathBuf::from(s)
        };
        let outcome = guarded(20, &ctx, move || exercise(path));
        // The WAL's damage can lose commits but never make the main file unreadable. Damage
        // to frames that were synced is reported (a copy of the WAL is kept): then check()
        // says so.
        let reported = copy.exists();
        assert!(
            matches!(
                outcome,
                Outcome::Opened { check_ok: true, reads_ok: true } | Outcome::OpenFailed(_)
            ) || (reported && matches!(outcome, Outcome::Opened { reads_ok: true, .. })),
            "{ctx}: {outcome:?}"
        );
    }
    live.close().unwrap();
}

/// A database with a few hundred pages: a multi-level tree, overflow chains, named tables
/// and a free list. Returns the live handle (its commits are in the WAL) after a checkpoint.
fn populated(path: &Path) -> Database {
    let db = Options::new().auto_checkpoint(0).open(path).unwrap();
    let mut rng = Rng::new(77);
    let mut tx = db.begin_write().unwrap();
    for i in 0..3000u32 {
        let v = if i % 97 == 0 { rng.bytes(9000) } else { rng.bytes_between(0, 120) };
        tx.put(format!("key{i:05}").as_bytes(), &v).unwrap();
    }
    for t in ["t0", "t1"] {
        let mut tm = tx.table(t).unwrap();
        for i in 0..300u32 {
            tm.put(format!("{t}-{i}").as_bytes(), &[i as u8; 40]).unwrap();
        }
    }
    tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in (0..3000u32).step_by(3) {
        tx.delete(format!("key{i:05}").as_bytes()).unwrap();
    }
    tx.commit().unwrap();
    db.put(b"after-delete", b"1").unwrap();
    db
}

/// A closed (fully checkpointed, WAL removed) copy of [`populated`].
fn closed_base(dir: &Path) -> (PathBuf, Vec<u8>) {
    let path = dir.join("closed.db");
    populated(&path).close().unwrap();
    assert!(!wal_path(&path).exists());
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() >= 50 * PAGE, "{} bytes", bytes.len());
    (path, bytes)
}

#[test]
fn damaged_pages_with_valid_checksums_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (_, base) = closed_base(dir.path());
    let pages = base.len() / PAGE;
    let mut stats = [0usize; 4];
    for seed in 0..200u64 {
        let mut rng = Rng::new(0xbad_0000 + seed);
        let mut bytes = base.clone();
        for _ in 0..rng.range(1, 3) {
            // Damage a page (the header page now and then), then reseal its checksum so the
            // damage is only visible to the structural checks.
            let p = if rng.percent(10) { 0 } else { rng.range(1, pages - 1) };
            let page = &mut bytes[p * PAGE..(p + 1) * PAGE];
            for _ in 0..rng.range(1, 4) {
                let at = if rng.percent(60) {
                    rng.range(4, 40) // the page header and the first slots or fields
                } else {
                    rng.range(4, PAGE - 4)
                };
                let width = *rng.pick(&[1usize, 2, 4]);
                let value: u32 = match rng.below(6) {
                    0 => 0,
                    1 => u32::MAX,
                    2 => pages as u32,
                    3 => rng.below(pages as u64) as u32,
                    4 => PAGE as u32,
                    _ => rng.next_u64() as u32,
                };
                let at = at.min(PAGE - width);
                page[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
            }
            seal_page(page);
        }
        let path = dir.path().join(format!("d{seed}.db"));
        std::fs::write(&path, &bytes).unwrap();
        let ctx = format!("damaged pages, seed {seed}");
        let outcome = guarded(20, &ctx, move || exercise(path));
        match outcome {
            Outcome::OpenFailed(_) => stats[0] += 1,
            Outcome::Opened { check_ok: true, reads_ok } => {
                stats[1] += 1;
                // A database check() calls clean must be fully readable.
                assert!(reads_ok, "{ctx}: check() was clean but reads failed");
            }
            Outcome::Opened { check_ok: false, .. } => stats[2] += 1,
            Outcome::BogusPageCount(_) => stats[3] += 1,
        }
    }
    println!(
        "open failed {}, clean {}, check found problems {}, bogus page count accepted {}",
        stats[0], stats[1], stats[2], stats[3]
    );
}

/// Patches page 0 of a copy of `base` with `patch`, reseals it if asked, and opens it.
fn open_patched_header(
    dir: &Path,
    base: &[u8],
    name: &str,
    reseal: bool,
    patch: impl FnOnce(&mut [u8]),
) -> Result<Database, Error> {
    let mut bytes = base.to_vec();
    patch(&mut bytes[..PAGE]);
    if reseal {
        seal_page(&mut bytes[..PAGE]);
    }
    let path = dir.join(format!("{name}-{reseal}.db"));
    std::fs::write(&path, &bytes).unwrap();
    let r = Options::new().open(&path);
    if r.is_err() {
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name}: a failed open changed the file");
    }
    r
}

fn put_u32(page: &mut [u8], off: usize, v: u32) {
    page[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn corrupt_header_fields_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, base) = closed_base(dir.path());
    let pages = (base.len() / PAGE) as u32;
    type Patch = Box<dyn Fn(&mut [u8])>;
    let cases: Vec<(&str, Patch)> = vec![
        ("page size 3000", Box::new(|p| put_u32(p, 28, 3000))),
        ("page size 0", Box::new(|p| put_u32(p, 28, 0))),
        ("page size 2048", Box::new(|p| put_u32(p, 28, 2048))),
        ("page size 131072", Box::new(|p| put_u32(p, 28, 131072))),
        ("page size 65536 larger than the file", Box::new(|p| put_u32(p, 28, 65536))),
        ("page count 0", Box::new(|p| put_u32(p, 32, 0))),
        ("page count u32::MAX", Box::new(|p| put_u32(p, 32, u32::MAX))),
        ("default root beyond page count", Box::new(move |p| put_u32(p, 64, pages + 5))),
        ("default root u32::MAX", Box::new(|p| put_u32(p, 64, u32::MAX))),
        ("catalog root beyond page count", Box::new(move |p| put_u32(p, 80, pages))),
        ("free-list head beyond page count", Box::new(move |p| put_u32(p, 36, pages + 1))),
        ("free count >= page count", Box::new(move |p| put_u32(p, 40, pages))),
        ("format version 1 (before table ids)", Box::new(|p| put_u32(p, 24, 1))),
        ("format version 3", Box::new(|p| put_u32(p, 24, 3))),
        ("next table id 0", Box::new(|p| put_u32(p, 44, 0))),
        ("default table id not 2", Box::new(|p| put_u32(p, 68, 3))),
        ("catalog id not 1", Box::new(|p| put_u32(p, 84, 0))),
        ("page type not meta", Box::new(|p| p[4] = 3)),
        ("magic damaged", Box::new(|p| p[16] ^= 0x20)),
    ];
    for (name, patch) in &cases {
        for reseal in [false, true] {
            match open_patched_header(dir.path(), &base, name, reseal, patch) {
                Err(Error::Corrupt { detail: msg, .. }) => {
                    assert!(!msg.is_empty());
                }
                Err(e) => panic!("{name} (resealed: {reseal}): expected Corrupt, got {e:?}"),
                Ok(db) => {
                    let stats = db.stats();
                    let check = db.check().map(|r| r.to_string());
                    panic!(
                        "{name} (resealed: {reseal}): open succeeded; stats {stats:?}, check {check:?}"
                    )
                }
            }
        }
    }
    // The unpatched base still opens: the failures were the patches'.
    let path = dir.path().join("unpatched.db");
    std::fs::write(&path, &base).unwrap();
    let db = Database::open(&path).unwrap();
    assert_check_ok(&db, "unpatched");
}

#[test]
fn bad_paths_are_invalid_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let expect_invalid = |r: Result<Database, Error>, what: &str| match r {
        Err(Error::InvalidArgument(msg)) => assert!(!msg.is_empty(), "{what}"),
        other => panic!("{what}: expected InvalidArgument, got {other:?}"),
    };
    expect_invalid(Database::open(dir.path()), "a directory");
    expect_invalid(Database::open(""), "an empty path");
    expect_invalid(
        Database::open(dir.path().join("missing").join("a.db")),
        "a missing parent directory",
    );
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    expect_invalid(Database::open(file.join("a.db")), "a parent that is a file");
    // Nothing was created.
    let entries: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("plain")]);
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let text = b"This is a text file, not a folio database.\n".repeat(200);
    for (name, bytes) in [
        ("notes.txt", text.clone()),
        ("short.txt", b"hello".to_vec()),
        ("zeros.bin", vec![0u8; 3 * PAGE]),
        ("sqlite.db", {
            let mut b = b"SQLite format 3\0".to_vec();
            b.resize(PAGE, 0);
            b
        }),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        for read_only in [false, true] {
            match Options::new().read_only(read_only).open(&path) {
                Err(Error::Corrupt { .. }) => {}
                other => panic!("{name} (read-only {read_only}): expected Corrupt, got {other:?}"),
            }
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name}: file changed");
            assert!(!wal_path(&path).exists(), "{name}: a WAL was created");
        }
    }
}

#[test]
fn invalid_page_size_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for ps in [0u32, 1, 3000, 2048, 4095, 4097, 12288, 131072, u32::MAX] {
        let path = dir.path().join(format!("ps{ps}.db"));
        match Options::new().page_size(ps).open(&path) {
            Err(Error::InvalidArgument(msg)) => assert!(msg.contains(&ps.to_string()), "{msg}"),
            other => panic!("page size {ps}: expected InvalidArgument, got {other:?}"),
        }
        assert!(!path.exists(), "page size {ps}: a file was created");
        assert!(matches!(
            Database::memory_with(Options::new().page_size(ps)),
            Err(Error::InvalidArgument(_))
        ));
    }
    // Every valid size works, and an existing database keeps its own page size.
    for ps in [4096u32, 8192, 16384, 32768, 65536] {
        let path = dir.path().join(format!("ok{ps}.db"));
        let db = Options::new().page_size(ps).open(&path).unwrap();
        db.put(b"k", b"v").unwrap();
        db.close().unwrap();
        let db = Options::new().page_size(4096).open(&path).unwrap();
        assert_eq!(db.stats().unwrap().page_size, ps);
        assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    }
}

#[test]
fn a_second_open_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let db = Database::open(&path).unwrap();
    db.put(b"k", b"v").unwrap();
    let other_spelling = dir.path().join(".").join("a.db");
    for (what, r) in [
        ("same path", Database::open(&path)),
        ("another spelling", Database::open(&other_spelling)),
        ("read-only", Options::new().read_only(true).open(&path)),
    ] {
        match r {
            Err(Error::Locked(p)) => assert!(p.ends_with("a.db"), "{what}: {p:?}"),
            other => panic!("{what}: expected Locked, got {other:?}"),
        }
    }
    // The first handle is unaffected, and the lock goes with it.
    db.put(b"k2", b"v2").unwrap();
    drop(db);
    let db = Database::open(&path).unwrap();
    assert_eq!(db.get(b"k2").unwrap().as_deref(), Some(&b"v2"[..]));
}

#[test]
fn read_only_handles_reject_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    match Options::new().read_only(true).open(&path) {
        Err(_) => assert!(!path.exists() || std::fs::metadata(&path).unwrap().len() == 0),
        Ok(_) => panic!("a read-only open of a missing file must fail"),
    }
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(wal_path(&path));

    // Committed state with some of it still in a WAL (a crashed writer's files).
    let live = Options::new().auto_checkpoint(0).open(dir.path().join("live.db")).unwrap();
    live.put(b"a", b"1").unwrap();
    live.checkpoint(CheckpointMode::Full).unwrap();
    live.put(b"b", b"2").unwrap();
    copy_db(&dir.path().join("live.db"), &path);
    let main_before = std::fs::read(&path).unwrap();
    let wal_before = std::fs::read(wal_path(&path)).unwrap();

    let db = Options::new().read_only(true).open(&path).unwrap();
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get(b"b").unwrap().as_deref(), Some(&b"2"[..]), "WAL commits are visible");
    assert!(matches!(db.put(b"c", b"3"), Err(Error::ReadOnly)));
    assert!(matches!(db.delete(b"a"), Err(Error::ReadOnly)));
    assert!(matches!(db.begin_write(), Err(Error::ReadOnly)));
    assert!(matches!(db.checkpoint(CheckpointMode::Passive), Err(Error::ReadOnly)));
    assert!(matches!(db.checkpoint(CheckpointMode::Truncate), Err(Error::ReadOnly)));
    assert_check_ok(&db, "read-only");
    db.flush().unwrap();
    db.close().unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        main_before,
        "read-only handle changed the main file"
    );
    assert_eq!(
        std::fs::read(wal_path(&path)).unwrap(),
        wal_before,
        "read-only handle changed the WAL"
    );

    // A writable open afterwards recovers the same state.
    let db = Database::open(&path).unwrap();
    assert_eq!(db.get(b"b").unwrap().as_deref(), Some(&b"2"[..]));
    live.close().unwrap();
}

#[test]
fn a_wal_from_another_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.db");
    let b = dir.path().join("b.db");
    let c = dir.path().join("c.db");
    let db_a = Options::new().auto_checkpoint(0).open(&a).unwrap();
    db_a.put(b"from", b"a").unwrap();
    let db_c = Options::new().auto_checkpoint(0).page_size(8192).open(&c).unwrap();
    db_c.put(b"from", b"c").unwrap();
    let db_b = Database::open(&b).unwrap();
    db_b.put(b"from", b"b").unwrap();
    db_b.close().unwrap();
    let b_main = std::fs::read(&b).unwrap();

    for (what, src) in [("same page size", &a), ("other page size", &c)] {
        std::fs::copy(wal_path(src), wal_path(&b)).unwrap();
        let wal = std::fs::read(wal_path(&b)).unwrap();
        match Database::open(&b) {
            Err(Error::Corrupt { detail, .. }) => assert!(!detail.is_empty()),
            other => panic!("{what}: expected Corrupt, got {other:?}"),
        }
        assert_eq!(std::fs::read(&b).unwrap(), b_main, "{what}: main file changed");
        assert_eq!(std::fs::read(wal_path(&b)).unwrap(), wal, "{what}: foreign WAL changed");
    }
    std::fs::remove_file(wal_path(&b)).unwrap();
    let db_b = Database::open(&b).unwrap();
    assert_eq!(db_b.get(b"from").unwrap().as_deref(), Some(&b"b"[..]));
    db_a.close().unwrap();
    db_c.close().unwrap();
}

/// Regression: `open` used to validate the header's page count only against
/// `MAX_PAGE_COUNT`, not against the pages the main file and the WAL actually hold, so a
/// header (with a valid checksum) claiming far more pages was accepted; `check()` then sized
/// its tables by the claim and a checkpoint would have grown the file to it.
#[test]
fn regression_page_count_beyond_the_files_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let (_, base) = closed_base(dir.path());
    let pages = (base.len() / PAGE) as u32;
    for claim in [pages + 1000, 1 << 30, 0xfc86_b4bc] {
        let name = format!("claim{claim}");
        match open_patched_header(dir.path(), &base, &name, true, |p| put_u32(p, 32, claim)) {
            Err(Error::Corrupt { .. }) => {}
            Err(e) => {
                panic!("page count {claim} in a {pages}-page file: expected Corrupt, got {e:?}")
            }
            Ok(db) => {
                let stats = db.stats();
                std::mem::forget(db); // a close could grow the file to the claimed size
                panic!("page count {claim} in a file of {pages} pages: open succeeded ({stats:?})");
            }
        }
    }
}

/// Peak resident memory of this process, in bytes, after resetting the peak (Linux).
#[cfg(target_os = "linux")]
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(target_os = "linux")]
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// Regression: `check()` sized its page-ownership table by the snapshot's claimed page count
/// and collected every unaccounted page number, so a hostile header carried by a WAL commit
/// frame with valid checksums made it allocate in proportion to the claim (~36 GB for a
/// claim near `u32::MAX`). Open now refuses such a claim, and `check()` no longer collects
/// every lost page.
#[cfg(target_os = "linux")]
#[test]
fn regression_check_memory_is_bounded_by_real_pages() {
    use folio::format::checksum::frame_crc;
    use folio::format::wal::FRAME_HEADER_SIZE;
    const CLAIM: u32 = 80_000_000; // ~720 MB today; small enough not to endanger the machine
    let dir = tempfile::tempdir().unwrap();
    let live_path = dir.path().join("live.db");
    let live = populated(&live_path);
    let path = dir.path().join("forged.db");
    copy_db(&live_path, &path);
    live.close().unwrap();

    // Rewrite the page count in the last commit frame's commit record (the first field of
    // the record, frame header offset 24) with the claim, resealing the frame's chained
    // checksum.
    let mut wal = std::fs::read(wal_path(&path)).unwrap();
    let fh = FRAME_HEADER_SIZE;
    let frame = |n: usize| 48 + (n - 1) * (fh + PAGE);
    let salt = wal[24..32].to_vec();
    let (mut last_commit, mut n) = (0, 1);
    while frame(n) + fh + PAGE <= wal.len() && wal[frame(n) + 8..frame(n) + 16] == salt[..] {
        if wal[frame(n) + 4] & 1 == 1 {
            last_commit = n;
        }
        n += 1;
    }
    assert!(last_commit > 1);
    let seed = u32::from_le_bytes(wal[frame(last_commit - 1) + 16..][..4].try_into().unwrap());
    let (hdr, rest) = wal[frame(last_commit)..].split_at_mut(fh);
    put_u32(hdr, 24, CLAIM);
    let crc = frame_crc(seed, hdr, &rest[..PAGE]);
    hdr[16..20].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(wal_path(&path), &wal).unwrap();

    let db = match Database::open(&path) {
        Err(Error::Corrupt { .. }) => return, // refusing the claim at open is a fix too
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(db) => db,
    };
    assert_eq!(db.stats().unwrap().page_count, CLAIM as u64);
    if !reset_peak_rss() {
        return; // cannot measure here
    }
    let before = peak_rss();
    let report = db.check();
    let grew = peak_rss().saturating_sub(before);
    std::mem::forget(db); // a close would grow the main file to the claimed size
    assert!(
        grew < 256 << 20,
        "check() of a database of {} bytes (main file and WAL) claiming {CLAIM} pages raised \
         peak memory by {} MB (report: {:?})",
        base_len(&path) + base_len(&wal_path(&path)),
        grew >> 20,
        report.map(|r| r.problems.into_iter().take(2).collect::<Vec<_>>())
    );
}

fn base_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
