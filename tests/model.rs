//! Model-based test: long seeded sequences of random operations run against the database and
//! against a `BTreeMap` model side by side. Every read is compared with the model; after every
//! reopen the whole database (every table, forward and reverse) is compared and `check()` must
//! be clean. A failure names the seed, run and step; set `FOLIO_MODEL_SEED` to replay one
//! seed.

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use common::{
    Rng, Tables, assert_check_ok, assert_matches, describe, hex, model_prefix, model_range,
};
use folio::{CheckpointMode, Database, Options, Synchronous, Value};

/// Named tables the runs use besides the default table (`None`).
const TABLES: [Option<&str>; 4] = [None, Some("alpha"), Some("beta"), Some("gamma")];

#[derive(Clone)]
struct Run {
    name: &'static str,
    seed: u64,
    steps: usize,
    opts: Options,
    /// Memory-only databases cannot be reopened.
    memory: bool,
}

/// Counts operations and carries the context printed by every assertion.
struct Ctx {
    run: &'static str,
    seed: u64,
    step: usize,
    ops: usize,
    reopens: usize,
    commits: usize,
    rollbacks: usize,
}

impl Ctx {
    fn at(&self, what: &str) -> String {
        format!(
            "[run {} seed {:#x} step {} op {}] {what}",
            self.run, self.seed, self.step, self.ops
        )
    }
}

fn gen_key(rng: &mut Rng, m: Option<&BTreeMap<Vec<u8>, Vec<u8>>>) -> Vec<u8> {
    if let Some(m) = m.filter(|m| !m.is_empty()) {
        if rng.percent(40) {
            // An existing key: the first one at or after a random probe.
            let probe = rng.bytes_between(0, 2);
            return match m.range(probe..).next() {
                Some((k, _)) => k.clone(),
                None => m.keys().next_back().unwrap().clone(),
            };
        }
    }
    match rng.below(100) {
        0..5 => Vec::new(),
        5..45 => {
            // Short keys over a tiny alphabet: many shared prefixes and collisions.
            const ALPHABET: &[u8] = b"abc\x00\xff";
            let len = rng.range(1, 6);
            (0..len).map(|_| *rng.pick(ALPHABET)).collect()
        }
        45..80 => format!("k{:05}", rng.below(3000)).into_bytes(),
        80..92 => {
            // Long keys with a long common prefix.
            let mut k = vec![b'p'; rng.range(100, 1500)];
            k.extend_from_slice(format!("{:04}", rng.below(200)).as_bytes());
            k
        }
        92..97 => {
            let len = rng.range(1, folio::MAX_KEY_LEN);
            rng.bytes(len)
        }
        _ => {
            // Maximum-length keys differing only near the end.
            let mut k = vec![b'z'; folio::MAX_KEY_LEN - 2];
            k.extend_from_slice(&(rng.below(300) as u16).to_be_bytes());
            k
        }
    }
}

fn gen_value(rng: &mut Rng) -> Vec<u8> {
    match rng.below(1000) {
        0..50 => Vec::new(),
        50..80 => {
            // Values larger than a page share: overflow chains.
            let len = rng.range(2049, 40_000);
            rng.bytes(len)
        }
        80..83 => {
            let len = rng.range(100_000, 300_000);
            rng.bytes(len)
        }
        83..200 => {
            let len = rng.range(200, 2000);
            rng.bytes(len)
        }
        _ => {
            let len = rng.range(1, 120);
            rng.bytes(len)
        }
    }
}

fn gen_bound(rng: &mut Rng, m: &BTreeMap<Vec<u8>, Vec<u8>>) -> Bound<Vec<u8>> {
    match rng.below(3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(gen_key(rng, Some(m))),
        _ => Bound::Excluded(gen_key(rng, Some(m))),
    }
}

fn as_slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(&k[..]),
        Bound::Excluded(k) => Bound::Excluded(&k[..]),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Drains `iter` in a random mix of `next` and `next_back` (sometimes stopping early) and
