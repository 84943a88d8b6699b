//! The page inspector: `folio pages DB` lists every page of the main file (type, owning
//! table, fill, checksum) or summarises them; `folio page DB N` decodes one page. Both read
//! the main file directly (`inspect.rs`), so they work on a file too damaged to open; they
//! show the main file as it is, without the commits a WAL beside it may still hold.

use std::path::Path;

use folio::btree::{LeafValue, Node};
use folio::format::checksum::{page_crc, page_crc_ok};
use folio::format::page::{
    OverflowPage, PAGE_AUX_OFFSET, PAGE_CONTENT_OFFSET, PAGE_COUNT_OFFSET, PAGE_FLAGS_OFFSET,
    PAGE_HEADER_SIZE, PAGE_TYPE_OFFSET, PageType, first_overflow_capacity, overflow_capacity,
    trunk_capacity,
};
use folio::format::{u16_at, u32_at};

use crate::admin::{counted, grouped, human_bytes};
use crate::args::{PageArgs, PagesArgs};
use crate::bytes::show;
use crate::inspect::{Owner, Owners, PageFile, chain};
use crate::{CliResult, fail, out};

/// The type byte's name.
fn type_name(page: &[u8]) -> String {
    match page.get(PAGE_TYPE_OFFSET).copied() {
        Some(b) => match PageType::from_u8(b) {
            Some(PageType::Meta) => "header".into(),
            Some(PageType::Branch) => "branch".into(),
            Some(PageType::Leaf) => "leaf".into(),
            Some(PageType::Overflow) => "overflow".into(),
            Some(PageType::FreeTrunk) => "free-trunk".into(),
            None if page.iter().all(|&b| b == 0) => "zeros".into(),
            None => format!("type {b}?"),
        },
        None => "empty".into(),
    }
}

/// How full a page is, in percent, by its type.
fn fill(page: &[u8], ps: usize) -> Option<u64> {
    let pct = |used: usize, cap: usize| (used * 100 / cap.max(1)) as u64;
    match page.get(PAGE_TYPE_OFFSET).copied().and_then(PageType::from_u8)? {
        PageType::Leaf | PageType::Branch => {
            let used = Node::new(page, 0).ok()?.used_bytes().ok()?;
            Some(pct(used + PAGE_HEADER_SIZE, ps))
        }
        PageType::Overflow => {
            Some(pct(u32_at(page, PAGE_CONTENT_OFFSET).ok()? as usize, overflow_capacity(ps)))
        }
        PageType::FreeTrunk => {
            Some(pct(u16_at(page, PAGE_COUNT_OFFSET).ok()? as usize, trunk_capacity(ps)))
        }
        PageType::Meta => None,
    }
}

/// One page as the listing and the summary see it.
struct Seen {
    kind: String,
    table: String,
    fill: Option<u64>,
    cells: Option<u16>,
    /// `Some(ok)` when the checksum means something (not for free pages, whose bytes are
    /// stale by design, nor for missing ones).
    crc_ok: Option<bool>,
    note: &'static str,
}

fn classify(f: &PageFile, owners: &Owners, pgno: u32) -> Seen {
    let owner = owners.owner.get(pgno as usize).copied().unwrap_or(Owner::Unknown);
    let table = owners.table_of(owner).unwrap_or("-").to_string();
    let Some(page) = f.page(pgno) else {
        let note = "beyond the end of the file (its last version may be in the WAL)";
        let kind = "missing".into();
        return Seen { kind, table, fill: None, cells: None, crc_ok: None, note };
    };
    let partial = page.len() < f.page_size;
    let kind = if owner == Owner::Free { "free".into() } else { type_name(&page) };
    let note = match owner {
        _ if partial => "a partial page at the end of the file",
        _ if pgno >= f.page_count() => "past the header's page count",
        Owner::Unknown if pgno != 0 && f.meta.is_ok() => "lost: not reachable from the header",
        Owner::Free => "listed in the free list",
        _ => "",
    };
    let tree = matches!(kind.as_str(), "leaf" | "branch" | "free-trunk");
    Seen {
        fill: if owner == Owner::Free { None } else { fill(&page, f.page_size) },
        cells: tree.then(|| u16_at(&page, PAGE_COUNT_OFFSET).ok()).flatten(),
        crc_ok: (owner != Owner::Free && !partial).then(|| page_crc_ok(&page)),
        kind,
        table,
        note,
    }
}

