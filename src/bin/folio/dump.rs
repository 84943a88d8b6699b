//! `folio dump` and `folio load`: every table as text and back (the format is in DUMP.md and
//! `dumpfmt`).
//!
//! A dump reads one snapshot, so it is consistent while writers continue. A load is a bulk
//! load at `Synchronous::Off`, then `Full` and a truncating checkpoint, so the database is
//! fully durable when `load` returns. By default the whole load is one write transaction:
//! a large transaction buffers its writes and merges them into the tree sorted, so a dump in
//! any key order loads packed and fast, and a failure leaves the database as it was. With
//! `--batch N` it commits every N entries, and a failure reports what was committed.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::time::Instant;

use std::path::Path;

use folio::{CheckpointMode, Database, ReadTxn, Synchronous, WriteTxn};

use crate::admin::{counted, grouped};
use crate::args::{DumpArgs, LoadArgs};
use crate::dumpfmt::{HEADER, Line, parse_line, write_token};
use crate::progress::Progress;
use crate::{CliError, CliResult, fail, open, out};

/// Writes the entries of one table (`None`: the default table); returns how many.
fn dump_table(rx: &ReadTxn<'_>, name: Option<&str>, out: &mut impl Write) -> CliResult<u64> {
    let mut line = String::from("table ");
    write_token(&mut line, name.unwrap_or("").as_bytes());
    writeln!(out, "{line}")?;
    let range = match name {
        Some(n) => rx.table(n)?.range(..)?,
        None => rx.range(..)?,
    };
    let mut count = 0;
    for item in range {
        let (k, v) = item?;
        line.clear();
        write_token(&mut line, k);
        line.push(' ');
        write_token(&mut line, &v);
        writeln!(out, "{line}")?;
        count += 1;
    }
    Ok(count)
}

/// `folio dump DB`: the default table, then every named table (or only `--table`).
pub fn dump(a: DumpArgs) -> CliResult {
    let db = open::read_only(&a.db)?;
    let rx = db.begin_read()?;
    let tables: Vec<Option<String>> = match &a.table {
        Some(name) => {
            rx.table(name)?;
            vec![Some(name.clone())]
        }
        None => std::iter::once(None).chain(rx.table_names()?.into_iter().map(Some)).collect(),
    };
    let sink: Box<dyn Write> = match &a.output {
        Some(path) => Box::new(
            File::create(path)
                .map_err(|e| CliError::Msg(format!("cannot create {}: {e}", path.display())))?,
        ),
        None => Box::new(io::stdout().lock()),
    };
    let mut out = BufWriter::new(sink);
    writeln!(out, "{HEADER}")?;
    writeln!(out, "# {} at transaction {}", a.db.display(), rx.txn_id())?;
    let mut total = 0;
    for name in &tables {
        total += dump_table(&rx, name.as_deref(), &mut out)?;
    }
    writeln!(out, "end {total}")?;
    out.flush()?;
    Ok(())
}

/// Loads entries batch by batch; the state between lines of the dump.
struct Loader<'db> {
    db: &'db Database,
    tx: Option<WriteTxn<'db>>,
    /// The table later entries go to (`None`: the default table).
    table: Option<String>,
    /// Only entries of this table are loaded (`--table`).
    only: Option<String>,
    /// Whether the dump had a `table` line for `only`.
    only_seen: bool,
    /// Entries per transaction (`u64::MAX`: one transaction for the whole load).
    batch: u64,
    in_batch: u64,
    read: u64,
    loaded: u64,
    /// Entries committed so far, and the last line a commit covered.
    committed: u64,
    committed_through: u64,
    /// The line being read.
    line: u64,
}

