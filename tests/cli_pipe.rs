//! Every `folio` subcommand run with its standard output closed, before it starts (`| true`)
//! or after one byte (`| head -c1`), ends quietly with status 0: no panic, nothing on stderr,
//! and what it was asked to do is done.
#![cfg(feature = "cli")]

mod cli_support;

use std::path::{Path, PathBuf};

use cli_support::{ok, run_into_closed_pipe};
use folio::Database;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A database whose every listing is larger than a pipe's buffer, so a writer is still
/// writing when the reader goes away: 2,000 entries (one with an overflow value) and 2,000
/// named tables (which `stats` lists).
fn populated(path: &Path) {
    let db = Database::open(path).unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..2000u32 {
        tx.put(format!("key{i:05}").as_bytes(), format!("value {i}").as_bytes()).unwrap();
        tx.table(&format!("table{i:05}")).unwrap().put(b"k", b"v").unwrap();
    }
    tx.put(b"big", &[7u8; 20_000]).unwrap();
    tx.commit().unwrap();
    db.close().unwrap();
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let _serial = cli_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.db");
    populated(&master);
    let dump = ok(&["dump", s(&master)]);
    let bench_dir = dir.path().join("bench");
    std::fs::create_dir(&bench_dir).unwrap();
    for read in [0usize, 1] {
        let db = dir.path().join(format!("a{read}.db"));
        let fresh = || {
            std::fs::copy(&master, &db).unwrap();
        };
        let copy: PathBuf = dir.path().join(format!("copy{read}.db"));
        let loaded: PathBuf = dir.path().join(format!("loaded{read}.db"));
        let cases: Vec<(Vec<String>, &[u8])> = vec![
            (vec!["get".into(), s(&db).into(), "big".into()], b""),
            (vec!["put".into(), s(&db).into(), "new".into(), "v".into()], b""),
            (
                vec![
                    "put".into(),
                    s(&db).into(),
                    "stdin".into(),
                    "--value-file".into(),
                    "-".into(),
                ],
                b"from stdin",
            ),
            (vec!["delete".into(), s(&db).into(), "key00001".into()], b""),
            (vec!["scan".into(), s(&db).into()], b""),
            (vec!["stats".into(), s(&db).into()], b""),
            (vec!["stats".into(), s(&db).into(), "--json".into()], b""),
            (vec!["check".into(), s(&db).into()], b""),
            (vec!["checkpoint".into(), s(&db).into()], b""),
            (vec!["vacuum".into(), s(&db).into()], b""),
            (vec!["compact".into(), s(&db).into()], b""),
            (vec!["backup".into(), s(&db).into(), s(&copy).into(), "--force".into()], b""),
            (vec!["dump".into(), s(&db).into()], b""),
            (vec!["load".into(), s(&loaded).into()], dump.as_bytes()),
            (vec!["drop-table".into(), s(&db).into(), "table00007".into()], b""),
            (
                vec!["rename-table".into(), s(&db).into(), "table00008".into(), "renamed".into()],
                b"",
            ),
            (vec!["pages".into(), s(&db).into()], b""),
            (vec!["pages".into(), s(&db).into(), "--summary".into()], b""),
            (vec!["page".into(), s(&db).into(), "1".into()], b""),
            (bench(&bench_dir, None), b""),
            (bench(&bench_dir, Some("c")), b""),
            (vec!["--help".into()], b""),
            (vec!["scan".into(), "--help".into()], b""),
            (vec!["--version".into()], b""),
        ];
        for (args, stdin) in cases {
            fresh();
            let r = run_into_closed_pipe(&args, stdin, read);
            let what = format!("{args:?} with stdout closed after {read} byte(s)");
            assert_eq!(r.code, Some(0), "{what}: {}", r.stderr);
            assert!(r.stderr.is_empty(), "{what} wrote to stderr: {}", r.stderr);
            let done = match args[0].as_str() {
                "put" if args[2] == "new" => ok(&["get", s(&db), "new"]) == "v\n",
                "put" => ok(&["get", s(&db), "stdin"]) == "from stdin\n",
                "delete" => cli_support::run(&["get", s(&db), "key00001"]).code == Some(1),
                "load" => ok(&["get", s(&loaded), "key01999"]) == "value 1999\n",
                "drop-table" => !ok(&["stats", s(&db)]).contains("table00007"),
                "rename-table" => ok(&["get", s(&db), "k", "--table", "renamed"]) == "v\n",
                "backup" => ok(&["get", s(&copy), "key00002"]) == "value 2\n",
                _ => true,
            };
            assert!(done, "{what}: the command's work is missing");
            let _ = std::fs::remove_file(&loaded);
        }
    }
    assert_eq!(std::fs::read_dir(&bench_dir).unwrap().count(), 0, "bench left files behind");
}

fn bench(dir: &Path, workload: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = ["bench", "--seconds", "0.1", "--threads", "1", "--dir", s(dir)]
        .iter()
        .map(|a| a.to_string())
        .collect();
    match workload {
        Some(w) => args
            .extend(["--workload", w, "--records", "200", "--operations", "100"].map(String::from)),
        None => args.extend(["--entries", "500"].map(String::from)),
    }
    args
}
