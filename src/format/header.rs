//! Page 0, the database header ("meta"). Every commit carries a new version of it in the
//! commit record of its last WAL frame (bytes 32..96 of the page, [`COMMIT_RECORD_SIZE`]), so
//! the meta a snapshot sees is always consistent with the tree it names; a checkpoint writes
//! page 0 from that record.
//!
//! ```text
//! offset size  field
//!  0     16    common page header (type Meta)
//! 16      8    magic "folio-db"
//! 24      4    format version (2)
//! 28      4    page size in bytes
//! 32      4    page count: pages 0..count are the database
//! 36      4    first free-list trunk page (0 = none)
//! 40      4    free pages, trunks included
//! 44      4    next table id: the id the next named table gets
//! 48      8    id of the last committed transaction
//! 56      8    database id: random, chosen at creation; the WAL header repeats it
//! 64     16    default table descriptor
//! 80     16    catalog descriptor (root of the tree of named tables; count = tables)
//! 96           zero to the end of the page
//! ```
//! A table descriptor is `root u32 | table id u32 | entries u64`; root 0 is an empty tree.
//! Every table has a stable id: the catalog [`CATALOG_TABLE_ID`], the default table
//! [`DEFAULT_TABLE_ID`], named tables ids from [`FIRST_NAMED_TABLE_ID`] on, handed out by the
//! header's counter and never reused. Leaves and the first page of each overflow chain
//! record the id of the table that owns them, so vacuum can find a page's parent by a
//! descent instead of a walk.

use super::checksum::seal_page;
use super::page::{PAGE_HEADER_SIZE, PAGE_TYPE_OFFSET, PageType};
use super::{FORMAT_VERSION, MAX_PAGE_COUNT, page_size_ok, put_u32, put_u64, u32_at, u64_at};
use crate::error::{Error, Result};

/// The magic bytes at offset 16 of page 0.
pub const MAGIC: [u8; 8] = *b"folio-db";
const OFF_MAGIC: usize = PAGE_HEADER_SIZE;
const OFF_VERSION: usize = 24;
const OFF_PAGE_SIZE: usize = 28;
const OFF_PAGE_COUNT: usize = 32;
const OFF_FREE_HEAD: usize = 36;
const OFF_FREE_COUNT: usize = 40;
const OFF_NEXT_TABLE_ID: usize = 44;
const OFF_TXN_ID: usize = 48;
const OFF_DB_ID: usize = 56;
const OFF_DEFAULT_TABLE: usize = 64;
const OFF_CATALOG: usize = 80;
/// Bytes of page 0 that carry fields; the rest is zero.
pub const META_USED: usize = 96;
/// Size of an encoded table descriptor.
pub const TABLE_DESC_SIZE: usize = 16;
/// Id of the catalog (the tree of named tables).
pub const CATALOG_TABLE_ID: u32 = 1;
/// Id of the default table.
pub const DEFAULT_TABLE_ID: u32 = 2;
/// Id of the first named table a database creates.
pub const FIRST_NAMED_TABLE_ID: u32 = 3;

/// Where a table's tree lives, which table it is, and how many entries it holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableDesc {
    /// Root page, 0 for an empty table.
    pub root: u32,
    /// The table's id (0 only in the placeholder for a table that does not exist).
    pub id: u32,
    /// Number of entries.
    pub entries: u64,
}

impl TableDesc {
    /// An empty table with id `id`.
    pub fn empty(id: u32) -> Self {
        TableDesc { root: 0, id, entries: 0 }
    }

    /// Decodes a descriptor from its 16 bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the bytes are too short or hold an invalid value (naming the offset).
    pub fn decode(b: &[u8]) -> Result<Self> {
        Ok(TableDesc { root: u32_at(b, 0)?, id: u32_at(b, 4)?, entries: u64_at(b, 8)? })
    }

