//! `folio bench`: a read-heavy benchmark on a temporary database.
//!
//! Phases: a bulk load of `--entries` 24-byte keys in ascending order (50,000 per transaction
//! at `Synchronous::Off`, then `Full` and a truncating checkpoint); random point reads on
//! every thread; range scans of 10 entries from random keys; and a mixed phase where the same
//! reader threads do point reads while one more thread commits single-key updates, each its
//! own `Full` (durable) transaction, so the table shows that readers do not wait for the
//! writer. Each read transaction serves [`OPS_PER_TXN`] operations. Every read is checked
//! against the value the load wrote. The database lives in a fresh directory that is removed
//! at the end, also on error.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use folio::pager::View;
use folio::{CheckpointMode, Database, Options, ReadTxn, Synchronous, Table, Value};

use crate::admin::{counted, grouped, human_bytes};
use crate::args::BenchArgs;
use crate::histogram::Histogram;
use crate::json::Object;
use crate::progress::Progress;
use crate::{CliError, CliResult, fail, out};

/// Operations served by one read transaction before a fresh snapshot is taken.
const OPS_PER_TXN: u64 = 100;
/// Entries per load transaction.
const LOAD_BATCH: u64 = 50_000;
/// Entries each scan visits.
const SCAN_LEN: usize = 10;

/// A directory that is removed, with everything in it, when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory in `parent` (default: the system's temporary directory).
    pub fn new(parent: Option<PathBuf>) -> CliResult<TempDir> {
        let base = parent.unwrap_or_else(std::env::temp_dir);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = base.join(format!("folio-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| {
            CliError::Msg(format!("cannot create a directory in {}: {e}", base.display()))
        })?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The key of entry `i`: `key:` and 20 zero-padded decimal digits.
fn key(i: u64) -> [u8; 24] {
    let mut k = *b"key:00000000000000000000";
    let mut n = i;
    for b in k[4..].iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

/// The value of entry `i`: its index (little-endian), then a filler byte (`gen` distinguishes
/// rewrites).
pub fn fill_value(buf: &mut [u8], i: u64, generation: u8) {
    buf.fill(b'a' + generation % 26);
    let n = buf.len().min(8);
    buf[..n].copy_from_slice(&i.to_le_bytes()[..n]);
}

pub fn check_value(v: &[u8], i: u64, len: usize) -> CliResult {
    let n = len.min(8);
    if v.len() != len || v[..n] != i.to_le_bytes()[..n] {
        return fail!("bench read a wrong value for entry {i}");
    }
    Ok(())
}

/// splitmix64, one per thread.
pub struct Rng(pub u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// A value in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What one phase (or one operation type of a workload) measured.
pub struct Row {
    pub name: &'static str,
    pub ops: u64,
    pub elapsed: Duration,
    pub latency: Option<Histogram>,
}

/// Everything a worker thread needs.
struct Ctx<'a> {
    db: &'a Database,
    table: Option<&'a str>,
    entries: u64,
    value_len: usize,
    deadline: Instant,
}

fn table_of<'r>(rx: &'r ReadTxn<'_>, table: Option<&str>) -> CliResult<Option<Table<'r, View>>> {
    Ok(table.map(|name| rx.table(name)).transpose()?)
}

fn get<'r>(rx: &'r ReadTxn<'_>, t: &Option<Table<'r, View>>, k: &[u8]) -> CliResult<Value<'r>> {
    let v = match t {
        Some(t) => t.get(k)?,
        None => rx.get(k)?,
    };
    v.ok_or_else(|| CliError::Msg("bench lost a key it loaded".into()))
}

/// Loads the entries in ascending order; returns the load's row.
fn load(c: &Ctx<'_>) -> CliResult<Row> {
    let bar = Progress::items(c.entries, "loading");
    let started = Instant::now();
    let mut value = vec![0u8; c.value_len];
    let mut i = 0;
    while i < c.entries {
        let mut tx = c.db.begin_write()?;
        let end = (i + LOAD_BATCH).min(c.entries);
        for j in i..end {
            fill_value(&mut value, j, 0);
            match c.table {
                Some(name) => tx.table(name)?.put(&key(j), &value)?,
                None => tx.put(&key(j), &value)?,
            }
        }
        tx.commit()?;
        bar.inc(end - i);
        i = end;
    }
    Ok(Row { name: "load", ops: c.entries, elapsed: started.elapsed(), latency: None })
}

