//! Shared by the crash-simulation tests (`crash_sim.rs`, `crash_vacuum_compact.rs`): opening a
//! database on the simulator, reading every table into a model, and verifying a crash image
//! against the states the database may legitimately hold.
//!
//! Include with `mod common; #[path = "common/crash.rs"] mod crash;`.
#![allow(dead_code)]

use std::io;
use std::path::Path;
use std::sync::Arc;

use folio::storage::{Map, OpenMode, SimVfs, Storage, Vfs};
use folio::{Database, Options, Synchronous};

use crate::common::{Tables, hex};

/// The database path used on every simulated disk.
pub const DB: &str = "/sim/app.db";

/// How a test opens its database on the simulator: deterministic I/O (no background
/// checkpoints; the worker does nothing at `Full`/`Extra`).
#[derive(Clone, Copy, Debug)]
pub struct SimOpts {
    pub level: Synchronous,
    pub page_size: u32,
    pub cache_size: usize,
}

impl Default for SimOpts {
    fn default() -> Self {
        SimOpts { level: Synchronous::Full, page_size: 4096, cache_size: 64 << 20 }
    }
}

impl SimOpts {
    /// Opens [`DB`] on `vfs`. With `FOLIO_SIM_LOG` set, every I/O step is printed to stderr
    /// with its step number (for replaying a failure).
    pub fn open(&self, vfs: &SimVfs) -> folio::Result<Database> {
        let fs: Arc<dyn Vfs> = if std::env::var_os("FOLIO_SIM_LOG").is_some() {
            Arc::new(LogVfs { sim: vfs.clone() })
        } else {
            Arc::new(vfs.clone())
        };
        Options::new()
            .vfs(fs)
            .synchronous(self.level)
            .page_size(self.page_size)
            .cache_size(self.cache_size)
            .auto_checkpoint(0)
            .open(DB)
    }
}

/// Every table of the last published snapshot: the default table under `None`, each named
/// table under its name (present even when empty).
pub fn read_all(db: &Database) -> Result<Tables, String> {
    let rx = db.begin_read().map_err(|e| format!("begin_read: {e}"))?;
    let mut out = Tables::new();
    let mut default = std::collections::BTreeMap::new();
    for item in rx.range(..).map_err(|e| format!("range: {e}"))? {
        let (k, v) = item.map_err(|e| format!("scanning the default table: {e}"))?;
        default.insert(k.to_vec(), v.to_vec());
    }
    if rx.len() != default.len() as u64 {
        return Err(format!(
            "default table: the snapshot counts {} entries but a scan finds {}",
            rx.len(),
            default.len()
        ));
    }
    if !default.is_empty() {
        out.insert(None, default);
    }
    for name in rx.table_names().map_err(|e| format!("table_names: {e}"))? {
        let t = rx.table(&name).map_err(|e| format!("table {name:?}: {e}"))?;
        let mut m = std::collections::BTreeMap::new();
        for item in t.range(..).map_err(|e| format!("table {name:?} range: {e}"))? {
            let (k, v) = item.map_err(|e| format!("scanning table {name:?}: {e}"))?;
            m.insert(k.to_vec(), v.to_vec());
        }
        if t.len() != m.len() as u64 {
            return Err(format!(
                "table {name:?}: its descriptor counts {} entries but a scan finds {}",
                t.len(),
                m.len()
            ));
        }
        out.insert(Some(name), m);
    }
    Ok(out)
}