fn describe_file(path: &Path, f: &PageFile) -> CliResult {
    out!(
        "file      {} ({}, {} of {} bytes)",
        path.display(),
        human_bytes(f.len),
        counted(u64::from(f.file_pages()), "page", "pages"),
        grouped(f.page_size as u64)
    );
    match &f.meta {
        Ok(m) => out!(
            "header    page count {}, {} (first trunk {}), last txn {}, default table root {}, \
             catalog root {}",
            grouped(m.page_count.into()),
            counted(m.free_count.into(), "free page", "free pages"),
            m.free_head,
            m.txn_id,
            m.default_table.root,
            m.catalog.root
        ),
        Err(e) => out!("header    unreadable ({e}): tables and the free list are unknown"),
    }
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if let Ok(m) = std::fs::metadata(&wal) {
        if m.len() > 0 {
            out!(
                "wal       {} holds {}: commits in it are not shown (pages are the main file's)",
                Path::new(&wal).display(),
                human_bytes(m.len())
            );
        }
    }
    Ok(())
}

/// `folio pages DB [--summary]`.
pub fn pages(a: PagesArgs) -> CliResult {
    let f = PageFile::open(&a.db, a.page_size)?;
    let owners = Owners::walk(&f);
    describe_file(&a.db, &f)?;
    let last = f.page_count().max(f.file_pages());
    if a.summary {
        return summary(&f, &owners, last);
    }
    out!("");
    out!(
        "{:>8}  {:<10} {:<16} {:>5} {:>6}  {:<8} note",
        "page",
        "type",
        "table",
        "fill",
        "cells",
        "checksum"
    );
    for pgno in 0..last {
        let s = classify(&f, &owners, pgno);
        let fill = s.fill.map_or("-".into(), |p| format!("{p}%"));
        let cells = s.cells.map_or("-".into(), |c| c.to_string());
        let crc = match s.crc_ok {
            Some(true) => "ok",
            Some(false) => "BAD",
            None => "-",
        };
        out!("{pgno:>8}  {:<10} {:<16} {fill:>5} {cells:>6}  {crc:<8} {}", s.kind, s.table, s.note);
    }
    Ok(())
}

fn summary(f: &PageFile, owners: &Owners, last: u32) -> CliResult {
    use std::collections::BTreeMap;
    let (mut kinds, mut tables) = (BTreeMap::new(), BTreeMap::new());
    let (mut fills, mut bad, mut lost) = ([0u64; 11], Vec::new(), 0u64);
    for pgno in 0..last {
        let s = classify(f, owners, pgno);
        *kinds.entry(s.kind.clone()).or_insert(0u64) += 1;
        if s.table != "-" {
            *tables.entry(s.table.clone()).or_insert(0u64) += 1;
        }
        if let (Some(p), "leaf" | "branch") = (s.fill, s.kind.as_str()) {
            fills[(p / 10).min(10) as usize] += 1;
        }
        if s.crc_ok == Some(false) {
            bad.push(pgno);
        }
        lost += u64::from(s.note.starts_with("lost"));
    }
    out!("");
    for (kind, n) in &kinds {
        out!("{kind:<16}{:>12}", grouped(*n));
    }
    out!("");
    for (table, n) in &tables {
        out!("table {table:<20}{:>12}", counted(*n, "page", "pages"));
    }
    out!("");
    out!("fill of leaves and branches:");
    for (i, n) in fills.iter().enumerate().filter(|(_, n)| **n > 0) {
        let range =
            if i == 10 { "100%".to_string() } else { format!("{}-{}%", i * 10, i * 10 + 9) };
        out!("  {range:<8}{:>12}", grouped(*n));
    }
    out!("");
    out!("lost pages      {:>12}", grouped(lost));
    let shown: Vec<String> = bad.iter().take(20).map(u32::to_string).collect();
    let more = if bad.len() > 20 { ", ..." } else { "" };
    out!(
        "bad checksums   {:>12}{}",
        grouped(bad.len() as u64),
        if bad.is_empty() { String::new() } else { format!(" (pages {}{more})", shown.join(", ")) }
    );
    Ok(())
}