/// compares what it yields with `want`, the model's entries in ascending order.
fn check_iter<'a, I>(rng: &mut Rng, mut iter: I, want: &[(Vec<u8>, Vec<u8>)], what: &str)
where
    I: DoubleEndedIterator<Item = folio::Result<(&'a [u8], Value<'a>)>>,
{
    let style = rng.below(4); // 0 forward, 1 reverse, 2 mixed, 3 forward with early stop
    let limit = if style == 3 { rng.range(0, want.len() + 1) } else { usize::MAX };
    let (mut lo, mut hi) = (0usize, want.len());
    let mut taken = 0;
    loop {
        if taken == limit {
            return;
        }
        let back = match style {
            0 | 3 => false,
            1 => true,
            _ => rng.percent(50),
        };
        let got = if back { iter.next_back() } else { iter.next() };
        let got = got.map(|r| {
            let (k, v) = r.unwrap_or_else(|e| panic!("{what}: iteration error: {e}"));
            (k.to_vec(), v.to_vec())
        });
        if lo == hi {
            assert!(
                got.is_none(),
                "{what}: iterator yielded key {} past the end (want {})",
                hex(&got.unwrap().0, 16),
                describe(want)
            );
            // A finished iterator stays finished, from either end.
            assert!(iter.next().is_none(), "{what}: next() after exhaustion");
            assert!(iter.next_back().is_none(), "{what}: next_back() after exhaustion");
            return;
        }
        let expect = if back {
            hi -= 1;
            &want[hi]
        } else {
            lo += 1;
            &want[lo - 1]
        };
        match got {
            None => panic!(
                "{what}: iterator ended early ({} of {} entries; next wanted key {})",
                taken,
                want.len(),
                hex(&expect.0, 16)
            ),
            Some(g) => assert!(
                &g == expect,
                "{what}: {} yielded key {} ({}B), want key {} ({}B)",
                if back { "next_back" } else { "next" },
                hex(&g.0, 16),
                g.1.len(),
                hex(&expect.0, 16),
                expect.1.len()
            ),
        }
        taken += 1;
    }
}

fn table_label(t: Option<&str>) -> &str {
    t.unwrap_or("<default>")
}

