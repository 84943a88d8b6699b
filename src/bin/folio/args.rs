//! The command line, declared with clap: one struct per subcommand, each declaring only the
//! options it accepts (so `folio CMD --help` lists exactly those).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Inspect and operate folio databases.
///
/// Keys and values are text by default. Output escapes backslash and non-printable bytes as
/// `\\`, `\t`, `\n`, `\r` and `\xNN`, and arguments accept the same escapes, so a key that
/// `scan` prints can be typed back to `get`. With `--hex` (or `--hex-key`, `--hex-value`),
/// keys and values are hexadecimal instead.
#[derive(Parser, Debug)]
#[command(
    name = "folio",
    version,
    about,
    max_term_width = 100,
    after_help = "Exit status: 0 on success (also when standard output is closed early, as by \
                  `folio scan DB | head`: the command stops quietly, and what it already did \
                  stays done); 1 on an error; 2 on a usage error (a bad option or argument); \
                  `check` exits 1 if it finds any problem."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the value stored under KEY.
    Get(GetArgs),
    /// Store a value under KEY (creates the database and the table if missing).
    Put(PutArgs),
    /// Remove KEY.
    Delete(DeleteArgs),
    /// List entries in key order: `key<TAB>value`, one per line.
    Scan(ScanArgs),
    /// Print sizes, counters and what the last open recovered.
    Stats(StatsArgs),
    /// Verify the whole database; exits non-zero if any problem is found.
    Check(CheckArgs),
    /// Copy committed WAL frames into the main file.
    Checkpoint(CheckpointArgs),
    /// Give free pages back to the file system.
    Vacuum(VacuumArgs),
    /// Rewrite the database into a minimal file, every page packed.
    Compact(DbArgs),
    /// Write a consistent copy of the database to DEST.
    Backup(BackupArgs),
    /// Write every table as text (see DUMP.md) to stdout or --output.
    Dump(DumpArgs),
    /// Bulk-load a dump from stdin or --input (creates the database if missing).
    Load(LoadArgs),
    /// Remove a named table and free its pages.
    DropTable(DropTableArgs),
    /// Rename a named table.
    RenameTable(RenameTableArgs),
    /// List every page of the main file: type, table, fill and checksum (works on a file too
    /// damaged to open).
    Pages(PagesArgs),
    /// Decode one page of the main file: header, cells, overflow chain.
    Page(PageArgs),
    /// Run a benchmark on a temporary database: read-heavy phases, or a YCSB workload.
    Bench(BenchArgs),
}

/// `--table`, for the commands that work on one table.
#[derive(Args, Debug)]
pub struct TableArg {
    /// Work on the named table instead of the default table.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
}

/// How keys and values are written on the command line and in the output.
#[derive(Args, Debug)]
pub struct Hex {
    /// Keys and values are hexadecimal, on the command line and in the output.
    #[arg(long)]
    pub hex: bool,
    /// Keys only are hexadecimal.
    #[arg(long)]
    pub hex_key: bool,
    /// Values only are hexadecimal.
    #[arg(long)]
    pub hex_value: bool,
}

impl Hex {
    /// Whether keys are hexadecimal.
    pub fn key(&self) -> bool {
        self.hex || self.hex_key
    }

    /// Whether values are hexadecimal.
    pub fn value(&self) -> bool {
        self.hex || self.hex_value
    }
}

/// A database file, for commands that need nothing else.
#[derive(Args, Debug)]
pub struct DbArgs {
    /// The database file.
    pub db: PathBuf,
}

/// `folio get`.
#[derive(Args, Debug)]
pub struct GetArgs {
    /// The database file.
    pub db: PathBuf,
    /// The key (text with escapes, or hex).
    pub key: OsString,
    /// Write the value's bytes exactly as stored, with no escaping and no newline.
    #[arg(long, conflicts_with_all = ["hex", "hex_value"])]
    pub raw: bool,
    #[command(flatten)]
    pub table: TableArg,
    #[command(flatten)]
    pub hex: Hex,
}

/// `folio put`.
#[derive(Args, Debug)]
pub struct PutArgs {
    /// The database file.
    pub db: PathBuf,
    /// The key (text with escapes, or hex).
    pub key: OsString,
    /// The value (text with escapes, or hex).
    #[arg(required_unless_present = "value_file", conflicts_with = "value_file")]
    pub value: Option<OsString>,
    /// Take the value's bytes, exactly as they are, from FILE (`-`: standard input).
    #[arg(long, value_name = "FILE", conflicts_with = "hex_value")]
    pub value_file: Option<PathBuf>,
    #[command(flatten)]
    pub table: TableArg,
    #[command(flatten)]
    pub hex: Hex,
}

/// `folio delete`.
#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The database file.
    pub db: PathBuf,
    /// The key (text with escapes, or hex with --hex).
    pub key: OsString,
    #[command(flatten)]
    pub table: TableArg,
    /// The key is hexadecimal.
    #[arg(long)]
    pub hex: bool,
}

/// `folio scan`.
#[derive(Args, Debug)]
pub struct ScanArgs {
    /// The database file.
    pub db: PathBuf,
    /// Only keys that start with P.
    #[arg(long, value_name = "P")]
    pub prefix: Option<OsString>,
    /// Only keys at or after A.
    #[arg(long, value_name = "A")]
    pub from: Option<OsString>,
    /// Only keys before B (B itself excluded).
    #[arg(long, value_name = "B")]
    pub to: Option<OsString>,
    /// Stop after N entries.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Descending key order.
    #[arg(long)]
    pub reverse: bool,
    /// Print keys only.
    #[arg(long)]
    pub keys_only: bool,
    #[command(flatten)]
    pub table: TableArg,
    #[command(flatten)]
    pub hex: Hex,
}

