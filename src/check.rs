//! `check()`: a full integrity check of one snapshot.
//!
//! Every page from 1 to the page count must be accounted for exactly once: as a node of one
//! table's tree, a page of one overflow chain, or a free-list page. Each page must carry its
//! type and a valid checksum; keys must be strictly ordered within and across pages and lie
//! within the bounds their parents give them; all leaves of a tree sit at one depth; table
//! entry counts match; no leaf but the root is empty. The hints vacuum relies on must be
//! right: every leaf names its
//! table's id, table ids are distinct and below the header's counter, and every overflow
//! chain's back pointers lead back and its first page names the table and key of the cell
//! that refers to it. Problems are collected, not thrown: the report names each one.

use std::fmt;

use crate::btree::node::{LeafValue, Node};
use crate::btree::{MAX_DEPTH, PageSource, overflow};
use crate::error::Result;
use crate::format::checksum::page_crc_ok;
use crate::format::header::FIRST_NAMED_TABLE_ID;
use crate::format::page::prefix_hint;
use crate::format::{Meta, TableDesc};
use crate::freelist;
use crate::pager::View;

/// Stop collecting after this many problems (a wrecked file would otherwise list millions).
const MAX_PROBLEMS: usize = 1000;

/// The outcome of [`Database::check`](crate::Database::check).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Every problem found, each naming the page concerned.
    pub problems: Vec<String>,
    /// Pages examined.
    pub pages_checked: u64,
    /// Tables examined: the default table and every named table (the same count as
    /// [`Stats::table_count`](crate::Stats::table_count) plus one). The catalog, the tree
    /// that lists the named tables, is checked too but not counted.
    pub tables_checked: u64,
    /// Entries found in those tables (the catalog's entries, one per named table, are not
    /// counted).
    pub entries_checked: u64,
}

impl CheckReport {
    /// Whether no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            return write!(
                f,
                "ok: {}, {}, {}",
                counted(self.pages_checked, "page", "pages"),
                counted(self.tables_checked, "table", "tables"),
                counted(self.entries_checked, "entry", "entries")
            );
        }
        writeln!(f, "{}:", counted(self.problems.len() as u64, "problem", "problems"))?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

/// `1 page`, `2 pages`.
fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    Unseen,
    Used,
}

/// The snapshot's pages without the read path's checksum verification: the checker reports
/// a failed checksum as one problem and still looks inside the page for the others.
struct Unverified<'a>(&'a View);

impl PageSource for Unverified<'_> {
    fn page(&self, pgno: u32) -> Result<&[u8]> {
        self.0.raw_page(pgno)
    }

    fn page_size(&self) -> usize {
        self.0.page_size
    }

    fn page_count(&self) -> u32 {
        self.0.meta.page_count
    }
}

struct Checker<'a> {
    view: &'a Unverified<'a>,
    owner: Vec<Owner>,
    report: CheckReport,
}

