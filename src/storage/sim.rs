//! A simulated file system for crash and fault tests.
//!
//! Each file has a *live* image (what reads and maps see, kept in an anonymous memory file so
//! it can be mapped like a real one) and a *durable* image (what survives a crash). Writes and
//! resizes change the live image and queue as pending; `sync` makes a file's pending changes
//! durable. Names work the same way: creations, renames and removals are pending until
//! `sync_dir`.
//!
//! Every mutating operation (write, resize, sync, create, rename, remove, directory sync)
//! counts as one step. A schedule can crash the system at step N (that step and every later
//! one fail with EIO) or fail step N with EIO or ENOSPC. [`SimVfs::crash_image`] then builds
//! the disk as a power cut would leave it: the durable state plus a seeded random choice of
//! pending changes, applied in order, each dropped, kept or torn at 512-byte boundaries;
//! pending name changes survive as a prefix. Everything is deterministic for a given seed.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{FileId, FileStorage, Map, OpenMode, Storage, Vfs};

/// The sector size below which writes are atomic.
pub const SECTOR: usize = 512;

/// An error to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// An I/O error (`EIO`).
    Eio,
    /// Out of space (`ENOSPC`).
    NoSpace,
}

impl Fault {
    fn error(self) -> io::Error {
        match self {
            Fault::Eio => io::Error::from_raw_os_error(rustix::io::Errno::IO.raw_os_error()),
            Fault::NoSpace => io::Error::from_raw_os_error(rustix::io::Errno::NOSPC.raw_os_error()),
        }
    }
}

enum Pending {
    Write { off: u64, data: Vec<u8> },
    SetLen(u64),
}

struct FileState {
    durable: Vec<u8>,
    pending: Vec<Pending>,
}

struct SimFile {
    id: u64,
    live: FileStorage,
    state: Mutex<FileState>,
}

enum NameOp {
    Bind(PathBuf, Arc<SimFile>),
    Unbind(PathBuf),
}

struct Sim {
    live: HashMap<PathBuf, Arc<SimFile>>,
    durable: HashMap<PathBuf, Arc<SimFile>>,
    pending_names: Vec<NameOp>,
    locked: Vec<u64>,
    next_id: u64,
    steps: u64,
    crash_at: Option<u64>,
    faults: Vec<(u64, Fault)>,
    crashed: bool,
}

impl Sim {
    fn step(&mut self) -> io::Result<()> {
        self.steps += 1;
        if self.crashed || self.crash_at == Some(self.steps) {
            self.crashed = true;
            return Err(io::Error::other("simulated power loss"));
        }
        if let Some(i) = self.faults.iter().position(|(at, _)| *at == self.steps) {
            return Err(self.faults.remove(i).1.error());
        }
        Ok(())
    }

    fn new_file(&mut self, content: &[u8]) -> io::Result<Arc<SimFile>> {
        self.next_id += 1;
        let live = FileStorage::anonymous("folio-sim")?;
        live.write_at(content, 0)?;
        Ok(Arc::new(SimFile {
            id: self.next_id,
            live,
            state: Mutex::new(FileState { durable: content.to_vec(), pending: Vec::new() }),
        }))
    }
}

/// A simulated file system; clones share it.
#[derive(Clone)]
pub struct SimVfs {
    sim: Arc<Mutex<Sim>>,
}

impl Default for SimVfs {
    fn default() -> Self {
        Self::new()
    }
}

impl SimVfs {
    /// An empty file system with no faults scheduled.
    pub fn new() -> Self {
        SimVfs {
            sim: Arc::new(Mutex::new(Sim {
                live: HashMap::new(),
                durable: HashMap::new(),
                pending_names: Vec::new(),
                locked: Vec::new(),
                next_id: 0,
                steps: 0,
                crash_at: None,
                faults: Vec::new(),
                crashed: false,
            })),
        }
    }

    /// Mutating steps taken so far.
    pub fn steps(&self) -> u64 {
        self.sim.lock().steps
    }

    /// Crashes the system at step `step` (counted from the start).
    pub fn crash_at(&self, step: u64) {
        self.sim.lock().crash_at = Some(step);
    }

