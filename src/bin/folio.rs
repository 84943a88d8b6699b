//! `folio`: the command-line tool for inspecting and operating folio databases.
//!
//! Each subcommand lives in a module under `src/bin/folio/`: `args` declares the command line,
//! `data` holds get/put/delete/scan, `admin` stats/check/checkpoint/vacuum/compact/backup and
//! the table commands, `dump` the dump and load format, `pages` the page inspector, `bench`
//! the read-heavy benchmark and `workload` (with the generators in `ycsb`) the YCSB workloads.
//! `bytes` turns arguments into keys and keys into printable text, `open` opens databases the
//! way each command needs, `progress` draws bars only on a terminal, `histogram` measures
//! latencies, and `json` writes the `--json` outputs.
//!
//! (The modules sit in `src/bin/folio/` beside this file, hence the `#[path]` attributes.)
//!
//! Every failure reaches `main` as a [`CliError`] and is printed as one line,
//! `folio: error: ...`, with exit status 1; usage errors exit with 2 (from clap, or
//! [`CliError::Usage`] for arguments that parse but do not decode). All output goes through
//! [`out!`], so a closed standard output is [`CliError::BrokenPipe`]: the command stops and
//! exits with status 0, never a panic.

#[path = "folio/admin.rs"]
mod admin;
#[path = "folio/args.rs"]
mod args;
#[path = "folio/bench.rs"]
mod bench;
#[path = "folio/bytes.rs"]
mod bytes;
#[path = "folio/data.rs"]
mod data;
#[path = "folio/dump.rs"]
mod dump;
#[path = "folio/dumpfmt.rs"]
mod dumpfmt;
#[path = "folio/histogram.rs"]
mod histogram;
#[path = "folio/inspect.rs"]
mod inspect;
#[path = "folio/json.rs"]
mod json;
#[path = "folio/open.rs"]
mod open;
#[path = "folio/pages.rs"]
mod pages;
#[path = "folio/progress.rs"]
mod progress;
#[path = "folio/workload.rs"]
mod workload;
#[path = "folio/ycsb.rs"]
mod ycsb;

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// A failure to report.
#[derive(Debug)]
pub enum CliError {
    /// One line of text for stderr.
    Msg(String),
    /// An argument that does not decode (bad hex, an unknown escape): exit status 2.
    Usage(String),
    /// Standard output was closed by its reader (`folio scan db | head`): stop quietly.
    BrokenPipe,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Msg(m) | CliError::Usage(m) => f.write_str(m),
            CliError::BrokenPipe => f.write_str("broken pipe"),
        }
    }
}

impl From<folio::Error> for CliError {
    fn from(e: folio::Error) -> Self {
        CliError::Msg(e.to_string())
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            CliError::BrokenPipe
        } else {
            CliError::Msg(e.to_string())
        }
    }
}

/// Result of a subcommand.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Builds a [`CliError`] from format arguments.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => { Err($crate::CliError::Msg(format!($($arg)*))) };
}

/// Writes one line to standard output; a closed output returns [`CliError::BrokenPipe`] from
/// the calling function (which must return a [`CliResult`]).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err($crate::CliError::from)?
    }};
}

fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Get(a) => data::get(a),
        Command::Put(a) => data::put(a),
        Command::Delete(a) => data::delete(a),
        Command::Scan(a) => data::scan(a),
        Command::Stats(a) => admin::stats(a),
        Command::Check(a) => admin::check(a),
        Command::Checkpoint(a) => admin::checkpoint(a),
        Command::Vacuum(a) => admin::vacuum(a),
        Command::Compact(a) => admin::compact(a),
        Command::Backup(a) => admin::backup(a),
        Command::Dump(a) => dump::dump(a),
        Command::Load(a) => dump::load(a),
        Command::DropTable(a) => admin::drop_table(a),
        Command::RenameTable(a) => admin::rename_table(a),
        Command::Pages(a) => pages::pages(a),
        Command::Page(a) => pages::page(a),
        Command::Bench(a) => match a.workload {
            Some(w) => workload::run(w, a),
            None => bench::bench(a),
        },
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) | Err(CliError::BrokenPipe) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "folio: error: {e}");
            match e {
                CliError::Usage(_) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}
