//! Tests of the key-path and integer encodings: fixed cases, and seeded random paths and
//! integers whose encoded order must equal their tuple (or numeric) order.

use super::{KeyPath, OrderedInt};

/// splitmix64: a small seeded generator, so a failure replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Bytes drawn mostly from a tiny alphabet with the troublesome values (0x00, 0x01,
    /// 0xFF, '/', '%') so that equal prefixes and escapes are common.
    fn segment(&mut self) -> Vec<u8> {
        const ALPHABET: &[u8] = &[0x00, 0x01, 0xFF, b'/', b'%', b'a', b'b'];
        let len = self.below(5) as usize;
        (0..len)
            .map(|_| {
                if self.below(8) == 0 {
                    self.next() as u8
                } else {
                    ALPHABET[self.below(ALPHABET.len() as u64) as usize]
                }
            })
            .collect()
    }

    fn path(&mut self) -> KeyPath {
        let len = self.below(5) as usize;
        (0..len).map(|_| self.segment()).collect()
    }
}

#[test]
fn display_and_encoding_of_a_simple_path() {
    let p = KeyPath::from(["users", "1", "name"]);
    assert_eq!(p.to_string(), "users/1/name");
    assert_eq!(p.to_bytes(), b"users\x00\x011\x00\x01name\x00\x01");
    assert_eq!(KeyPath::decode(&p.to_bytes()), Ok(p.clone()));
    assert_eq!("users/1/name".parse::<KeyPath>(), Ok(p));
}

#[test]
fn constructors_agree() {
    let a = KeyPath::from(["x", "y"]);
    assert_eq!(a, KeyPath::from(vec!["x".to_string(), "y".to_string()]));
    assert_eq!(a, KeyPath::from(&["x", "y"][..]));
    assert_eq!(a, KeyPath::from(&["x", "y"]));
    assert_eq!(a, [b"x".to_vec(), b"y".to_vec()].into_iter().collect());
    assert_eq!(a, KeyPath::new().child("x").child(b"y"));
    assert_eq!(a.parent(), Some(KeyPath::from(["x"])));
    assert!(a.starts_with(&KeyPath::from(["x"])));
    assert!(!a.starts_with(&KeyPath::from(["y"])));
}

#[test]
fn users_1_descendants_sort_before_users_10_and_users_2() {
    let under_1 =
        KeyPath::from(["users", "1", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"]).to_bytes();
    let deep = KeyPath::from(["users", "1", "a", "b", "c", "d"]).to_bytes();
    for later in [["users", "10"], ["users", "2"], ["users", "1\x01"]] {
        let later = KeyPath::from(later).to_bytes();
        assert!(under_1 < later && deep < later);
    }
    let prefix = KeyPath::from(["users", "1"]).prefix_bytes();
    assert!(under_1.starts_with(&prefix) && deep.starts_with(&prefix));
    assert!(!KeyPath::from(["users", "10"]).to_bytes().starts_with(&prefix));
}

#[test]
fn escapes_in_text_form() {
    let p = KeyPath::from([&b"a/b"[..], b"100%", b"\xff\x00", b"", "é".as_bytes()]);
    assert_eq!(p.to_string(), "a%2Fb/100%25/%FF%00//é");
    assert_eq!(KeyPath::parse(&p.to_string()), Ok(p));
    assert!(KeyPath::parse("bad%2").is_err());
    assert!(KeyPath::parse("bad%zz").is_err());
    assert_eq!(KeyPath::parse(""), Ok(KeyPath::new()));
}

#[test]
fn malformed_encodings_are_errors() {
    for bad in [&b"abc"[..], b"a\x00", b"a\x00\x02", b"a\x00\x01b"] {
        assert!(KeyPath::decode(bad).is_err(), "{bad:?}");
    }
    assert_eq!(KeyPath::decode(b""), Ok(KeyPath::new()));
}

#[test]
fn random_paths_round_trip_and_keep_tuple_order() {
    let mut rng = Rng(0x5eed_0001);
    for _ in 0..20_000 {
        let (a, b) = (rng.path(), rng.path());
        let (ea, eb) = (a.to_bytes(), b.to_bytes());
        assert_eq!(a.cmp(&b), ea.cmp(&eb), "{a:?} vs {b:?}");
        assert_eq!(KeyPath::decode(&ea).as_ref(), Ok(&a));
        assert_eq!(
            KeyPath::parse(&a.to_string()).map(|p| p.to_bytes()),
            Ok(if a.len() == 1 && a.segment(0) == Some(&[][..]) { Vec::new() } else { ea.clone() })
        );
        assert_eq!(eb.starts_with(&ea), b.starts_with(&a), "{a:?} prefix of {b:?}");
    }
}

fn check_int_order<T: OrderedInt + Ord + std::fmt::Debug>(values: &[T]) {
    for &a in values {
        assert_eq!(T::from_ordered_bytes(a.to_ordered_bytes().as_ref()), Ok(a));
        for &b in values {
            let (ea, eb) = (a.to_ordered_bytes(), b.to_ordered_bytes());
            assert_eq!(a.cmp(&b), ea.as_ref().cmp(eb.as_ref()), "{a:?} vs {b:?}");
        }
    }
}

#[test]
fn random_integers_keep_numeric_order() {
    let mut rng = Rng(0x5eed_0002);
    let mut u64s = vec![0, 1, u64::MAX, u64::MAX - 1, 255, 256];
    let mut i64s = vec![0, 1, -1, i64::MIN, i64::MAX, -256, 255];
    for _ in 0..300 {
        let x = rng.next() >> rng.below(64);
        u64s.push(x);
        i64s.push(x as i64);
    }
    check_int_order(&u64s);
    check_int_order(&i64s);
    check_int_order(&u64s.iter().map(|&x| x as u32).collect::<Vec<_>>());
    check_int_order(&i64s.iter().map(|&x| x as i32).collect::<Vec<_>>());
    assert!(u32::from_ordered_bytes(&[0; 8]).is_err());
}

#[test]
fn integer_segments_sort_numerically_inside_paths() {
    let mut rng = Rng(0x5eed_0003);
    let mut keys: Vec<(i64, u32, Vec<u8>)> = (0..2000)
        .map(|_| {
            let a = rng.next() as i64 >> rng.below(63);
            let b = rng.below(5) as u32;
            let path = KeyPath::from(["t"]).child(a.to_ordered_bytes()).child(b.to_ordered_bytes());
            (a, b, path.to_bytes())
        })
        .collect();
    keys.sort_by(|x, y| x.2.cmp(&y.2));
    for w in keys.windows(2) {
        assert!((w[0].0, w[0].1) <= (w[1].0, w[1].1));
    }
    let p = KeyPath::decode(&keys[0].2).unwrap();
    assert_eq!(p.segment_as::<i64>(1), Ok(keys[0].0));
    assert_eq!(p.segment_as::<u32>(2), Ok(keys[0].1));
    assert!(p.segment_as::<u32>(1).is_err());
    assert!(p.segment_as::<u32>(9).is_err());
}
