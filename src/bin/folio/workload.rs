//! `folio bench --workload X`: the YCSB core workloads A to F on a temporary database.
//!
//! The load inserts `--records` records (keys `user<hash>`, so in random key order) in one
//! transaction at `Synchronous::Off`, then sets `Full` and checkpoints. The run phase starts
//! `--threads` clients that pick operations by the workload's mix and records by its request
//! distribution (`ycsb.rs`), until `--seconds` pass or `--operations` are done. Every write
//! (update, insert, read-modify-write) is its own transaction, durable (`Full`) before it
//! returns; every read or scan its own snapshot. Each read checks the value it got. Latencies
//! are recorded per operation type.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use folio::{CheckpointMode, Database, Options, Synchronous};

use crate::admin::counted;
use crate::args::{BenchArgs, Workload};
use crate::bench::{Rng, Row, TempDir, check_value, fill_value, report, threads};
use crate::histogram::Histogram;
use crate::json::Object;
use crate::progress::Progress;
use crate::ycsb::{self, AckCounter, MAX_SCAN_LEN, Op, ScrambledZipfian, SkewedLatest};
use crate::{CliError, CliResult, fail, out};

/// What every client thread shares.
struct Run<'a> {
    db: &'a Database,
    table: Option<&'a str>,
    workload: Workload,
    value_len: usize,
    /// Record numbers the scrambled zipfian chooses from: the records plus the inserts
    /// expected, as YCSB sizes it (so the popular keys do not move as records are added).
    keyspace: u64,
    inserts: AckCounter,
    deadline: Instant,
    /// Operations left to start (`u64::MAX`: run until the deadline).
    remaining: AtomicU64,
}

/// How a client picks the record of its next operation.
enum Chooser {
    Scrambled(ScrambledZipfian),
    Latest(SkewedLatest),
}

impl Chooser {
    fn new(r: &Run<'_>) -> Self {
        match r.workload {
            Workload::D => Chooser::Latest(SkewedLatest::new(r.inserts.last())),
            _ => Chooser::Scrambled(ScrambledZipfian::new(0, r.keyspace)),
        }
    }

    /// A record that exists: YCSB draws again when the draw is past the last acknowledged
    /// insert.
    fn next(&mut self, rng: &mut Rng, inserts: &AckCounter) -> u64 {
        let last = inserts.last();
        match self {
            Chooser::Latest(l) => l.next(rng, last),
            Chooser::Scrambled(s) => {
                (0..1000).map(|_| s.next(rng)).find(|&k| k <= last).unwrap_or(last)
            }
        }
    }
}

impl Run<'_> {
    fn read(&self, n: u64) -> CliResult {
        let rx = self.db.begin_read()?;
        let k = ycsb::key(n);
        let v = match self.table {
            Some(t) => rx.table(t)?.get(&k)?,
            None => rx.get(&k)?,
        };
        let v = v.ok_or_else(|| CliError::Msg(format!("workload lost record {n}")))?;
        check_value(&v, n, self.value_len)
    }

    fn write(&self, n: u64, generation: u8, read_first: bool) -> CliResult {
        let mut value = vec![0u8; self.value_len];
        fill_value(&mut value, n, generation);
        let k = ycsb::key(n);
        let mut tx = self.db.begin_write()?;
        if read_first {
            let old = match self.table {
                Some(t) => tx.table(t)?.get(&k)?.map(|v| v.to_vec()),
                None => tx.get(&k)?.map(|v| v.to_vec()),
            };
            let old = old.ok_or_else(|| CliError::Msg(format!("workload lost record {n}")))?;
            check_value(&old, n, self.value_len)?;
        }
        match self.table {
            Some(t) => tx.table(t)?.put(&k, &value)?,
            None => tx.put(&k, &value)?,
        }
        Ok(tx.commit()?)
    }

    fn scan(&self, n: u64, len: u64) -> CliResult {
        let rx = self.db.begin_read()?;
        let from = ycsb::key(n);
        let range = match self.table {
            Some(t) => rx.table(t)?.range(from..)?,
            None => rx.range(from..)?,
        };
        let mut seen = 0;
        for item in range.take(len as usize) {
            let (_, v) = item?;
            if v.len() != self.value_len {
                return fail!("workload scan read a value of {} bytes", v.len());
            }
            seen += 1;
        }
        if seen == 0 {
            return fail!("workload scan from record {n} found nothing");
        }
        Ok(())
    }

    /// Claims the next operation; false once the run is over.
    fn claim(&self, now: Instant) -> bool {
        now < self.deadline
            && self
                .remaining
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
    }

    /// One client: operations until the run ends; latencies per operation type.
    fn client(&self, seed: u64) -> CliResult<Vec<Histogram>> {
        let mut rng = Rng(seed);
        let mut chooser = Chooser::new(self);
        let mut h = vec![Histogram::new(); Op::ALL.len()];
        let mix = ycsb::mix(self.workload);
        let mut now = Instant::now();
        let mut generation = 0u8;
        while self.claim(now) {
            let op = ycsb::choose(mix, rng.unit());
            let start = now;
            generation = generation % 25 + 1;
            match op {
                Op::Read => self.read(chooser.next(&mut rng, &self.inserts))?,
                Op::Update => {
                    self.write(chooser.next(&mut rng, &self.inserts), generation, false)?
                }
                Op::ReadModifyWrite => {
                    self.write(chooser.next(&mut rng, &self.inserts), generation, true)?
                }
                Op::Insert => {
                    let n = self.inserts.next();
                    self.write(n, 0, false)?;
                    self.inserts.ack(n);
                }
                Op::Scan => {
                    let len = 1 + rng.below(MAX_SCAN_LEN);
                    self.scan(chooser.next(&mut rng, &self.inserts), len)?
                }
            }
            now = Instant::now();
            let slot = Op::ALL.iter().position(|&o| o == op).unwrap_or(0);
            h[slot].record(now - start);
        }
        Ok(h)
    }
}