/// One write transaction of `n` random operations; commits, rolls back or drops it.
fn write_txn(
    db: &Database,
    rng: &mut Rng,
    model: &mut Tables,
    ctx: &mut Ctx,
    n: usize,
    bulk: bool,
) {
    let mut work = model.clone();
    let mut tx =
        db.begin_write().unwrap_or_else(|e| panic!("{}", ctx.at(&format!("begin_write: {e}"))));
    for _ in 0..n {
        ctx.ops += 1;
        let t = *rng.pick(&TABLES);
        let owned = t.map(str::to_string);
        let m = work.entry(owned.clone()).or_default();
        let what = ctx.at(table_label(t));
        let op = if bulk { 0 } else { rng.below(100) };
        match op {
            0..45 => {
                let k = if bulk {
                    format!("bulk{:08}", rng.below(1_000_000)).into_bytes()
                } else {
                    gen_key(rng, Some(m))
                };
                let v = if bulk { rng.bytes_between(10, 300) } else { gen_value(rng) };
                let r = match t {
                    None => tx.put(&k, &v),
                    Some(name) => tx.table(name).and_then(|mut tm| tm.put(&k, &v)),
                };
                r.unwrap_or_else(|e| panic!("{what}: put {}: {e}", hex(&k, 16)));
                m.insert(k, v);
            }
            45..65 => {
                let k = gen_key(rng, Some(m));
                let r = match t {
                    None => tx.delete(&k),
                    Some(name) => tx.table(name).and_then(|mut tm| tm.delete(&k)),
                };
                let existed = r.unwrap_or_else(|e| panic!("{what}: delete {}: {e}", hex(&k, 16)));
                assert_eq!(
                    existed,
                    m.remove(&k).is_some(),
                    "{what}: delete {} reported the wrong existence",
                    hex(&k, 16)
                );
            }
            65..80 => {
                let k = gen_key(rng, Some(m));
                let got = match t {
                    None => tx.get(&k).unwrap().map(|v| v.to_vec()),
                    Some(name) => {
                        let tm = tx.table(name).unwrap();
                        tm.get(&k).unwrap().map(|v| v.to_vec())
                    }
                };
                assert!(
                    got.as_ref() == m.get(&k),
                    "{what}: get {} in write txn: got {:?}B, want {:?}B",
                    hex(&k, 16),
                    got.map(|v| v.len()),
                    m.get(&k).map(|v| v.len())
                );
            }
            80..93 => {
                let (lo, hi) = (gen_bound(rng, m), gen_bound(rng, m));
                let want = model_range(m, &lo, &hi);
                let what = format!("{what}: range in write txn {lo:?}..{hi:?}");
                match t {
                    None => check_iter(
                        rng,
                        tx.range((as_slice(&lo), as_slice(&hi))).unwrap(),
                        &want,
                        &what,
                    ),
                    Some(name) => {
                        let mut tm = tx.table(name).unwrap();
                        check_iter(
                            rng,
                            tm.range((as_slice(&lo), as_slice(&hi))).unwrap(),
                            &want,
                            &what,
                        )
                    }
                }
            }
            _ => {
                let p = gen_key(rng, Some(m));
                let p = p[..rng.range(0, p.len().min(4))].to_vec();
                let want = model_prefix(m, &p);
                let what = format!("{what}: prefix {} in write txn", hex(&p, 8));
                match t {
                    None => check_iter(rng, tx.prefix(&p).unwrap(), &want, &what),
                    Some(name) => {
                        let mut tm = tx.table(name).unwrap();
                        check_iter(rng, tm.prefix(&p).unwrap(), &want, &what)
                    }
                }
            }
        }
    }
    ctx.ops += 1;
    match rng.below(10) {
        0 => {
            tx.rollback();
            ctx.rollbacks += 1;
        }
        1 => {
            drop(tx);
            ctx.rollbacks += 1;
        }
        _ => {
            tx.commit().unwrap_or_else(|e| panic!("{}", ctx.at(&format!("commit: {e}"))));
            *model = work;
            ctx.commits += 1;
        }
    }
}

/// A read transaction doing a few random reads, all checked against the committed model.
fn read_txn(db: &Database, rng: &mut Rng, model: &Tables, ctx: &mut Ctx) {
    let rx = db.begin_read().unwrap();
    let empty = BTreeMap::new();
    for _ in 0..rng.range(1, 5) {
        ctx.ops += 1;
        let t = *rng.pick(&TABLES);
        let what = ctx.at(table_label(t));
        let m = model.get(&t.map(str::to_string));
        let table = match t {
            None => None,
            Some(name) => match (rx.table(name), m) {
                (Ok(tb), Some(_)) => Some(tb),
                (Err(folio::Error::TableNotFound(_)), None) => continue,
                (r, m) => panic!(
                    "{what}: table() gave {:?} but the model {} the table",
                    r.err(),
                    if m.is_some() { "has" } else { "lacks" }
                ),
            },
        };
        let m = m.unwrap_or(&empty);
        match rng.below(3) {
            0 => {
                let k = gen_key(rng, Some(m));
                let got = match &table {
                    None => rx.get(&k).unwrap().map(|v| v.to_vec()),
                    Some(tb) => tb.get(&k).unwrap().map(|v| v.to_vec()),
                };
                assert!(got.as_ref() == m.get(&k), "{what}: get {} in read txn", hex(&k, 16));
            }
            1 => {
                let (lo, hi) = (gen_bound(rng, m), gen_bound(rng, m));
                let want = model_range(m, &lo, &hi);
                let what = format!("{what}: range {lo:?}..{hi:?}");
                let r = (as_slice(&lo), as_slice(&hi));
                match &table {
                    None => check_iter(rng, rx.range(r).unwrap(), &want, &what),
                    Some(tb) => check_iter(rng, tb.range(r).unwrap(), &want, &what),
                }
            }
            _ => {
                let p = gen_key(rng, Some(m));
                let p = p[..rng.range(0, p.len().min(4))].to_vec();
                let want = model_prefix(m, &p);
                let what = format!("{what}: prefix {}", hex(&p, 8));
                match &table {
                    None => check_iter(rng, rx.prefix(&p).unwrap(), &want, &what),
                    Some(tb) => check_iter(rng, tb.prefix(&p).unwrap(), &want, &what),
                }
            }
        }
    }
}

