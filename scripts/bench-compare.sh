#!/usr/bin/env bash
# Two builds of modelbump side by side, in the same run (BENCHMARKS.md, "Before and after a change"):
# `targets` over a synthetic monorepo of FILES YAML files, and `plan` of the quickstart's two targets
# against its file store (no server, no network). Runs are interleaved, so that load from elsewhere hits
# both builds alike; the table gives medians and the NEW/OLD ratio of wall and CPU time.
#
#   scripts/bench-compare.sh OLD_BIN NEW_BIN [FILES=10000] [RUNS=21]
#
# Build OLD_BIN from the commit to compare with, e.g.
#   git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build --release)
#   scripts/bench-compare.sh /tmp/old/target/release/modelbump target/release/modelbump
set -euo pipefail
cd "$(dirname "$0")/.."
old=$(realpath "$1")
new=$(realpath "$2")
files=${3:-10000}
runs=${4:-21}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 scripts/gen-monorepo.py "$work/repo" "$files" 2 >&2

# The quickstart's repository: the A/B test manifest, its two targets, the shipped file store.
mkdir -p "$work/qs/k8s/base"
cp examples/quickstart/financial-predictor-ab-test.yaml "$work/qs/k8s/base/"
cp -r examples/quickstart/mlruns "$work/qs/mlruns"
sed '/^uriRewrite:/,/^targets:/{/^targets:/!d}' examples/quickstart/modelbump.yaml >"$work/qs/modelbump.yaml"

for bin in "$old" "$new"; do  # both must do the job before their timings mean anything
  "$bin" -C "$work/repo" -o json targets >/dev/null
  MLFLOW_TRACKING_URI="$work/qs/mlruns" "$bin" -C "$work/qs" -o json plan >/dev/null 2>&1
done

python3 - "$work" "$old" "$new" "$runs" "$files" <<'PY'
import os, resource, statistics, subprocess, sys, time
work, old, new, runs, files = sys.argv[1:]
runs = int(runs)
env = dict(os.environ, MLFLOW_TRACKING_URI=f"{work}/qs/mlruns")
cases = {
    "targets": lambda b: [b, "-C", f"{work}/repo", "targets"],
    "plan": lambda b: [b, "-C", f"{work}/qs", "plan"],
}
wall = {(c, w): [] for c in cases for w in ("old", "new")}
cpu = {(c, w): [] for c in cases for w in ("old", "new")}
for i in range(runs):
    for case, argv in cases.items():
        for which, b in (("old", old), ("new", new)) if i % 2 == 0 else (("new", new), ("old", old)):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run(argv(b), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            wall[(case, which)].append(time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[(case, which)].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
print(f"{runs} interleaved runs each; targets over {files} YAML files, plan of 2 targets on a file store\n")
print("| command | old: wall / CPU (median) | new: wall / CPU (median) | new/old wall | new/old CPU |")
print("|---|---|---|---|---|")
for case in cases:
    ow, nw = statistics.median(wall[(case, "old")]), statistics.median(wall[(case, "new")])
    oc, nc = statistics.median(cpu[(case, "old")]), statistics.median(cpu[(case, "new")])
    print(f"| `{case}` | {ow*1000:.1f} / {oc*1000:.1f} ms | {nw*1000:.1f} / {nc*1000:.1f} ms | {nw/ow:.2f}x | {nc/oc:.2f}x |")
PY
