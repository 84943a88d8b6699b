//! Reading a main file page by page for the page inspector, without opening it as a
//! database: no lock, no WAL, no recovery, nothing written, and nothing trusted. It decodes
//! pages with the library's own format and node decoders (`folio::format`,
//! `folio::btree::Node`), which bound-check every field, so a file too damaged to open can
//! still be looked at.
//!
//! [`Owners`] walks from the header to tell which table (or the free list) each page
//! belongs to: every tree, the overflow chains its leaves name, the free-list trunks and the
//! pages they list. The walk is best-effort: it skips what it cannot decode and never visits
//! a page twice, so a damaged file gives a partial map rather than an error or a loop.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use folio::btree::{LeafValue, Node};
use folio::format::header::TABLE_DESC_SIZE;
use folio::format::page::{
    OverflowPage, PAGE_AUX_OFFSET, PAGE_COUNT_OFFSET, PAGE_HEADER_SIZE, PageType,
};
use folio::format::{Meta, TableDesc, page_size_ok, u16_at, u32_at};

use crate::{CliError, CliResult, open};

/// A main file opened for reading pages.
pub struct PageFile {
    file: File,
    /// Bytes in the file.
    pub len: u64,
    /// The page size in use (the header's, `--page-size`, or 4096).
    pub page_size: usize,
    /// The header, if page 0 decodes.
    pub meta: Result<Meta, String>,
}

impl PageFile {
    /// Opens `path` read-only; `page_size` overrides the header's.
    pub fn open(path: &Path, page_size: Option<u32>) -> CliResult<PageFile> {
        open::must_exist(path)?;
        let file = File::open(path)
            .map_err(|e| CliError::Msg(format!("cannot open {}: {e}", path.display())))?;
        let len = file.metadata()?.len();
        if let Some(ps) = page_size.filter(|&ps| !page_size_ok(ps)) {
            return Err(CliError::Usage(format!(
                "--page-size {ps} is not a power of two from 4096 to 65536"
            )));
        }
        let mut head = vec![0u8; len.min(4096) as usize];
        file.read_exact_at(&mut head, 0)?;
        let meta = Meta::decode(&head).map_err(|e| e.to_string());
        let from_header = Meta::peek_page_size(&head).ok().filter(|&ps| page_size_ok(ps));
        let page_size = page_size.or(from_header).unwrap_or(4096) as usize;
        Ok(PageFile { file, len, page_size, meta })
    }

    /// Pages the header names, else as many as the file holds.
    pub fn page_count(&self) -> u32 {
        match &self.meta {
            Ok(m) => m.page_count,
            Err(_) => self.file_pages(),
        }
    }

    /// Pages the file holds (a partial last page counts).
    pub fn file_pages(&self) -> u32 {
        u32::try_from(self.len.div_ceil(self.page_size as u64)).unwrap_or(u32::MAX)
    }

    /// Page `pgno`'s bytes: `None` past the end of the file, fewer than a page if the file
    /// ends inside it.
    pub fn page(&self, pgno: u32) -> Option<Vec<u8>> {
        let off = pgno as u64 * self.page_size as u64;
        if off >= self.len {
            return None;
        }
        let mut buf = vec![0u8; (self.len - off).min(self.page_size as u64) as usize];
        self.file.read_exact_at(&mut buf, off).ok()?;
        Some(buf)
    }
}

/// What a page was found to be by the walk from the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Not reached.
    Unknown,
    /// A node of table `n` (see [`Owners::names`]).
    Node(usize),
    /// An overflow page of table `n`.
    Overflow(usize),
    /// A free-list trunk.
    Trunk,
    /// A free page listed in a trunk.
    Free,
}

/// The owner of every page, and the names of the tables.
pub struct Owners {
    pub owner: Vec<Owner>,
    /// Table names by index: 0 is the default table, 1 the catalog.
    pub names: Vec<String>,
}

impl Owners {
    /// Walks everything the header reaches.
    pub fn walk(f: &PageFile) -> Owners {
        let mut o = Owners {
            owner: vec![Owner::Unknown; f.page_count() as usize],
            names: vec!["(default)".into(), "(catalog)".into()],
        };
        let Ok(meta) = &f.meta else { return o };
        o.tree(f, meta.default_table.root, 0);
        for (name, root) in o.tree(f, meta.catalog.root, 1) {
            o.names.push(name);
            o.tree(f, root, o.names.len() - 1);
        }
        o.free_list(f, meta);
        o
    }

