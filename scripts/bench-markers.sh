#!/usr/bin/env bash
# `targets` over the synthetic monorepo with markers in 2% of its files, against the same monorepo
# without markers (today's scan), one build, in the same run (BENCHMARKS.md, "Markers: targets with 2%
# of the files marked"). Runs are interleaved so that load from elsewhere hits both alike.
#
#   scripts/bench-markers.sh BIN [FILES=10000] [RUNS=21]
#
# The marked copy adds to every 50th file (sorted by path) a document with a Helm-values-like value and
# a container argument, both marked `# {"$modelbump": "NAME"}`.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "$1")
files=${2:-10000}
runs=${3:-21}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 scripts/gen-monorepo.py "$work/plain" "$files" 2 >&2
cp -r "$work/plain" "$work/marked"
python3 - "$work/marked" <<'PY'
import os, sys
root = sys.argv[1]
paths = sorted(
    os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith((".yaml", ".yml"))
)
for i, p in enumerate(paths[::50]):
    with open(p, "a") as out:
        out.write(
            "\n---\nmodel:\n  uri: s3://models/m%d/v1/  # {\"$modelbump\": \"m%d\"}\n"
            "args:\n  - --model=s3://models/m%d/v1/  # {\"$modelbump\": \"m%d-args\"}\n" % (i, i, i, i)
        )
print(f"marked {len(paths[::50])} of {len(paths)} files", file=sys.stderr)
PY
for repo in plain marked; do  # both must be listed before their timings mean anything
  "$bin" -C "$work/$repo" -o json targets >"$work/$repo.json"
done
python3 - "$work" "$bin" "$runs" "$files" <<'PY'
import json, resource, statistics, subprocess, sys, time
work, binary, runs, files = sys.argv[1:]
runs = int(runs)
rows = {r: len(json.load(open(f"{work}/{r}.json"))["targets"]) for r in ("plain", "marked")}
wall = {"plain": [], "marked": []}
cpu = {"plain": [], "marked": []}
for i in range(runs):
    for repo in ("plain", "marked") if i % 2 == 0 else ("marked", "plain"):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run([binary, "-C", f"{work}/{repo}", "targets"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        wall[repo].append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[repo].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
print(f"{runs} interleaved runs each; targets over {files} YAML files; rows listed: {rows}\n")
print("| repo | wall (median) | CPU (median) | wall vs plain | CPU vs plain |")
print("|---|---|---|---|---|")
pw, pc = statistics.median(wall["plain"]), statistics.median(cpu["plain"])
for repo in ("plain", "marked"):
    w, c = statistics.median(wall[repo]), statistics.median(cpu[repo])
    print(f"| {repo} | {w*1000:.1f} ms | {c*1000:.1f} ms | {w/pw:.2f}x | {c/pc:.2f}x |")
PY