/// `folio page DB N`.
pub fn page(a: PageArgs) -> CliResult {
    let f = PageFile::open(&a.db, a.page_size)?;
    let Some(page) = f.page(a.page) else {
        return fail!(
            "page {} is beyond the end of {} ({})",
            a.page,
            a.db.display(),
            counted(f.file_pages().into(), "page", "pages")
        );
    };
    let owners = Owners::walk(&f);
    let owner = owners.owner.get(a.page as usize).copied().unwrap_or(Owner::Unknown);
    out!(
        "page {} of {} (offset {})",
        a.page,
        a.db.display(),
        grouped(a.page as u64 * f.page_size as u64)
    );
    let field = |off| u32_at(&page, off).map_or("-".to_string(), |v| v.to_string());
    let stored = u32_at(&page, 0).unwrap_or(0);
    let ok = if page.len() < f.page_size {
        "partial page"
    } else if page_crc_ok(&page) {
        "ok"
    } else {
        "BAD"
    };
    let computed = if page.len() >= 8 { page_crc(&page) } else { 0 };
    out!("checksum  stored {stored:#010x}, computed {computed:#010x}: {ok}");
    out!(
        "type      {} (byte {})",
        type_name(&page),
        page.get(PAGE_TYPE_OFFSET).copied().unwrap_or(0)
    );
    out!("flags     {}", page.get(PAGE_FLAGS_OFFSET).copied().unwrap_or(0));
    out!(
        "count     {}",
        u16_at(&page, PAGE_COUNT_OFFSET).map_or("-".to_string(), |v| v.to_string())
    );
    out!("content   {}", field(PAGE_CONTENT_OFFSET));
    out!("aux       {}", field(PAGE_AUX_OFFSET));
    let owned = match owner {
        Owner::Node(_) | Owner::Overflow(_) => {
            format!("table {}", owners.table_of(owner).unwrap_or("?"))
        }
        Owner::Trunk => "the free list (a trunk)".into(),
        Owner::Free => "the free list (a free page: its bytes are stale)".into(),
        Owner::Unknown if a.page == 0 => "the database header".into(),
        Owner::Unknown => "nothing reachable from the header".into(),
    };
    out!("owner     {owned}");
    match page.get(PAGE_TYPE_OFFSET).copied().and_then(PageType::from_u8) {
        Some(PageType::Meta) => header(&page),
        Some(PageType::Leaf | PageType::Branch) => cells(&f, &page, a.page, a.hex),
        Some(PageType::Overflow) => {
            match OverflowPage::decode(&page, a.page) {
                Ok(o) => {
                    out!("previous  {}", o.prev);
                    let cap = match o.owner {
                        Some(owner) => {
                            let key = show(owner.key, a.hex);
                            out!("owned by  table id {}, key {key}", owner.table);
                            first_overflow_capacity(f.page_size, owner.key.len())
                        }
                        None => overflow_capacity(f.page_size),
                    };
                    out!("used      {} of {cap} bytes", o.data.len());
                }
                Err(e) => out!("overflow  does not decode: {e}"),
            }
            let (pages, problem) = chain(&f, a.page, None);
            print_chain("chain from here", &pages, problem)
        }
        Some(PageType::FreeTrunk) => trunk(&page),
        None => Ok(()),
    }
}