impl Checker<'_> {
    fn problem(&mut self, msg: String) {
        if self.report.problems.len() < MAX_PROBLEMS {
            self.report.problems.push(msg);
        }
    }

    /// Marks `pgno` as used by `what`; false if it cannot be used (out of range, taken).
    fn claim(&mut self, pgno: u32, what: &str) -> bool {
        match self.owner.get(pgno as usize) {
            None | Some(_) if pgno == 0 => {
                self.problem(format!("{what} refers to page {pgno}, which is not a valid page"));
                false
            }
            None => {
                self.problem(format!("{what} refers to page {pgno}, beyond the page count"));
                false
            }
            Some(Owner::Used) => {
                self.problem(format!("page {pgno} is used twice (again by {what})"));
                false
            }
            Some(Owner::Unseen) => {
                self.owner[pgno as usize] = Owner::Used;
                self.report.pages_checked += 1;
                true
            }
        }
    }

    fn page(&mut self, pgno: u32) -> Option<&[u8]> {
        match self.view.page(pgno) {
            Ok(p) => {
                if !page_crc_ok(p) {
                    self.problem(format!("page {pgno} fails its checksum"));
                }
                // Re-borrow to satisfy the borrow checker after `problem`.
                self.view.page(pgno).ok()
            }
            Err(e) => {
                self.problem(format!("page {pgno}: {e}"));
                None
            }
        }
    }

    /// Checks one table's tree; returns its entries only when `keep` (the catalog, which is
    /// not counted as a table).
    fn table(&mut self, name: &str, desc: TableDesc, keep: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
        if !keep {
            self.report.tables_checked += 1;
        }
        let mut walk = Walk {
            table: name,
            id: desc.id,
            leaf_depth: None,
            last: None,
            count: 0,
            keep,
            kept: Vec::new(),
        };
        if desc.root != 0 {
            self.node(&mut walk, desc.root, 1, None, None);
        }
        if walk.count != desc.entries {
            self.problem(format!(
                "table {name:?}: header says {} entries, the tree holds {}",
                desc.entries, walk.count
            ));
        }
        if !keep {
            self.report.entries_checked += walk.count;
        }
        walk.kept
    }

    fn node(
        &mut self,
        walk: &mut Walk<'_>,
        pgno: u32,
        depth: usize,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
    ) {
        let what = format!("table {:?}", walk.table);
        if depth > MAX_DEPTH {
            return self.problem(format!("{what}: tree deeper than {MAX_DEPTH} at page {pgno}"));
        }
        if !self.claim(pgno, &what) {
            return;
        }
        let view = self.view;
        let Some(page) = self.page(pgno).map(|_| ()).and_then(|_| view.page(pgno).ok()) else {
            return;
        };
        let node = match Node::new(page, pgno) {
            Ok(n) => n,
            Err(e) => return self.problem(format!("{what}: {e}")),
        };
        let mut keys = Vec::with_capacity(node.len());
        for i in 0..node.len() {
            match node.key(i).and_then(|k| node.cell(i).map(|_| k)) {
                Ok(k) => keys.push(k),
                Err(e) => return self.problem(format!("{what}: page {pgno} cell {i}: {e}")),
            }
        }
        for (i, k) in keys.iter().enumerate() {
            if i > 0 && keys[i - 1] >= *k {
                self.problem(format!("{what}: page {pgno}: keys {} and {i} out of order", i - 1));
            }
            if lo.is_some_and(|lo| *k < lo) || hi.is_some_and(|hi| *k >= hi) {
                self.problem(format!(
                    "{what}: page {pgno}: key {i} outside the bounds its parent sets"
                ));
            }
            if node.hint(i) != prefix_hint(k) {
                self.problem(format!(
                    "{what}: page {pgno}: slot {i}'s key hint does not match its key"
                ));
            }
        }
        if node.is_leaf() {
            return self.leaf(walk, &what, pgno, depth, node, &keys);
        }
        if node.is_empty() && depth == 1 {
            self.problem(format!("{what}: root branch {pgno} has no keys"));
        }
        for i in 0..=node.len() {
            let child = match node.child(i) {
                Ok(c) => c,
                Err(e) => return self.problem(format!("{what}: page {pgno}: {e}")),
            };
            let clo = if i == 0 { lo } else { Some(keys[i - 1]) };
            let chi = if i == node.len() { hi } else { Some(keys[i]) };
            self.node(walk, child, depth + 1, clo, chi);
        }
    }

    fn leaf(
        &mut self,
        walk: &mut Walk<'_>,
        what: &str,
        pgno: u32,
        depth: usize,
        node: Node<'_>,
        keys: &[&[u8]],
    ) {
        match walk.leaf_depth {
            None => walk.leaf_depth = Some(depth),
            Some(d) if d != depth => {
                self.problem(format!("{what}: leaf {pgno} at depth {depth}, others at {d}"))
            }
            _ => {}
        }
        if node.is_empty() && depth > 1 {
            self.problem(format!("{what}: leaf {pgno} below the root is empty"));
        }
        match node.aux() {
            Ok(id) if id == walk.id => {}
            Ok(id) => self.problem(format!(
                "{what}: leaf {pgno} names table id {id}, the table's id is {}",
                walk.id
            )),
            Err(e) => self.problem(format!("{what}: leaf {pgno}: {e}")),
        }
        for (i, k) in keys.iter().enumerate() {
            if walk.last.as_deref().is_some_and(|l| l >= *k) {
                self.problem(format!("{what}: page {pgno}: key {i} not above the previous leaf's"));
            }
            walk.last = Some(k.to_vec());
            walk.count += 1;
            match node.value(i) {
                Ok(LeafValue::Inline(v)) if walk.keep => walk.kept.push((k.to_vec(), v.to_vec())),
                Ok(LeafValue::Inline(_)) => {}
                Ok(LeafValue::Overflow { first, len }) => {
                    self.chain(what, walk.id, k, first, len);
                    if walk.keep {
                        self.problem(format!("{what}: page {pgno}: catalog entry {i} overflows"));
                    }
                }
                Err(e) => self.problem(format!("{what}: page {pgno} cell {i}: {e}")),
            }
        }
    }

    /// Checks the chain a cell of `key` in table `id` refers to: its shape (back pointers
    /// included) and that its first page names that table and key.
    fn chain(&mut self, what: &str, id: u32, key: &[u8], first: u32, len: u32) {
        let mut pages = Vec::new();
        match overflow::walk(self.view, first, len, |p, _| pages.push(p)) {
            Ok(owner) if owner.table == id && owner.key == key => {}
            Ok(owner) => self.problem(format!(
                "{what}: overflow chain at page {first} names table id {} and a key of {} \
                 bytes as its owner, not the cell that refers to it",
                owner.table,
                owner.key.len()
            )),
            Err(e) => self.problem(format!("{what}: overflow chain at page {first}: {e}")),
        }
        for p in pages {
            if self.claim(p, &format!("{what} overflow chain")) {
                self.page(p);
            }
        }
    }

    fn free_list(&mut self, meta: &Meta) {
        match freelist::collect(self.view, meta.free_head, meta.free_count) {
            Ok((trunks, entries)) => {
                let total = trunks.len() + entries.len();
                if total as u64 != meta.free_count as u64 {
                    self.problem(format!(
                        "free list holds {total} pages, the header says {}",
                        meta.free_count
                    ));
                }
                for t in trunks {
                    if self.claim(t, "the free list") {
                        self.page(t);
                    }
                }
                for p in entries {
                    // A free page's contents are stale by design: no checksum to verify.
                    self.claim(p, "the free list");
                }
            }
            Err(e) => self.problem(format!("free list: {e}")),
        }
    }
}