/// `folio stats`.
#[derive(Args, Debug)]
pub struct StatsArgs {
    /// The database file.
    pub db: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// List only this named table's size.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
}

/// `folio check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The database file.
    pub db: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// First acknowledge WAL damage that lost commits: open the database for writing (which
    /// keeps a copy of a damaged WAL), and rename every copy DB-wal.damaged-N beside it to
    /// DB-wal.damaged-N.acknowledged, so that check no longer reports it.
    #[arg(long)]
    pub acknowledge: bool,
}

/// Checkpoint modes, as `folio checkpoint --mode` spells them.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Mode {
    /// Copy what can be copied without waiting.
    Passive,
    /// Wait for readers on older snapshots and copy everything.
    Full,
    /// Full, then start the WAL afresh.
    Restart,
    /// Restart, then truncate the WAL file to zero bytes.
    Truncate,
}

/// `folio checkpoint`.
#[derive(Args, Debug)]
pub struct CheckpointArgs {
    /// The database file.
    pub db: PathBuf,
    /// How far to go.
    #[arg(long, value_enum, default_value = "passive")]
    pub mode: Mode,
}

/// `folio vacuum`.
#[derive(Args, Debug)]
pub struct VacuumArgs {
    /// The database file.
    pub db: PathBuf,
    /// Shrink the database by at most N pages (default: as far as possible), moving the live
    /// pages of the dropped tail into free pages nearer the start.
    #[arg(long, value_name = "N", conflicts_with = "full")]
    pub pages: Option<u64>,
    /// Vacuum everything, then compact (rewrite the file packed), as `folio compact` does.
    #[arg(long)]
    pub full: bool,
}

/// `folio backup`.
#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The database file.
    pub db: PathBuf,
    /// Where to write the copy.
    pub dest: PathBuf,
    /// Replace DEST if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `folio dump`.
#[derive(Args, Debug)]
pub struct DumpArgs {
    /// The database file.
    pub db: PathBuf,
    /// Write to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Dump only this table.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
}

/// `folio load`.
#[derive(Args, Debug)]
pub struct LoadArgs {
    /// The database file.
    pub db: PathBuf,
    /// Read from FILE instead of stdin.
    #[arg(long, short, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Commit every N entries (default: the whole load is one transaction).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: Option<u64>,
    /// Load only this table's entries.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
}

/// `folio drop-table`.
#[derive(Args, Debug)]
pub struct DropTableArgs {
    /// The database file.
    pub db: PathBuf,
    /// The table to drop.
    pub name: String,
}

/// `folio rename-table`.
#[derive(Args, Debug)]
pub struct RenameTableArgs {
    /// The database file.
    pub db: PathBuf,
    /// The table's name.
    pub from: String,
    /// Its new name.
    pub to: String,
}

/// `folio pages`.
#[derive(Args, Debug)]
pub struct PagesArgs {
    /// The database file.
    pub db: PathBuf,
    /// Print counts by type and table, a fill histogram and checksum failures instead of one
    /// line per page.
    #[arg(long)]
    pub summary: bool,
    /// Page size to assume when the header page is unreadable (default: the header's, else
    /// 4096).
    #[arg(long, value_name = "BYTES")]
    pub page_size: Option<u32>,
}

/// `folio page`.
#[derive(Args, Debug)]
pub struct PageArgs {
    /// The database file.
    pub db: PathBuf,
    /// The page number.
    pub page: u32,
    /// Page size to assume when the header page is unreadable.
    #[arg(long, value_name = "BYTES")]
    pub page_size: Option<u32>,
    /// Show keys and values in hexadecimal.
    #[arg(long)]
    pub hex: bool,
}

/// The YCSB core workloads.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// 50% reads, 50% updates.
    A,
    /// 95% reads, 5% updates.
    B,
    /// Reads only.
    C,
    /// 95% reads, 5% inserts; reads favour the newest records.
    D,
    /// 95% scans of 1 to 100 records, 5% inserts.
    E,
    /// 50% reads, 50% read-modify-writes.
    F,
}

/// `folio bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Run a YCSB core workload instead of the read-heavy phases.
    #[arg(long, value_enum, value_name = "X")]
    pub workload: Option<Workload>,
    /// Entries to load for the read-heavy phases (24-byte keys).
    #[arg(long, value_name = "N", default_value_t = 1_000_000, conflicts_with = "workload",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub entries: u64,
    /// Records to load for a workload.
    #[arg(long, value_name = "N", default_value_t = 1_000_000, requires = "workload",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub records: u64,
    /// Stop a workload after N operations in all (default: run for --seconds).
    #[arg(long, value_name = "N", requires = "workload",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub operations: Option<u64>,
    /// Bytes per value (default: 150; 1,000 for a workload, YCSB's 10 fields of 100 bytes).
    #[arg(long, value_name = "BYTES")]
    pub value_len: Option<usize>,
    /// Seconds each measured phase (or the workload) runs, more than 0 and at most 3600.
    #[arg(long, value_name = "S", default_value_t = 5.0, value_parser = parse_seconds)]
    pub seconds: f64,
    /// Threads for the measured phases (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,
    /// Directory to create the temporary database in (default: the system temp dir).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub table: TableArg,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if v > 0.0 && v <= 3600.0 { Ok(v) } else { Err("must be more than 0 and at most 3600".into()) }
}
