//! Criterion benchmarks of folio's own paths: point gets on hot and cold pages, range scans,
//! commits at each synchronous level, checkpoint throughput and the WAL-index lookup.
//!
//! `cargo bench --bench engine` (add a filter such as `get` to run a group). For peers side by
//! side, see benches/compare.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use folio::wal::WalIndex;
use folio::wal::index::lookup;
use folio::{CheckpointMode, Database, Options, Synchronous};

const N: u64 = 200_000;

fn key(i: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    k[8..16].copy_from_slice(&i.to_be_bytes());
    k
}

fn loaded(dir: &std::path::Path, opts: Options) -> Database {
    let db = opts.open(dir.join("bench.db")).unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..N {
        tx.put(&key(i), &[7u8; 150]).unwrap();
    }
    tx.commit().unwrap();
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    db
}

fn gets(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = loaded(dir.path(), Options::new());
    let mut g = c.benchmark_group("get");
    g.throughput(Throughput::Elements(1));
    // Hot: the same few keys, whose pages stay in the CPU caches.
    let rx = db.begin_read().unwrap();
    let mut i = 0u64;
    g.bench_function("hot", |b| {
        b.iter(|| {
            i = (i + 1) % 16;
            black_box(rx.get(&key(i)).unwrap().is_some())
        })
    });
    // Cold: keys spread over the whole database, so most pages miss the CPU caches.
    let mut j = 0u64;
    g.bench_function("spread", |b| {
        b.iter(|| {
            j = (j + 7919) % N;
            black_box(rx.get(&key(j)).unwrap().is_some())
        })
    });
    g.bench_function("one-shot (own read transaction)", |b| {
        b.iter(|| {
            j = (j + 7919) % N;
            black_box(db.get(&key(j)).unwrap().is_some())
        })
    });
    g.finish();
    let mut g = c.benchmark_group("range");
    g.throughput(Throughput::Elements(10));
    g.bench_function("scan 10", |b| {
        b.iter(|| {
            j = (j + 7919) % N;
            let n = rx.range(&key(j)[..]..).unwrap().take(10).count();
            black_box(n)
        })
    });
    g.finish();
}

fn commits(c: &mut Criterion) {
    let mut g = c.benchmark_group("commit");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    for level in [
        Synchronous::Off,
        Synchronous::Normal,
        Synchronous::Barrier,
        Synchronous::Full,
        Synchronous::Extra,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let db = Options::new().synchronous(level).open(dir.path().join("c.db")).unwrap();
        let mut i = 0u64;
        g.bench_function(format!("{level:?}"), |b| {
            b.iter(|| {
                i += 1;
                db.put(&key(i), &[1u8; 100]).unwrap();
            })
        });
    }
    g.finish();
}

fn checkpoints(c: &mut Criterion) {
    let mut g = c.benchmark_group("checkpoint");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    let frames_per_round = 1000u64;
    g.throughput(Throughput::Elements(frames_per_round));
    let dir = tempfile::tempdir().unwrap();
    let db = Options::new()
        .auto_checkpoint(0)
        .synchronous(Synchronous::Off)
        .open(dir.path().join("k.db"))
        .unwrap();
    let mut i = 0u64;
    g.bench_function("backfill 1000 frames", |b| {
        b.iter_batched(
            || {
                // Commits that each touch a few pages, until ~1000 frames are pending.
                while db.stats().unwrap().wal_frames_pending < frames_per_round {
                    let mut tx = db.begin_write().unwrap();
                    for _ in 0..50 {
                        i += 1;
                        tx.put(&key(i), &[3u8; 150]).unwrap();
                    }
                    tx.commit().unwrap();
                }
            },
            |()| black_box(db.checkpoint(CheckpointMode::Passive).unwrap()),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn wal_index(c: &mut Criterion) {
    let mut idx = WalIndex::new();
    for f in 1..=20_000u64 {
        idx.append(f, (f * 7 % 5000) as u32);
    }
    let segs = idx.segments();
    let segs = Arc::clone(&segs);
    let mut g = c.benchmark_group("wal index");
    g.throughput(Throughput::Elements(1));
    let mut p = 0u32;
    g.bench_function("lookup (20k frames)", |b| {
        b.iter(|| {
            p = (p + 1) % 5000;
            black_box(lookup(&segs, p, 15_000))
        })
    });
    g.bench_function("lookup (absent page)", |b| b.iter(|| black_box(lookup(&segs, 9999, 15_000))));
    g.finish();
}

criterion_group!(benches, gets, commits, checkpoints, wal_index);
criterion_main!(benches);
