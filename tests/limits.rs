//! Size limits: empty keys and values, the longest key, large values in overflow chains,
//! values around the page-size boundaries, and the errors just past the limits.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Rng, Tables, assert_check_ok, assert_matches, collect};
use folio::{Database, Error, MAX_KEY_LEN, MAX_VALUE_LEN};

fn reopen(db: Database, path: &Path) -> Database {
    db.close().unwrap();
    Database::open(path).unwrap()
}

#[test]
fn empty_key_and_empty_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let db = Database::open(&path).unwrap();
    db.put(b"", b"").unwrap();
    db.put(b"a", b"").unwrap();
    db.put(b"\x00", b"nul").unwrap();
    let mut tx = db.begin_write().unwrap();
    tx.table("t").unwrap().put(b"", b"empty key").unwrap();
    assert_eq!(tx.get(b"").unwrap().as_deref(), Some(&b""[..]));
    tx.commit().unwrap();

    let check = |db: &Database, ctx: &str| {
        assert_eq!(db.get(b"").unwrap(), Some(Vec::new()), "{ctx}");
        assert_eq!(db.get(b"a").unwrap(), Some(Vec::new()), "{ctx}");
        let rx = db.begin_read().unwrap();
        let all = collect(rx.range(..).unwrap(), ctx);
        assert_eq!(
            all,
            vec![
                (b"".to_vec(), b"".to_vec()),
                (b"\x00".to_vec(), b"nul".to_vec()),
                (b"a".to_vec(), b"".to_vec()),
            ],
            "{ctx}: the empty key sorts first"
        );
        let rev = collect(rx.range(..).unwrap().rev(), ctx);
        assert_eq!(rev.last().unwrap().0, b"", "{ctx}");
        // Bounds made of the empty key.
        assert_eq!(collect(rx.range(&b""[..]..&b""[..]).unwrap(), ctx), vec![]);
        assert_eq!(collect(rx.range(&b""[..]..=&b""[..]).unwrap(), ctx).len(), 1);
        assert_eq!(collect(rx.range(..&b""[..]).unwrap(), ctx), vec![]);
        assert_eq!(collect(rx.prefix(b"").unwrap(), ctx).len(), 3, "{ctx}");
        let t = rx.table("t").unwrap();
        assert_eq!(t.get(b"").unwrap().as_deref(), Some(&b"empty key"[..]), "{ctx}");
        drop(rx);
        assert_check_ok(db, ctx);
    };
    check(&db, "before reopen");
    let db = reopen(db, &path);
    check(&db, "after reopen");
    assert!(db.delete(b"").unwrap());
    assert!(!db.delete(b"").unwrap());
    assert_eq!(db.get(b"").unwrap(), None);
    let db = reopen(db, &path);
    assert_eq!(db.get(b"").unwrap(), None);
    assert_eq!(db.get(b"a").unwrap(), Some(Vec::new()));
    assert_check_ok(&db, "after delete");
}

#[test]
fn longest_key_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let db = Database::open(&path).unwrap();
    let key = Rng::new(1).bytes(MAX_KEY_LEN);
    let key2 = vec![0xffu8; MAX_KEY_LEN];
    db.put(&key, b"long").unwrap();
    db.put(&key2, &vec![9u8; 10_000]).unwrap();
    let mut tx = db.begin_write().unwrap();
    tx.table("t").unwrap().put(&key, b"in table").unwrap();
    tx.commit().unwrap();
    let db = reopen(db, &path);
    assert_eq!(db.get(&key).unwrap().as_deref(), Some(&b"long"[..]));
    assert_eq!(db.get(&key2).unwrap(), Some(vec![9u8; 10_000]));
    let rx = db.begin_read().unwrap();
    assert_eq!(rx.table("t").unwrap().get(&key).unwrap().as_deref(), Some(&b"in table"[..]));
    let keys: Vec<Vec<u8>> =
        collect(rx.prefix(&key[..100]).unwrap(), "prefix").into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec![key.clone()]);
    drop(rx);
    assert_check_ok(&db, "longest key");
}

#[test]
fn key_one_byte_too_long_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let db = Database::open(&path).unwrap();
    db.put(b"keep", b"me").unwrap();
    let long = vec![b'x'; MAX_KEY_LEN + 1];
    let too_large = |r: Result<(), Error>, what: &str| match r {
        Err(Error::KeyTooLarge { len, max }) => {
            assert_eq!((len, max), (MAX_KEY_LEN + 1, MAX_KEY_LEN), "{what}")
        }
        other => panic!("{what}: expected KeyTooLarge, got {other:?}"),
    };
    too_large(db.put(&long, b"v"), "db.put");
    too_large(db.get(&long).map(drop), "db.get");
    too_large(db.delete(&long).map(drop), "db.delete");
    let mut tx = db.begin_write().unwrap();
    too_large(tx.put(&long, b"v"), "tx.put");
    too_large(tx.get(&long).map(drop), "tx.get");
    too_large(tx.delete(&long).map(drop), "tx.delete");
    too_large(tx.table("t").unwrap().put(&long, b"v"), "table put");
    // The transaction is still usable after the rejections.
    tx.put(b"after", b"ok").unwrap();
    tx.commit().unwrap();
    let rx = db.begin_read().unwrap();
    too_large(rx.get(&long).map(drop), "rx.get");
    too_large(rx.table("t").unwrap().get(&long).map(drop), "table get");
    drop(rx);
    let db = reopen(db, &path);
    let rx = db.begin_read().unwrap();
    assert_eq!(
        collect(rx.range(..).unwrap(), "after"),
        vec![(b"after".to_vec(), b"ok".to_vec()), (b"keep".to_vec(), b"me".to_vec())]
    );
    assert_eq!(rx.table("t").unwrap().len(), 0);
    drop(rx);
    assert_check_ok(&db, "after rejected keys");
}

