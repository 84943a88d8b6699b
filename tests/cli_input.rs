//! Keys and values of any size and any bytes on the `folio` command line: values from a file
//! or stdin, `--hex` for keys and values apart, escapes that round-trip from `scan` to
//! `get`; exit status 2 for every usage error; and each subcommand's `--help` listing only
//! the options it takes.
#![cfg(feature = "cli")]

mod cli_support;
mod common;

use std::path::Path;

use cli_support::{fails, ok, run, run_with_input};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn values_over_a_mebibyte_come_from_stdin_or_a_file() {
    let _serial = cli_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let value = common::Rng::new(5).bytes(3 << 20);
    let r = run_with_input(&["put", s(&db), "big", "--value-file", "-"], &value);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(run(&["get", s(&db), "big", "--raw"]).stdout, value);
    let file = dir.path().join("value.bin");
    std::fs::write(&file, &value[..1_500_000]).unwrap();
    ok(&["put", s(&db), "from-file", "--value-file", s(&file), "--table", "t"]);
    assert_eq!(
        run(&["get", s(&db), "from-file", "--raw", "--table", "t"]).stdout,
        &value[..1_500_000]
    );
    // A value of exactly "-" is still a value.
    ok(&["put", s(&db), "dash", "-"]);
    assert_eq!(ok(&["get", s(&db), "dash"]), "-\n");
    assert!(
        fails(&["put", s(&db), "k", "--value-file", s(&dir.path().join("none"))])
            .contains("cannot open")
    );
}

#[test]
fn hex_applies_to_keys_and_values_apart() {
    let _serial = cli_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    ok(&["put", s(&db), "00ff", "text value", "--hex-key"]);
    ok(&["put", s(&db), "text key", "0001", "--hex-value"]);
    assert_eq!(ok(&["get", s(&db), "00ff", "--hex-key"]), "text value\n");
    assert_eq!(ok(&["get", s(&db), "text key", "--hex-value"]), "0001\n");
    assert_eq!(
        ok(&["scan", s(&db), "--hex-key"]),
        "00ff\ttext value\n74657874206b6579\t\\x00\\x01\n"
    );
    assert_eq!(ok(&["scan", s(&db), "--hex-value", "--prefix", "text"]), "text key\t0001\n");
    ok(&["delete", s(&db), "00ff", "--hex"]);
}

#[test]
fn what_scan_prints_can_be_typed_back() {
    let _serial = cli_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let keys: [&[u8]; 7] = [
        b"back\\slash",
        b"tab\there",
        b"new\nline",
        b"\x00\xff\x7f",
        "é\u{1}".as_bytes(),
        b"a\rb",
        b"\\x41",
    ];
    for (i, k) in keys.iter().enumerate() {
        let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
        ok(&["put", s(&db), &hex, &format!("v{i}"), "--hex-key"]);
    }
    let printed = ok(&["scan", s(&db), "--keys-only"]);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), keys.len(), "{printed}");
    for line in &lines {
        let got = ok(&["get", s(&db), line]);
        assert!(got.starts_with('v'), "get {line:?} gave {got:?}");
    }
    assert!(lines.contains(&"back\\\\slash") && lines.contains(&"\\\\x41"), "{printed}");
    // The error names the key the way it is typed: escaped once.
    assert_eq!(
        fails(&["get", s(&db), "back\\\\slash2"]),
        "folio: error: key \"back\\\\slash2\" not found"
    );
    ok(&["delete", s(&db), "tab\\there"]);
    assert_eq!(ok(&["scan", s(&db), "--keys-only"]).lines().count(), keys.len() - 1);
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let _serial = cli_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    ok(&["put", s(&db), "k", "v"]);
    for args in [
        vec!["get", s(&db), "back\\slash"],
        vec!["get", s(&db), "\\x4"],
        vec!["put", s(&db), "k", "zz", "--hex"],
        vec!["scan", s(&db), "--from", "0g", "--hex"],
        vec!["delete", s(&db), "abc", "--hex"],
    ] {
        let r = run(&args);
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("folio: error: "), "{}", r.stderr);
    }
    for args in [
        vec!["bench", "--seconds", "0"],
        vec!["bench", "--seconds", "-1"],
        vec!["bench", "--records", "10"],
        vec!["bench", "--workload", "g"],
        vec!["put", s(&db), "k"],
        vec!["put", s(&db), "k", "v", "--value-file", "-"],
        vec!["put", s(&db), "k", "--value-file", "-", "--hex-value"],
        vec!["get", s(&db), "k", "--raw", "--hex"],
        vec!["check", s(&db), "--table", "t"],
        vec!["vacuum", s(&db), "--table", "t"],
        vec!["dump", s(&db), "--hex"],
        vec!["pages", s(&db), "--page-size", "1000"],
    ] {
        assert_eq!(run(&args).code, Some(2), "{args:?}");
    }
    assert_eq!(ok(&["get", s(&db), "k"]), "v\n", "usage errors changed nothing");
}

#[test]
fn help_lists_only_the_options_each_command_takes() {
    let _serial = cli_support::serial();
    let with_table = ["get", "put", "delete", "scan", "stats", "dump", "load", "bench"];
    let with_hex = ["get", "put", "delete", "scan", "page"];
    for cmd in [
        "get",
        "put",
        "delete",
        "scan",
        "stats",
        "check",
        "checkpoint",
        "vacuum",
        "compact",
        "backup",
        "dump",
        "load",
        "drop-table",
        "rename-table",
        "pages",
        "page",
        "bench",
    ] {
        let help = ok(&[cmd, "--help"]);
        assert_eq!(help.contains("--table"), with_table.contains(&cmd), "{cmd} --help:\n{help}");
        assert_eq!(help.contains("--hex"), with_hex.contains(&cmd), "{cmd} --help:\n{help}");
    }
    let top = ok(&["--help"]);
    assert!(top.contains("Exit status") && top.contains("closed early"), "{top}");
}
