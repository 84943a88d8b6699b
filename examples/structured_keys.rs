//! Structured keys: `KeyPath` turns `users/1/name` into bytes that sort like the path's
//! segments, so a prefix scan returns one user's fields and nothing of user 10, and
//! `OrderedInt` makes integers sort numerically (negative ones first).
//!
//! ```text
//! cargo run --release --example structured_keys
//! ```

use folio::{Database, KeyPath, OrderedInt};

fn main() -> folio::Result<()> {
    let db = Database::memory()?;

    // Users 1, 2 and 10 with a few fields each, in one transaction.
    let mut tx = db.begin_write()?;
    for (id, name, email) in [
        ("1", "Ada", "ada@example.com"),
        ("2", "Grace", "grace@example.com"),
        ("10", "Edsger", "ew@example.com"),
    ] {
        let user = KeyPath::from(["users", id]);
        tx.put(&user.clone().child("name").to_bytes(), name.as_bytes())?;
        tx.put(&user.clone().child("email").to_bytes(), email.as_bytes())?;
    }
    tx.commit()?;

    // Everything under users/1 sorts together, apart from users/10 and users/2.
    let rx = db.begin_read()?;
    let user1 = KeyPath::from(["users", "1"]);
    let mut fields = Vec::new();
    for item in rx.prefix(&user1.prefix_bytes())? {
        let (key, value) = item?;
        let path = KeyPath::decode(key)?;
        println!("{path} = {}", String::from_utf8_lossy(&value));
        fields.push(path.to_string());
    }
    assert_eq!(fields, ["users/1/email", "users/1/name"]);

    // The whole users/ subtree, in tuple order: "1" < "10" < "2" as strings.
    let all: Vec<String> = rx
        .prefix(&KeyPath::from(["users"]).prefix_bytes())?
        .map(|item| item.and_then(|(k, _)| Ok(KeyPath::decode(k)?.to_string())))
        .collect::<folio::Result<_>>()?;
    println!("all users: {all:?}");
    assert_eq!(all[..2], ["users/1/email", "users/1/name"]);
    assert_eq!(all[2..4], ["users/10/email", "users/10/name"]);
    drop(rx);

    // Integer segments sort numerically: events by signed timestamp, then sequence number.
    let mut tx = db.begin_write()?;
    for (ts, seq) in [(1_700_000_000i64, 2u32), (-5, 0), (1_700_000_000, 1), (42, 0)] {
        let key =
            KeyPath::from(["events"]).child(ts.to_ordered_bytes()).child(seq.to_ordered_bytes());
        tx.put(&key.to_bytes(), format!("event at {ts} #{seq}").as_bytes())?;
    }
    tx.commit()?;
    let rx = db.begin_read()?;
    let mut order = Vec::new();
    for item in rx.prefix(&KeyPath::from(["events"]).prefix_bytes())? {
        let (key, value) = item?;
        let path = KeyPath::decode(key)?;
        let (ts, seq) = (path.segment_as::<i64>(1)?, path.segment_as::<u32>(2)?);
        println!("{ts:>12} #{seq}: {}", String::from_utf8_lossy(&value));
        order.push((ts, seq));
    }
    assert_eq!(order, [(-5, 0), (42, 0), (1_700_000_000, 1), (1_700_000_000, 2)]);

    // A reverse scan gives the newest event first.
    let newest = rx.prefix(&KeyPath::from(["events"]).prefix_bytes())?.next_back().transpose()?;
    let newest = KeyPath::decode(newest.map(|(k, _)| k).unwrap_or_default())?;
    assert_eq!(newest.segment_as::<u32>(2)?, 2);

    // Segments may hold any bytes; the text form escapes '/', '%' and binary as %XX.
    let odd = KeyPath::from([&b"a/b"[..], b"50%", b"\x00\xff"]);
    println!("displayed: {odd}");
    assert_eq!(odd.to_string(), "a%2Fb/50%25/%00%FF");
    assert_eq!(odd.to_string().parse::<KeyPath>()?, odd);
    println!("structured keys: all assertions passed");
    Ok(())
}
