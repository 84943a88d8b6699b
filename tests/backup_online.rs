//! A backup taken while a writer commits continuously is one consistent snapshot: it opens
//! as a normal database, passes `check()`, and equals the state of the commit it was taken
//! at. Each commit `n` adds entry `n` and sets `last` to `n`, so the backup must hold exactly
//! entries `0..=last`.

use std::sync::atomic::{AtomicBool, Ordering};

use folio::{Database, Options, Synchronous};

fn entry(n: u64) -> Vec<u8> {
    format!("entry-{n:08}").into_bytes()
}

fn commit(db: &Database, n: u64) {
    let mut tx = db.begin_write().unwrap();
    tx.put(&entry(n), &vec![(n % 251) as u8; 300 + (n % 7) as usize * 1000]).unwrap();
    tx.table("meta").unwrap().put(b"last", &n.to_be_bytes()).unwrap();
    tx.commit().unwrap();
}

#[test]
fn backup_during_continuous_commits_equals_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let db = Options::new()
        .synchronous(Synchronous::Normal)
        .auto_checkpoint(200)
        .open(dir.path().join("live.db"))
        .unwrap();
    for n in 0..3000 {
        commit(&db, n);
    }
    let stop = AtomicBool::new(false);
    let mut checked = Vec::new();
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut n = 3000;
            while !stop.load(Ordering::Relaxed) {
                commit(&db, n);
                n += 1;
            }
            n
        });
        for round in 0..5 {
            let dest = dir.path().join(format!("backup-{round}.db"));
            db.backup_to(&dest).unwrap();
            let copy = Database::open(&dest).unwrap();
            let report = copy.check().unwrap();
            assert!(report.is_ok(), "backup {round}: {report}");
            let rx = copy.begin_read().unwrap();
            let last = u64::from_be_bytes(
                rx.table("meta").unwrap().get(b"last").unwrap().unwrap()[..].try_into().unwrap(),
            );
            assert_eq!(rx.len(), last + 1, "backup {round}: entries beyond or short of `last`");
            for (i, item) in rx.range(..).unwrap().enumerate() {
                let (k, v) = item.unwrap();
                let n = i as u64;
                assert_eq!(k, &entry(n)[..], "backup {round}: entry {n}");
                assert_eq!(v.len(), 300 + (n % 7) as usize * 1000, "backup {round}: value {n}");
                assert!(v.iter().all(|&b| b == (n % 251) as u8), "backup {round}: value {n}");
            }
            checked.push(last);
        }
        stop.store(true, Ordering::Relaxed);
        let committed = writer.join().unwrap();
        println!(
            "5 backups taken during {} concurrent commits, at commits {checked:?}",
            committed - 3000
        );
    });
    assert!(checked.windows(2).all(|w| w[0] <= w[1]));
    assert!(*checked.last().unwrap() >= 2999);
}
