use folio::{Database, Options, Synchronous};

#[test]
fn put_get_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    {
        let db = Database::open(&path).unwrap();
        db.put(b"k", b"v").unwrap();
        let mut tx = db.begin_write().unwrap();
        for i in 0..20_000u32 {
            tx.put(format!("key{i:08}").as_bytes(), &[b'x'; 100]).unwrap();
        }
        tx.commit().unwrap();
        assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
        let r = db.check().unwrap();
        assert!(r.is_ok(), "{r}");
        db.close().unwrap();
    }
    let db = Options::new().synchronous(Synchronous::Normal).open(&path).unwrap();
    assert_eq!(db.get(b"key00012345").unwrap().unwrap(), vec![b'x'; 100]);
    let rx = db.begin_read().unwrap();
    assert_eq!(rx.range(..).unwrap().count(), 20_001);
    assert_eq!(rx.range(..).unwrap().rev().count(), 20_001);
    drop(rx);
    let mut tx = db.begin_write().unwrap();
    for i in 0..20_000u32 {
        assert!(tx.delete(format!("key{i:08}").as_bytes()).unwrap());
    }
    tx.commit().unwrap();
    let r = db.check().unwrap();
    assert!(r.is_ok(), "{r}");
    println!("{:?}", db.stats().unwrap());
}