impl<'db> Loader<'db> {
    fn tx(&mut self) -> CliResult<&mut WriteTxn<'db>> {
        if self.tx.is_none() {
            self.tx = Some(self.db.begin_write()?);
        }
        self.tx.as_mut().ok_or_else(|| CliError::Msg("no write transaction".into()))
    }

    fn wanted(&self) -> bool {
        self.only.is_none() || self.only == self.table
    }

    fn set_table(&mut self, name: Vec<u8>) -> Result<(), String> {
        if name.is_empty() {
            self.table = None;
            return Ok(());
        }
        let name = String::from_utf8(name).map_err(|_| "a table name is not UTF-8".to_string())?;
        self.table = Some(name);
        if self.only.is_some() && self.wanted() {
            self.only_seen = true;
        }
        if self.wanted() {
            // Creates the table now, so that empty tables survive the round trip.
            let name = self.table.clone().unwrap_or_default();
            self.tx().map_err(|e| e.to_string())?.table(&name).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> CliResult {
        self.read += 1;
        if !self.wanted() {
            return Ok(());
        }
        let table = self.table.clone();
        let tx = self.tx()?;
        match &table {
            Some(name) => tx.table(name)?.put(key, value)?,
            None => tx.put(key, value)?,
        }
        self.loaded += 1;
        self.in_batch += 1;
        if self.in_batch >= self.batch {
            self.commit()?;
        }
        Ok(())
    }

    fn commit(&mut self) -> CliResult {
        if let Some(tx) = self.tx.take() {
            tx.commit()?;
            self.committed = self.loaded;
            self.committed_through = self.line;
        }
        self.in_batch = 0;
        Ok(())
    }

    /// What a failure leaves behind, for its message.
    fn outcome(&self) -> String {
        match self.committed {
            0 => "nothing was loaded".to_string(),
            n => format!(
                "{} committed before it (through line {}), none after",
                counted(n, "entry was", "entries were"),
                grouped(self.committed_through)
            ),
        }
    }
}

/// Reads and checks the first line, before anything is created.
fn read_header(input: &mut impl BufRead) -> CliResult {
    let mut first = Vec::new();
    input.read_until(b'\n', &mut first)?;
    let line = first.strip_suffix(b"\n").unwrap_or(&first);
    if line.strip_suffix(b"\r").unwrap_or(line) != HEADER.as_bytes() {
        return fail!("not a folio dump: the first line must be `{HEADER}`");
    }
    Ok(())
}

/// Reads the dump after its header line by line into `loader`; returns when the `end` line
/// has been checked. Errors name the line.
fn load_lines(input: &mut impl BufRead, loader: &mut Loader<'_>, bar: &Progress) -> CliResult {
    let mut buf = Vec::new();
    loader.line = 1;
    let mut offset = 0u64;
    let at = |n: u64, msg: String| CliError::Msg(format!("line {} of the dump: {msg}", grouped(n)));
    loop {
        buf.clear();
        let n = input.read_until(b'\n', &mut buf)?;
        if n == 0 {
            return fail!("the dump ends without its `end` line (truncated?)");
        }
        loader.line += 1;
        let lineno = loader.line;
        offset += n as u64;
        bar.set(offset);
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        match parse_line(line).map_err(|m| at(lineno, m))? {
            Line::Skip => {}
            Line::Table(name) => loader.set_table(name).map_err(|m| at(lineno, m))?,
            Line::Entry(k, v) => loader.put(&k, &v).map_err(|e| at(lineno, e.to_string()))?,
            Line::End(count) if count != loader.read => {
                return Err(at(
                    lineno,
                    format!("says {count} entries but {} came before it", loader.read),
                ));
            }
            Line::End(_) => return expect_eof(input, lineno),
        }
    }
}

fn expect_eof(input: &mut impl BufRead, lineno: u64) -> CliResult {
    let mut rest = Vec::new();
    input.read_to_end(&mut rest)?;
    if rest.iter().any(|b| !b.is_ascii_whitespace()) {
        return fail!("line {lineno} of the dump: text follows the `end` line");
    }
    Ok(())
}

fn open_input(
    path: &Option<std::path::PathBuf>,
    db: &Path,
) -> CliResult<(Box<dyn BufRead>, Progress)> {
    Ok(match path {
        Some(path) => {
            let f = File::open(path)
                .map_err(|e| CliError::Msg(format!("cannot open {}: {e}", path.display())))?;
            refuse_input_alias(&f, path, db)?;
            let len = f.metadata()?.len();
            (Box::new(BufReader::with_capacity(1 << 20, f)), Progress::bytes(len, "loading"))
        }
        None => {
            (Box::new(BufReader::with_capacity(1 << 20, io::stdin())), Progress::spinner("loading"))
        }
    })
}

/// The WAL beside a database file.
fn wal_of(db: &Path) -> std::path::PathBuf {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    wal.into()
}

/// Refuses an input that is, by device and inode (any spelling or link), the database being
/// loaded or its WAL: the load would read what it writes.
fn refuse_input_alias(input: &File, input_path: &Path, db: &Path) -> CliResult {
    use std::os::unix::fs::MetadataExt;
    let m = input.metadata()?;
    for (file, what) in [(db.to_path_buf(), "database"), (wal_of(db), "database's WAL")] {
        if let Ok(t) = std::fs::metadata(&file) {
            if (t.dev(), t.ino()) == (m.dev(), m.ino()) {
                return fail!(
                    "the input {} is the {what} being loaded ({})",
                    input_path.display(),
                    file.display()
                );
            }
        }
    }
    Ok(())
}

/// Removes a database that this load created and left empty (its WAL too, if any). The
/// library created it where the path leads, through any symbolic link.
fn remove_created(path: &Path) {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let _ = std::fs::remove_file(wal_of(&real));
    let _ = std::fs::remove_file(real);
}

/// `folio load DB`: bulk-loads a dump from stdin or `--input`.
pub fn load(a: LoadArgs) -> CliResult {
    let (mut input, bar) = open_input(&a.input, &a.db)?;
    let started = Instant::now();
    read_header(&mut input)?;
    let created = !a.db.exists();
    let db = open::create(&a.db, Synchronous::Off)?;
    let mut loader = Loader {
        db: &db,
        tx: None,
        table: None,
        only: a.table.clone(),
        only_seen: false,
        batch: a.batch.unwrap_or(u64::MAX),
        in_batch: 0,
        read: 0,
        loaded: 0,
        committed: 0,
        committed_through: 0,
        line: 0,
    };
    let mut result = load_lines(&mut input, &mut loader, &bar);
    if result.is_ok() && loader.only.is_some() && !loader.only_seen {
        let name = loader.only.clone().unwrap_or_default();
        result = fail!("the dump has no table {name:?}");
    }
    let result = result.and_then(|()| loader.commit());
    let (loaded, committed, outcome) = (loader.loaded, loader.committed, loader.outcome());
    drop(loader);
    drop(bar);
    if let Err(e) = result {
        let msg = match e {
            CliError::Msg(m) => format!("{m}; {outcome}"),
            other => return Err(other),
        };
        drop(db);
        if created && committed == 0 {
            remove_created(&a.db);
        }
        return Err(CliError::Msg(msg));
    }
    db.set_synchronous(Synchronous::Full);
    db.checkpoint(CheckpointMode::Truncate)?;
    db.close()?;
    out!(
        "loaded {} into {} in {:.2} s",
        counted(loaded, "entry", "entries"),
        a.db.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
