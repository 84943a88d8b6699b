//! Running the real `folio` binary from integration tests: capture its output, and assert
//! success, or failure with exactly one `folio: error:` line on stderr.
//!
//! Tests that spawn `folio` run one at a time ([`serial`]): a child forked by one test holds
//! copies of every descriptor open in the test process until it execs, and with them the
//! `flock` of any database another test has open at that moment, so that test's next open
//! of its database could fail with `Locked` (a property of `flock` across `fork`).
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

/// Held for the whole of a test that spawns `folio`.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What one run of `folio` produced.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

fn finish(o: Output) -> Run {
    Run {
        code: o.status.code(),
        stdout: o.stdout,
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Runs `folio ARGS` with `stdin` as standard input.
pub fn run_with_input<S: AsRef<OsStr>>(args: &[S], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn folio");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    finish(child.wait_with_output().expect("wait for folio"))
}

/// Runs `folio ARGS` with empty standard input.
pub fn run<S: AsRef<OsStr>>(args: &[S]) -> Run {
    run_with_input(args, b"")
}

/// Runs `folio ARGS`, asserts success and a silent stderr; returns stdout.
pub fn ok<S: AsRef<OsStr> + std::fmt::Debug>(args: &[S]) -> String {
    let r = run(args);
    assert_eq!(r.code, Some(0), "folio {args:?} failed: {}", r.stderr);
    assert!(r.stderr.is_empty(), "folio {args:?} wrote to stderr: {}", r.stderr);
    r.out()
}

/// Runs `folio ARGS`, asserts exit status 1 with one error line; returns that line.
pub fn fails<S: AsRef<OsStr> + std::fmt::Debug>(args: &[S]) -> String {
    let r = run(args);
    assert_one_error(&r, &format!("{args:?}"));
    r.stderr.trim_end().to_string()
}

/// Asserts that `r` failed with exit status 1 and exactly one `folio: error:` line.
pub fn assert_one_error(r: &Run, what: &str) {
    assert_eq!(r.code, Some(1), "folio {what} should fail; stdout: {}", r.out());
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "folio {what} should print one error line: {:?}", r.stderr);
    assert!(lines[0].starts_with("folio: error: "), "{}", lines[0]);
}

/// Runs `folio ARGS` with standard output a pipe whose reader reads `read` bytes and then
/// closes it (`read == 0`: closed before `folio` starts, as `folio ... | true`; `read == 1`:
/// as `folio ... | head -c1`).
pub fn run_into_closed_pipe<S: AsRef<OsStr>>(args: &[S], stdin: &[u8], read: usize) -> Run {
    use std::io::Read;
    let pipe = || {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
        (std::fs::File::from(r), Stdio::from(w))
    };
    let (mut reader, writer) = pipe();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_folio"));
    cmd.args(args).stdin(Stdio::piped()).stdout(writer).stderr(Stdio::piped());
    if read == 0 {
        drop(reader);
        reader = pipe().0;
    }
    let mut child = cmd.spawn().expect("spawn folio");
    drop(cmd); // the only writer left is the child's
    let mut input = child.stdin.take().expect("stdin");
    // A child that never reads its input may close it first: that is not a failure here.
    let _ = input.write_all(stdin);
    drop(input);
    if read > 0 {
        let mut buf = vec![0u8; read];
        let _ = reader.read(&mut buf);
    }
    drop(reader);
    let o = child.wait_with_output().expect("wait for folio");
    Run {
        code: o.status.code(),
        stdout: Vec::new(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}
