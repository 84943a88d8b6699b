//! The classic persistence flows, narrated: write and reopen, delete and reopen, named tables,
//! and the statistics of a reopened database. Every step asserts what it claims.
//!
//! ```text
//! cargo run --release --example persistence
//! ```

use std::path::Path;

use folio::{Database, Error, Options, Synchronous};

fn step(n: u32, what: &str) {
    println!("\n{n}. {what}");
}

fn open(path: &Path) -> folio::Result<Database> {
    Options::new().synchronous(Synchronous::Full).open(path)
}

fn main() -> folio::Result<()> {
    let dir =
        tempfile::tempdir().map_err(|e| Error::Io { path: std::env::temp_dir(), source: e })?;
    let path = dir.path().join("app.db");
    println!("database: {}", path.display());

    step(1, "create the database, write, flush and close");
    {
        let db = open(&path)?;
        db.put(b"name", b"Ada")?;
        db.put(b"temporary", b"gone soon")?;
        let mut tx = db.begin_write()?;
        for i in 0..1000u32 {
            tx.put(format!("user/{i:04}").as_bytes(), format!("user number {i}").as_bytes())?;
        }
        tx.table("audit")?.put(b"0001", b"created 1000 users")?;
        tx.commit()?;
        db.flush()?;
        println!("   wrote 1,002 keys in the default table and 1 in table \"audit\"");
        db.close()?;
        println!("   closed: the WAL was checkpointed into the main file and removed");
    }
    assert!(!dir.path().join("app.db-wal").exists(), "close removes the WAL");

    step(2, "reopen and read everything back");
    {
        let db = open(&path)?;
        let rec = db.recovery_info();
        println!(
            "   recovery: {} commits and {} frames replayed, {} bytes discarded, tail corrupt: {}",
            rec.commits_replayed, rec.frames_replayed, rec.bytes_discarded, rec.tail_corrupt
        );
        assert_eq!(db.get(b"name")?.as_deref(), Some(&b"Ada"[..]));
        assert_eq!(db.get(b"user/0420")?.as_deref(), Some(&b"user number 420"[..]));
        let rx = db.begin_read()?;
        assert_eq!(rx.prefix(b"user/")?.count(), 1000);
        let audit = rx.table("audit")?;
        assert_eq!(audit.get(b"0001")?.as_deref(), Some(&b"created 1000 users"[..]));
        assert!(matches!(rx.table("missing"), Err(Error::TableNotFound(_))));
        println!("   name = Ada, 1000 users, the audit entry, and no table \"missing\"");
        drop(rx);

        step(3, "delete a key, then close");
        assert!(db.delete(b"temporary")?, "the key existed");
        assert!(!db.delete(b"temporary")?, "a second delete finds nothing");
        assert_eq!(db.get(b"temporary")?, None);
        println!("   \"temporary\" deleted");
        db.close()?;
    }

    step(4, "reopen: the delete stayed deleted");
    let db = open(&path)?;
    assert_eq!(db.get(b"temporary")?, None);
    assert_eq!(db.get(b"name")?.as_deref(), Some(&b"Ada"[..]));
    println!("   \"temporary\" is still absent, \"name\" is still Ada");

    step(5, "a rolled-back transaction leaves nothing behind");
    {
        let mut tx = db.begin_write()?;
        tx.put(b"name", b"Grace")?;
        assert_eq!(tx.get(b"name")?.as_deref(), Some(&b"Grace"[..]));
        tx.rollback();
    }
    assert_eq!(db.get(b"name")?.as_deref(), Some(&b"Ada"[..]));
    println!("   \"name\" is still Ada");

    step(6, "statistics and an integrity check of the reopened database");
    let s = db.stats()?;
    println!("   key_count        {}", s.key_count);
    println!("   table_count      {}", s.table_count);
    println!("   page_size        {}", s.page_size);
    println!("   page_count       {}", s.page_count);
    println!("   free_page_count  {}", s.free_page_count);
    println!("   file_bytes       {}", s.file_bytes);
    println!("   wal_bytes        {}", s.wal_bytes);
    println!("   wal_frame_count  {}", s.wal_frame_count);
    println!("   last_txn_id      {}", s.last_txn_id);
    println!("   tree_depth       {}", s.tree_depth);
    println!("   checkpoint_count {}", s.checkpoint_count);
    assert_eq!(s.key_count, 1001, "name + 1000 users");
    assert_eq!(s.table_count, 1, "the audit table");
    assert_eq!(s.page_size, 4096);
    assert_eq!(s.file_bytes, s.page_count * s.page_size as u64);
    assert!(s.tree_depth >= 2, "1001 entries do not fit one 4 KiB leaf");
    let report = db.check()?;
    assert!(report.is_ok(), "{report}");
    println!("   check: {report}");
    db.close()?;

    println!("\nall persistence checks passed");
    Ok(())
}
