//! Regression: a flipped byte in a leaf was caught by `check()`, but `get`, scans, `dump` and
//! `backup` returned the damaged bytes with success (and `dump | load` laundered them into
//! a database that passed `check`).
//!
//! The class: for a seeded sample of pages of a database with several tables and overflow
//! values, flip one byte of the page and reopen. Every read of every key and every scan
//! must then return exactly what was written or `Error::Corrupt` naming that page — never
//! other bytes, never a missing key; `backup_to` and `compact` must fail rather than copy the
//! damage (compact may drop a damaged free-list page, and must then leave a clean file);
//! a failed copy leaves the database as it was; `check()` must report the page; `folio dump`
//! must fail. A flip in a free page changes nothing a reader can see.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{Rng, wal_path};
use folio::{Database, Error, ReadTxn};

const TABLES: [Option<&str>; 3] = [None, Some("users"), Some("blobs")];
const SEED: u64 = 0xc0_44_u64;

type Model = BTreeMap<Option<&'static str>, BTreeMap<Vec<u8>, Vec<u8>>>;

fn build(path: &Path) -> (Model, u32) {
    let mut rng = Rng::new(SEED);
    let mut model = Model::new();
    let db = Database::open(path).unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..1_500u32 {
        let table = TABLES[i as usize % 3];
        let key = format!("key{i:05}").into_bytes();
        let len = if i % 41 == 0 { rng.range(5_000, 12_000) } else { rng.range(0, 200) };
        let value = rng.bytes(len);
        match table {
            None => tx.put(&key, &value).unwrap(),
            Some(t) => tx.table(t).unwrap().put(&key, &value).unwrap(),
        }
        model.entry(table).or_default().insert(key, value);
    }
    tx.commit().unwrap();
    // Leave free pages behind too.
    let mut tx = db.begin_write().unwrap();
    for i in (0..1_500u32).step_by(7).filter(|i| i % 3 == 0) {
        let key = format!("key{i:05}").into_bytes();
        tx.delete(&key).unwrap();
        model.entry(None).or_default().remove(&key);
    }
    tx.commit().unwrap();
    let pages = db.stats().unwrap().page_count as u32;
    db.close().unwrap();
    (model, pages)
}

/// An error from reading damaged page `page`: `Corrupt`, naming it.
fn assert_names_page(e: &Error, page: u32, ctx: &str) {
    match e {
        Error::Corrupt { page: Some(p), .. } if *p == page => {}
        other => panic!("{ctx}: expected Corrupt naming page {page}, got {other}"),
    }
}

/// Reads everything through `rx`; returns whether any read met the damage.
fn read_all(rx: &ReadTxn<'_>, model: &Model, page: u32, ctx: &str) -> bool {
    let mut met = false;
    for (table, entries) in model {
        let t = match table.map(|n| rx.table(n)).transpose() {
            Ok(t) => t,
            Err(e) => {
                // The catalog page naming the table is the damaged one.
                assert_names_page(&e, page, ctx);
                met = true;
                continue;
            }
        };
        for (k, v) in entries {
            let got = match &t {
                None => rx.get(k).map(|o| o.map(|v| v.to_vec())),
                Some(t) => t.get(k).map(|o| o.map(|v| v.to_vec())),
            };
            match got {
                Ok(Some(got)) => assert!(got == *v, "{ctx}: {table:?}/{k:?} read other bytes"),
                Ok(None) => panic!("{ctx}: {table:?}/{k:?} went missing"),
                Err(e) => {
                    assert_names_page(&e, page, ctx);
                    met = true;
                }
            }
        }
        let scan: folio::Result<Vec<(Vec<u8>, Vec<u8>)>> = match &t {
            None => {
                rx.range(..).unwrap().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec()))).collect()
            }
            Some(t) => {
                t.range(..).unwrap().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec()))).collect()
            }
        };
        match scan {
            Ok(all) => {
                let want: Vec<(Vec<u8>, Vec<u8>)> =
                    entries.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                assert!(all == want, "{ctx}: a scan of {table:?} returned other entries");
            }
            Err(e) => {
                assert_names_page(&e, page, ctx);
                met = true;
            }
        }
    }
    met
}

#[test]
fn damaged_pages_are_errors_on_every_read_path() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.db");
    let (model, pages) = build(&clean);
    let page_size = 4096usize;
    let original = std::fs::read(&clean).unwrap();
    let mut rng = Rng::new(SEED + 1);
    let (mut live, mut free) = (0, 0);
    let sample: Vec<u32> = (1..pages).filter(|_| rng.percent(60)).collect();
    for &page in &sample {
        let ctx = format!("seed {SEED:#x}, page {page}");
        let path = dir.path().join("damaged.db");
        let mut bytes = original.clone();
        let at = page as usize * page_size + rng.below(page_size as u64) as usize;
        bytes[at] ^= 1 << rng.below(8);
        std::fs::write(&path, &bytes).unwrap();
        let _ = std::fs::remove_file(wal_path(&path));

        let db = Database::open(&path).unwrap();
        let damaged = !db.check().unwrap().is_ok();
        let met = read_all(&db.begin_read().unwrap(), &model, page, &ctx);
        assert!(!met || damaged, "{ctx}: a read failed but check() found nothing");
        drop(db);
        let dump = Command::new(env!("CARGO_BIN_EXE_folio")).arg("dump").arg(&path).output();
        let dumped = dump.unwrap().status.success();
        assert_eq!(dumped, !met, "{ctx}: folio dump succeeded over damage a read met, or failed");
        let db = Database::open(&path).unwrap();
        let backup = db.backup_to(dir.path().join("copy.db"));
        let compact = db.compact();
        if damaged {
            live += 1;
            let e = backup.expect_err(&format!("{ctx}: backup copied a damaged page"));
            assert_names_page(&e, page, &ctx);
            // Compact copies the tables only: damage to a free-list page is left behind.
            match compact {
                Err(e) => assert_names_page(&e, page, &ctx),
                Ok(()) => assert!(db.check().unwrap().is_ok(), "{ctx}: compact kept the damage"),
            }
        } else {
            free += 1;
            backup.unwrap_or_else(|e| panic!("{ctx}: backup: {e}"));
            compact.unwrap_or_else(|e| panic!("{ctx}: compact: {e}"));
        }
        // Whatever failed, the database reads as before.
        read_all(&db.begin_read().unwrap(), &model, page, &ctx);
    }
    println!("{} pages damaged: {live} live (every read path refused), {free} free", sample.len());
    assert!(live > 10 && free > 0, "the sample missed a kind of page: {live} live, {free} free");
}

#[test]
fn a_checkpoint_refuses_a_frame_damaged_after_it_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let db = folio::Options::new().auto_checkpoint(0).open(&path).unwrap();
    db.put(b"k", &[5u8; 300]).unwrap();
    let before = std::fs::read(&path).unwrap();
    // Flip a byte inside the page of frame 1 (48-byte WAL header, 88-byte frame header).
    let wal = wal_path(&path);
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes[48 + 88 + 2000] ^= 0x10;
    std::fs::write(&wal, &bytes).unwrap();
    match db.checkpoint(folio::CheckpointMode::Passive) {
        Err(Error::Corrupt { page: Some(_), detail, .. }) => assert!(detail.contains("frame 1")),
        other => panic!("expected the checkpoint to refuse the frame, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), before, "the checkpoint wrote into the main file");
}
