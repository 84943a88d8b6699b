//! Vacuum moves every kind of page (leaves, branches, table roots, the catalog's pages, every
//! page of long overflow chains) and leaves the database equal to its model; hints on disk
//! that do not hold are `Error::Corrupt` naming the page, never a wrong rewrite.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Rng, Tables, assert_check_ok, assert_matches};
use folio::format::checksum::seal_page;
use folio::format::page::PageType;
use folio::{Database, Error, Options};

const PAGE: usize = 4096;

fn open(path: &Path) -> Database {
    // A small cache, so that long vacuums spill to the WAL too.
    Options::new().cache_size(96 << 10).auto_checkpoint(0).open(path).unwrap()
}

/// A value of a size that is inline, one overflow page, or a chain of several.
fn value(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(4) {
        0 => rng.range(0, 200),
        1 => rng.range(1000, 4000),
        2 => rng.range(4000, 9000),
        _ => rng.range(9000, 30_000),
    };
    rng.bytes(len)
}

fn key(rng: &mut Rng) -> Vec<u8> {
    let len = if rng.percent(5) { rng.range(900, 2048) } else { rng.range(1, 40) };
    rng.bytes(len)
}

/// Puts `n` random entries into `table` of both the database and the model.
fn fill(
    tx: &mut folio::WriteTxn<'_>,
    model: &mut Tables,
    table: Option<&str>,
    n: usize,
    rng: &mut Rng,
) {
    let m = model.entry(table.map(String::from)).or_default();
    for _ in 0..n {
        let (k, v) = (key(rng), value(rng));
        match table {
            None => tx.put(&k, &v).unwrap(),
            Some(t) => tx.table(t).unwrap().put(&k, &v).unwrap(),
        }
        m.insert(k, v);
    }
}

/// Deletes about `percent`% of every table's entries.
fn thin(db: &Database, model: &mut Tables, percent: u64, rng: &mut Rng) {
    let mut tx = db.begin_write().unwrap();
    for (table, m) in model.iter_mut() {
        let gone: Vec<Vec<u8>> = m.keys().filter(|_| rng.percent(percent)).cloned().collect();
        for k in gone {
            let existed = match table {
                None => tx.delete(&k).unwrap(),
                Some(t) => tx.table(t).unwrap().delete(&k).unwrap(),
            };
            assert!(existed);
            m.remove(&k);
        }
    }
    tx.commit().unwrap();
}

/// Early pages for the default table, later ones for 40 named tables (long names, so the
/// catalog spans several pages), then most of the default table deleted: the vacuum must
/// move the named tables' pages, their roots and the catalog into the holes.
fn scenario(seed: u64, dir: &Path) -> (Database, Tables) {
    let mut rng = Rng::new(seed);
    let db = open(&dir.join(format!("v{seed}.db")));
    let mut model = Tables::new();
    model.insert(None, BTreeMap::new());
    let mut tx = db.begin_write().unwrap();
    fill(&mut tx, &mut model, None, 600, &mut rng);
    tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    for t in 0..40 {
        let name = format!("{t:02}-{}", "n".repeat(200));
        let n = rng.range(0, 30);
        tx.table(&name).unwrap();
        fill(&mut tx, &mut model, Some(&name), n, &mut rng);
    }
    fill(&mut tx, &mut model, None, 100, &mut rng);
    tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    let gone: Vec<Vec<u8>> = model[&None].keys().filter(|_| rng.percent(85)).cloned().collect();
    for k in gone {
        assert!(tx.delete(&k).unwrap());
        model.get_mut(&None).unwrap().remove(&k);
    }
    tx.commit().unwrap();
    (db, model)
}

#[test]
fn vacuum_moves_every_kind_of_page() {
    let dir = tempfile::tempdir().unwrap();
    for seed in [1u64, 2, 3, 0xfeed] {
        let ctx = |what: &str| format!("seed {seed}: {what}");
        let (db, mut model) = scenario(seed, dir.path());
        let mut rng = Rng::new(seed ^ 0x55);
        let before = db.stats().unwrap();
        // Budgeted steps first, then everything; a reader on the old snapshot throughout.
        let rx = db.begin_read().unwrap();
        for _ in 0..3 {
            let budget = rng.range(1, 200) as u64;
            let got = db.vacuum(budget).unwrap();
            assert!(got <= budget, "{}", ctx("budget exceeded"));
            assert_matches(&db.begin_read().unwrap(), &model, &ctx("after a budgeted vacuum"));
            assert_check_ok(&db, &ctx("after a budgeted vacuum"));
        }
        db.vacuum(0).unwrap();
        let after = db.stats().unwrap();
        assert_eq!(after.free_page_count, 0, "{}", ctx("free pages left"));
        assert_eq!(
            before.page_count - after.page_count,
            before.free_page_count,
            "{}: {before:?} -> {after:?}",
            ctx("every free page is reclaimed")
        );
        assert!(after.vacuum.pages_moved > 100, "{}: {:?}", ctx("few moves"), after.vacuum);
        assert_matches(&rx, &model, &ctx("the old snapshot"));
        drop(rx);
        assert_matches(&db.begin_read().unwrap(), &model, &ctx("after vacuum(0)"));
        assert_check_ok(&db, &ctx("after vacuum(0)"));
        // The moved tables keep working: more writes, deletes and another round.
        let mut tx = db.begin_write().unwrap();
        fill(&mut tx, &mut model, Some("00-nnn"), 50, &mut rng);
        fill(&mut tx, &mut model, None, 50, &mut rng);
        tx.commit().unwrap();
        thin(&db, &mut model, 50, &mut rng);
        db.vacuum(0).unwrap();
        assert_check_ok(&db, &ctx("second round"));
        let path = db.path().to_path_buf();
        db.close().unwrap();
        let db = open(&path);
        assert_matches(&db.begin_read().unwrap(), &model, &ctx("after reopen"));
        assert_check_ok(&db, &ctx("after reopen"));
    }
}

