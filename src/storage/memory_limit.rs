//! How much memory this process may use for the page cache: the smaller of physical memory
//! and the memory limit of its cgroup (v1 or v2). Used to decide whether the main file's map
//! should be advised for random access.

use std::sync::OnceLock;

/// The process's memory limit in bytes (cached after the first call).
pub fn memory_limit() -> u64 {
    static LIMIT: OnceLock<u64> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        let total = mem_total().unwrap_or(u64::MAX);
        cgroup_limit().map_or(total, |c| c.min(total))
    })
}

fn mem_total() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The tightest limit on the path from this process's cgroup to the root.
fn cgroup_limit() -> Option<u64> {
    let groups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mut best: Option<u64> = None;
    for line in groups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let (root, file) = if controllers.split(',').any(|c| c == "memory") {
            ("/sys/fs/cgroup/memory", "memory.limit_in_bytes")
        } else if controllers.is_empty() {
            ("/sys/fs/cgroup", "memory.max")
        } else {
            continue;
        };
        let mut dir = std::path::PathBuf::from(root);
        dir.push(path.trim_start_matches('/'));
        // Walk up: a parent's limit binds its children too.
        loop {
            if let Some(v) = std::fs::read_to_string(dir.join(file))
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
            {
                best = Some(best.map_or(v, |b| b.min(v)));
            }
            if dir.as_os_str().len() <= root.len() || !dir.pop() {
                break;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_limit_is_found_and_plausible() {
        let l = super::memory_limit();
        assert!(l > 16 << 20, "memory limit {l} is implausibly small");
    }
}
