//! Side-by-side benchmark: folio against redb, LMDB (heed) and SQLite, identical workloads,
//! a fresh database each, a fixed seed. Prints a table of results with ratios folio/peer and
//! writes JSON.
//!
//! ```text
//! cargo run --release --manifest-path benches/compare/Cargo.toml -- [--n 1000000]
//!     [--engines folio,lmdb,redb,sqlite] [--json results.json] [--dir /path/on/disk]
//! ```
//! Timings on shared machines drift; compare the ratios within one run.

mod engines;
mod limits;
mod report;

use std::time::Instant;

use engines::{Engine, Kvs};
use report::{Metric, Report};

/// splitmix64: a fixed-seed generator so every engine sees the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

struct Config {
    n: usize,
    /// Lookups per read pass (default: n).
    lookups: Option<usize>,
    /// `all`, `load` (build the databases under --dir and stop) or `reads` (read databases
    /// an earlier `load` built under --dir).
    phase: String,
    engines: Vec<String>,
    json: Option<String>,
    dir: Option<String>,
    threads: usize,
    /// For `--phase reads`: `one` (1 thread, then scans), `all` (all cores) or `both`.
    pass: String,
}

fn parse_args() -> Config {
    let mut cfg = Config {
        n: 1_000_000,
        lookups: None,
        phase: "all".into(),
        engines: ["folio", "lmdb", "redb", "sqlite"].map(String::from).to_vec(),
        json: None,
        dir: None,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        pass: "both".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--n" => cfg.n = val().parse().expect("--n takes a number"),
            "--engines" => cfg.engines = val().split(',').map(String::from).collect(),
            "--json" => cfg.json = Some(val()),
            "--dir" => cfg.dir = Some(val()),
            "--threads" => cfg.threads = val().parse().expect("--threads takes a number"),
            "--lookups" => cfg.lookups = Some(val().parse().expect("--lookups takes a number")),
            "--phase" => cfg.phase = val(),
            "--pass" => cfg.pass = val(),
            other => panic!("unknown argument {other}"),
        }
    }
    cfg
}

fn open(name: &str, dir: &std::path::Path) -> Box<dyn Engine> {
    match name {
        "folio" => Box::new(engines::folio_db::Folio::open(dir)),
        "lmdb" => Box::new(engines::lmdb::Lmdb::open(dir)),
        "redb" => Box::new(engines::redb_db::Redb::open(dir)),
        "sqlite" => Box::new(engines::sqlite::Sqlite::open(dir)),
        other => panic!("unknown engine {other}"),
    }
}

