//! Readers and a writer at once: a writer moves money between 100 accounts, one transfer per
//! transaction, while reader threads sum every balance. Each read transaction is a snapshot,
//! so every sum is exactly the starting total; a long-lived reader keeps seeing the balances
//! of the moment it began, however many commits and checkpoints happen meanwhile.
//!
//! ```text
//! cargo run --release --example concurrent_readers
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use folio::{CheckpointMode, Database, Error, Options, OrderedInt, ReadTxn, Synchronous};

const ACCOUNTS: u64 = 100;
const START_BALANCE: u64 = 1_000;
const TRANSFERS: u64 = 3_000;
const READERS: u64 = 3;

fn balance(rx: &ReadTxn<'_>, account: u64) -> folio::Result<u64> {
    let v =
        rx.get(&account.to_ordered_bytes())?.ok_or(Error::InvalidArgument("no account".into()))?;
    Ok(u64::from_ordered_bytes(&v)?)
}

/// The sum of all balances in one snapshot.
fn total(db: &Database) -> folio::Result<u64> {
    let rx = db.begin_read()?;
    let mut sum = 0;
    for item in rx.range(..)? {
        let (_, v) = item?;
        sum += u64::from_ordered_bytes(&v)?;
    }
    Ok(sum)
}

fn transfer(db: &Database, n: u64) -> folio::Result<()> {
    let (from, to) = (n * 7 % ACCOUNTS, (n * 13 + 1) % ACCOUNTS);
    let mut tx = db.begin_write()?;
    let get = |tx: &folio::WriteTxn<'_>, a: u64| -> folio::Result<u64> {
        let v =
            tx.get(&a.to_ordered_bytes())?.ok_or(Error::InvalidArgument("no account".into()))?;
        Ok(u64::from_ordered_bytes(&v)?)
    };
    let amount = get(&tx, from)?.min(n % 50);
    let (a, b) = (get(&tx, from)? - amount, get(&tx, to)? + amount);
    tx.put(&from.to_ordered_bytes(), &a.to_ordered_bytes())?;
    tx.put(&to.to_ordered_bytes(), &b.to_ordered_bytes())?;
    tx.commit()
}

fn main() -> folio::Result<()> {
    let dir =
        tempfile::tempdir().map_err(|e| Error::Io { path: std::env::temp_dir(), source: e })?;
    // Normal: commits are not each synced, so the example measures concurrency, not the disk.
    let db = Options::new().synchronous(Synchronous::Normal).open(dir.path().join("bank.db"))?;
    let mut tx = db.begin_write()?;
    for a in 0..ACCOUNTS {
        tx.put(&a.to_ordered_bytes(), &START_BALANCE.to_ordered_bytes())?;
    }
    tx.commit()?;
    let expected = ACCOUNTS * START_BALANCE;

    // A reader that begins now and stays open through every transfer.
    let long_lived = db.begin_read()?;
    let first_balances: Vec<u64> =
        (0..ACCOUNTS).map(|a| balance(&long_lived, a)).collect::<folio::Result<_>>()?;

    let done = AtomicBool::new(false);
    let sums = AtomicU64::new(0);
    thread::scope(|s| -> folio::Result<()> {
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                s.spawn(|| -> folio::Result<()> {
                    while !done.load(Ordering::Relaxed) {
                        assert_eq!(total(&db)?, expected, "a snapshot saw half a transfer");
                        sums.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        for n in 0..TRANSFERS {
            transfer(&db, n)?;
            if n % 1000 == 999 {
                db.checkpoint(CheckpointMode::Passive)?;
            }
        }
        done.store(true, Ordering::Relaxed);
        for r in readers {
            r.join().expect("reader thread")?;
        }
        Ok(())
    })?;

    // The long-lived snapshot still shows the starting balances.
    for a in 0..ACCOUNTS {
        assert_eq!(balance(&long_lived, a)?, first_balances[a as usize]);
    }
    let stats = db.stats()?;
    println!(
        "{TRANSFERS} transfers committed while {READERS} readers took {} consistent sums",
        sums.load(Ordering::Relaxed)
    );
    println!(
        "the long-lived reader still sees txn {}; the database is at txn {}, WAL {} frames",
        long_lived.txn_id(),
        stats.last_txn_id,
        stats.wal_frame_count
    );
    assert!(stats.last_txn_id >= long_lived.txn_id() + TRANSFERS);
    drop(long_lived);
    assert_eq!(total(&db)?, expected);
    assert!(db.check()?.is_ok());
    db.close()
}