    /// The table name for `owner`, if it has one.
    pub fn table_of(&self, owner: Owner) -> Option<&str> {
        match owner {
            Owner::Node(t) | Owner::Overflow(t) => self.names.get(t).map(String::as_str),
            _ => None,
        }
    }

    /// Marks `pgno` if it is unmarked and in range.
    fn claim(&mut self, pgno: u32, as_: Owner) -> bool {
        match self.owner.get_mut(pgno as usize) {
            Some(slot @ Owner::Unknown) if pgno != 0 => {
                *slot = as_;
                true
            }
            _ => false,
        }
    }

    /// Marks the tree at `root` as table `t`'s; for the catalog, returns the named tables.
    fn tree(&mut self, f: &PageFile, root: u32, t: usize) -> Vec<(String, u32)> {
        let mut tables = Vec::new();
        let mut stack = if root == 0 { vec![] } else { vec![root] };
        while let Some(pgno) = stack.pop() {
            if !self.claim(pgno, Owner::Node(t)) {
                continue;
            }
            let Some(page) = f.page(pgno) else { continue };
            let Ok(node) = Node::new(&page, pgno) else { continue };
            for i in 0..node.len() {
                if !node.is_leaf() {
                    stack.extend(node.child(i).ok());
                    continue;
                }
                match node.value(i) {
                    Ok(LeafValue::Overflow { first, len }) => {
                        for p in chain(f, first, Some(len)).0 {
                            self.claim(p, Owner::Overflow(t));
                        }
                    }
                    Ok(LeafValue::Inline(v)) if t == 1 && v.len() == TABLE_DESC_SIZE => {
                        let name = node.key(i).map(|k| String::from_utf8_lossy(k).into_owned());
                        if let (Ok(name), Ok(d)) = (name, TableDesc::decode(v)) {
                            tables.push((name, d.root));
                        }
                    }
                    _ => {}
                }
            }
            if !node.is_leaf() {
                stack.extend(node.child(node.len()).ok());
            }
        }
        tables
    }

    fn free_list(&mut self, f: &PageFile, meta: &Meta) {
        let mut trunk = meta.free_head;
        while trunk != 0 && self.claim(trunk, Owner::Trunk) {
            let Some(page) = f.page(trunk) else { return };
            if page.get(4) != Some(&(PageType::FreeTrunk as u8)) {
                return;
            }
            let count = u16_at(&page, PAGE_COUNT_OFFSET).unwrap_or(0) as usize;
            for i in 0..count {
                if let Ok(p) = u32_at(&page, PAGE_HEADER_SIZE + i * 4) {
                    self.claim(p, Owner::Free);
                }
            }
            trunk = u32_at(&page, PAGE_AUX_OFFSET).unwrap_or(0);
        }
    }
}

/// Follows an overflow chain from `first` for a value of `len` bytes (`None`: until it ends):
/// the pages visited, and what is wrong with the chain, if anything. Each page must be an
/// overflow page whose back pointer names the page before it; the first page's owner record
/// (its key's length) fixes how many pages a value of `len` bytes takes.
pub fn chain(f: &PageFile, first: u32, len: Option<u32>) -> (Vec<u32>, Option<String>) {
    let mut want = None;
    let mut pages = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // From a leaf cell (`len` known) the chain starts at its first page, whose back pointer
    // is 0; the inspector may also start in the middle of a chain.
    let (mut p, mut prev) = (first, len.map(|_| 0u32));
    while p != 0 {
        let limit = want.unwrap_or(f.page_count() as usize);
        if pages.len() == limit || !seen.insert(p) {
            return (pages, Some(format!("continues to page {p}, past its end (a cycle?)")));
        }
        let Some(page) = f.page(p) else {
            return (pages, Some(format!("page {p} is beyond the end of the file")));
        };
        let o = match OverflowPage::decode(&page, p) {
            Ok(o) => o,
            Err(e) => return (pages, Some(e.to_string())),
        };
        if let Some(prev) = prev.filter(|&q| q != o.prev) {
            let msg = format!("page {p} points back to page {}, not {prev}", o.prev);
            return (pages, Some(msg));
        }
        if let (Some(owner), Some(l)) = (o.owner, len) {
            want =
                Some(folio::btree::overflow::pages_for(l as usize, owner.key.len(), f.page_size));
        }
        pages.push(p);
        (prev, p) = (Some(p), o.next);
    }
    match want {
        Some(w) if pages.len() != w => {
            let msg = format!("ends after {} of {w} pages", pages.len());
            (pages, Some(msg))
        }
        _ => (pages, None),
    }
}
