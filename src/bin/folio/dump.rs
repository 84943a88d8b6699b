//! `folio dump` and `folio load`: every table as text and back (the format is in DUMP.md and
//! `dumpfmt`).
//!
//! A dump reads one snapshot, so it is consistent while writers continue. A load is a bulk
//! load: one write transaction per batch at `Synchronous::Off`, then `Full` and a truncating
//! checkpoint, so the database is fully durable when `load` returns.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::time::Instant;

use folio::{CheckpointMode, Database, ReadTxn, Synchronous, WriteTxn};

use crate::admin::grouped;
use crate::args::{DumpArgs, Global, LoadArgs};
use crate::dumpfmt::{HEADER, Line, parse_line, write_token};
use crate::progress::Progress;
use crate::{CliError, CliResult, fail, open};

fn no_hex(g: &Global, command: &str) -> CliResult {
    if g.hex {
        return fail!("--hex does not apply to `{command}`: its format is binary-safe already");
    }
    Ok(())
}

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
pub fn dump(g: &Global, a: DumpArgs) -> CliResult {
    no_hex(g, "dump")?;
    let db = open::read_only(&a.db)?;
    let rx = db.begin_read()?;
    let tables: Vec<Option<String>> = match &g.table {
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
    batch: u64,
    in_batch: u64,
    read: u64,
    loaded: u64,
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
        }
        self.in_batch = 0;
        Ok(())
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

/// Reads the dump after its header line by line into `loader`; returns when the `end` line has been checked.
fn load_lines(input: &mut impl BufRead, loader: &mut Loader<'_>, bar: &Progress) -> CliResult {
    let mut buf = Vec::new();
    let mut lineno = 1u64;
    let mut offset = 0u64;
    let at = |n: u64, msg: String| CliError::Msg(format!("line {n} of the dump: {msg}"));
    loop {
        buf.clear();
        let n = input.read_until(b'\n', &mut buf)?;
        if n == 0 {
            return fail!("the dump ends without its `end` line (truncated?)");
        }
        lineno += 1;
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

/// `folio load DB`: bulk-loads a dump from stdin or `--input`.
pub fn load(g: &Global, a: LoadArgs) -> CliResult {
    no_hex(g, "load")?;
    let (mut input, bar): (Box<dyn BufRead>, Progress) = match &a.input {
        Some(path) => {
            let f = File::open(path)
                .map_err(|e| CliError::Msg(format!("cannot open {}: {e}", path.display())))?;
            let len = f.metadata()?.len();
            (Box::new(BufReader::with_capacity(1 << 20, f)), Progress::bytes(len, "loading"))
        }
        None => {
            (Box::new(BufReader::with_capacity(1 << 20, io::stdin())), Progress::spinner("loading"))
        }
    };
    let started = Instant::now();
    read_header(&mut input)?;
    let db = open::create(&a.db, Synchronous::Off)?;
    let mut loader = Loader {
        db: &db,
        tx: None,
        table: None,
        only: g.table.clone(),
        batch: a.batch,
        in_batch: 0,
        read: 0,
        loaded: 0,
    };
    let result = load_lines(&mut input, &mut loader, &bar).and_then(|()| loader.commit());
    let loaded = loader.loaded;
    drop(loader);
    drop(bar);
    result?;
    db.set_synchronous(Synchronous::Full);
    db.checkpoint(CheckpointMode::Truncate)?;
    db.close()?;
    println!(
        "loaded {} entries into {} in {:.2} s",
        grouped(loaded),
        a.db.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
