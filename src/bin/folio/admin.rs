//! The whole-database commands: `stats`, `check`, `checkpoint`, `vacuum` and `backup`.

use std::path::Path;

use folio::{CheckReport, CheckpointMode, Database, Error, Options, RecoveryInfo, Stats};

use crate::args::{BackupArgs, CheckArgs, CheckpointArgs, Global, Mode, StatsArgs, VacuumArgs};
use crate::json::Object;
use crate::progress::Progress;
use crate::{CliResult, fail, open};

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
fn plural<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// Named tables and their entry counts (only `--table`'s, if given).
fn table_sizes(db: &Database, g: &Global) -> CliResult<Vec<(String, u64)>> {
    let rx = db.begin_read()?;
    let names = match &g.table {
        Some(name) => {
            rx.table(name)?;
            vec![name.clone()]
        }
        None => rx.table_names()?,
    };
    names.into_iter().map(|n| Ok((n.clone(), rx.table(&n)?.len()))).collect()
}

fn print_stats(path: &Path, s: &Stats, r: &RecoveryInfo, tables: &[(String, u64)]) {
    let row = |name: &str, value: String| println!("{name:<16}{value}");
    row("database", path.display().to_string());
    row("page size", format!("{} bytes", grouped(s.page_size.into())));
    row("pages", format!("{} ({} free)", grouped(s.page_count), grouped(s.free_page_count)));
    row("file size", human_bytes(s.file_bytes));
    row("wal size", human_bytes(s.wal_bytes));
    row(
        "wal frames",
        format!(
            "{} ({} not yet checkpointed)",
            grouped(s.wal_frame_count),
            grouped(s.wal_frames_pending)
        ),
    );
    row("last txn id", s.last_txn_id.to_string());
    row(
        "default table",
        format!(
            "{} {}, tree depth {}",
            grouped(s.key_count),
            plural(s.key_count, "entry", "entries"),
            s.tree_depth
        ),
    );
    row("named tables", grouped(s.table_count));
    for (name, len) in tables {
        row("", format!("{name}: {} {}", grouped(*len), plural(*len, "entry", "entries")));
    }
    row("checkpoints", format!("{} since open", s.checkpoint_count));
    row("active readers", s.active_readers.to_string());
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
    );
}

fn stats_json(path: &Path, s: &Stats, r: &RecoveryInfo, tables: &[(String, u64)]) -> String {
    let stats = Object::new()
        .num("key_count", s.key_count)
        .num("table_count", s.table_count)
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
    let tables = tables.iter().fold(Object::new(), |o, (name, len)| o.num(name, *len));
    Object::new()
        .str("path", &path.display().to_string())
        .obj("stats", stats)
        .obj("recovery", recovery)
        .obj("tables", tables)
        .finish()
}

/// `folio stats DB`.
pub fn stats(g: &Global, a: StatsArgs) -> CliResult {
    let db = open::read_only(&a.db)?;
    let s = db.stats()?;
    let r = db.recovery_info();
    let tables = table_sizes(&db, g)?;
    if a.json {
        println!("{}", stats_json(&a.db, &s, &r, &tables));
    } else {
        print_stats(&a.db, &s, &r, &tables);
    }
    Ok(())
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
pub fn check(g: &Global, a: CheckArgs) -> CliResult {
    open::no_table(g, "check")?;
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
        println!("{}", o.finish());
    } else {
        println!("{report}");
    }
    match report.problems.len() {
        0 => Ok(()),
        n => fail!("check found {n} problem(s) in {}", a.db.display()),
    }
}

/// `folio checkpoint DB --mode M`.
pub fn checkpoint(g: &Global, a: CheckpointArgs) -> CliResult {
    open::no_table(g, "checkpoint")?;
    let mode = match a.mode {
        Mode::Passive => CheckpointMode::Passive,
        Mode::Full => CheckpointMode::Full,
        Mode::Restart => CheckpointMode::Restart,
        Mode::Truncate => CheckpointMode::Truncate,
    };
    let db = open::existing(&a.db)?;
    let info = db.checkpoint(mode)?;
    println!(
        "checkpoint ({}): {} frames copied, {} remaining{}",
        format!("{:?}", a.mode).to_lowercase(),
        grouped(info.frames_backfilled),
        grouped(info.frames_remaining),
        if info.wal_reset { ", WAL reset" } else { "" }
    );
    Ok(db.close()?)
}

fn file_len(path: &Path) -> CliResult<u64> {
    Ok(std::fs::metadata(path)?.len())
}

/// `folio vacuum DB [--pages N] [--full]`.
pub fn vacuum(g: &Global, a: VacuumArgs) -> CliResult {
    open::no_table(g, "vacuum")?;
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
    println!(
        "reclaimed {} pages{}; pages {} -> {}; file {} -> {}",
        grouped(reclaimed),
        if a.full { " and compacted" } else { "" },
        grouped(before.page_count),
        grouped(after.page_count),
        human_bytes(before.file_bytes),
        human_bytes(file_len(&a.db)?)
    );
    Ok(())
}

/// `folio backup DB DEST`.
pub fn backup(g: &Global, a: BackupArgs) -> CliResult {
    open::no_table(g, "backup")?;
    if a.dest.exists() && !a.force {
        return fail!("{} already exists; pass --force to replace it", a.dest.display());
    }
    let db = open::read_only(&a.db)?;
    let pages = db.stats()?.page_count;
    {
        let _spinner = Progress::spinner("backing up");
        db.backup_to(&a.dest)?;
    }
    println!(
        "backed up {} pages, {}, to {}",
        grouped(pages),
        human_bytes(file_len(&a.dest)?),
        a.dest.display()
    );
    Ok(())
}
