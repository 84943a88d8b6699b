//! Transactions far larger than their cache: writes buffered, spilled as sorted runs, runs
//! merged in tiers, and tables rebuilt or edited when the runs are applied. A seeded mix of
//! puts (some with values larger than a page), deletes, point reads and short range reads
//! over three tables runs against a `BTreeMap` model, through commits, a rollback and a
//! reopen; every read must match the model and `check()` must stay clean.

mod common;

use std::collections::BTreeMap;

use common::Rng;
use folio::{Database, Options, WriteTxn};

type Model = BTreeMap<(usize, Vec<u8>), Vec<u8>>;

const TABLES: [Option<&str>; 3] = [None, Some("alpha"), Some("beta")];

fn put(tx: &mut WriteTxn<'_>, t: usize, k: &[u8], v: &[u8]) {
    match TABLES[t] {
        None => tx.put(k, v).unwrap(),
        Some(name) => tx.table(name).unwrap().put(k, v).unwrap(),
    }
}

fn delete(tx: &mut WriteTxn<'_>, t: usize, k: &[u8]) -> bool {
    match TABLES[t] {
        None => tx.delete(k).unwrap(),
        Some(name) => tx.table(name).unwrap().delete(k).unwrap(),
    }
}

fn get(tx: &mut WriteTxn<'_>, t: usize, k: &[u8]) -> Option<Vec<u8>> {
    match TABLES[t] {
        None => tx.get(k).unwrap().map(|v| v.to_vec()),
        Some(name) => tx.table(name).unwrap().get(k).unwrap().map(|v| v.to_vec()),
    }
}

fn range(tx: &mut WriteTxn<'_>, t: usize, from: &[u8], n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let collect = |it: &mut dyn Iterator<Item = folio::Result<(&[u8], folio::Value<'_>)>>| {
        it.take(n).map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect()
    };
    match TABLES[t] {
        None => collect(&mut tx.range(from..).unwrap()),
        Some(name) => {
            let mut table = tx.table(name).unwrap();
            collect(&mut table.range(from..).unwrap())
        }
    }
}

fn model_range(m: &Model, t: usize, from: &[u8], n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    m.range((t, from.to_vec())..(t + 1, Vec::new()))
        .take(n)
        .map(|((_, k), v)| (k.clone(), v.clone()))
        .collect()
}

fn verify_all(db: &Database, m: &Model, seed: u64) {
    let tx = db.begin_read().unwrap();
    for (t, name) in TABLES.iter().enumerate() {
        let got: Vec<(Vec<u8>, Vec<u8>)> = match name {
            None => tx
                .range(&b""[..]..)
                .unwrap()
                .map(|r| r.unwrap())
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect(),
            Some(n) => match tx.table(n) {
                Ok(table) => table
                    .range(&b""[..]..)
                    .unwrap()
                    .map(|r| r.unwrap())
                    .map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .collect(),
                Err(folio::Error::TableNotFound(_)) => Vec::new(),
                Err(e) => panic!("seed {seed:#x}: {e}"),
            },
        };
        assert_eq!(got, model_range(m, t, b"", usize::MAX), "seed {seed:#x}: table {t} differs");
    }
    let report = db.check().unwrap();
    assert!(report.problems.is_empty(), "seed {seed:#x}: {:?}", report.problems);
}

fn key(rng: &mut Rng) -> Vec<u8> {
    // A small key space, so writes overwrite, delete and re-create each other.
    let k = rng.below(6000);
    let mut key = format!("{k:05}").into_bytes();
    key.extend(std::iter::repeat_n(b'k', (k % 23) as usize));
    key
}

fn value(rng: &mut Rng, page_size: usize) -> Vec<u8> {
    if rng.percent(2) {
        let extra = rng.range(1, 3000);
        rng.bytes(page_size + extra)
    } else {
        rng.bytes_between(0, 200)
    }
}

/// Runs the seeded mix on `db`; returns the committed contents.
fn exercise(db: &Database, seed: u64) -> Model {
    let page_size = 4096;
    let mut rng = Rng::new(seed);
    let mut model = Model::new();
    for round in 0..4 {
        let mut next = model.clone();
        let mut tx = db.begin_write().unwrap();
        let ops = if round == 0 { 20_000 } else { 8_000 };
        for _ in 0..ops {
            let t = rng.below(3) as usize;
            let k = key(&mut rng);
            match rng.below(100) {
                0..60 => {
                    let v = value(&mut rng, page_size);
                    put(&mut tx, t, &k, &v);
                    next.insert((t, k), v);
                }
                60..85 => {
                    let had = next.remove(&(t, k.clone())).is_some();
                    assert_eq!(delete(&mut tx, t, &k), had, "seed {seed:#x}: delete {k:?}");
                }
                _ if rng.below(100) > 0 => {
                    let want = next.get(&(t, k.clone())).cloned();
                    assert_eq!(get(&mut tx, t, &k), want, "seed {seed:#x}: get {k:?}");
                }
                _ => {
                    // Rare: a range read applies every buffered and spilled write.
                    let want = model_range(&next, t, &k, 5);
                    assert_eq!(range(&mut tx, t, &k, 5), want, "seed {seed:#x}: range {k:?}");
                }
            }
        }
        if round == 2 {
            tx.rollback();
        } else {
            tx.commit().unwrap();
            model = next;
        }
        verify_all(db, &model, seed);
    }
    model
}

fn options() -> Options {
    Options::new().cache_size(64 << 10)
}

#[test]
fn large_transactions_match_the_model() {
    for seed in [0x1a26e_u64, 7] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let model = exercise(&options().open(&path).unwrap(), seed);
        let db = options().open(&path).unwrap();
        verify_all(&db, &model, seed);
        println!("large transactions, seed {seed:#x}: {} entries after reopen", model.len());
    }
}

#[test]
fn large_transactions_of_a_memory_database_match_the_model() {
    let seed = 0x3e3;
    let model = exercise(&Database::memory_with(options()).unwrap(), seed);
    println!("large transactions in memory, seed {seed:#x}: {} entries", model.len());
}