/// One reader thread's share of a measured phase: point reads, or scans with `scans`.
fn reader(c: &Ctx<'_>, seed: u64, scans: bool) -> CliResult<Histogram> {
    let mut rng = Rng(seed);
    let mut h = Histogram::new();
    let mut now = Instant::now();
    while now < c.deadline {
        let rx = c.db.begin_read()?;
        let t = table_of(&rx, c.table)?;
        for _ in 0..OPS_PER_TXN {
            let i = rng.below(c.entries);
            let start = now;
            if scans {
                scan(&rx, &t, i, c)?;
            } else {
                check_value(&get(&rx, &t, &key(i))?, i, c.value_len)?;
            }
            now = Instant::now();
            h.record(now - start);
        }
    }
    Ok(h)
}

/// The writer of the mixed phase: single-key updates, each its own durable transaction.
fn writer(c: &Ctx<'_>, seed: u64) -> CliResult<Histogram> {
    let mut rng = Rng(seed);
    let mut h = Histogram::new();
    let mut value = vec![0u8; c.value_len];
    let mut now = Instant::now();
    while now < c.deadline {
        let i = rng.below(c.entries);
        fill_value(&mut value, i, (h.total % 25) as u8 + 1);
        let start = now;
        let mut tx = c.db.begin_write()?;
        match c.table {
            Some(name) => tx.table(name)?.put(&key(i), &value)?,
            None => tx.put(&key(i), &value)?,
        }
        tx.commit()?;
        now = Instant::now();
        h.record(now - start);
    }
    Ok(h)
}

fn scan<'r>(rx: &'r ReadTxn<'_>, t: &Option<Table<'r, View>>, i: u64, c: &Ctx<'_>) -> CliResult {
    let k = key(i);
    let bounds = (Bound::Included(&k[..]), Bound::Unbounded);
    let range = match t {
        Some(t) => t.range(bounds)?,
        None => rx.range(bounds)?,
    };
    let mut seen = 0;
    for item in range.take(SCAN_LEN) {
        let (_, v) = item?;
        check_value(&v, i + seen, c.value_len)?;
        seen += 1;
    }
    if seen as usize != SCAN_LEN.min((c.entries - i) as usize) {
        return fail!("bench scan from entry {i} returned {seen} entries");
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Get,
    Scan,
    Mixed,
}

/// Runs `phase` on `threads` reader threads (plus the writer, for `Mixed`) for `seconds`;
/// returns its rows.
fn measure(c: &mut Ctx<'_>, threads: u64, seconds: f64, phase: Phase) -> CliResult<Vec<Row>> {
    let started = Instant::now();
    c.deadline = started + Duration::from_secs_f64(seconds);
    let spinner = Progress::spinner(match phase {
        Phase::Get => "point reads",
        Phase::Scan => "range scans",
        Phase::Mixed => "reads while writing",
    });
    let c = &*c;
    let scans = phase == Phase::Scan;
    let (reads, writes) = std::thread::scope(|s| {
        let readers: Vec<_> =
            (0..threads).map(|t| s.spawn(move || reader(c, 0x5eed + t, scans))).collect();
        // The writer runs on this thread while the readers run on theirs.
        let writes = (phase == Phase::Mixed).then(|| writer(c, 0xbeef));
        let mut reads = Histogram::new();
        for r in readers {
            reads.merge(&r.join().unwrap_or_else(|_| fail!("a bench thread panicked"))?);
        }
        Ok::<_, CliError>((reads, writes.transpose()?))
    })?;
    let elapsed = started.elapsed();
    drop(spinner);
    let row = |name, h: Histogram| Row { name, ops: h.total, elapsed, latency: Some(h) };
    Ok(match (phase, writes) {
        (Phase::Get, _) => vec![row("get", reads)],
        (Phase::Scan, _) => vec![row("scan (10)", reads)],
        (Phase::Mixed, w) => {
            let mut rows = vec![row("mixed: get", reads)];
            rows.extend(w.map(|w| row("mixed: put", w)));
            rows
        }
    })
}

