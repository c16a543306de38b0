#!/usr/bin/env bash
# The `modelbump targets` benchmark (BENCHMARKS.md, "Editor"): a synthetic monorepo of FILES YAML files
# (2% model manifests), warm cache; `modelbump targets` against `cat` over the same files and against a
# Python PyYAML scan of them, all in the same run; and modelbump's peak memory.
#
#   scripts/bench-targets.sh [FILES=10000] [RUNS=15]
#
# PYTHON: a Python with PyYAML (default: the MLflow virtualenv the tests create under the target folder).
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-10000}
runs=${2:-15}
target=${CARGO_TARGET_DIR:-target}
python=${PYTHON:-$target/test-deps/mlflow-3.17.2/bin/python}
"$python" -c 'import yaml' 2>/dev/null || { echo "no PyYAML in $python; set PYTHON" >&2; exit 1; }

cargo build --release --quiet --bin modelbump
bin=$(cd "$target/release" && pwd)/modelbump
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 scripts/gen-monorepo.py "$work/repo" "$files" 2 >&2
(cd "$work/repo" && find . -type f \( -name '*.yaml' -o -name '*.yml' \) -print0 >"$work/list")

# The outputs must agree before their timings mean anything.
ours=$("$bin" -C "$work/repo" -o json targets | "$python" -c 'import json,sys; print(len(json.load(sys.stdin)["targets"]))')
theirs=$("$python" scripts/pyyaml-scan.py "$work/repo" | wc -l)
[ "$ours" = "$theirs" ] || { echo "modelbump found $ours fields, the PyYAML scan $theirs" >&2; exit 1; }

rss=$(/usr/bin/time -v "$bin" -C "$work/repo" targets 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}')

"$python" - "$work" "$bin" "$python" "$runs" "$files" "$ours" "$rss" <<'PY'
import resource, statistics, subprocess, sys, time
work, bin, python, runs, files, fields, rss = sys.argv[1:]
runs = int(runs)
repo = f"{work}/repo"
commands = {
    "cat (xargs cat of the same files)": f"xargs -0 -a {work}/list cat > /dev/null",
    "modelbump targets": f"{bin} -C {repo} targets > /dev/null",
    "PyYAML scan (CSafeLoader)": f"{python} scripts/pyyaml-scan.py {repo} > /dev/null 2>&1",
}
times = {name: [] for name in commands}
cpu = {name: [] for name in commands}  # user + system time of the children: less sensitive to other load
for name, cmd in commands.items():  # warm the cache and the interpreters
    subprocess.run(cmd, shell=True, cwd=repo if name.startswith("cat") else None, check=True)
for i in range(runs):  # interleaved, so that load from elsewhere hits all three alike
    for name, cmd in commands.items():
        if name.startswith("PyYAML") and i >= max(3, runs // 3):
            continue
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, shell=True, cwd=repo if name.startswith("cat") else None, check=True)
        times[name].append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
med = {n: statistics.median(t) for n, t in times.items()}
mcpu = {n: statistics.median(t) for n, t in cpu.items()}
mb = med["modelbump targets"]
mbc = mcpu["modelbump targets"]
print(f"{files} YAML files, {fields} model URI fields, {runs} interleaved runs (PyYAML: {len(times['PyYAML scan (CSafeLoader)'])}), median (min)\n")
print("| command | wall time | ratio | CPU time (user+sys) | ratio |")
print("|---|---|---|---|---|")
for n, t in times.items():
    print(f"| {n} | {med[n]*1000:.1f} ms ({min(t)*1000:.1f} ms) | {med[n]/mb:.2f}x | {mcpu[n]*1000:.1f} ms | {mcpu[n]/mbc:.2f}x |")
cat = "cat (xargs cat of the same files)"
py = "PyYAML scan (CSafeLoader)"
print(f"\nmodelbump targets / cat: wall {mb/med[cat]:.2f}, CPU {mbc/mcpu[cat]:.2f} (target: <= 3)")
print(f"PyYAML scan / modelbump targets: wall {med[py]/mb:.1f}, CPU {mcpu[py]/mbc:.1f} (target: >= 30)")
print(f"modelbump targets peak RSS: {int(rss)/1024:.1f} MB (target: < 64 MB)")
PY
