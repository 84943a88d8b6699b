//! `folio`: the command-line tool for inspecting and operating folio databases.
//!
//! Each subcommand lives in a module under `src/bin/folio/`: `args` declares the command line,
//! `data` holds get/put/delete/scan, `admin` stats/check/checkpoint/vacuum/backup, `dump` the
//! dump and load format, `bench` the benchmark. `bytes` turns arguments into keys and keys
//! into printable text, `open` opens databases the way each command needs, `progress` draws
//! bars only on a terminal, and `json` writes the `--json` outputs.
//!
//! (The modules sit in `src/bin/folio/` beside this file, hence the `#[path]` attributes.)
//!
//! Every failure reaches `main` as a [`CliError`] and is printed as one line,
//! `folio: error: ...`, with exit status 1 (usage errors exit with 2, from clap).

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
#[path = "folio/json.rs"]
mod json;
#[path = "folio/open.rs"]
mod open;
#[path = "folio/progress.rs"]
mod progress;

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
    /// Standard output was closed by its reader (`folio scan db | head`): stop quietly.
    BrokenPipe,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Msg(m) => f.write_str(m),
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

fn run(cli: Cli) -> CliResult {
    let g = &cli.global;
    match cli.command {
        Command::Get(a) => data::get(g, a),
        Command::Put(a) => data::put(g, a),
        Command::Delete(a) => data::delete(g, a),
        Command::Scan(a) => data::scan(g, a),
        Command::Stats(a) => admin::stats(g, a),
        Command::Check(a) => admin::check(g, a),
        Command::Checkpoint(a) => admin::checkpoint(g, a),
        Command::Vacuum(a) => admin::vacuum(g, a),
        Command::Backup(a) => admin::backup(g, a),
        Command::Dump(a) => dump::dump(g, a),
        Command::Load(a) => dump::load(g, a),
        Command::Bench(a) => bench::bench(g, a),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::BrokenPipe) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "folio: error: {e}");
            ExitCode::FAILURE
        }
    }
}
