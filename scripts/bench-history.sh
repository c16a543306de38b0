#!/bin/sh
# The cost of `modelbump history` on a repository with COMMITS commits of which TOUCHING change the
# target's file, against `git log --format=%H -- FILE` (the same walk by git itself) in the same run.
#
#   scripts/bench-history.sh target/release/modelbump [COMMITS] [TOUCHING] [RUNS]
#
# The repository is generated with `git fast-import` (each commit changes one of 50 other files, every
# COMMITS/TOUCHING-th changes the target's URI), so generating it takes seconds.
set -eu
bin=$(realpath "$1")
commits=${2:-10000}
touching=${3:-100}
runs=${4:-9}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
repo=$dir/repo
git init -q -b main "$repo"
every=$((commits / touching))
python3 - "$commits" "$every" > "$dir/stream" <<'PY'
import sys
commits, every = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout
model = "apiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata:\n  name: iris\nspec:\n  storageUri: s3://bucket/models/{}/\n"
config = "targets:\n  - file: k8s/model.yaml\n    name: iris\n    kind: Model\n    run: {experiment: iris}\n"
version = 0
for n in range(1, commits + 1):
    out.write("commit refs/heads/main\n")
    out.write(f"committer Bench <bench@example.invalid> {1700000000 + n} +0000\n")
    msg = f"commit {n}"
    out.write(f"data {len(msg)}\n{msg}\n")
    if n == 1:
        for name, text in (("modelbump.yaml", config), ("k8s/model.yaml", model.format(0))):
            out.write(f"M 100644 inline {name}\n"); out.write(f"data {len(text.encode())}\n{text}\n")
    if n > 1 and n % every == 0:
        version += 1
        text = model.format(version)
        out.write("M 100644 inline k8s/model.yaml\n"); out.write(f"data {len(text.encode())}\n{text}\n")
    else:
        text = f"value: {n}\n"
        out.write(f"M 100644 inline other/file-{n % 50}.yaml\n"); out.write(f"data {len(text.encode())}\n{text}\n")
    out.write("\n")
PY
(cd "$repo" && git fast-import --quiet < "$dir/stream" && git checkout -q main)
echo "repo: $(git -C "$repo" rev-list --count HEAD) commits, $(git -C "$repo" rev-list --count HEAD -- k8s/model.yaml) touching k8s/model.yaml"
changes=$("$bin" -C "$repo" -o json history iris | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["targets"][0]["changes"]))')
echo "history lists $changes changes"
# Wall-clock milliseconds of one command, interleaved runs, medians.
ms() { python3 -c 'import subprocess,sys,time; t=time.perf_counter(); subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,check=True); print(round((time.perf_counter()-t)*1000,1))' "$@"; }
h=""; g=""
for _ in $(seq "$runs"); do
  h="$h $(ms "$bin" -C "$repo" history iris)"
  g="$g $(ms git -C "$repo" log --format=%H -- k8s/model.yaml)"
done
python3 - "$h" "$g" <<'PY'
import statistics, sys
h = statistics.median(float(x) for x in sys.argv[1].split())
g = statistics.median(float(x) for x in sys.argv[2].split())
print(f"median of runs: modelbump history {h:.1f} ms, git log -- FILE {g:.1f} ms, ratio {h/g:.2f}x")
PY