    /// Crashes the system now: every later step fails.
    pub fn crash_now(&self) {
        self.sim.lock().crashed = true;
    }

    /// Fails step `step` with `fault` (once).
    pub fn fail_at(&self, step: u64, fault: Fault) {
        self.sim.lock().faults.push((step, fault));
    }

    /// Whether the system has crashed.
    pub fn crashed(&self) -> bool {
        self.sim.lock().crashed
    }

    /// The live contents of `path`, if it exists.
    pub fn read_file(&self, path: &Path) -> Option<Vec<u8>> {
        let f = self.sim.lock().live.get(path).cloned()?;
        let len = f.live.len().ok()?;
        let mut buf = vec![0u8; len as usize];
        f.live.read_at(&mut buf, 0).ok()?;
        Some(buf)
    }

    /// Creates (or replaces) `path` with `content`, durable at once, as if it had been on
    /// the disk before the simulation began.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    pub fn write_file(&self, path: &Path, content: &[u8]) -> io::Result<()> {
        let mut sim = self.sim.lock();
        let f = sim.new_file(content)?;
        sim.live.insert(path.to_path_buf(), Arc::clone(&f));
        sim.durable.insert(path.to_path_buf(), f);
        Ok(())
    }

    /// The disk a power cut at this moment could leave, chosen by `seed`: a fresh file system
    /// with no faults scheduled.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    pub fn crash_image(&self, seed: u64) -> io::Result<SimVfs> {
        self.image(&mut Chooser::Random(SplitMix(seed)))
    }

    /// Test support: the disk a power cut could leave, with the outcome chosen by the caller
    /// rather than at random, to pin one specific crash. `keep(path, offset, len)` is asked
    /// about each unsynced write, in the order the writes were made, and decides whether it
    /// reached the disk whole (`true`) or not at all (`false`). Every unsynced resize and
    /// every pending name change (creation, rename, removal) survives.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    pub fn crash_image_with(
        &self,
        mut keep: impl FnMut(&Path, u64, usize) -> bool,
    ) -> io::Result<SimVfs> {
        self.image(&mut Chooser::Given(&mut keep))
    }

    fn image(&self, choose: &mut Chooser<'_>) -> io::Result<SimVfs> {
        let sim = self.sim.lock();
        let mut names = sim.durable.clone();
        let keep = match choose {
            _ if sim.pending_names.is_empty() => 0,
            Chooser::Random(rng) => rng.below(sim.pending_names.len() as u64 + 1) as usize,
            Chooser::Given(_) => sim.pending_names.len(),
        };
        for op in &sim.pending_names[..keep] {
            match op {
                NameOp::Bind(p, f) => {
                    names.insert(p.clone(), Arc::clone(f));
                }
                NameOp::Unbind(p) => {
                    names.remove(p);
                }
            }
        }
        let out = SimVfs::new();
        let mut images: HashMap<u64, Arc<SimFile>> = HashMap::new();
        let mut paths: Vec<_> = names.into_iter().collect();
        paths.sort_by(|a, b| a.0.cmp(&b.0));
        for (path, file) in paths {
            let image = match images.get(&file.id) {
                Some(f) => Arc::clone(f),
                None => {
                    let content = torn_image(&file.state.lock(), &path, choose);
                    let f = out.sim.lock().new_file(&content)?;
                    images.insert(file.id, Arc::clone(&f));
                    f
                }
            };
            let mut o = out.sim.lock();
            o.live.insert(path.clone(), Arc::clone(&image));
            o.durable.insert(path, image);
        }
        Ok(out)
    }
}

/// Who decides what a crash keeps.
enum Chooser<'a> {
    Random(SplitMix),
    Given(&'a mut dyn FnMut(&Path, u64, usize) -> bool),
}

