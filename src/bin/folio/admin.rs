//! The whole-database commands: `stats`, `check`, `checkpoint`, `vacuum`, `compact`,
//! `backup`, and the table commands `drop-table` and `rename-table`.
//!
//! `stats` and `check` count tables and entries the same way: the default table and every
//! named table, and the entries in them (the catalog, the tree listing named tables, is not
//! a table).

use std::path::Path;

use folio::{CheckReport, CheckpointMode, Database, Error, Options, RecoveryInfo, Stats};

use crate::args::{
    BackupArgs, CheckArgs, CheckpointArgs, DbArgs, DropTableArgs, Mode, RenameTableArgs, StatsArgs,
    VacuumArgs,
};
use crate::json::Object;
use crate::progress::Progress;
use crate::{CliResult, fail, open, out};

/// `1,234,567 bytes (1.2 MiB)`.
pub fn human_bytes(n: u64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let (mut v, mut u) = (n as f64, 0);
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{} bytes", grouped(n))
    } else {
        format!("{} bytes ({v:.1} {})", grouped(n), units[u])
    }
}

/// `1234567` as `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `one` or `many`, by `n`.
pub fn plural<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// `1 entry`, `1,234 entries`.
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), plural(n, one, many))
}

/// The named tables `stats` lists, and the entries of every table, the default included.
struct Tables {
    listed: Vec<(String, u64)>,
    entries: u64,
}

/// Every named table and its entry count.
fn table_sizes(db: &Database) -> CliResult<Vec<(String, u64)>> {
    let rx = db.begin_read()?;
    let names = rx.table_names()?;
    names.into_iter().map(|n| Ok((n.clone(), rx.table(&n)?.len()))).collect()
}

fn print_stats(path: &Path, s: &Stats, r: &RecoveryInfo, t: &Tables) -> CliResult {
    let tables = &t.listed;
    let row = |name: &str, value: String| -> CliResult {
        out!("{name:<16}{value}");
        Ok(())
    };
    row("database", path.display().to_string())?;
    row("page size", format!("{} bytes", grouped(s.page_size.into())))?;
    row("pages", format!("{} ({} free)", grouped(s.page_count), grouped(s.free_page_count)))?;
    row("file size", human_bytes(s.file_bytes))?;
    row("wal size", human_bytes(s.wal_bytes))?;
    row(
        "wal frames",
        format!(
            "{} ({} not yet checkpointed)",
            grouped(s.wal_frame_count),
            grouped(s.wal_frames_pending)
        ),
    )?;
    row("last txn id", s.last_txn_id.to_string())?;
    row(
        "default table",
        format!(
            "{} {}, tree depth {}",
            grouped(s.key_count),
            plural(s.key_count, "entry", "entries"),
            s.tree_depth
        ),
    )?;
    row(
        "tables",
        format!(
            "{} (the default table and {}), {} in all",
            grouped(s.table_count + 1),
            counted(s.table_count, "named table", "named tables"),
            counted(t.entries, "entry", "entries")
        ),
    )?;
    for (name, len) in tables {
        row("", format!("{name}: {}", counted(*len, "entry", "entries")))?;
    }
    row("checkpoints", format!("{} since open", s.checkpoint_count))?;
    row("active readers", s.active_readers.to_string())?;
    let tail = match (r.damaged_frame, r.tail_corrupt) {
        (Some(f), _) => format!(
            "WAL damaged at frame {f}: {} {} lost",
            grouped(r.commits_lost),
            plural(r.commits_lost, "commit", "commits")
        ),
        (None, true) => "damaged tail discarded".into(),
        (None, false) => "clean end".into(),
    };
    row(
        "recovery",
        format!(
            "{} {} ({} {}) replayed, {} discarded, {tail}",
            grouped(r.commits_replayed),
            plural(r.commits_replayed, "commit", "commits"),
            grouped(r.frames_replayed),
            plural(r.frames_replayed, "frame", "frames"),
            human_bytes(r.bytes_discarded)
        ),
    )
}

fn stats_json(path: &Path, s: &Stats, r: &RecoveryInfo, t: &Tables) -> String {
    let stats = Object::new()
        .num("key_count", s.key_count)
        .num("table_count", s.table_count)
        .num("tables", s.table_count + 1)
        .num("entries", t.entries)
        .num("page_size", s.page_size)
        .num("page_count", s.page_count)
        .num("free_page_count", s.free_page_count)
        .num("file_bytes", s.file_bytes)
        .num("wal_bytes", s.wal_bytes)
        .num("wal_frame_count", s.wal_frame_count)
        .num("wal_frames_pending", s.wal_frames_pending)
        .num("last_txn_id", s.last_txn_id)
        .num("tree_depth", s.tree_depth)
        .num("checkpoint_count", s.checkpoint_count)
        .num("active_readers", s.active_readers);
    let recovery = Object::new()
        .num("commits_replayed", r.commits_replayed)
        .num("frames_replayed", r.frames_replayed)
        .num("bytes_discarded", r.bytes_discarded)
        .bool("tail_corrupt", r.tail_corrupt)
        .num("commits_lost", r.commits_lost)
        .num("frames_intact_after_damage", r.frames_intact_after_damage);
    let tables = t.listed.iter().fold(Object::new(), |o, (name, len)| o.num(name, *len));
    Object::new()
        .str("path", &path.display().to_string())
        .obj("stats", stats)
        .obj("recovery", recovery)
        .obj("tables", tables)
        .finish()
}

