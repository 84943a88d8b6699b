//! The command line, declared with clap: global flags and one struct per subcommand.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Inspect and operate folio databases.
///
/// Keys and values are text by default: arguments are taken byte for byte, and output escapes
/// backslash and non-printable bytes as `\\`, `\t`, `\n`, `\r` and `\xNN`. With `--hex`,
/// arguments and output are hexadecimal instead.
#[derive(Parser, Debug)]
#[command(name = "folio", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// Flags every subcommand accepts.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand accepts.
#[derive(Args, Debug)]
pub struct Global {
    /// Work on the named table instead of the default table.
    #[arg(long, global = true, value_name = "NAME")]
    pub table: Option<String>,
    /// Keys and values are hexadecimal, on the command line and in the output.
    #[arg(long, global = true)]
    pub hex: bool,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the value stored under KEY.
    Get(GetArgs),
    /// Store VALUE under KEY (creates the database and the table if missing).
    Put(PutArgs),
    /// Remove KEY.
    Delete(KeyArgs),
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
    /// Write a consistent copy of the database to DEST.
    Backup(BackupArgs),
    /// Write every table as text (see DUMP.md) to stdout or --output.
    Dump(DumpArgs),
    /// Bulk-load a dump from stdin or --input (creates the database if missing).
    Load(LoadArgs),
    /// Run a read-heavy benchmark on a temporary database and print a table.
    Bench(BenchArgs),
}

/// A database and a key.
#[derive(Args, Debug)]
pub struct KeyArgs {
    /// The database file.
    pub db: PathBuf,
    /// The key (text, or hex with --hex).
    pub key: OsString,
}

/// `folio get`.
#[derive(Args, Debug)]
pub struct GetArgs {
    /// The database and key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// Write the value's bytes exactly as stored, with no escaping and no newline.
    #[arg(long, conflicts_with = "hex")]
    pub raw: bool,
}

/// `folio put`.
#[derive(Args, Debug)]
pub struct PutArgs {
    /// The database and key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// The value (text, or hex with --hex).
    pub value: OsString,
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
}

/// `folio stats`.
#[derive(Args, Debug)]
pub struct StatsArgs {
    /// The database file.
    pub db: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
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
    /// Vacuum everything, then rewrite the file packed (compact).
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
}

/// `folio load`.
#[derive(Args, Debug)]
pub struct LoadArgs {
    /// The database file.
    pub db: PathBuf,
    /// Read from FILE instead of stdin.
    #[arg(long, short, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Entries per write transaction.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
}

/// `folio bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Entries to load (24-byte keys).
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub entries: u64,
    /// Bytes per value.
    #[arg(long, value_name = "BYTES", default_value_t = 150)]
    pub value_len: usize,
    /// Seconds each measured phase runs.
    #[arg(long, value_name = "S", default_value_t = 5.0)]
    pub seconds: f64,
    /// Threads for the measured phases (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,
    /// Directory to create the temporary database in (default: the system temp dir).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}