/// Durable contents plus a choice of pending changes, in order.
fn torn_image(st: &FileState, path: &Path, choose: &mut Chooser<'_>) -> Vec<u8> {
    let mut img = st.durable.clone();
    for p in &st.pending {
        match p {
            Pending::SetLen(len) => {
                let apply = match choose {
                    Chooser::Random(rng) => rng.below(2) == 0,
                    Chooser::Given(_) => true,
                };
                if apply {
                    img.resize(*len as usize, 0);
                }
            }
            Pending::Write { off, data } => {
                let mode = match choose {
                    Chooser::Random(rng) => rng.below(3),
                    Chooser::Given(keep) => u64::from(keep(path, *off, data.len())),
                };
                let off = *off as usize;
                if mode == 0 {
                    continue; // lost
                }
                if img.len() < off + data.len() {
                    img.resize(off + data.len(), 0);
                }
                // Sector boundaries are absolute file offsets.
                let mut pos = 0;
                while pos < data.len() {
                    let sector_end = ((off + pos) / SECTOR + 1) * SECTOR - off;
                    let end = sector_end.min(data.len());
                    let whole = match choose {
                        Chooser::Random(rng) => mode == 1 || rng.below(2) == 0,
                        Chooser::Given(_) => true,
                    };
                    if whole {
                        img[off + pos..off + end].copy_from_slice(&data[pos..end]);
                    }
                    pos = end;
                }
            }
        }
    }
    img
}

/// A small deterministic generator (splitmix64).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

impl Vfs for SimVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn Storage>> {
        let mut sim = self.sim.lock();
        let file = match sim.live.get(path) {
            Some(f) => Arc::clone(f),
            None if mode == OpenMode::ReadOnly => {
                return Err(io::Error::new(io::ErrorKind::NotFound, "no such simulated file"));
            }
            None => {
                sim.step()?;
                let f = sim.new_file(&[])?;
                // A brand-new file is empty in every image until its data is synced.
                f.state.lock().durable.clear();
                sim.live.insert(path.to_path_buf(), Arc::clone(&f));
                sim.pending_names.push(NameOp::Bind(path.to_path_buf(), Arc::clone(&f)));
                f
            }
        };
        Ok(Arc::new(SimStorage { sim: Arc::clone(&self.sim), file, holds_lock: Mutex::new(false) }))
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        Ok(self.sim.lock().live.contains_key(path))
    }

    fn file_id(&self, path: &Path) -> io::Result<Option<FileId>> {
        Ok(self.sim.lock().live.get(path).map(|f| FileId { dev: u64::MAX, ino: f.id }))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut sim = self.sim.lock();
        sim.step()?;
        if sim.live.remove(path).is_none() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such simulated file"));
        }
        sim.pending_names.push(NameOp::Unbind(path.to_path_buf()));
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut sim = self.sim.lock();
        sim.step()?;
        let f = sim
            .live
            .remove(from)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such simulated file"))?;
        sim.live.insert(to.to_path_buf(), Arc::clone(&f));
        // Atomic: both halves become durable together.
        sim.pending_names.push(NameOp::Bind(to.to_path_buf(), f));
        sim.pending_names.push(NameOp::Unbind(from.to_path_buf()));
        Ok(())
    }

    fn sync_dir(&self, _dir: &Path) -> io::Result<()> {
        let mut sim = self.sim.lock();
        sim.step()?;
        let ops = std::mem::take(&mut sim.pending_names);
        for op in ops {
            match op {
                NameOp::Bind(p, f) => {
                    sim.durable.insert(p, f);
                }
                NameOp::Unbind(p) => {
                    sim.durable.remove(&p);
                }
            }
        }
        Ok(())
    }

    fn read_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let sim = self.sim.lock();
        Ok(sim.live.keys().filter(|p| p.parent() == Some(dir)).cloned().collect())
    }
}

/// A handle on a simulated file.
struct SimStorage {
    sim: Arc<Mutex<Sim>>,
    file: Arc<SimFile>,
    holds_lock: Mutex<bool>,
}

