//! Snapshot isolation: a read transaction sees exactly the commits published when it began,
//! for its whole life, while writers on other threads commit and checkpoints (background and
//! explicit) fold the WAL back into the main file and restart it.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Rng, Tables, assert_check_ok, assert_matches, collect};
use folio::{CheckpointMode, Database, Options, ReadTxn, Synchronous};

fn options() -> Options {
    Options::new().auto_checkpoint(50)
}

/// Applies one random transaction to the database and the model: updates, inserts, deletes,
/// a large value now and then, and a named table.
fn random_commit(db: &Database, rng: &mut Rng, model: &mut Tables, n: u64) {
    let mut tx = db.begin_write().unwrap();
    let main = model.entry(None).or_default();
    for _ in 0..rng.range(1, 40) {
        let k = format!("key{:05}", rng.below(2000)).into_bytes();
        if rng.percent(25) {
            let existed = tx.delete(&k).unwrap();
            assert_eq!(existed, main.remove(&k).is_some());
        } else {
            let v = if rng.percent(3) {
                rng.bytes_between(3000, 30_000)
            } else {
                format!("v{n}-{}", rng.next_u64()).into_bytes()
            };
            tx.put(&k, &v).unwrap();
            main.insert(k, v);
        }
    }
    let table = ["t-one", "t-two"][rng.below(2) as usize];
    let k = n.to_be_bytes().to_vec();
    tx.table(table).unwrap().put(&k, b"x").unwrap();
    model.entry(Some(table.to_string())).or_default().insert(k, b"x".to_vec());
    tx.commit().unwrap();
}

fn snapshot_of(rx: &ReadTxn<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
    collect(rx.range(..).unwrap(), "snapshot scan")
}

#[test]
fn reader_sees_no_commit_made_after_it_began() {
    let dir = tempfile::tempdir().unwrap();
    let db = options().open(dir.path().join("s.db")).unwrap();
    let mut rng = Rng::new(11);
    let mut model = Tables::new();
    model.insert(None, BTreeMap::new());
    for n in 0..30 {
        random_commit(&db, &mut rng, &mut model, n);
    }
    let before = model.clone();

    let rx = db.begin_read().unwrap();
    let txn_id = rx.txn_id();
    let scan = snapshot_of(&rx);
    let names = rx.table_names().unwrap();
    assert_matches(&rx, &before, "reader at start");

    const COMMITS: u64 = 300;
    let writer_done = AtomicBool::new(false);
    let after = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut rng = Rng::new(12);
            let mut model = before.clone();
            for n in 30..30 + COMMITS {
                random_commit(&db, &mut rng, &mut model, n);
            }
            writer_done.store(true, Ordering::Release);
            model
        });
        s.spawn(|| {
            while !writer_done.load(Ordering::Acquire) {
                db.checkpoint(CheckpointMode::Passive).unwrap();
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let mut checks = 0;
        while !writer_done.load(Ordering::Acquire) {
            assert_eq!(snapshot_of(&rx), scan, "reader's scan changed mid-life");
            for (k, v) in scan.iter().step_by(17) {
                assert_eq!(rx.get(k).unwrap().as_deref(), Some(&v[..]));
            }
            assert_eq!(rx.table_names().unwrap(), names, "reader's tables changed");
            checks += 1;
        }
        assert!(checks > 0);
        writer.join().unwrap()
    });

    // Every commit happened and checkpoints ran, yet the old reader is unchanged.
    db.checkpoint(CheckpointMode::Passive).unwrap();
    assert_eq!(rx.txn_id(), txn_id);
    assert_eq!(snapshot_of(&rx), scan, "reader's scan changed after the commits");
    assert_matches(&rx, &before, "old reader after all commits");
    let stats = db.stats().unwrap();
    assert!(stats.checkpoint_count > 0, "no checkpoint ran: {stats:?}");
    assert_eq!(stats.last_txn_id, txn_id + COMMITS);
    drop(rx);

    let fresh = db.begin_read().unwrap();
    assert_matches(&fresh, &after, "new reader");
    drop(fresh);
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    assert_matches(&db.begin_read().unwrap(), &after, "after truncate");
    assert_check_ok(&db, "end");
}