/// `folio stats DB`.
pub fn stats(a: StatsArgs) -> CliResult {
    let db = open::read_only(&a.db)?;
    let s = db.stats()?;
    let r = db.recovery_info();
    let mut listed = table_sizes(&db)?;
    let entries = s.key_count + listed.iter().map(|(_, n)| n).sum::<u64>();
    if let Some(name) = &a.table {
        db.begin_read()?.table(name)?;
        listed.retain(|(n, _)| n == name);
    }
    let tables = Tables { listed, entries };
    if a.json {
        out!("{}", stats_json(&a.db, &s, &r, &tables));
        Ok(())
    } else {
        print_stats(&a.db, &s, &r, &tables)
    }
}

/// Opens and checks the database; a file too damaged to open is a report with one problem.
fn run_check(path: &Path) -> CliResult<CheckReport> {
    open::must_exist(path)?;
    let _spinner = Progress::spinner("checking");
    let result = Options::new().read_only(true).open(path).and_then(|db| db.check());
    match result {
        Ok(report) => Ok(report),
        Err(e @ Error::Corrupt { .. }) => {
            Ok(CheckReport { problems: vec![e.to_string()], ..Default::default() })
        }
        Err(e) => Err(e.into()),
    }
}

/// `folio check DB`: exits non-zero if any problem is found.
pub fn check(a: CheckArgs) -> CliResult {
    if a.acknowledge {
        let db = open::existing(&a.db)?;
        for copy in db.acknowledge_wal_damage()? {
            eprintln!("acknowledged: {}", copy.display());
        }
        db.close()?;
    }
    let report = run_check(&a.db)?;
    if a.json {
        let o = Object::new()
            .bool("ok", report.is_ok())
            .num("pages_checked", report.pages_checked)
            .num("tables_checked", report.tables_checked)
            .num("entries_checked", report.entries_checked)
            .strs("problems", &report.problems);
        out!("{}", o.finish());
    } else {
        out!("{report}");
    }
    match report.problems.len() as u64 {
        0 => Ok(()),
        n => fail!("check found {} in {}", counted(n, "problem", "problems"), a.db.display()),
    }
}

/// `folio checkpoint DB --mode M`.
pub fn checkpoint(a: CheckpointArgs) -> CliResult {
    let mode = match a.mode {
        Mode::Passive => CheckpointMode::Passive,
        Mode::Full => CheckpointMode::Full,
        Mode::Restart => CheckpointMode::Restart,
        Mode::Truncate => CheckpointMode::Truncate,
    };
    let db = open::existing(&a.db)?;
    let info = db.checkpoint(mode)?;
    db.close()?;
    out!(
        "checkpoint ({}): {} copied, {} remaining{}",
        format!("{:?}", a.mode).to_lowercase(),
        counted(info.frames_backfilled, "frame", "frames"),
        grouped(info.frames_remaining),
        if info.wal_reset { ", WAL reset" } else { "" }
    );
    Ok(())
}

fn file_len(path: &Path) -> CliResult<u64> {
    Ok(std::fs::metadata(path)?.len())
}

/// `folio vacuum DB [--pages N] [--full]`.
pub fn vacuum(a: VacuumArgs) -> CliResult {
    let db = open::existing(&a.db)?;
    let before = db.stats()?;
    let reclaimed = if a.full {
        let _spinner = Progress::spinner("vacuuming and compacting");
        let r = db.vacuum(0)?;
        db.compact()?;
        r
    } else {
        db.vacuum(a.pages.unwrap_or(0))?
    };
    let after = db.stats()?;
    db.close()?;
    out!(
        "reclaimed {}{}; pages {} -> {}; file {} -> {}",
        counted(reclaimed, "page", "pages"),
        if a.full { " and compacted" } else { "" },
        grouped(before.page_count),
        grouped(after.page_count),
        human_bytes(before.file_bytes),
        human_bytes(file_len(&a.db)?)
    );
    Ok(())
}

/// `folio compact DB`: rewrites the file packed.
pub fn compact(a: DbArgs) -> CliResult {
    let db = open::existing(&a.db)?;
    let before = file_len(&a.db)?;
    {
        let _spinner = Progress::spinner("compacting");
        db.compact()?;
    }
    let pages = db.stats()?.page_count;
    db.close()?;
    out!(
        "compacted {} into {}: file {} -> {}",
        a.db.display(),
        counted(pages, "page", "pages"),
        human_bytes(before),
        human_bytes(file_len(&a.db)?)
    );
    Ok(())
}

/// `folio drop-table DB NAME`: removes the table and frees its pages.
pub fn drop_table(a: DropTableArgs) -> CliResult {
    let db = open::existing(&a.db)?;
    // The lock is held from the open: nothing commits between this read and the drop.
    let entries = db.begin_read()?.table(&a.name)?.len();
    let mut tx = db.begin_write()?;
    tx.delete_table(&a.name)?;
    tx.commit()?;
    db.close()?;
    out!("dropped table {:?} ({})", a.name, counted(entries, "entry", "entries"));
    Ok(())
}

/// `folio rename-table DB OLD NEW`.
pub fn rename_table(a: RenameTableArgs) -> CliResult {
    let db = open::existing(&a.db)?;
    let mut tx = db.begin_write()?;
    tx.rename_table(&a.from, &a.to)?;
    tx.commit()?;
    Ok(db.close()?)
}

/// `folio backup DB DEST`.
pub fn backup(a: BackupArgs) -> CliResult {
    if a.dest.exists() && !a.force {
        return fail!("{} already exists; pass --force to replace it", a.dest.display());
    }
    let db = open::read_only(&a.db)?;
    let pages = db.stats()?.page_count;
    {
        let _spinner = Progress::spinner("backing up");
        db.backup_to(&a.dest)?;
    }
    out!(
        "backed up {}, {}, to {}",
        counted(pages, "page", "pages"),
        human_bytes(file_len(&a.dest)?),
        a.dest.display()
    );
    Ok(())
}