/// Inserts records `0..records` in one transaction.
fn load(db: &Database, table: Option<&str>, records: u64, value_len: usize) -> CliResult<Row> {
    let bar = Progress::items(records, "loading");
    let started = Instant::now();
    let mut value = vec![0u8; value_len];
    let mut tx = db.begin_write()?;
    for n in 0..records {
        fill_value(&mut value, n, 0);
        match table {
            Some(t) => tx.table(t)?.put(&ycsb::key(n), &value)?,
            None => tx.put(&ycsb::key(n), &value)?,
        }
        if n % 10_000 == 9_999 {
            bar.inc(10_000);
        }
    }
    tx.commit()?;
    drop(bar);
    Ok(Row { name: "load", ops: records, elapsed: started.elapsed(), latency: None })
}

/// Runs the clients; returns one row per operation type of the mix, then the total.
fn measure(r: &Run<'_>, threads: u64) -> CliResult<Vec<Row>> {
    let started = Instant::now();
    let spinner = Progress::spinner("running");
    let hists = std::thread::scope(|s| {
        let clients: Vec<_> =
            (0..threads).map(|t| s.spawn(move || r.client(0x5eed_0000 + t))).collect();
        let mut all = vec![Histogram::new(); Op::ALL.len()];
        for c in clients {
            let h = c.join().unwrap_or_else(|_| fail!("a workload thread panicked"))?;
            for (a, b) in all.iter_mut().zip(&h) {
                a.merge(b);
            }
        }
        Ok::<_, CliError>(all)
    })?;
    let elapsed = started.elapsed();
    drop(spinner);
    let mix = ycsb::mix(r.workload);
    let mut total = Histogram::new();
    let mut rows = Vec::new();
    for (op, h) in Op::ALL.iter().zip(hists) {
        if mix.iter().any(|(o, _)| o == op) {
            total.merge(&h);
            rows.push(Row { name: op.name(), ops: h.total, elapsed, latency: Some(h) });
        }
    }
    rows.push(Row { name: "total", ops: total.total, elapsed, latency: Some(total) });
    Ok(rows)
}

/// `folio bench --workload X`.
pub fn run(w: Workload, a: BenchArgs) -> CliResult {
    let threads = threads(&a);
    let value_len = a.value_len.unwrap_or(1000);
    let name = format!("{w:?}").to_lowercase();
    let dir = TempDir::new(a.dir.clone())?;
    let path = dir.0.join("ycsb.db");
    if !a.json {
        let until = match a.operations {
            Some(n) => counted(n, "operation", "operations"),
            None => format!("{} s", a.seconds),
        };
        out!(
            "folio bench --workload {name}: {} ({value_len}-byte values), {}, {until}; every \
             write a durable commit",
            counted(a.records, "record", "records"),
            counted(threads, "thread", "threads"),
        );
        out!("database: {}", path.display());
    }
    let db = Options::new().synchronous(Synchronous::Off).open(&path)?;
    let table = a.table.table.as_deref();
    let mut rows = vec![load(&db, table, a.records, value_len)?];
    db.set_synchronous(Synchronous::Full);
    db.checkpoint(CheckpointMode::Truncate)?;
    let file_bytes = db.stats()?.file_bytes;
    let insert_share: f64 =
        ycsb::mix(w).iter().filter(|(o, _)| *o == Op::Insert).map(|(_, p)| p).sum();
    let expected_ops = a.operations.unwrap_or(a.records);
    let r = Run {
        db: &db,
        table,
        workload: w,
        value_len,
        keyspace: a.records + (expected_ops as f64 * insert_share * 2.0) as u64,
        inserts: AckCounter::new(a.records),
        deadline: Instant::now() + Duration::from_secs_f64(a.seconds),
        remaining: AtomicU64::new(a.operations.unwrap_or(u64::MAX)),
    };
    rows.extend(measure(&r, threads)?);
    drop(r);
    db.close()?;
    let head = Object::new().str("workload", &name).num("records", a.records);
    report(a.json, head, value_len, threads, file_bytes, &rows)?;
    drop(dir);
    Ok(())
}