fn open(run: &Run, path: &Path) -> Database {
    if run.memory {
        Database::memory_with(run.opts.clone()).expect("memory database")
    } else {
        run.opts
            .clone()
            .open(path)
            .unwrap_or_else(|e| panic!("[run {} seed {:#x}] open failed: {e}", run.name, run.seed))
    }
}

fn verify_all(db: &Database, model: &Tables, ctx: &Ctx, what: &str) {
    let rx = db.begin_read().unwrap();
    assert_matches(&rx, model, &ctx.at(what));
    drop(rx);
    assert_check_ok(db, &ctx.at(what));
}

fn run_model(run: Run) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.db");
    let mut rng = Rng::new(run.seed);
    let mut model = Tables::new();
    model.insert(None, BTreeMap::new());
    let mut ctx = Ctx {
        run: run.name,
        seed: run.seed,
        step: 0,
        ops: 0,
        reopens: 0,
        commits: 0,
        rollbacks: 0,
    };
    let mut db = open(&run, &path);
    let started = std::time::Instant::now();
    while ctx.step < run.steps {
        ctx.step += 1;
        match rng.below(1000) {
            0..520 => {
                let n = rng.range(1, 30);
                write_txn(&db, &mut rng, &mut model, &mut ctx, n, false);
            }
            520..540 => {
                // A bulk transaction: splits, and spills when the cache is small.
                let n = rng.range(200, 1500);
                write_txn(&db, &mut rng, &mut model, &mut ctx, n, true);
            }
            540..560 => {
                // A transaction that deletes a large share of a table: merges and rebalancing.
                ctx.ops += 1;
                let t = *rng.pick(&TABLES);
                let owned = t.map(str::to_string);
                let Some(m) = model.get(&owned) else { continue };
                let victims: Vec<Vec<u8>> = m.keys().filter(|_| rng.percent(70)).cloned().collect();
                let mut tx = db.begin_write().unwrap();
                for k in &victims {
                    ctx.ops += 1;
                    let existed = match t {
                        None => tx.delete(k),
                        Some(name) => tx.table(name).and_then(|mut tm| tm.delete(k)),
                    }
                    .unwrap();
                    assert!(existed, "{}", ctx.at(&format!("mass delete of {}", hex(k, 16))));
                }
                tx.commit().unwrap();
                ctx.commits += 1;
                let m = model.get_mut(&owned).unwrap();
                for k in &victims {
                    m.remove(k);
                }
            }
            560..700 => {
                ctx.ops += 1;
                let m = model.get_mut(&None).unwrap();
                let k = gen_key(&mut rng, Some(m));
                match rng.below(3) {
                    0 => {
                        let v = gen_value(&mut rng);
                        db.put(&k, &v)
                            .unwrap_or_else(|e| panic!("{}", ctx.at(&format!("db.put: {e}"))));
                        m.insert(k, v);
                    }
                    1 => {
                        let existed = db.delete(&k).unwrap();
                        assert_eq!(existed, m.remove(&k).is_some(), "{}", ctx.at("db.delete"));
                    }
                    _ => {
                        let got = db.get(&k).unwrap();
                        assert!(
                            got.as_ref() == m.get(&k),
                            "{}",
                            ctx.at(&format!("db.get {}", hex(&k, 16)))
                        );
                    }
                }
            }
            700..960 => read_txn(&db, &mut rng, &model, &mut ctx),
            960..966 => {
                // Space reclamation: vacuum (some or all of the free pages), a full compaction,
                // or an online backup that must hold exactly the committed state.
                ctx.ops += 1;
                match rng.below(3) {
                    0 => {
                        let budget = *rng.pick(&[0u64, 1, 8, 64]);
                        db.vacuum(budget).unwrap_or_else(|e| {
                            panic!("{}", ctx.at(&format!("vacuum({budget}): {e}")))
                        });
                    }
                    1 => db
                        .compact()
                        .unwrap_or_else(|e| panic!("{}", ctx.at(&format!("compact: {e}")))),
                    _ if !run.memory => {
                        let dest = path.with_file_name(format!("backup-{}.db", ctx.step));
                        db.backup_to(&dest)
                            .unwrap_or_else(|e| panic!("{}", ctx.at(&format!("backup: {e}"))));
                        let copy = Database::open(&dest).unwrap();
                        verify_all(&copy, &model, &ctx, "backup copy");
                        copy.close().unwrap();
                        std::fs::remove_file(&dest).unwrap();
                    }
                    _ => {}
                }
                if rng.percent(30) {
                    verify_all(&db, &model, &ctx, "after vacuum/compact/backup");
                }
            }
            966..980 => {
                ctx.ops += 1;
                let mode = *rng.pick(&[
                    CheckpointMode::Passive,
                    CheckpointMode::Full,
                    CheckpointMode::Restart,
                    CheckpointMode::Truncate,
                ]);
                db.checkpoint(mode)
                    .unwrap_or_else(|e| panic!("{}", ctx.at(&format!("checkpoint {mode:?}: {e}"))));
            }
            _ => {
                ctx.ops += 1;
                if run.memory {
                    verify_all(&db, &model, &ctx, "full comparison");
                    continue;
                }
                db.close().unwrap_or_else(|e| panic!("{}", ctx.at(&format!("close: {e}"))));
                db = open(&run, &path);
                ctx.reopens += 1;
                let rec = db.recovery_info();
                // A clean close folds everything back and leaves no WAL to replay.
                assert_eq!(
                    rec,
                    folio::RecoveryInfo::default(),
                    "{}",
                    ctx.at("clean close left a WAL behind")
                );
                verify_all(&db, &model, &ctx, "after reopen");
            }
        }
    }
    verify_all(&db, &model, &ctx, "end of run");
    if !run.memory {
        db.close().unwrap();
        let db = open(&run, &path);
        verify_all(&db, &model, &ctx, "final reopen");
        db.close().unwrap();
    }
    println!(
        "run {} seed {:#x}: {} ops, {} commits, {} rollbacks, {} reopens, {} keys in the default table, {:?}",
        run.name,
        run.seed,
        ctx.ops,
        ctx.commits,
        ctx.rollbacks,
        ctx.reopens,
        model[&None].len(),
        started.elapsed()
    );
}

