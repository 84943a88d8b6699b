#!/usr/bin/env bash
# Random reads on a database larger than memory: folio and LMDB side by side, each under the
# same cgroup (v1) memory limit, with the page cache dropped before each pass (1 thread, then
# all cores), each pass looking up its own keys.
#
#   sudo scripts/larger-than-memory.sh [LIMIT_MIB] [ENTRIES] [LOOKUPS]
#
# Defaults: a 768 MiB limit and 16,000,000 entries (24-byte keys, 150-byte values: about
# 3.3 GB for folio and 4.4 GB for LMDB on disk, over four times the limit), 100,000 lookups
# per pass. The
# databases are built outside the cgroup first (in $LTM_DIR, default /var/tmp/folio-ltm; it
# needs about 10 GB free), then each engine's reads run inside it. The harness prints the
# process's anonymous memory before and after the reads: it must stay flat, since only the
# file-backed map pages (which the kernel evicts) grow with the database.
#
# Needs root (cgroup v1 memory controller at /sys/fs/cgroup/memory, and drop_caches).
set -euo pipefail

limit_mib=${1:-768}
entries=${2:-16000000}
lookups=${3:-100000}
dir=${LTM_DIR:-/var/tmp/folio-ltm}
cg=/sys/fs/cgroup/memory/folio-ltm

here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --manifest-path "$here/benches/compare/Cargo.toml"
bin="$here/benches/compare/target/release/folio-compare"

if [ ! -d "$dir/folio" ] || [ ! -d "$dir/lmdb" ] || [ "${LTM_REBUILD:-0}" = 1 ]; then
    echo "building $entries entries per engine in $dir (outside the memory limit)"
    mkdir -p "$dir"
    "$bin" --phase load --n "$entries" --engines folio,lmdb --dir "$dir"
fi
du -sh "$dir"/folio "$dir"/lmdb

mkdir -p "$cg"
echo $((limit_mib << 20)) > "$cg/memory.limit_in_bytes"
# One process per pass, page cache dropped before each: every pass starts cold.
for pass in one all; do
    for engine in folio lmdb; do
        sync
        echo 1 > /proc/sys/vm/drop_caches
        echo "== $engine under a $limit_mib MiB limit, pass: $pass"
        # The subshell moves itself into the cgroup, so the harness and its page cache are
        # charged to it.
        (echo $BASHPID > "$cg/cgroup.procs" && exec "$bin" --phase reads --n "$entries" \
            --lookups "$lookups" --engines "$engine" --dir "$dir" --pass "$pass")
    done
done
echo "peak memory charged to the cgroup: $(( $(cat "$cg/memory.max_usage_in_bytes") >> 20 )) MiB"