/// A model with empty default tables dropped, so that "no default entries" compares equal
/// whichever way it was produced.
pub fn normalized(t: &Tables) -> Tables {
    t.iter()
        .filter(|(k, v)| k.is_some() || !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What differs between two models, briefly.
pub fn diff(want: &Tables, got: &Tables) -> String {
    let mut out = Vec::new();
    let names: std::collections::BTreeSet<_> = want.keys().chain(got.keys()).collect();
    for n in names {
        let empty = std::collections::BTreeMap::new();
        let (w, g) = (want.get(n).unwrap_or(&empty), got.get(n).unwrap_or(&empty));
        if want.contains_key(n) != got.contains_key(n) {
            out.push(format!(
                "table {n:?} {}",
                if got.contains_key(n) { "exists but should not" } else { "is missing" }
            ));
        }
        let keys: std::collections::BTreeSet<_> = w.keys().chain(g.keys()).collect();
        for k in keys {
            match (w.get(k), g.get(k)) {
                (Some(a), Some(b)) if a == b => {}
                (a, b) => out.push(format!(
                    "{n:?}/{}: want {:?}, got {:?}",
                    hex(k, 16),
                    a.map(|v| v.len()),
                    b.map(|v| v.len())
                )),
            }
            if out.len() > 6 {
                out.push("...".into());
                return out.join("; ");
            }
        }
    }
    out.join("; ")
}

/// Opens `image` and checks it: open succeeds, `check()` is clean, the contents equal one of
/// `allowed` (returns its index), and the stats agree with the contents.
pub fn verify(image: &SimVfs, opts: &SimOpts, allowed: &[&Tables]) -> Result<usize, String> {
    let db = opts.open(image).map_err(|e| format!("reopen failed: {e}"))?;
    let r = verify_open(&db, allowed);
    drop(db);
    r
}

/// [`verify`] on an open handle.
pub fn verify_open(db: &Database, allowed: &[&Tables]) -> Result<usize, String> {
    let report = db.check().map_err(|e| format!("check() failed: {e}"))?;
    if !report.is_ok() {
        return Err(format!("check() found problems:\n{report}"));
    }
    let got = read_all(db)?;
    let Some(i) = allowed.iter().position(|m| normalized(m) == got) else {
        let last = allowed.last().map(|m| diff(&normalized(m), &got)).unwrap_or_default();
        return Err(format!(
            "contents match none of the {} allowed states (vs the newest: {last})",
            allowed.len()
        ));
    };
    let st = db.stats().map_err(|e| format!("stats: {e}"))?;
    let default_len = got.get(&None).map_or(0, |m| m.len() as u64);
    if st.key_count != default_len {
        return Err(format!(
            "stats.key_count {} but the default table has {default_len}",
            st.key_count
        ));
    }
    let named = got.keys().filter(|k| k.is_some()).count() as u64;
    if st.table_count != named {
        return Err(format!("stats.table_count {} but {named} named tables exist", st.table_count));
    }
    if st.page_count == 0 || st.free_page_count >= st.page_count {
        return Err(format!("implausible stats: {st:?}"));
    }
    Ok(i)
}

/// Writes one more commit on a recovered handle, closes it, reopens and verifies the result:
/// a recovered database must accept commits over whatever tail the crash left.
pub fn write_after_recovery(image: &SimVfs, opts: &SimOpts, base: &Tables) -> Result<(), String> {
    let db = opts.open(image).map_err(|e| format!("reopen failed: {e}"))?;
    let mut tx = db.begin_write().map_err(|e| format!("begin_write: {e}"))?;
    tx.put(b"after-recovery", &[7u8; 300]).map_err(|e| format!("put: {e}"))?;
    tx.table("recovered")
        .and_then(|mut t| t.put(b"k", b"v"))
        .map_err(|e| format!("table put: {e}"))?;
    tx.commit().map_err(|e| format!("commit after recovery: {e}"))?;
    db.close().map_err(|e| format!("close after recovery: {e}"))?;
    let mut want = base.clone();
    want.entry(None).or_default().insert(b"after-recovery".to_vec(), vec![7u8; 300]);
    want.entry(Some("recovered".into())).or_default().insert(b"k".to_vec(), b"v".to_vec());
    verify(image, opts, &[&want]).map(|_| ()).map_err(|e| format!("after a commit and close: {e}"))
}

/// Whether `path` exists on the simulated disk.
pub fn exists(vfs: &SimVfs, path: &str) -> bool {
    vfs.read_file(Path::new(path)).is_some()
}

/// A seed for image `i` of crash point `step` of workload `seed`.
pub fn image_seed(seed: u64, step: u64, i: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ step.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ i
}

/// The soak multiplier: `FOLIO_SOAK=n` runs n times the default work (`FOLIO_SOAK=1`, or any
/// value that is not a number of at least 2, means 10).
pub fn soak() -> u64 {
    match std::env::var("FOLIO_SOAK") {
        Err(_) => 1,
        Ok(v) => v.parse::<u64>().ok().filter(|&n| n >= 2).unwrap_or(10),
    }
}

/// An environment variable parsed as a number.
pub fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// A [`SimVfs`] that prints every mutating operation with the step number it took.
struct LogVfs {
    sim: SimVfs,
}

struct LogStorage {
    sim: SimVfs,
    name: String,
    inner: Arc<dyn Storage>,
}

impl LogVfs {
    fn log<T>(&self, what: std::fmt::Arguments<'_>, r: io::Result<T>) -> io::Result<T> {
        eprintln!("[step {}] {what}: {}", self.sim.steps(), r.as_ref().map_or("failed", |_| "ok"));
        r
    }
}

impl Vfs for LogVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn Storage>> {
        let inner = self.log(format_args!("open {}", path.display()), self.sim.open(path, mode))?;
        let name = path.display().to_string();
        Ok(Arc::new(LogStorage { sim: self.sim.clone(), name, inner }))
    }
    fn exists(&self, p: &Path) -> io::Result<bool> {
        self.sim.exists(p)
    }
    fn remove(&self, p: &Path) -> io::Result<()> {
        self.log(format_args!("remove {}", p.display()), self.sim.remove(p))
    }
    fn rename(&self, a: &Path, b: &Path) -> io::Result<()> {
        self.log(format_args!("rename {} -> {}", a.display(), b.display()), self.sim.rename(a, b))
    }
    fn sync_dir(&self, d: &Path) -> io::Result<()> {
        self.log(format_args!("sync_dir {}", d.display()), self.sim.sync_dir(d))
    }
    fn file_id(&self, p: &Path) -> io::Result<Option<folio::storage::FileId>> {
        self.sim.file_id(p)
    }
    fn read_dir(&self, d: &Path) -> io::Result<Vec<std::path::PathBuf>> {
        self.sim.read_dir(d)
    }
}

impl LogStorage {
    fn log<T>(&self, what: std::fmt::Arguments<'_>, r: io::Result<T>) -> io::Result<T> {
        let ok = r.as_ref().map_or("failed", |_| "ok");
        eprintln!("[step {}] {} {what}: {ok}", self.sim.steps(), self.name);
        r
    }
}

impl Storage for LogStorage {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        self.inner.read_at(buf, off)
    }
    fn write_at(&self, buf: &[u8], off: u64) -> io::Result<()> {
        self.log(format_args!("write {} bytes at {off}", buf.len()), self.inner.write_at(buf, off))
    }
    fn sync(&self) -> io::Result<()> {
        self.log(format_args!("sync"), self.inner.sync())
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.log(format_args!("set_len {len}"), self.inner.set_len(len))
    }
    fn map(&self, len: u64) -> io::Result<Map> {
        self.inner.map(len)
    }
    fn try_lock(&self) -> io::Result<bool> {
        self.inner.try_lock()
    }
    fn file_id(&self) -> io::Result<Option<folio::storage::FileId>> {
        self.inner.file_id()
    }
    fn link_count(&self) -> io::Result<u64> {
        self.inner.link_count()
    }
}

/// Fails, listing the first few, if any of `checked` crash images failed verification.
pub fn assert_no_failures(failures: &[String], checked: u64) {
    if failures.is_empty() {
        return;
    }
    let shown: Vec<&str> = failures.iter().take(5).map(String::as_str).collect();
    panic!(
        "{} of {checked} crash images failed verification; the first {}:\n{}",
        failures.len(),
        shown.len(),
        shown.join("\n")
    );
}
