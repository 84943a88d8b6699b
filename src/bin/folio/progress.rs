//! Progress bars on standard error, drawn only when it is a terminal: piped or redirected
//! runs (scripts, tests, CI logs) see no bar and no control characters.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress indicator that may be absent; every method is a no-op then.
pub struct Progress(Option<ProgressBar>);

fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

fn styled(bar: ProgressBar, template: &str) -> ProgressBar {
    match ProgressStyle::with_template(template) {
        Ok(style) => bar.with_style(style.progress_chars("=> ")),
        Err(_) => bar,
    }
}

impl Progress {
    /// A bar counting `len` items.
    pub fn items(len: u64, msg: &str) -> Self {
        Self::make(|| {
            let t = "{msg:12} [{bar:30}] {human_pos}/{human_len} ({eta} left)";
            styled(ProgressBar::new(len), t).with_message(msg.to_string())
        })
    }

    /// A bar counting `len` bytes.
    pub fn bytes(len: u64, msg: &str) -> Self {
        Self::make(|| {
            let t = "{msg:12} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)";
            styled(ProgressBar::new(len), t).with_message(msg.to_string())
        })
    }

    /// A spinner for work whose length is unknown.
    pub fn spinner(msg: &str) -> Self {
        Self::make(|| {
            let bar = styled(ProgressBar::new_spinner(), "{spinner} {msg} ({elapsed})")
                .with_message(msg.to_string());
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        })
    }

    fn make(f: impl FnOnce() -> ProgressBar) -> Self {
        Progress(on_terminal().then(f))
    }

    /// Advances by `n`.
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }

    /// Sets the position.
    pub fn set(&self, pos: u64) {
        if let Some(b) = &self.0 {
            b.set_position(pos);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
