//! What folio does when the operating system reports a failed `fdatasync`: the fence.
//!
//! Opens a database (in a temporary directory, or at the path given as the first argument)
//! with `Synchronous::Full`, so every commit waits for its own `fdatasync` of the WAL, and
//! commits in a loop, printing each result. Run normally, all commits succeed. Run under
//! strace with a fault injected, the first failing `fdatasync` fails its commit with the
//! I/O error, and every later call on the handle returns `NeedsRecovery` (folio never
//! retries a failed sync). The example then drops the handle, opens the database again
//! (recovery) and prints what survived: every acknowledged commit.
//!
//! ```text
//! cargo build --release --example fsync_failure
//! strace -f -e trace=fdatasync -e inject=fdatasync:error=EIO:when=6+ \
//!     target/release/examples/fsync_failure
//! ```
//!
//! `when=6+` fails the 6th `fdatasync` and every later one: creating the database takes one
//! (the new header page) and each commit one, so commits 1-4 succeed and commit 5 fails.
//! `when=6` fails only that one call, as a transient error would: the fence still holds.

use std::path::PathBuf;

use folio::{Error, Options, Synchronous};

const COMMITS: u32 = 10;

fn main() {
    let (_dir, path) = match std::env::args_os().nth(1) {
        Some(p) => (None, PathBuf::from(p)),
        None => {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let path = dir.path().join("fsync.db");
            (Some(dir), path)
        }
    };
    println!("database: {}", path.display());
    let db = match Options::new().synchronous(Synchronous::Full).auto_checkpoint(0).open(&path) {
        Ok(db) => db,
        Err(e) => {
            println!("open failed: {e}");
            std::process::exit(1);
        }
    };

    let mut acknowledged = Vec::new();
    let mut failed = None;
    for i in 1..=COMMITS {
        let key = format!("commit-{i:02}");
        let mut tx = match db.begin_write() {
            Ok(tx) => tx,
            Err(e) => {
                println!("commit {i}: begin_write failed: {e}");
                break;
            }
        };
        let r = tx.put(key.as_bytes(), format!("value {i}").as_bytes()).and_then(|()| tx.commit());
        match r {
            Ok(()) => {
                println!("commit {i}: ok");
                acknowledged.push(key);
            }
            Err(e) => {
                println!("commit {i}: FAILED: {e}");
                failed = Some(key);
                break;
            }
        }
    }

    if acknowledged.len() < COMMITS as usize {
        // The fence: whatever the OS does next, this handle touches nothing more.
        for (what, r) in [
            ("get", db.get(b"commit-01").map(|_| ())),
            ("put", db.put(b"after", b"the failure")),
            ("flush", db.flush()),
            ("stats", db.stats().map(|_| ())),
        ] {
            match r {
                Err(Error::NeedsRecovery(msg)) => println!("then {what}: NeedsRecovery ({msg})"),
                other => println!("then {what}: {other:?}  <-- expected NeedsRecovery"),
            }
        }
    }
    // Dropping a fenced handle does not checkpoint; dropping a healthy one does.
    drop(db);

    println!("reopening (recovery)...");
    // Read-only: reopening writes nothing, so it works even while every fdatasync fails.
    let db = match Options::new().read_only(true).open(&path) {
        Ok(db) => db,
        Err(e) => {
            println!("reopen failed: {e}");
            std::process::exit(1);
        }
    };
    let rec = db.recovery_info();
    println!(
        "recovery replayed {} commit(s) ({} frames), discarded {} bytes",
        rec.commits_replayed, rec.frames_replayed, rec.bytes_discarded
    );
    let rx = db.begin_read().expect("a read transaction");
    let mut survived = Vec::new();
    for item in rx.range(..).expect("a scan") {
        let (k, _) = item.expect("an entry");
        survived.push(String::from_utf8_lossy(k).into_owned());
    }
    println!("survived: {} key(s): {}", survived.len(), survived.join(", "));
    let lost: Vec<&String> = acknowledged.iter().filter(|k| !survived.contains(k)).collect();
    if lost.is_empty() {
        println!("every acknowledged commit ({}) survived", acknowledged.len());
    } else {
        println!("LOST acknowledged commits: {lost:?}");
        std::process::exit(2);
    }
    if let Some(k) = failed {
        // A commit whose fdatasync failed is all or nothing: its frames may have reached the
        // file anyway (here the kernel kept them), or not.
        let there = survived.contains(&k);
        println!("the failed commit ({k}) is {}", if there { "present, whole" } else { "absent" });
    }
    let report = db.check().expect("check");
    println!("check: {}", if report.is_ok() { "clean".to_string() } else { report.to_string() });
}
