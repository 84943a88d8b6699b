//! A reader held open across many commits and checkpoints keeps its exact view; once it
//! ends, a Truncate checkpoint leaves a zero-byte WAL.

use folio::{CheckpointMode, Options};

fn scan(rx: &folio::ReadTxn<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
    rx.range(..).unwrap().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect()
}

#[test]
fn reader_keeps_its_view_then_truncate_empties_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("view.db");
    let db = Options::new().auto_checkpoint(20).open(&path).unwrap();
    for i in 0..500u32 {
        db.put(format!("key{i:05}").as_bytes(), b"original").unwrap();
    }
    let rx = db.begin_read().unwrap();
    let before = scan(&rx);
    let mut checkpoints = 0;
    for c in 0..50u32 {
        let mut tx = db.begin_write().unwrap();
        for i in (c * 10)..(c * 10 + 10) {
            tx.put(format!("key{i:05}").as_bytes(), format!("changed by {c}").as_bytes()).unwrap();
            tx.delete(format!("key{:05}", 499 - i).as_bytes()).unwrap();
        }
        tx.put(format!("new{c}").as_bytes(), b"x").unwrap();
        tx.commit().unwrap();
        if c % 10 == 9 {
            let info = db.checkpoint(CheckpointMode::Passive).unwrap();
            checkpoints += 1;
            assert!(info.frames_remaining > 0, "the reader must hold frames back: {info:?}");
        }
        assert_eq!(rx.get(b"key00003").unwrap().as_deref(), Some(&b"original"[..]));
    }
    let after = scan(&rx);
    assert_eq!(before, after, "the reader's view changed");
    assert_eq!(after.len(), 500);
    let wal_with_reader = std::fs::metadata(dir.path().join("view.db-wal")).unwrap().len();
    drop(rx);
    let info = db.checkpoint(CheckpointMode::Truncate).unwrap();
    let wal = std::fs::metadata(dir.path().join("view.db-wal")).unwrap().len();
    println!(
        "reader held across 50 commits and {checkpoints} passive checkpoints: view unchanged \
         ({} entries); WAL {wal_with_reader} bytes while it lived, {wal} after Truncate ({info:?})",
        after.len()
    );
    assert!(info.wal_reset);
    assert_eq!(info.frames_remaining, 0);
    assert_eq!(wal, 0);
    let rx = db.begin_read().unwrap();
    // key00250 was deleted by commit 24 and written again by commit 25.
    assert_eq!(rx.get(b"key00250").unwrap().as_deref(), Some(&b"changed by 25"[..]));
    assert!(rx.get(b"key00003").unwrap().is_none());
    assert!(db.check().unwrap().is_ok());
}