    /// Encodes the descriptor.
    pub fn encode(&self) -> [u8; TABLE_DESC_SIZE] {
        let mut b = [0u8; TABLE_DESC_SIZE];
        put_u32(&mut b, 0, self.root);
        put_u32(&mut b, 4, self.id);
        put_u64(&mut b, 8, self.entries);
        b
    }
}

/// Size of a commit record: header-page bytes `32..96` (see [`Meta::encode_record`]).
pub const COMMIT_RECORD_SIZE: usize = META_USED - OFF_PAGE_COUNT;

/// The decoded database header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    /// Page size in bytes.
    pub page_size: u32,
    /// Number of pages in the database, header included.
    pub page_count: u32,
    /// First free-list trunk page, 0 if the list is empty.
    pub free_head: u32,
    /// Free pages, trunk pages included.
    pub free_count: u32,
    /// The id the next named table gets.
    pub next_table_id: u32,
    /// Id of the last committed transaction.
    pub txn_id: u64,
    /// Random identity of this database; binds the WAL to it.
    pub db_id: u64,
    /// The default table.
    pub default_table: TableDesc,
    /// The catalog of named tables (its entry count is the number of tables).
    pub catalog: TableDesc,
}

impl Meta {
    /// The header of a brand-new, empty database.
    pub fn new(page_size: u32, db_id: u64) -> Self {
        Meta {
            page_size,
            page_count: 1,
            free_head: 0,
            free_count: 0,
            next_table_id: FIRST_NAMED_TABLE_ID,
            txn_id: 0,
            db_id,
            default_table: TableDesc::empty(DEFAULT_TABLE_ID),
            catalog: TableDesc::empty(CATALOG_TABLE_ID),
        }
    }

    /// Writes the header into a page buffer (the checksum is sealed separately).
    pub fn encode_into(&self, page: &mut [u8]) {
        page.fill(0);
        page[PAGE_TYPE_OFFSET] = PageType::Meta as u8;
        page[OFF_MAGIC..OFF_MAGIC + 8].copy_from_slice(&MAGIC);
        put_u32(page, OFF_VERSION, FORMAT_VERSION);
        put_u32(page, OFF_PAGE_SIZE, self.page_size);
        put_u32(page, OFF_PAGE_COUNT, self.page_count);
        put_u32(page, OFF_FREE_HEAD, self.free_head);
        put_u32(page, OFF_FREE_COUNT, self.free_count);
        put_u32(page, OFF_NEXT_TABLE_ID, self.next_table_id);
        put_u64(page, OFF_TXN_ID, self.txn_id);
        put_u64(page, OFF_DB_ID, self.db_id);
        page[OFF_DEFAULT_TABLE..OFF_DEFAULT_TABLE + TABLE_DESC_SIZE]
            .copy_from_slice(&self.default_table.encode());
        page[OFF_CATALOG..OFF_CATALOG + TABLE_DESC_SIZE].copy_from_slice(&self.catalog.encode());
    }

    /// The whole header page for this meta, its page checksum sealed.
    pub fn sealed_page(&self) -> Box<[u8]> {
        let mut page = vec![0u8; self.page_size as usize].into_boxed_slice();
        self.encode_into(&mut page);
        seal_page(&mut page);
        page
    }

    /// The commit record a WAL commit frame carries: bytes `32..96` of the header page this
    /// meta encodes to (page count through the catalog's descriptor). The bytes before them
    /// (page type, magic, version, page size) are the same in every header of a database.
    pub fn encode_record(&self) -> [u8; COMMIT_RECORD_SIZE] {
        let mut page = [0u8; META_USED];
        self.encode_into(&mut page);
        page[OFF_PAGE_COUNT..].try_into().expect("record length")
    }

    /// Decodes and validates a commit record for a database of `page_size`-byte pages.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the bytes are too short or hold an invalid value (naming the offset).
    pub fn decode_record(record: &[u8], page_size: u32) -> Result<Self> {
        let record = record
            .get(..COMMIT_RECORD_SIZE)
            .ok_or_else(|| Error::corrupt("commit record: too short"))?;
        let mut page = [0u8; META_USED];
        Meta::new(page_size, 0).encode_into(&mut page);
        page[OFF_PAGE_COUNT..].copy_from_slice(record);
        Self::decode(&page)
    }

