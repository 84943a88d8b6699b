//! Results table and JSON.

use std::collections::BTreeMap;

use crate::limits::Limits;

/// One measurement.
#[derive(Clone)]
pub struct Metric {
    pub label: String,
    /// Higher is better (rates) or lower is better (seconds, bytes).
    pub higher_better: bool,
    pub value: f64,
    pub unit: &'static str,
}

impl Metric {
    pub fn rate(label: &str, ops: f64, secs: f64) -> Self {
        Metric { label: label.into(), higher_better: true, value: ops / secs, unit: "ops/s" }
    }

    pub fn secs(label: &str, secs: f64, _ops: f64) -> Self {
        Metric { label: label.into(), higher_better: false, value: secs, unit: "s" }
    }

    pub fn bytes(label: &str, bytes: u64) -> Self {
        Metric { label: label.into(), higher_better: false, value: bytes as f64, unit: "bytes" }
    }
}

pub struct Report {
    n: usize,
    raw: u64,
    threads: usize,
    pub limits: Limits,
    results: BTreeMap<String, Vec<Metric>>,
}

impl Report {
    pub fn new(n: usize, raw: u64, threads: usize) -> Self {
        Report { n, raw, threads, limits: Limits::default(), results: BTreeMap::new() }
    }

    pub fn add(&mut self, engine: &str, m: Metric) {
        self.results.entry(engine.into()).or_default().push(m);
    }

    /// folio's advantage over `peer` for metric `i`: > 1 means folio is better.
    fn advantage(&self, peer: &str, i: usize) -> Option<f64> {
        let f = self.results.get("folio")?.get(i)?;
        let p = self.results.get(peer)?.get(i)?;
        Some(if f.higher_better { f.value / p.value } else { p.value / f.value })
    }

    pub fn print(&self, engines: &[String]) {
        println!(
            "\nN = {} entries (24-byte keys, 150-byte values; raw {:.1} MB), {} threads for \
             'all cores'",
            self.n,
            self.raw as f64 / 1e6,
            self.threads
        );
        println!(
            "machine: fdatasync (preallocated block) {:.3} ms -> limit {:.0} commits/s; \
             binary search in a map {:.2} M lookups/s",
            self.limits.fdatasync_secs * 1e3,
            1.0 / self.limits.fdatasync_secs,
            self.limits.bsearch_per_sec / 1e6
        );
        let peers: Vec<&String> = engines.iter().filter(|e| *e != "folio").collect();
        print!("\n{:<30}", "workload");
        for e in engines {
            print!("{e:>14}");
        }
        for p in &peers {
            print!("{:>12}", format!("vs {p}"));
        }
        println!();
        let Some(first) = engines.first().and_then(|e| self.results.get(e)) else { return };
        for (i, m) in first.iter().enumerate() {
            print!("{:<30}", m.label);
            for e in engines {
                let v = self.results.get(e).and_then(|r| r.get(i)).map_or(f64::NAN, |m| m.value);
                print!("{:>14}", fmt(v, m.unit));
            }
            for p in &peers {
                match self.advantage(p, i) {
                    Some(a) => print!("{:>12}", format!("{a:.2}x")),
                    None => print!("{:>12}", "-"),
                }
            }
            println!();
        }
        println!(
            "\n'vs peer' is folio's advantage: peer time / folio time, folio rate / peer rate, \
             peer bytes / folio bytes (above 1 means folio is better). Disk sizes include \
             every file after a checkpoint; raw key+value bytes: {}.",
            self.raw
        );
    }

    pub fn json(&self, engines: &[String]) -> String {
        let mut root = serde_json::Map::new();
        root.insert("n".into(), self.n.into());
        root.insert("raw_bytes".into(), self.raw.into());
        root.insert("threads".into(), self.threads.into());
        root.insert("fdatasync_secs".into(), self.limits.fdatasync_secs.into());
        root.insert("bsearch_per_sec".into(), self.limits.bsearch_per_sec.into());
        let mut res = serde_json::Map::new();
        for e in engines {
            let mut m = serde_json::Map::new();
            for metric in self.results.get(e).into_iter().flatten() {
                m.insert(format!("{} [{}]", metric.label, metric.unit), metric.value.into());
            }
            res.insert(e.clone(), m.into());
        }
        root.insert("results".into(), res.into());
        serde_json::to_string_pretty(&serde_json::Value::Object(root)).unwrap()
    }
}

fn fmt(v: f64, unit: &str) -> String {
    match unit {
        "bytes" => format!("{:.1} MB", v / 1e6),
        "s" => format!("{v:.3} s"),
        _ if v >= 1e6 => format!("{:.2} M/s", v / 1e6),
        _ if v >= 1e3 => format!("{:.1} K/s", v / 1e3),
        _ => format!("{v:.0}/s"),
    }
}