#[test]
fn many_staggered_readers_each_keep_their_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let db = options().open(dir.path().join("s.db")).unwrap();
    let mut rng = Rng::new(21);
    let mut model = Tables::new();
    model.insert(None, BTreeMap::new());
    // A reader after every tenth commit, all held until the end while the WAL grows past the
    // checkpoint threshold many times.
    let mut readers: Vec<(ReadTxn<'_>, Tables)> = Vec::new();
    for n in 0..400 {
        random_commit(&db, &mut rng, &mut model, n);
        if n % 10 == 0 {
            readers.push((db.begin_read().unwrap(), model.clone()));
        }
        if n % 7 == 0 {
            db.checkpoint(CheckpointMode::Passive).unwrap();
        }
        if n % 50 == 25 {
            // Verify the oldest and newest held readers mid-way.
            let (rx, m) = &readers[0];
            assert_matches(rx, m, &format!("oldest reader at commit {n}"));
            let (rx, m) = readers.last().unwrap();
            assert_matches(rx, m, &format!("newest reader at commit {n}"));
        }
    }
    // Move the readers to other threads: read transactions are Send.
    std::thread::scope(|s| {
        for (i, chunk) in readers.chunks(8).enumerate() {
            s.spawn(move || {
                for (j, (rx, m)) in chunk.iter().enumerate() {
                    assert_matches(rx, m, &format!("held reader {}", i * 8 + j));
                }
            });
        }
    });
    // Release them out of order, checkpointing in between.
    while !readers.is_empty() {
        let i = rng.below(readers.len() as u64) as usize;
        let (rx, m) = readers.swap_remove(i);
        assert_matches(&rx, &m, "reader before release");
        drop(rx);
        db.checkpoint(CheckpointMode::Passive).unwrap();
    }
    let info = db.checkpoint(CheckpointMode::Restart).unwrap();
    assert_eq!(info.frames_remaining, 0, "{info:?}");
    assert_matches(&db.begin_read().unwrap(), &model, "final");
    assert_check_ok(&db, "final");
}

const ACCOUNTS: u64 = 64;
const START_BALANCE: u64 = 1000;

fn account(i: u64) -> Vec<u8> {
    format!("acct{i:03}").into_bytes()
}

fn balance(v: &[u8]) -> u64 {
    u64::from_le_bytes(v.try_into().expect("8-byte balance"))
}

/// Checks one snapshot: the balances sum to the constant total, the transfer counter matches
/// the history table, and a second scan of the same snapshot gives the same bytes. Returns
/// the transfer counter.
fn verify_bank_snapshot(rx: &ReadTxn<'_>, seen: u64, ctx: &str) -> u64 {
    let accounts = collect(rx.prefix(b"acct").unwrap(), ctx);
    assert_eq!(accounts.len() as u64, ACCOUNTS, "{ctx}: account count");
    let sum: u64 = accounts.iter().map(|(_, v)| balance(v)).sum();
    assert_eq!(sum, ACCOUNTS * START_BALANCE, "{ctx}: balances do not add up");
    let counter = balance(&rx.get(b"counter").unwrap().expect("counter"));
    assert!(counter >= seen, "{ctx}: counter went back from {seen} to {counter}");
    let history = rx.table("history").map(|t| t.len()).unwrap_or(0);
    assert_eq!(history, counter, "{ctx}: history table disagrees with counter");
    // Point reads agree with the scan, and the snapshot does not move while we look.
    for (k, v) in accounts.iter().step_by(9) {
        assert_eq!(rx.get(k).unwrap().as_deref(), Some(&v[..]), "{ctx}: get vs scan");
    }
    let rev: Vec<_> = collect(rx.prefix(b"acct").unwrap().rev(), ctx);
    assert!(rev.iter().rev().eq(accounts.iter()), "{ctx}: reverse scan differs");
    counter
}

