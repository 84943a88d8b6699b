//! Golden bytes of the on-disk format. FORMAT.md documents these layouts; if this test has
//! to change, the format changed: bump the version and update FORMAT.md in the same commit.

use folio::format::checksum::{crc32c_append, page_crc, seal_page};
use folio::format::page::{PageType, prefix_hint};
use folio::format::wal::{FrameHeader, WalHeader, frame_offset};
use folio::format::{Meta, TableDesc};

fn sample_meta() -> Meta {
    Meta {
        page_size: 4096,
        page_count: 0x0102_0304,
        free_head: 7,
        free_count: 3,
        txn_id: 0x1122_3344_5566_7788,
        db_id: 0xA1A2_A3A4_A5A6_A7A8,
        default_table: TableDesc { root: 9, entries: 10 },
        catalog: TableDesc { root: 11, entries: 2 },
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
        (24, &1u32.to_le_bytes()),
        (28, &4096u32.to_le_bytes()),
        (32, &[0x04, 0x03, 0x02, 0x01]),
        (36, &7u32.to_le_bytes()),
        (40, &3u32.to_le_bytes()),
        (44, &[0, 0, 0, 0]),
        (48, &0x1122_3344_5566_7788u64.to_le_bytes()),
        (56, &0xA1A2_A3A4_A5A6_A7A8u64.to_le_bytes()),
        (64, &9u32.to_le_bytes()),
        (68, &[0, 0, 0, 0]),
        (72, &10u64.to_le_bytes()),
        (80, &11u32.to_le_bytes()),
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