/// The seeds to run: `defaults`, or the one in `FOLIO_MODEL_SEED` (decimal or 0x-hex) to
/// replay a failure.
fn seeds(defaults: &[u64]) -> Vec<u64> {
    match std::env::var("FOLIO_MODEL_SEED") {
        Ok(s) => {
            let s = s.trim();
            let seed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            vec![seed.expect("FOLIO_MODEL_SEED must be a number")]
        }
        Err(_) => defaults.to_vec(),
    }
}

fn base() -> Options {
    Options::new().synchronous(Synchronous::Off)
}

#[test]
fn model_default_options() {
    for seed in seeds(&[1, 0xdead_beef]) {
        run_model(Run { name: "default", seed, steps: 1_200, opts: Options::new(), memory: false });
    }
}

#[test]
fn model_small_cache_spills_mid_transaction() {
    for seed in seeds(&[7, 0x5eed_0001]) {
        run_model(Run {
            name: "small-cache",
            seed,
            steps: 1_200,
            opts: base().cache_size(64 << 10),
            memory: false,
        });
    }
}

#[test]
fn model_frequent_auto_checkpoint() {
    for seed in seeds(&[42]) {
        run_model(Run {
            name: "auto-checkpoint-20",
            seed,
            steps: 1_200,
            opts: base().auto_checkpoint(20).synchronous(Synchronous::Normal),
            memory: false,
        });
    }
}

