//! Damage to WAL frames that had been synced (data loss, as `recovery.rs` tells it from a
//! torn tail): the copy of the WAL kept at open, and the copies `check()` reports until they
//! are acknowledged.
//!
//! Sync order when a read-write open finds data loss, before anything can overwrite the WAL:
//! 1. copy the WAL, byte for byte as found, to `<wal>.damaged-N` (`N` the first number that
//!    no copy, acknowledged or not, uses), sync the copy and then its directory (an
//!    unacknowledged copy that already holds these very bytes, left by an open that failed
//!    at step 2, is used instead);
//! 2. only then cut the WAL back to the end of the last commit recovery kept, and sync it.
//!    Its frames past that point are in the copy; left in place they would vouch, on a later
//!    open, for frames that the next commits overwrite, and read as new damage.
//!
//! If the copy cannot be made, the open fails and nothing is changed. A read-only open
//! writes nothing: it reports the damage through `RecoveryInfo` and `check()`.
//!
//! Acknowledging: `check()` reports every file beside the database named exactly
//! `<wal>.damaged-N` (N decimal digits). Removing or renaming it acknowledges it;
//! [`acknowledge`] (`Database::acknowledge_wal_damage`, `folio check --acknowledge`) renames
//! each to `<wal>.damaged-N.acknowledged`, keeping the evidence beside the database.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use super::recovery::RecoveryInfo;
use super::writer::WalWriter;
use crate::error::{Error, Result};
use crate::storage::{OpenMode, Vfs, parent_dir};

/// What the name of a copy adds to the WAL's name, before its number.
pub const DAMAGED_SUFFIX: &str = ".damaged-";
/// What acknowledging appends to a copy's name.
pub const ACKNOWLEDGED_SUFFIX: &str = ".acknowledged";

/// Bytes copied per write.
const COPY_CHUNK: usize = 1 << 20;

/// The number of a copy of `wal`'s, and whether its name has anything after the number.
fn copy_number(wal: &Path, entry: &Path) -> Option<(u64, bool)> {
    let mut prefix: OsString = wal.file_name()?.to_owned();
    prefix.push(DAMAGED_SUFFIX);
    let name = entry.file_name()?.to_str()?;
    let rest = name.strip_prefix(prefix.to_str()?)?;
    let digits = rest.split('.').next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, rest.len() > digits.len()))
}