#[test]
fn value_one_byte_too_long_is_rejected() {
    let db = Database::memory().unwrap();
    // Zero-filled allocations are lazy: this does not touch a GiB of memory.
    let huge = vec![0u8; MAX_VALUE_LEN + 1];
    match db.put(b"k", &huge) {
        Err(Error::ValueTooLarge { len, max }) => {
            assert_eq!((len, max), (MAX_VALUE_LEN + 1, MAX_VALUE_LEN))
        }
        other => panic!("expected ValueTooLarge, got {other:?}"),
    }
    let mut tx = db.begin_write().unwrap();
    assert!(matches!(tx.table("t").unwrap().put(b"k", &huge), Err(Error::ValueTooLarge { .. })));
    drop(tx);
    assert_eq!(db.get(b"k").unwrap(), None);
}

#[test]
fn eight_mib_value_round_trips_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let db = Database::open(&path).unwrap();
    let big = Rng::new(8).bytes(8 << 20);
    db.put(b"before", b"1").unwrap();
    db.put(b"big", &big).unwrap();
    db.put(b"later", b"2").unwrap();
    assert!(db.get(b"big").unwrap().unwrap() == big);
    let rx = db.begin_read().unwrap();
    let all = collect(rx.range(..).unwrap(), "scan");
    assert_eq!(all.len(), 3);
    assert!(all[1].1 == big);
    drop(rx);
    assert_check_ok(&db, "8 MiB value");

    let db = reopen(db, &path);
    assert!(db.get(b"big").unwrap().unwrap() == big, "8 MiB value after reopen");
    let stats = db.stats().unwrap();
    assert!(stats.page_count as usize * 4096 > 8 << 20, "{stats:?}");
    assert_check_ok(&db, "after reopen");

    // Replace it with a small value: the chain's pages are freed and reused.
    db.put(b"big", b"small now").unwrap();
    let freed = db.stats().unwrap();
    assert!(freed.free_page_count >= 2000, "{freed:?}");
    let other = Rng::new(9).bytes(4 << 20);
    db.put(b"other", &other).unwrap();
    let reused = db.stats().unwrap();
    assert!(
        reused.page_count <= freed.page_count,
        "the new chain should reuse freed pages: {freed:?} then {reused:?}"
    );
    let db = reopen(db, &path);
    assert_eq!(db.get(b"big").unwrap().as_deref(), Some(&b"small now"[..]));
    assert!(db.get(b"other").unwrap().unwrap() == other);
    assert_check_ok(&db, "after replacing");
}

#[test]
fn values_around_page_boundaries_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let db = Database::open(&path).unwrap();
    let mut rng = Rng::new(3);
    let mut sizes = Vec::new();
    // 4060 and 8136: one and two overflow pages exactly for the ~10-byte keys below (4096 -
    // 20 bytes a page, less the 6-byte owner header and the key on the first).
    for base in [0usize, 1024, 2048, 4060, 4096, 8136, 8192, 3 * 4096, 65536] {
        for d in [-2i64, -1, 0, 1, 2] {
            if let Ok(s) = usize::try_from(base as i64 + d) {
                sizes.push(s);
            }
        }
    }
    sizes.extend([4096 - 16, 4096 - 24, 4096 * 2 - 16, 100_000]);
    let mut model = Tables::new();
    model.insert(None, BTreeMap::new());
    let mut tx = db.begin_write().unwrap();
    for (i, &s) in sizes.iter().enumerate() {
        let k = format!("v{i:03}-{s}").into_bytes();
        let v = rng.bytes(s);
        tx.put(&k, &v).unwrap();
        model.get_mut(&None).unwrap().insert(k, v);
    }
    tx.commit().unwrap();
    assert_matches(&db.begin_read().unwrap(), &model, "before reopen");
    let db = reopen(db, &path);
    assert_matches(&db.begin_read().unwrap(), &model, "after reopen");
    assert_check_ok(&db, "boundary sizes");
    // Shrink and grow every value across the boundaries.
    let mut tx = db.begin_write().unwrap();
    for (k, v) in model.get_mut(&None).unwrap().iter_mut() {
        let s = sizes[rng.below(sizes.len() as u64) as usize];
        *v = rng.bytes(s);
        tx.put(k, v).unwrap();
    }
    tx.commit().unwrap();
    let db = reopen(db, &path);
    assert_matches(&db.begin_read().unwrap(), &model, "after resizing");
    assert_check_ok(&db, "after resizing");
}