#[test]
fn model_large_pages() {
    for seed in seeds(&[0x1616]) {
        run_model(Run {
            name: "page-16k",
            seed,
            steps: 1_200,
            opts: base().page_size(16384).cache_size(128 << 10),
            memory: false,
        });
    }
}

#[test]
fn model_memory_database() {
    for seed in seeds(&[0x3e3]) {
        run_model(Run {
            name: "memory",
            seed,
            steps: 1_200,
            opts: base().cache_size(64 << 10),
            memory: true,
        });
    }
}

#[test]
fn model_auto_vacuum_full() {
    for seed in seeds(&[0xa0a0]) {
        run_model(Run {
            name: "auto-vacuum-full",
            seed,
            steps: 1_000,
            opts: base().auto_vacuum(folio::AutoVacuum::Full).cache_size(256 << 10),
            memory: false,
        });
    }
}

/// Regression (found by the model test): `compact()` lost the empty value of a key long
/// enough that its leaf cell could not hold the value inline: the empty value went to an
/// overflow chain, and compact's chain writer wrote no page for it. Values no longer than an
/// overflow reference are now always inline, and an empty chain still gets its page.
#[test]
fn regression_compact_keeps_empty_value_of_long_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let db = Database::open(&path).unwrap();
    let key = vec![b'k'; 1500];
    db.put(&key, b"").unwrap();
    db.put(b"z", &[7u8; 5000]).unwrap();
    assert_eq!(db.get(&key).unwrap(), Some(Vec::new()));
    db.compact().unwrap();
    let got = db.get(&key);
    let report = db.check().map(|r| r.to_string());
    assert!(
        matches!(got, Ok(Some(ref v)) if v.is_empty()),
        "after compact: get gave {got:?}; check: {report:?}"
    );
    assert_eq!(db.get(b"z").unwrap(), Some(vec![7u8; 5000]));
    assert_check_ok(&db, "after compact");
}

/// Regression (found by the model test): `backup_to()` failed with `Corrupt("page N lies
/// beyond the end of the main file")` when the snapshot had free pages that were never
/// written (allocated and freed within one transaction). Free pages are now copied as zeros.
#[test]
fn regression_backup_copes_with_free_pages_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = Options::new().auto_checkpoint(0).open(dir.path().join("a.db")).unwrap();
    db.put(b"a", b"1").unwrap();
    let mut tx = db.begin_write().unwrap();
    tx.put(b"big", &[7u8; 50_000]).unwrap();
    assert!(tx.delete(b"big").unwrap());
    tx.commit().unwrap();
    assert_check_ok(&db, "before backup");
    let dest = dir.path().join("backup.db");
    db.backup_to(&dest)
        .unwrap_or_else(|e| panic!("backup_to failed: {e}; stats {:?}", db.stats().unwrap()));
    let copy = Database::open(&dest).unwrap();
    assert_eq!(copy.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(copy.get(b"big").unwrap(), None);
    assert_check_ok(&copy, "backup copy");
}

/// Regression: `compact()` on a memory-only database used to build `":memory:-compact"` and
/// rename it over a real file named `:memory:` in the current directory. It now rebuilds in
/// anonymous memory and never touches the disk.
#[test]
fn regression_compact_of_memory_database_writes_no_file() {
    let here = std::path::Path::new(":memory:");
    let litter = [here.to_path_buf(), std::path::PathBuf::from(":memory:-compact")];
    let existed: Vec<bool> = litter.iter().map(|p| p.exists()).collect();
    let db = Database::memory().unwrap();
    db.put(b"k", b"v").unwrap();
    let r = db.compact();
    let created: Vec<String> = litter
        .iter()
        .zip(&existed)
        .filter(|(p, existed)| !**existed && p.exists())
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    drop(db);
    for (p, existed) in litter.iter().zip(&existed) {
        if !existed {
            let _ = std::fs::remove_file(p);
        }
    }
    assert!(
        created.is_empty(),
        "compact() of a memory database ({r:?}) created {created:?} in {:?}",
        std::env::current_dir().unwrap()
    );
}