/// State of one table's walk.
struct Walk<'t> {
    table: &'t str,
    /// The table's id, which its leaves and chains must name.
    id: u32,
    leaf_depth: Option<usize>,
    last: Option<Vec<u8>>,
    count: u64,
    keep: bool,
    kept: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Checks the snapshot `view`.
pub fn check(view: &View) -> Result<CheckReport> {
    let meta = view.meta;
    let src = Unverified(view);
    let mut c = Checker {
        view: &src,
        owner: vec![Owner::Unseen; meta.page_count as usize],
        report: CheckReport::default(),
    };
    if let Some(first) = c.owner.first_mut() {
        *first = Owner::Used;
    }
    c.report.pages_checked += 1;
    // A snapshot that reads the WAL takes its header from a commit record there; page 0 of
    // the main file then holds an older header (possibly torn by a checkpoint that a crash
    // interrupted), which the next checkpoint rewrites.
    if view.wal_mark == 0 {
        c.page(0);
    }
    c.table("", meta.default_table, false);
    let catalog = c.table("(catalog)", meta.catalog, true);
    let mut ids = std::collections::HashSet::new();
    for (name, desc) in catalog {
        let name = String::from_utf8_lossy(&name).into_owned();
        match TableDesc::decode(&desc) {
            Ok(d) if desc.len() == crate::format::header::TABLE_DESC_SIZE => {
                if d.id < FIRST_NAMED_TABLE_ID || d.id >= meta.next_table_id || !ids.insert(d.id) {
                    c.problem(format!(
                        "table {name:?} has table id {}, which is taken or not one the header \
                         handed out (next id {})",
                        d.id, meta.next_table_id
                    ));
                }
                c.table(&name, d, false);
            }
            _ => c.problem(format!("catalog entry for table {name:?} is malformed")),
        }
    }
    c.free_list(&meta);
    let mut lost = c.owner.iter().enumerate().filter(|(_, o)| **o == Owner::Unseen);
    let shown: Vec<String> = lost.by_ref().take(10).map(|(p, _)| p.to_string()).collect();
    let more = lost.count();
    if !shown.is_empty() {
        c.problem(format!(
            "{} page(s) are neither in use nor free (lost): {}{}",
            shown.len() + more,
            shown.join(", "),
            if more > 0 { ", ..." } else { "" }
        ));
    }
    Ok(c.report)
}