fn header(page: &[u8]) -> CliResult {
    match folio::format::Meta::decode(page) {
        Ok(m) => {
            out!("page size {}", m.page_size);
            out!("pages     {}", m.page_count);
            out!("free      {} (first trunk {})", m.free_count, m.free_head);
            out!("txn id    {}", m.txn_id);
            out!("db id     {:#018x}", m.db_id);
            out!("next id   {} (the id the next new table gets)", m.next_table_id);
            out!(
                "default   root {}, {}",
                m.default_table.root,
                counted(m.default_table.entries, "entry", "entries")
            );
            out!(
                "catalog   root {}, {}",
                m.catalog.root,
                counted(m.catalog.entries, "table", "tables")
            );
        }
        Err(e) => out!("header    does not decode: {e}"),
    }
    Ok(())
}

fn print_chain(what: &str, pages: &[u32], problem: Option<String>) -> CliResult {
    let mut text: Vec<String> = pages.iter().take(16).map(u32::to_string).collect();
    if pages.len() > 16 {
        text.push(format!("... ({} in all)", pages.len()));
    }
    let end = problem.unwrap_or_else(|| "end".into());
    out!("{what}: {} -> {end}", text.join(" -> "));
    Ok(())
}

/// A value's first bytes, as the output shows them.
fn preview(v: &[u8], hex: bool) -> String {
    let cut = &v[..v.len().min(32)];
    format!("{}{}", show(cut, hex), if v.len() > 32 { "..." } else { "" })
}

fn cells(f: &PageFile, page: &[u8], pgno: u32, hex: bool) -> CliResult {
    let node = match Node::new(page, pgno) {
        Ok(n) => n,
        Err(e) => {
            out!("cells     cannot be read: {e}");
            return Ok(());
        }
    };
    match node.used_bytes() {
        Ok(u) => out!("used      {} of {} bytes", u + PAGE_HEADER_SIZE, f.page_size),
        Err(e) => out!("used      unknown: {e}"),
    }
    if !node.is_leaf() {
        out!("child 0   page {}", node.child(0).map_or_else(|e| e.to_string(), |c| c.to_string()));
    }
    for i in 0..node.len() {
        let key = match node.key(i) {
            Ok(k) => show(k, hex),
            Err(e) => {
                out!("cell {i:<5}{e}");
                continue;
            }
        };
        if !node.is_leaf() {
            let child = node.child(i + 1).map_or_else(|e| e.to_string(), |c| format!("page {c}"));
            out!("cell {i:<5}key \"{key}\" -> {child}");
            continue;
        }
        match node.value(i) {
            Ok(LeafValue::Inline(v)) => {
                out!(
                    "cell {i:<5}key \"{key}\": {} inline \"{}\"",
                    counted(v.len() as u64, "byte", "bytes"),
                    preview(v, hex)
                )
            }
            Ok(LeafValue::Overflow { first, len }) => {
                out!(
                    "cell {i:<5}key \"{key}\": {} in overflow pages",
                    counted(len.into(), "byte", "bytes")
                );
                let (pages, problem) = chain(f, first, Some(len));
                print_chain("          chain", &pages, problem)?;
            }
            Err(e) => out!("cell {i:<5}key \"{key}\": {e}"),
        }
    }
    Ok(())
}

fn trunk(page: &[u8]) -> CliResult {
    let count = u16_at(page, PAGE_COUNT_OFFSET).unwrap_or(0) as usize;
    let entries: Vec<String> = (0..count)
        .map(|i| u32_at(page, PAGE_HEADER_SIZE + i * 4).map_or("?".into(), |p| p.to_string()))
        .collect();
    out!("next      trunk {}", u32_at(page, PAGE_AUX_OFFSET).unwrap_or(0));
    out!("free      {}: {}", counted(count as u64, "entry", "entries"), entries.join(", "));
    Ok(())
}
