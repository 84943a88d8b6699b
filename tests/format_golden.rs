//! Golden bytes of the on-disk format. FORMAT.md documents these layouts; if this test has
//! to change, the format changed: bump the version and update FORMAT.md in the same commit.

use folio::format::checksum::{crc32c_append, page_crc, seal_page};
use folio::format::page::{ChainOwner, OverflowPage, PageType, encode_overflow, prefix_hint};
use folio::format::wal::{FrameHeader, WalHeader, frame_offset};
use folio::format::{Meta, TableDesc};

fn sample_meta() -> Meta {
    Meta {
        page_size: 4096,
        page_count: 0x0102_0304,
        free_head: 7,
        free_count: 3,
        next_table_id: 0x0506_0708,
        txn_id: 0x1122_3344_5566_7788,
        db_id: 0xA1A2_A3A4_A5A6_A7A8,
        default_table: TableDesc { root: 9, id: 2, entries: 10 },
        catalog: TableDesc { root: 11, id: 1, entries: 2 },
    }
}

#[test]
fn header_page_layout() {
    let meta = sample_meta();
    let mut page = vec![0xEEu8; 4096];
    meta.encode_into(&mut page);
    seal_page(&mut page);
    let expect: &[(usize, &[u8])] = &[
        (4, &[PageType::Meta as u8, 0, 0, 0]),
        (16, b"folio-db"),
        (24, &2u32.to_le_bytes()),
        (28, &4096u32.to_le_bytes()),
        (32, &[0x04, 0x03, 0x02, 0x01]),
        (36, &7u32.to_le_bytes()),
        (40, &3u32.to_le_bytes()),
        (44, &[0x08, 0x07, 0x06, 0x05]),
        (48, &0x1122_3344_5566_7788u64.to_le_bytes()),
        (56, &0xA1A2_A3A4_A5A6_A7A8u64.to_le_bytes()),
        (64, &9u32.to_le_bytes()),
        (68, &2u32.to_le_bytes()),
        (72, &10u64.to_le_bytes()),
        (80, &11u32.to_le_bytes()),
        (84, &1u32.to_le_bytes()),
        (88, &2u64.to_le_bytes()),
    ];
    for (off, bytes) in expect {
        assert_eq!(&page[*off..off + bytes.len()], *bytes, "header bytes at offset {off}");
    }
    assert!(page[96..].iter().all(|&b| b == 0), "the rest of page 0 is zero");
    assert_eq!(page[0..4], page_crc(&page).to_le_bytes());
    assert_eq!(page_crc(&page), crc32c_append(0, &page[4..]));
    assert_eq!(Meta::decode(&page).unwrap(), meta);
}

#[test]
fn header_refuses_wrong_table_ids() {
    for patch in [(68usize, 3u32), (84, 2), (44, 2), (24, 1)] {
        let mut page = vec![0u8; 4096];
        sample_meta().encode_into(&mut page);
        page[patch.0..patch.0 + 4].copy_from_slice(&patch.1.to_le_bytes());
        assert!(Meta::decode(&page).is_err(), "offset {} = {} accepted", patch.0, patch.1);
    }
}

#[test]
fn overflow_page_layout() {
    // First page of a chain: prev 0, then the owner (table 7, key "k1"), then the data.
    let mut page = vec![0xEEu8; 4096];
    let owner = ChainOwner { table: 7, key: b"k1" };
    encode_overflow(&mut page, 0, 0x0A0B_0C0D, Some(owner), b"data");
    let expect: &[(usize, &[u8])] = &[
        (4, &[PageType::Overflow as u8, 0, 0, 0]),
        (8, &4u32.to_le_bytes()),
        (12, &0x0A0B_0C0Du32.to_le_bytes()),
        (16, &0u32.to_le_bytes()),
        (20, &7u32.to_le_bytes()),
        (24, &2u16.to_le_bytes()),
        (26, b"k1"),
        (28, b"data"),
    ];
    for (off, bytes) in expect {
        assert_eq!(&page[*off..off + bytes.len()], *bytes, "first page bytes at offset {off}");
    }
    assert!(page[32..].iter().all(|&b| b == 0));
    let decoded = OverflowPage::decode(&page, 5).unwrap();
    assert_eq!(
        (decoded.prev, decoded.next, decoded.owner, decoded.data),
        (0, 0x0A0B_0C0D, Some(owner), &b"data"[..])
    );

    // Any later page: prev, then the data at offset 20.
    encode_overflow(&mut page, 0x1122_3344, 0, None, b"xyz");
    assert_eq!(page[8..12], 3u32.to_le_bytes());
    assert_eq!(page[12..16], 0u32.to_le_bytes());
    assert_eq!(page[16..20], 0x1122_3344u32.to_le_bytes());
    assert_eq!(&page[20..23], b"xyz");
    assert!(page[23..].iter().all(|&b| b == 0));
    let decoded = OverflowPage::decode(&page, 5).unwrap();
    assert_eq!((decoded.prev, decoded.owner, decoded.data), (0x1122_3344, None, &b"xyz"[..]));

    assert_eq!(folio::format::page::overflow_capacity(4096), 4076);
    assert_eq!(folio::format::page::first_overflow_capacity(4096, 2), 4068);
    // A chain of 4068 + 4076 bytes fills exactly two pages; one byte more takes a third.
    assert_eq!(folio::btree::overflow::pages_for(4068 + 4076, 2, 4096), 2);
    assert_eq!(folio::btree::overflow::pages_for(4068 + 4077, 2, 4096), 3);
    assert_eq!(folio::btree::overflow::pages_for(0, 2, 4096), 1);
}