    /// Whether `page` starts like a folio header (magic only; see [`Meta::decode`]).
    pub fn has_magic(page: &[u8]) -> bool {
        page.get(OFF_MAGIC..OFF_MAGIC + 8) == Some(&MAGIC[..])
    }

    /// Reads the page size from a header without validating anything else.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the bytes are too short or hold an invalid value (naming the offset).
    pub fn peek_page_size(page: &[u8]) -> Result<u32> {
        u32_at(page, OFF_PAGE_SIZE)
    }

    /// Decodes and validates a header page. `page` may be shorter than a page (the first read
    /// of a file); only the first [`META_USED`] bytes are examined.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the bytes are too short or hold an invalid value (naming the offset).
    pub fn decode(page: &[u8]) -> Result<Self> {
        if !Self::has_magic(page) {
            return Err(Error::corrupt_page(0, "not a folio database: bad magic"));
        }
        if page.get(PAGE_TYPE_OFFSET) != Some(&(PageType::Meta as u8)) {
            return Err(Error::corrupt_page(0, "not a header page"));
        }
        let version = u32_at(page, OFF_VERSION)?;
        if version != FORMAT_VERSION {
            return Err(Error::corrupt_page(
                0,
                format!("unsupported format version {version} (this build reads {FORMAT_VERSION})"),
            ));
        }
        let page_size = u32_at(page, OFF_PAGE_SIZE)?;
        if !page_size_ok(page_size) {
            return Err(Error::corrupt_page(
                0,
                format!("header names invalid page size {page_size}"),
            ));
        }
        let meta = Meta {
            page_size,
            page_count: u32_at(page, OFF_PAGE_COUNT)?,
            free_head: u32_at(page, OFF_FREE_HEAD)?,
            free_count: u32_at(page, OFF_FREE_COUNT)?,
            next_table_id: u32_at(page, OFF_NEXT_TABLE_ID)?,
            txn_id: u64_at(page, OFF_TXN_ID)?,
            db_id: u64_at(page, OFF_DB_ID)?,
            default_table: TableDesc::decode(&page[OFF_DEFAULT_TABLE..])?,
            catalog: TableDesc::decode(&page[OFF_CATALOG..])?,
        };
        meta.validate()?;
        Ok(meta)
    }

    fn validate(&self) -> Result<()> {
        let pc = self.page_count;
        if pc == 0 || pc > MAX_PAGE_COUNT {
            return Err(Error::corrupt_page(0, format!("header page count {pc} out of range")));
        }
        let in_range = |p: u32| p == 0 || p < pc;
        for (what, p) in [
            ("free-list head", self.free_head),
            ("default table root", self.default_table.root),
            ("catalog root", self.catalog.root),
        ] {
            if !in_range(p) {
                return Err(Error::corrupt_page(
                    0,
                    format!("header: {what} page {p} is beyond the page count {pc}"),
                ));
            }
        }
        if self.free_count >= pc {
            return Err(Error::corrupt_page(
                0,
                format!("header: {} free pages in a database of {pc} pages", self.free_count),
            ));
        }
        for (what, id, want) in [
            ("default table", self.default_table.id, DEFAULT_TABLE_ID),
            ("catalog", self.catalog.id, CATALOG_TABLE_ID),
        ] {
            if id != want {
                return Err(Error::corrupt_page(
                    0,
                    format!("header: the {what} has table id {id}, expected {want}"),
                ));
            }
        }
        if self.next_table_id < FIRST_NAMED_TABLE_ID {
            return Err(Error::corrupt_page(
                0,
                format!(
                    "header: next table id {} is below {FIRST_NAMED_TABLE_ID}",
                    self.next_table_id
                ),
            ));
        }
        Ok(())
    }
}