/// The unacknowledged copies of `wal` beside it, in order of their numbers.
///
/// # Errors
///
/// The I/O error of listing the directory.
pub fn copies(vfs: &dyn Vfs, wal: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found: Vec<(u64, PathBuf)> = vfs
        .read_dir(parent_dir(wal))?
        .into_iter()
        .filter_map(|p| match copy_number(wal, &p) {
            Some((n, false)) => Some((n, p)),
            _ => None,
        })
        .collect();
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// The path of copy `n` of `wal`.
fn copy_path(wal: &Path, n: u64) -> PathBuf {
    let mut s = wal.as_os_str().to_owned();
    s.push(format!("{DAMAGED_SUFFIX}{n}"));
    PathBuf::from(s)
}

/// Copies the WAL as found (the whole file `writer` maps) to the first unused
/// `<wal>.damaged-N`, makes the copy durable, then cuts the WAL back to its last commit.
///
/// # Errors
///
/// [`Error::Io`] if the copy cannot be written or synced (the WAL is then
/// untouched), or the WAL cannot be cut back after a good copy (the next open finds that copy
/// and uses it).
pub fn keep(vfs: &dyn Vfs, wal: &Path, writer: &mut WalWriter) -> Result<PathBuf> {
    let dir = parent_dir(wal);
    let used: Vec<u64> = vfs
        .read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .iter()
        .filter_map(|p| copy_number(wal, p).map(|(n, _)| n))
        .collect();
    // An open that failed after copying (cutting the WAL failed) left this very copy.
    for copy in copies(vfs, wal).map_err(|e| Error::io(dir, e))? {
        if same_bytes(vfs, &copy, writer.map().bytes()).map_err(|e| Error::io(&copy, e))? {
            writer.cut_after_commit().map_err(|e| Error::io(wal, e))?;
            return Ok(copy);
        }
    }
    let n = (1..).find(|n| !used.contains(n)).expect("a number is free");
    let dest = copy_path(wal, n);
    let copied = (|| {
        let out = vfs.open(&dest, OpenMode::ReadWrite)?;
        for (i, chunk) in writer.map().bytes().chunks(COPY_CHUNK).enumerate() {
            out.write_at(chunk, (i * COPY_CHUNK) as u64)?;
        }
        out.sync()?;
        vfs.sync_dir(dir)
    })();
    if let Err(e) = copied {
        // Best effort: an incomplete copy is no evidence. The WAL is still untouched.
        if vfs.exists(&dest).unwrap_or(false) {
            let _ = vfs.remove(&dest);
        }
        return Err(Error::io(&dest, e));
    }
    writer.cut_after_commit().map_err(|e| Error::io(wal, e))?;
    Ok(dest)
}

/// Whether the file at `path` holds exactly `bytes`.
fn same_bytes(vfs: &dyn Vfs, path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let f = vfs.open(path, OpenMode::ReadOnly)?;
    if f.len()? != bytes.len() as u64 {
        return Ok(false);
    }
    let mut buf = vec![0u8; COPY_CHUNK.min(bytes.len())];
    for (i, chunk) in bytes.chunks(COPY_CHUNK).enumerate() {
        let b = &mut buf[..chunk.len()];
        f.read_at(b, (i * COPY_CHUNK) as u64)?;
        if b != chunk {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Renames every unacknowledged copy of `wal` to `<copy>.acknowledged` and syncs the
/// directory; returns the new names.
///
/// # Errors
///
/// The I/O error of listing, renaming or syncing the directory.
pub fn acknowledge(vfs: &dyn Vfs, wal: &Path) -> io::Result<Vec<PathBuf>> {
    let mut done = Vec::new();
    for copy in copies(vfs, wal)? {
        let mut to = copy.as_os_str().to_owned();
        to.push(ACKNOWLEDGED_SUFFIX);
        let to = PathBuf::from(to);
        vfs.rename(&copy, &to)?;
        done.push(to);
    }
    if !done.is_empty() {
        vfs.sync_dir(parent_dir(wal))?;
    }
    Ok(done)
}

/// The problems `check()` reports about WAL damage: every unacknowledged copy beside the
/// database, and damage this handle found but could not copy (a read-only open). `made` is
/// the copy this handle's open made, if any.
pub fn problems(
    vfs: &dyn Vfs,
    wal: &Path,
    info: &RecoveryInfo,
    made: Option<&Path>,
) -> Vec<String> {
    let found = match copies(vfs, wal) {
        Ok(c) => c,
        Err(e) => {
            let dir = parent_dir(wal).display();
            return vec![format!("cannot look for damaged WAL copies in {dir}: {e}")];
        }
    };
    let lost = || {
        format!(
            "frame {} of the WAL was damaged after it had been synced: {} commit(s) after it \
             were lost ({} intact frame(s) follow it)",
            info.damaged_frame.unwrap_or(0),
            info.commits_lost,
            info.frames_intact_after_damage
        )
    };
    let mut out = Vec::new();
    if info.data_lost() && made.is_none() {
        out.push(format!("{}; open the database read-write to keep a copy of the WAL", lost()));
    }
    for copy in found {
        let what = if made == Some(copy.as_path()) {
            lost()
        } else {
            "a WAL damaged after it had been synced was found by an earlier open; commits were \
             lost"
                .to_string()
        };
        out.push(format!(
            "{what}; the WAL as found is kept in {} (remove or rename it, or run \
             `folio check --acknowledge`, once dealt with)",
            copy.display()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_names_are_recognized_exactly() {
        let wal = Path::new("/d/app.db-wal");
        let n = |s: &str| copy_number(wal, Path::new(s));
        assert_eq!(n("/d/app.db-wal.damaged-1"), Some((1, false)));
        assert_eq!(n("/d/app.db-wal.damaged-12.acknowledged"), Some((12, true)));
        assert_eq!(n("/d/app.db-wal.damaged-"), None);
        assert_eq!(n("/d/app.db-wal.damaged-x"), None);
        assert_eq!(n("/d/other.db-wal.damaged-1"), None);
        assert_eq!(n("/d/app.db-wal"), None);
    }
}