/// A closed database whose vacuum moves named-table leaves and chains from its end.
fn closed_base(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let path = dir.join("base.db");
    let db = open(&path);
    let mut tx = db.begin_write().unwrap();
    for i in 0..300u32 {
        tx.put(format!("d{i:04}").as_bytes(), &[1u8; 3000]).unwrap();
    }
    tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..200u32 {
        tx.table("t").unwrap().put(format!("t{i:04}").as_bytes(), &[2u8; 150]).unwrap();
    }
    tx.table("t").unwrap().put(b"long", &[3u8; 20_000]).unwrap();
    tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..300u32 {
        tx.delete(format!("d{i:04}").as_bytes()).unwrap();
    }
    tx.commit().unwrap();
    db.close().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

/// The highest page of the file of type `kind` that `pick` accepts.
fn last_page(bytes: &[u8], kind: PageType, pick: impl Fn(&[u8]) -> bool) -> usize {
    (1..bytes.len() / PAGE)
        .rev()
        .find(|&p| {
            let page = &bytes[p * PAGE..][..PAGE];
            page[4] == kind as u8 && pick(page)
        })
        .expect("a page of that kind")
}

fn u32_at(page: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(page[off..off + 4].try_into().unwrap())
}

/// Writes `bytes` with `patch` applied to page `p` (resealed) and vacuums it.
fn vacuum_patched(
    dir: &Path,
    bytes: &[u8],
    name: &str,
    p: usize,
    patch: impl Fn(&mut [u8]),
) -> (Database, folio::Result<u64>) {
    let mut bytes = bytes.to_vec();
    let page = &mut bytes[p * PAGE..(p + 1) * PAGE];
    patch(page);
    seal_page(page);
    let path = dir.join(format!("{name}.db"));
    std::fs::write(&path, &bytes).unwrap();
    let db = open(&path);
    let before = db.stats().unwrap();
    let r = db.vacuum(0);
    let after = db.stats().unwrap();
    assert_eq!(
        (after.page_count, after.last_txn_id),
        (before.page_count, before.last_txn_id),
        "{name}: a failed vacuum changed the database"
    );
    (db, r)
}

fn assert_corrupt_page(r: folio::Result<u64>, page: usize, what: &str) {
    match r {
        Err(Error::Corrupt { page: Some(p), .. }) if p as usize == page => {}
        other => panic!("{what}: expected Corrupt naming page {page}, got {other:?}"),
    }
}

#[test]
fn wrong_hints_are_corruption_not_wrong_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    let (_, base) = closed_base(dir.path());
    // The unpatched base vacuums cleanly.
    let path = dir.path().join("clean.db");
    std::fs::write(&path, &base).unwrap();
    let db = open(&path);
    assert!(db.vacuum(0).unwrap() > 200);
    assert_check_ok(&db, "clean base");
    drop(db);

    let leaf = last_page(&base, PageType::Leaf, |_| true);
    for (name, id) in [("unknown-table", 99u32), ("wrong-table", 2)] {
        let (db, r) = vacuum_patched(dir.path(), &base, name, leaf, |p| {
            p[12..16].copy_from_slice(&id.to_le_bytes())
        });
        assert_corrupt_page(r, leaf, name);
        let report = db.check().unwrap();
        assert!(!report.is_ok(), "{name}: check() missed the leaf's owner");
    }

    // A page in the middle of the long chain: its back pointer, or its predecessor's
    // forward pointer, no longer agree.
    let mid = last_page(&base, PageType::Overflow, |p| u32_at(p, 16) != 0 && u32_at(p, 12) != 0);
    let prev = u32_at(&base[mid * PAGE..], 16) as usize;
    let (db, r) = vacuum_patched(dir.path(), &base, "back-pointer", mid, |p| {
        p[16..20].copy_from_slice(&(prev as u32 + 1).to_le_bytes())
    });
    assert!(matches!(r, Err(Error::Corrupt { .. })), "back pointer: {r:?}");
    assert!(!db.check().unwrap().is_ok(), "check() missed the back pointer");
    drop(db);

    // The chain's first page names another key as its owner.
    let first = last_page(&base, PageType::Overflow, |p| u32_at(p, 16) == 0);
    let (db, r) = vacuum_patched(dir.path(), &base, "owner-key", first, |p| p[26] ^= 1);
    assert_corrupt_page(r, first, "owner key");
    assert!(!db.check().unwrap().is_ok(), "check() missed the owner record");
}