/// 200 maximum-length keys, inserted, scanned, partly deleted and fully deleted.
fn many_long_keys(keys: Vec<Vec<u8>>, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let db = Database::open(&path).unwrap();
    assert!(keys.iter().all(|k| k.len() == MAX_KEY_LEN));
    let mut model = Tables::new();
    model.insert(None, BTreeMap::new());
    model.insert(Some("t".into()), BTreeMap::new());
    // Half in one transaction, half one commit each; the named table gets them all too.
    let (a, b) = keys.split_at(keys.len() / 2);
    let mut tx = db.begin_write().unwrap();
    for (i, k) in a.iter().enumerate() {
        let v = format!("{i}").into_bytes();
        tx.put(k, &v).unwrap();
        tx.table("t").unwrap().put(k, &v).unwrap();
        model.get_mut(&None).unwrap().insert(k.clone(), v.clone());
        model.get_mut(&Some("t".into())).unwrap().insert(k.clone(), v);
    }
    tx.commit().unwrap();
    for (i, k) in b.iter().enumerate() {
        let v = vec![b'v'; i * 37 % 3000];
        let mut tx = db.begin_write().unwrap();
        tx.put(k, &v).unwrap();
        tx.table("t").unwrap().put(k, &v).unwrap();
        tx.commit().unwrap();
        model.get_mut(&None).unwrap().insert(k.clone(), v.clone());
        model.get_mut(&Some("t".into())).unwrap().insert(k.clone(), v);
    }
    assert_eq!(model[&None].len(), keys.len(), "{what}: keys must be distinct");
    assert_matches(&db.begin_read().unwrap(), &model, &format!("{what}: inserted"));
    assert_check_ok(&db, &format!("{what}: inserted"));
    let stats = db.stats().unwrap();
    assert!(stats.tree_depth >= 2, "{what}: {stats:?}");
    let db = reopen(db, &path);
    assert_matches(&db.begin_read().unwrap(), &model, &format!("{what}: reopened"));
    // Point lookups of every key, and ranges starting at each tenth key.
    let rx = db.begin_read().unwrap();
    let sorted: Vec<&Vec<u8>> = model[&None].keys().collect();
    for (i, k) in sorted.iter().enumerate() {
        assert!(rx.get(k).unwrap().is_some(), "{what}: get key {i}");
        if i % 10 == 0 {
            let tail = collect(rx.range(&k[..]..).unwrap(), what);
            assert_eq!(tail.len(), sorted.len() - i, "{what}: range from key {i}");
            let head = collect(rx.range(..&k[..]).unwrap().rev(), what);
            assert_eq!(head.len(), i, "{what}: reverse range to key {i}");
        }
    }
    drop(rx);
    // Delete every other key, then the rest.
    let mut rng = Rng::new(4);
    for round in 0..2 {
        let mut tx = db.begin_write().unwrap();
        let victims: Vec<Vec<u8>> =
            model[&None].keys().filter(|_| round == 1 || rng.percent(50)).cloned().collect();
        for k in &victims {
            assert!(tx.delete(k).unwrap());
            assert!(tx.table("t").unwrap().delete(k).unwrap());
            model.get_mut(&None).unwrap().remove(k);
            model.get_mut(&Some("t".into())).unwrap().remove(k);
        }
        tx.commit().unwrap();
        let ctx = format!("{what}: deletion round {round}");
        assert_matches(&db.begin_read().unwrap(), &model, &ctx);
        assert_check_ok(&db, &ctx);
    }
    let stats = db.stats().unwrap();
    assert_eq!(stats.key_count, 0, "{what}: {stats:?}");
    let db = reopen(db, &path);
    assert_matches(&db.begin_read().unwrap(), &model, &format!("{what}: emptied"));
    assert_check_ok(&db, &format!("{what}: emptied"));
}

#[test]
fn many_longest_keys_with_distinct_prefixes() {
    let mut rng = Rng::new(10);
    let keys = (0..200).map(|_| rng.bytes(MAX_KEY_LEN)).collect();
    many_long_keys(keys, "distinct prefixes");
}

#[test]
fn many_longest_keys_with_a_long_common_prefix() {
    let mut rng = Rng::new(11);
    let keys = (0..200u32)
        .map(|i| {
            let mut k = vec![b'c'; MAX_KEY_LEN - 8];
            // Differ only in the last bytes, in scrambled order.
            k.extend_from_slice(&(rng.next_u64() as u32).to_be_bytes());
            k.extend_from_slice(&i.to_be_bytes());
            k
        })
        .collect();
    many_long_keys(keys, "common prefix");
}