/// A latency as people read it.
pub fn latency(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{:.1} µs", ns as f64 / 1e3),
        _ => format!("{:.2} ms", ns as f64 / 1e6),
    }
}

/// Prints the rows as a table.
pub fn print_table(rows: &[Row]) -> CliResult {
    out!(
        "{:<12} {:>12} {:>12} {:>10} {:>10} {:>10}",
        "phase",
        "ops",
        "ops/s",
        "p50",
        "p99",
        "p99.9"
    );
    for r in rows {
        let rate = r.ops as f64 / r.elapsed.as_secs_f64().max(1e-9);
        let pct = |p| r.latency.as_ref().map_or("-".to_string(), |h| latency(h.percentile(p)));
        out!(
            "{:<12} {:>12} {:>12} {:>10} {:>10} {:>10}",
            r.name,
            grouped(r.ops),
            grouped(rate as u64),
            pct(0.5),
            pct(0.99),
            pct(0.999)
        );
    }
    Ok(())
}

/// The rows as a JSON array: operations, operations per second, and latency percentiles in
/// microseconds (absent for a phase without latencies).
pub fn rows_json(rows: &[Row]) -> String {
    let items: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut o = Object::new()
                .str("name", r.name)
                .num("ops", r.ops)
                .float("ops_per_sec", r.ops as f64 / r.elapsed.as_secs_f64().max(1e-9))
                .float("seconds", r.elapsed.as_secs_f64());
            if let Some(h) = &r.latency {
                for (key, p) in [("p50_us", 0.5), ("p99_us", 0.99), ("p999_us", 0.999)] {
                    o = o.float(key, h.percentile(p) as f64 / 1e3);
                }
            }
            o.finish()
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// The thread count: `--threads`, else one per core.
pub fn threads(a: &BenchArgs) -> u64 {
    a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u64))
}

/// `folio bench`.
pub fn bench(a: BenchArgs) -> CliResult {
    let threads = threads(&a);
    let value_len = a.value_len.unwrap_or(150);
    let dir = TempDir::new(a.dir.clone())?;
    let path = dir.0.join("bench.db");
    if !a.json {
        out!(
            "folio bench: {} (24-byte keys, {value_len}-byte values), {}, {} s per phase",
            counted(a.entries, "entry", "entries"),
            counted(threads, "thread", "threads"),
            a.seconds
        );
        out!("database: {}", path.display());
    }
    let (rows, file_bytes) = run(&path, &a, value_len, threads)?;
    let head = Object::new().num("entries", a.entries);
    report(a.json, head, value_len, threads, file_bytes, &rows)?;
    drop(dir);
    Ok(())
}

/// Prints a run's results: `head` and the common fields as JSON, or the table.
pub fn report(
    json: bool,
    head: Object,
    value_len: usize,
    threads: u64,
    file_bytes: u64,
    rows: &[Row],
) -> CliResult {
    if json {
        let o = head
            .num("value_len", value_len as u64)
            .num("threads", threads)
            .num("file_bytes_after_load", file_bytes)
            .raw("phases", &rows_json(rows));
        out!("{}", o.finish());
    } else {
        out!("database file after the load: {}\n", human_bytes(file_bytes));
        print_table(rows)?;
    }
    Ok(())
}

fn run(path: &Path, a: &BenchArgs, value_len: usize, threads: u64) -> CliResult<(Vec<Row>, u64)> {
    let db = Options::new().synchronous(Synchronous::Off).open(path)?;
    let mut c = Ctx {
        db: &db,
        table: a.table.table.as_deref(),
        entries: a.entries,
        value_len,
        deadline: Instant::now(),
    };
    let mut rows = vec![load(&c)?];
    db.set_synchronous(Synchronous::Full);
    db.checkpoint(CheckpointMode::Truncate)?;
    let file_bytes = db.stats()?.file_bytes;
    for phase in [Phase::Get, Phase::Scan, Phase::Mixed] {
        rows.extend(measure(&mut c, threads, a.seconds, phase)?);
    }
    db.close()?;
    Ok((rows, file_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_index() {
        assert!(key(9) < key(10));
        assert_eq!(&key(42)[..], b"key:00000000000000000042");
    }
}