#[test]
fn concurrent_readers_always_see_a_consistent_total() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bank.db");
    let db = options().synchronous(Synchronous::Full).open(&path).unwrap();
    {
        let mut tx = db.begin_write().unwrap();
        for i in 0..ACCOUNTS {
            tx.put(&account(i), &START_BALANCE.to_le_bytes()).unwrap();
        }
        tx.put(b"counter", &0u64.to_le_bytes()).unwrap();
        // Padding so the tree has several levels and checkpoints move many pages.
        for i in 0..3000u32 {
            tx.put(format!("pad{i:05}").as_bytes(), &[b'p'; 200]).unwrap();
        }
        tx.commit().unwrap();
    }

    const WRITERS: u64 = 2;
    const TRANSFERS_EACH: u64 = 800;
    const READERS: usize = 4;
    let writers_left = AtomicU64::new(WRITERS);
    let snapshots = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let (db, writers_left) = (&db, &writers_left);
            s.spawn(move || {
                let mut rng = Rng::new(100 + w);
                for _ in 0..TRANSFERS_EACH {
                    let mut tx = db.begin_write().unwrap();
                    let (a, b) = (rng.below(ACCOUNTS), rng.below(ACCOUNTS));
                    let ba = balance(&tx.get(&account(a)).unwrap().unwrap());
                    let amount = rng.below(ba + 1);
                    tx.put(&account(a), &(ba - amount).to_le_bytes()).unwrap();
                    let bb = balance(&tx.get(&account(b)).unwrap().unwrap());
                    tx.put(&account(b), &(bb + amount).to_le_bytes()).unwrap();
                    let c = balance(&tx.get(b"counter").unwrap().unwrap()) + 1;
                    tx.put(b"counter", &c.to_le_bytes()).unwrap();
                    tx.table("history")
                        .unwrap()
                        .put(&c.to_be_bytes(), &amount.to_le_bytes())
                        .unwrap();
                    // Churn in the padding so pages split, merge and get freed.
                    let p = format!("pad{:05}", rng.below(4000));
                    if rng.percent(50) {
                        tx.delete(p.as_bytes()).unwrap();
                    } else {
                        tx.put(p.as_bytes(), &rng.bytes_between(0, 600)).unwrap();
                    }
                    tx.commit().unwrap();
                }
                writers_left.fetch_sub(1, Ordering::AcqRel);
            });
        }
        for r in 0..READERS {
            let (db, writers_left, snapshots) = (&db, &writers_left, &snapshots);
            s.spawn(move || {
                let mut rng = Rng::new(200 + r as u64);
                let mut seen = 0;
                while writers_left.load(Ordering::Acquire) > 0 {
                    let rx = db.begin_read().unwrap();
                    let ctx = format!("reader {r} snapshot txn {}", rx.txn_id());
                    let c = verify_bank_snapshot(&rx, seen, &ctx);
                    if rng.percent(10) {
                        // Hold this snapshot while more commits and checkpoints happen.
                        std::thread::sleep(Duration::from_millis(rng.below(15)));
                        assert_eq!(verify_bank_snapshot(&rx, seen, &ctx), c);
                    }
                    seen = c;
                    snapshots.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let (db, writers_left) = (&db, &writers_left);
        s.spawn(move || {
            let mut n = 0u64;
            while writers_left.load(Ordering::Acquire) > 0 {
                let mode = if n % 10 == 9 { CheckpointMode::Full } else { CheckpointMode::Passive };
                db.checkpoint(mode).unwrap();
                if n % 7 == 3 {
                    // Move pages down into free slots and shrink while readers read.
                    db.vacuum(16).unwrap();
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(3));
            }
        });
    });
    let stats = db.stats().unwrap();
    println!(
        "{} snapshots verified in {:?}; {stats:?}",
        snapshots.load(Ordering::Relaxed),
        started.elapsed()
    );
    assert!(snapshots.load(Ordering::Relaxed) > 0);
    assert!(stats.checkpoint_count > 0, "{stats:?}");
    let rx = db.begin_read().unwrap();
    assert_eq!(verify_bank_snapshot(&rx, 0, "final"), WRITERS * TRANSFERS_EACH);
    drop(rx);
    assert_check_ok(&db, "final");
    db.close().unwrap();

    let db = Database::open(&path).unwrap();
    let rx = db.begin_read().unwrap();
    assert_eq!(verify_bank_snapshot(&rx, 0, "after reopen"), WRITERS * TRANSFERS_EACH);
    drop(rx);
    assert_check_ok(&db, "after reopen");
}

#[test]
fn reader_keeps_its_bytes_while_vacuum_shrinks_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let db = options().open(&path).unwrap();
    let mut rng = Rng::new(31);
    let mut tx = db.begin_write().unwrap();
    for i in 0..4000u32 {
        let v = if i % 50 == 0 { rng.bytes(20_000) } else { rng.bytes_between(100, 600) };
        tx.put(format!("key{i:05}").as_bytes(), &v).unwrap();
    }
    tx.commit().unwrap();
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    let before = db.stats().unwrap();

    // Hold a snapshot and slices borrowed from it (values are zero-copy where contiguous).
    let rx = db.begin_read().unwrap();
    let owned = snapshot_of(&rx);
    let borrowed: Vec<(&[u8], folio::Value<'_>)> =
        rx.range(..).unwrap().map(|item| item.unwrap()).collect();

    // Delete 90% of the keys at random, then vacuum and checkpoint with the reader alive.
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = owned.iter().cloned().collect();
    let victims: Vec<Vec<u8>> = model.keys().filter(|_| rng.percent(90)).cloned().collect();
    for chunk in victims.chunks(500) {
        let mut tx = db.begin_write().unwrap();
        for k in chunk {
            assert!(tx.delete(k).unwrap());
            model.remove(k);
        }
        tx.commit().unwrap();
    }
    for _ in 0..3 {
        db.checkpoint(CheckpointMode::Passive).unwrap();
        db.vacuum(0).unwrap();
    }
    db.put(b"after-vacuum", b"x").unwrap();
    model.insert(b"after-vacuum".to_vec(), b"x".to_vec());
    db.checkpoint(CheckpointMode::Passive).unwrap();

    // The old snapshot and every slice taken from it are unchanged.
    assert_eq!(snapshot_of(&rx), owned, "the reader's snapshot changed under vacuum");
    assert_eq!(borrowed.len(), owned.len());
    for ((k, v), (ok, ov)) in borrowed.iter().zip(&owned) {
        assert!(*k == &ok[..] && v[..] == ov[..], "a borrowed slice changed under vacuum");
    }
    let fresh = db.begin_read().unwrap();
    assert_eq!(snapshot_of(&fresh), model.clone().into_iter().collect::<Vec<_>>());
    drop(fresh);
    drop(borrowed);
    drop(rx);

    // With the reader gone the file can shrink.
    db.vacuum(0).unwrap();
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    let after = db.stats().unwrap();
    assert!(
        after.page_count * 2 < before.page_count && after.file_bytes * 2 < before.file_bytes,
        "vacuum did not shrink the database: {before:?} -> {after:?}"
    );
    assert_eq!(
        snapshot_of(&db.begin_read().unwrap()),
        model.clone().into_iter().collect::<Vec<_>>()
    );
    assert_check_ok(&db, "after vacuum");
    db.close().unwrap();
    let db = Database::open(&path).unwrap();
    assert_eq!(snapshot_of(&db.begin_read().unwrap()), model.into_iter().collect::<Vec<_>>());
    assert_check_ok(&db, "after vacuum and reopen");
}