/// Runs `f` and returns seconds.
fn time(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn parallel_reads(e: &dyn Engine, keys: &[Vec<u8>], threads: usize) -> f64 {
    let chunk = keys.len().div_ceil(threads);
    time(|| {
        std::thread::scope(|s| {
            for part in keys.chunks(chunk) {
                s.spawn(move || {
                    let mut r = e.reader();
                    let found = part.iter().filter(|k| r.get(k)).count();
                    assert_eq!(found, part.len(), "{}: keys missing", e.name());
                });
            }
        })
    })
}

fn concurrent_writers(e: &dyn Engine, kvs: &Kvs, threads: usize) -> f64 {
    let per = kvs.len() / threads;
    time(|| {
        std::thread::scope(|s| {
            for part in kvs.chunks(per) {
                s.spawn(move || {
                    let mut w = e.writer();
                    for (k, v) in part {
                        w.insert(k, v);
                    }
                });
            }
        })
    })
}

fn run_engine(name: &str, cfg: &Config, data: &Data, report: &mut Report) {
    let tmp = match &cfg.dir {
        Some(d) => tempfile::Builder::new().prefix("cmp-").tempdir_in(d),
        None => tempfile::Builder::new().prefix("cmp-").tempdir(),
    }
    .expect("temp dir");
    let e = open(name, tmp.path());
    let e = &*e;
    let n = data.kvs.len() as f64;
    eprintln!("[{name}] load");
    let t = time(|| e.load(&data.kvs));
    report.add(name, Metric::secs("bulk load (1 txn)", t, n));
    e.settle();
    report.add(name, Metric::bytes("disk after load", engines::disk_bytes(tmp.path())));

    eprintln!("[{name}] reads");
    for (label, threads) in [("random gets, 1 thread", 1), ("random gets, all cores", cfg.threads)]
    {
        parallel_reads(e, &data.lookups, threads);
        let t = parallel_reads(e, &data.lookups, threads);
        report.add(name, Metric::rate(label, data.lookups.len() as f64, t));
    }
    eprintln!("[{name}] scans");
    let t = time(|| {
        let mut r = e.reader();
        let got: usize = data.scan_starts.iter().map(|s| r.scan(s, 10)).sum();
        assert!(got >= data.scan_starts.len() * 9, "{name}: short scans");
    });
    report.add(name, Metric::rate("range scans of 10", data.scan_starts.len() as f64, t));

    eprintln!("[{name}] durable commits");
    let t = time(|| {
        let mut w = e.writer();
        for (k, v) in &data.singles {
            w.insert(k, v);
        }
    });
    report.add(name, Metric::rate("durable commits, 1 entry", data.singles.len() as f64, t));
    let t = time(|| e.commit_batches(&data.batches, 1000));
    report.add(name, Metric::rate("batches of 1000 (entries/s)", data.batches.len() as f64, t));
    for (threads, kvs) in [(2, &data.conc2), (8, &data.conc8)] {
        let t = concurrent_writers(e, kvs, threads);
        report.add(
            name,
            Metric::rate(&format!("{threads} writers, 1-entry commits"), kvs.len() as f64, t),
        );
    }
    eprintln!("[{name}] remove half");
    let t = time(|| e.remove(&data.remove));
    report.add(name, Metric::secs("remove half (1 txn)", t, data.remove.len() as f64));
    e.settle();
    report.add(name, Metric::bytes("disk after removals", engines::disk_bytes(tmp.path())));
}

/// The workload's data, generated once from a fixed seed.
struct Data {
    kvs: Vec<(Vec<u8>, Vec<u8>)>,
    lookups: Vec<Vec<u8>>,
    scan_starts: Vec<Vec<u8>>,
    singles: Vec<(Vec<u8>, Vec<u8>)>,
    batches: Vec<(Vec<u8>, Vec<u8>)>,
    conc2: Vec<(Vec<u8>, Vec<u8>)>,
    conc8: Vec<(Vec<u8>, Vec<u8>)>,
    remove: Vec<Vec<u8>>,
}

/// Entry `i` of the loaded data: a pure function of `i`, so a reads-only run can rebuild the
/// keys it looks up without holding the data set in memory.
fn entry(i: u64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = Rng(0x5EED ^ i.wrapping_mul(0xA24B_AED4_963E_E407));
    (rng.bytes(24), rng.bytes(150))
}

fn lookups(n: usize, count: usize) -> Vec<Vec<u8>> {
    lookups_seeded(n, count, 0x100C)
}

fn lookups_seeded(n: usize, count: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    (0..count).map(|_| entry(rng.next() % n as u64).0).collect()
}

fn generate(n: usize, lookup_count: usize) -> Data {
    let mut rng = Rng(0x5EED);
    let pair = |rng: &mut Rng| (rng.bytes(24), rng.bytes(150));
    let kvs: Vec<_> = (0..n as u64).map(entry).collect();
    let lookups = lookups(n, lookup_count);
    let scan_starts = (0..100_000).map(|_| rng.bytes(24)).collect();
    let singles = (0..1000).map(|_| pair(&mut rng)).collect();
    let batches = (0..100_000).map(|_| pair(&mut rng)).collect();
    let conc2 = (0..400).map(|_| pair(&mut rng)).collect();
    let conc8 = (0..1600).map(|_| pair(&mut rng)).collect();
    let remove = kvs.iter().step_by(2).map(|(k, _)| k.clone()).collect();
    Data { kvs, lookups, scan_starts, singles, batches, conc2, conc8, remove }
}

/// Anonymous resident memory of this process, in bytes (Linux).
fn rss_anon() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("RssAnon:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Builds each engine's database under `--dir/<engine>` and stops.
fn load_only(cfg: &Config) {
    let dir = std::path::PathBuf::from(cfg.dir.as_deref().expect("--phase load needs --dir"));
    let data = generate(cfg.n, 0);
    for name in &cfg.engines {
        let d = dir.join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let e = open(name, &d);
        let t = time(|| e.load(&data.kvs));
        e.settle();
        println!(
            "{name}: loaded {} entries in {t:.1} s, {} bytes on disk",
            cfg.n,
            engines::disk_bytes(&d)
        );
    }
}

/// Random reads (1 thread, all cores) and scans on databases built by `--phase load`. Each
/// pass looks up its own keys, so that with the page cache dropped before it (see
/// `scripts/larger-than-memory.sh`, which runs one pass per process) every pass starts cold.
fn reads_only(cfg: &Config) {
    let dir = std::path::PathBuf::from(cfg.dir.as_deref().expect("--phase reads needs --dir"));
    let count = cfg.lookups.unwrap_or(cfg.n);
    let one = cfg.pass != "all";
    let all = cfg.pass != "one";
    println!(
        "{:<8}{:>18}{:>18}{:>16}{:>22}",
        "engine", "gets 1 thread", "gets all cores", "scans of 10", "anon memory (MB)"
    );
    for name in &cfg.engines {
        let keys_one = if one { lookups_seeded(cfg.n, count, 0x100C) } else { Vec::new() };
        let starts = if one { lookups_seeded(cfg.n, count / 10, 0x5CA7) } else { Vec::new() };
        let keys_all = if all { lookups_seeded(cfg.n, count, 0xA11C) } else { Vec::new() };
        let e = open(name, &dir.join(name));
        let before = rss_anon();
        let rate =
            |keys: &[Vec<u8>], threads| keys.len() as f64 / parallel_reads(&*e, keys, threads);
        let show = |on: bool, r: f64| if on { format!("{r:.0}/s") } else { "-".to_string() };
        let (mut g1, mut gn, mut scans) = (0.0, 0.0, 0.0);
        if one {
            g1 = rate(&keys_one, 1);
            let t = time(|| {
                let mut r = e.reader();
                for s in &starts {
                    r.scan(s, 10);
                }
            });
            scans = starts.len() as f64 / t;
        }
        if all {
            gn = rate(&keys_all, cfg.threads);
        }
        let after = rss_anon();
        println!(
            "{name:<8}{:>18}{:>18}{:>16}{:>10.1} -> {:.1}",
            show(one, g1),
            show(all, gn),
            show(one, scans),
            before as f64 / 1e6,
            after as f64 / 1e6
        );
    }
}

fn main() {
    let cfg = parse_args();
    match cfg.phase.as_str() {
        "load" => return load_only(&cfg),
        "reads" => return reads_only(&cfg),
        "all" => {}
        other => panic!("unknown phase {other}"),
    }
    let data = generate(cfg.n, cfg.lookups.unwrap_or(cfg.n));
    let raw = (cfg.n * (24 + 150)) as u64;
    let mut report = Report::new(cfg.n, raw, cfg.threads);
    eprintln!("measuring machine limits");
    let scratch = cfg.dir.clone().map_or_else(std::env::temp_dir, Into::into);
    report.limits = limits::measure(&scratch, &data.kvs);
    for name in &cfg.engines {
        run_engine(name, &cfg, &data, &mut report);
    }
    report.print(&cfg.engines);
    if let Some(path) = &cfg.json {
        std::fs::write(path, report.json(&cfg.engines)).expect("write json");
        eprintln!("wrote {path}");
    }
}
