//! Running a test body in a child process: the test binary re-executes itself to run one
//! ignored test, so that a crash of the engine (SIGBUS, SIGSEGV, abort) is a failure the
//! parent reports, not the loss of the whole suite.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The environment variable that tells an ignored child test it was started by its parent.
pub const CHILD_ENV: &str = "FOLIO_TEST_CHILD";

/// Whether this process is a child started by [`run_child`] (ignored tests return early
/// otherwise, so `cargo test -- --ignored` does not run them on their own).
pub fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// What a child printed and how it ended.
pub struct ChildOutcome {
    pub stdout: String,
    pub stderr: String,
}

/// Runs the ignored test `name` of this test binary in a child process with `envs` set,
/// and panics (with the child's output) if it does not exit successfully within `limit`,
/// naming the signal that killed it if one did.
pub fn run_child(name: &str, envs: &[(&str, String)], limit: Duration) -> ChildOutcome {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn child test");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let outcome = ChildOutcome {
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    };
    let show = |why: String| -> ! {
        panic!(
            "child test {name} {why}\n--- child stdout ---\n{}\n--- child stderr ---\n{}",
            outcome.stdout, outcome.stderr
        )
    };
    match status {
        None => show(format!("did not finish within {limit:?}")),
        Some(s) if s.success() => outcome,
        Some(s) => match s.signal() {
            Some(sig) => show(format!("was killed by signal {sig} ({})", signal_name(sig))),
            None => show(format!("failed with {s}")),
        },
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        _ => "other",
    }
}
