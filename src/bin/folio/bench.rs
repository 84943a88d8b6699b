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

use crate::admin::{grouped, human_bytes};
use crate::args::{BenchArgs, Global};
use crate::progress::Progress;
use crate::{CliError, CliResult, fail};

/// Operations served by one read transaction before a fresh snapshot is taken.
const OPS_PER_TXN: u64 = 100;
/// Entries per load transaction.
const LOAD_BATCH: u64 = 50_000;
/// Entries each scan visits.
const SCAN_LEN: usize = 10;

/// A directory that is removed, with everything in it, when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(parent: Option<PathBuf>) -> CliResult<TempDir> {
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
fn fill_value(buf: &mut [u8], i: u64, generation: u8) {
    buf.fill(b'a' + generation % 26);
    let n = buf.len().min(8);
    buf[..n].copy_from_slice(&i.to_le_bytes()[..n]);
}

fn check_value(v: &[u8], i: u64, len: usize) -> CliResult {
    let n = len.min(8);
    if v.len() != len || v[..n] != i.to_le_bytes()[..n] {
        return fail!("bench read a wrong value for entry {i}");
    }
    Ok(())
}

/// splitmix64, one per thread.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (((z ^ (z >> 31)) as u128 * n as u128) >> 64) as u64
    }
}

/// Latencies in nanoseconds, in log-linear buckets (32 per power of two, ~3% precision).
#[derive(Clone)]
struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Histogram {
    const SUB: u64 = 32;

    fn new() -> Self {
        Histogram { counts: vec![0; 64 * Self::SUB as usize], total: 0 }
    }

    fn bucket(ns: u64) -> usize {
        if ns < Self::SUB {
            return ns as usize;
        }
        let exp = 63 - u64::from(ns.leading_zeros()); // >= 5
        let mantissa = (ns >> (exp - 5)) - Self::SUB;
        (Self::SUB + (exp - 5) * Self::SUB + mantissa) as usize
    }

    fn lower_bound(bucket: usize) -> u64 {
        let b = bucket as u64;
        if b < Self::SUB {
            return b;
        }
        let exp = (b - Self::SUB) / Self::SUB + 5;
        let mantissa = (b - Self::SUB) % Self::SUB + Self::SUB;
        mantissa << (exp - 5)
    }

    fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let last = self.counts.len() - 1;
        self.counts[Self::bucket(ns).min(last)] += 1;
        self.total += 1;
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    fn percentile(&self, p: f64) -> u64 {
        let target = ((self.total as f64 * p).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= target {
                return Self::lower_bound(i);
            }
        }
        0
    }
}

/// What one phase measured.
struct Row {
    name: &'static str,
    ops: u64,
    elapsed: Duration,
    latency: Option<Histogram>,
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

fn latency(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{:.1} µs", ns as f64 / 1e3),
        _ => format!("{:.2} ms", ns as f64 / 1e6),
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<12} {:>12} {:>12} {:>10} {:>10} {:>10}",
        "phase", "ops", "ops/s", "p50", "p99", "p99.9"
    );
    for r in rows {
        let rate = r.ops as f64 / r.elapsed.as_secs_f64().max(1e-9);
        let pct = |p| r.latency.as_ref().map_or("-".to_string(), |h| latency(h.percentile(p)));
        println!(
            "{:<12} {:>12} {:>12} {:>10} {:>10} {:>10}",
            r.name,
            grouped(r.ops),
            grouped(rate as u64),
            pct(0.5),
            pct(0.99),
            pct(0.999)
        );
    }
}

/// `folio bench`.
pub fn bench(g: &Global, a: BenchArgs) -> CliResult {
    if g.hex {
        return fail!("--hex does not apply to `bench`");
    }
    if !(a.seconds > 0.0 && a.seconds <= 3600.0) {
        return fail!("--seconds must be more than 0 and at most 3600");
    }
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u64));
    let dir = TempDir::new(a.dir.clone())?;
    let path = dir.0.join("bench.db");
    println!(
        "folio bench: {} entries (24-byte keys, {}-byte values), {threads} threads, {} s per phase",
        grouped(a.entries),
        a.value_len,
        a.seconds
    );
    println!("database: {}", path.display());
    let rows = run(&path, g, &a, threads)?;
    print_table(&rows);
    drop(dir);
    Ok(())
}

fn run(path: &Path, g: &Global, a: &BenchArgs, threads: u64) -> CliResult<Vec<Row>> {
    let db = Options::new().synchronous(Synchronous::Off).open(path)?;
    let mut c = Ctx {
        db: &db,
        table: g.table.as_deref(),
        entries: a.entries,
        value_len: a.value_len,
        deadline: Instant::now(),
    };
    let mut rows = vec![load(&c)?];
    db.set_synchronous(Synchronous::Full);
    db.checkpoint(CheckpointMode::Truncate)?;
    println!("database file after the load: {}\n", human_bytes(db.stats()?.file_bytes));
    for phase in [Phase::Get, Phase::Scan, Phase::Mixed] {
        rows.extend(measure(&mut c, threads, a.seconds, phase)?);
    }
    db.close()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_ordered_and_tight() {
        let mut last = 0;
        for ns in [0u64, 1, 31, 32, 33, 63, 64, 100, 1_000, 123_456, 10_000_000_000] {
            let b = Histogram::bucket(ns);
            assert!(b >= last);
            last = b;
            let lo = Histogram::lower_bound(b);
            assert!(lo <= ns && ns - lo <= ns / 32, "{ns} -> {lo}");
        }
        let mut h = Histogram::new();
        for ns in 1..=1000u64 {
            h.record(Duration::from_nanos(ns));
        }
        assert!((480..=500).contains(&h.percentile(0.5)));
        assert!((960..=990).contains(&h.percentile(0.99)));
    }

    #[test]
    fn keys_sort_by_index() {
        assert!(key(9) < key(10));
        assert_eq!(&key(42)[..], b"key:00000000000000000042");
    }
}