#[test]
fn leaves_name_their_table() {
    // A database's default table (id 2) and a named table (the first: id 3), read back raw.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let db = folio::Database::open(&path).unwrap();
    let mut tx = db.begin_write().unwrap();
    tx.put(b"a", b"1").unwrap();
    tx.table("t").unwrap().put(b"b", b"2").unwrap();
    tx.commit().unwrap();
    db.close().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let meta = Meta::decode(&bytes).unwrap();
    assert_eq!(meta.next_table_id, 4, "one named table created");
    let aux = |pgno: u32| {
        let page = &bytes[pgno as usize * 4096..][..4096];
        assert_eq!(page[4], PageType::Leaf as u8);
        u32::from_le_bytes(page[12..16].try_into().unwrap())
    };
    assert_eq!(aux(meta.default_table.root), 2);
    assert_eq!(aux(meta.catalog.root), 1);
    let leaves: Vec<u32> = (1..meta.page_count)
        .filter(|&p| bytes[p as usize * 4096 + 4] == PageType::Leaf as u8)
        .map(aux)
        .collect();
    assert_eq!(leaves.len(), 3);
    assert!(leaves.contains(&3), "the named table's leaf names id 3: {leaves:?}");
}

#[test]
fn wal_header_and_frame_layout() {
    let h =
        WalHeader { page_size: 8192, db_id: 0x0102_0304_0506_0708, salt: 0xFFEE, generation: 5 };
    let (bytes, crc) = h.encode();
    assert_eq!(&bytes[0..8], b"folioWAL");
    assert_eq!(bytes[8..12], 3u32.to_le_bytes());
    assert_eq!(bytes[12..16], 8192u32.to_le_bytes());
    assert_eq!(bytes[16..24], 0x0102_0304_0506_0708u64.to_le_bytes());
    assert_eq!(bytes[24..32], 0xFFEEu64.to_le_bytes());
    assert_eq!(bytes[32..40], 5u64.to_le_bytes());
    assert_eq!(bytes[40..44], crc.to_le_bytes());
    assert_eq!(crc, crc32c_append(0, &bytes[0..40]));
    assert_eq!(bytes[44..48], [0, 0, 0, 0]);

    let page = vec![0x5Au8; 8192];
    let mut meta = sample_meta();
    meta.page_size = 8192;
    let fh = FrameHeader::seal(42, Some(&meta), 0xFFEE, 0x0A0B_0C0D, crc, &page);
    let fb = fh.encode();
    assert_eq!(fb.len(), 88);
    assert_eq!(fb[0..4], 42u32.to_le_bytes());
    assert_eq!(fb[4..8], 1u32.to_le_bytes());
    assert_eq!(fb[8..16], 0xFFEEu64.to_le_bytes());
    // The checksum covers everything but itself: bytes 0..16, the durable watermark at
    // 20..24, the commit record, the page.
    let chained = crc32c_append(crc32c_append(crc32c_append(crc, &fb[0..16]), &fb[20..88]), &page);
    assert_eq!(fb[16..20], chained.to_le_bytes());
    assert_eq!(fb[20..24], 0x0A0B_0C0Du32.to_le_bytes());
    let mut flipped = fb;
    flipped[21] ^= 1;
    assert!(!FrameHeader::decode(&flipped).unwrap().verify(&flipped, crc, &page));
    // The commit record is bytes 32..96 of the header page the meta encodes to.
    let mut header = vec![0u8; 8192];
    meta.encode_into(&mut header);
    assert_eq!(fb[24..88], header[32..96]);
    assert_eq!(FrameHeader::decode(&fb).unwrap().meta(8192).unwrap(), meta);

    let plain = FrameHeader::seal(7, None, 0xFFEE, 0, chained, &page).encode();
    assert_eq!(plain[4..8], [0, 0, 0, 0]);
    assert_eq!(plain[20..24], [0, 0, 0, 0]);
    // A watermark past what 4 bytes hold is recorded as the largest they do (still true).
    let far = FrameHeader::seal(7, None, 0xFFEE, 1 << 40, chained, &page).encode();
    assert_eq!(far[20..24], u32::MAX.to_le_bytes());
    assert!(plain[24..88].iter().all(|&b| b == 0), "no commit record on a plain frame");

    assert_eq!(frame_offset(1, 4096), 48);
    assert_eq!(frame_offset(3, 4096), 48 + 2 * (88 + 4096));
}

#[test]
fn slot_hint_is_the_zero_padded_big_endian_prefix() {
    assert_eq!(prefix_hint(b""), 0);
    assert_eq!(prefix_hint(b"a"), 0x6100_0000);
    assert_eq!(prefix_hint(b"abcdef"), 0x6162_6364);
    assert!(prefix_hint(b"ab") < prefix_hint(b"b"));
}