impl Storage for SimStorage {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        self.file.live.read_at(buf, off)
    }

    fn write_at(&self, buf: &[u8], off: u64) -> io::Result<()> {
        self.sim.lock().step()?;
        self.file.live.write_at(buf, off)?;
        self.file.state.lock().pending.push(Pending::Write { off, data: buf.to_vec() });
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        self.sim.lock().step()?;
        let mut st = self.file.state.lock();
        let pending = std::mem::take(&mut st.pending);
        for p in pending {
            match p {
                Pending::SetLen(len) => st.durable.resize(len as usize, 0),
                Pending::Write { off, data } => {
                    let end = off as usize + data.len();
                    if st.durable.len() < end {
                        st.durable.resize(end, 0);
                    }
                    st.durable[off as usize..end].copy_from_slice(&data);
                }
            }
        }
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        self.file.live.len()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.sim.lock().step()?;
        self.file.live.set_len(len)?;
        self.file.state.lock().pending.push(Pending::SetLen(len));
        Ok(())
    }

    fn map(&self, len: u64) -> io::Result<Map> {
        self.file.live.map(len)
    }

    fn file_id(&self) -> io::Result<Option<FileId>> {
        Ok(Some(FileId { dev: u64::MAX, ino: self.file.id }))
    }

    fn try_lock(&self) -> io::Result<bool> {
        let mut sim = self.sim.lock();
        if sim.locked.contains(&self.file.id) {
            return Ok(false);
        }
        sim.locked.push(self.file.id);
        *self.holds_lock.lock() = true;
        Ok(true)
    }
}

impl Drop for SimStorage {
    fn drop(&mut self) {
        if *self.holds_lock.lock() {
            self.sim.lock().locked.retain(|id| *id != self.file.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_writes_may_vanish_synced_ones_survive() {
        let vfs = SimVfs::new();
        let p = Path::new("/db");
        let f = vfs.open(p, OpenMode::ReadWrite).unwrap();
        vfs.sync_dir(Path::new("/")).unwrap();
        f.write_at(&[1u8; 1024], 0).unwrap();
        f.sync().unwrap();
        f.write_at(&[2u8; 1024], 0).unwrap();
        let mut seen = std::collections::HashSet::new();
        for seed in 0..64 {
            let img = vfs.crash_image(seed).unwrap().read_file(p).unwrap();
            assert_eq!(img.len(), 1024);
            // Each sector is wholly old or wholly new.
            for s in img.chunks(SECTOR) {
                assert!(s.iter().all(|&b| b == s[0]) && (s[0] == 1 || s[0] == 2));
            }
            seen.insert(img);
        }
        assert!(seen.len() >= 3, "lost, kept and torn images all occur");
    }

    #[test]
    fn faults_fire_once_at_their_step_and_crash_is_sticky() {
        let vfs = SimVfs::new();
        let f = vfs.open(Path::new("/a"), OpenMode::ReadWrite).unwrap();
        let next = vfs.steps() + 1;
        vfs.fail_at(next, Fault::NoSpace);
        let e = f.write_at(b"x", 0).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(rustix::io::Errno::NOSPC.raw_os_error()));
        f.write_at(b"x", 0).unwrap();
        vfs.crash_at(vfs.steps() + 1);
        assert!(f.sync().is_err());
        assert!(f.write_at(b"y", 0).is_err());
        assert!(vfs.crashed());
    }

    #[test]
    fn planted_files_are_durable() {
        let vfs = SimVfs::new();
        vfs.write_file(Path::new("/x"), b"abc").unwrap();
        assert_eq!(vfs.crash_image(1).unwrap().read_file(Path::new("/x")).unwrap(), b"abc");
    }

    #[test]
    fn names_are_pending_until_the_directory_is_synced() {
        let vfs = SimVfs::new();
        let f = vfs.open(Path::new("/a"), OpenMode::ReadWrite).unwrap();
        f.write_at(b"hello", 0).unwrap();
        f.sync().unwrap();
        let images: Vec<bool> =
            (0..16).map(|s| vfs.crash_image(s).unwrap().exists(Path::new("/a")).unwrap()).collect();
        assert!(images.contains(&true) && images.contains(&false));
        vfs.sync_dir(Path::new("/")).unwrap();
        let img = vfs.crash_image(0).unwrap();
        assert_eq!(img.read_file(Path::new("/a")).unwrap(), b"hello");
    }
}
