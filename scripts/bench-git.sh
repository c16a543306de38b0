#!/usr/bin/env bash
# Benchmarks of git write-back, recorded in BENCHMARKS.md ("Git write-back").
#
# 1. `modelbump commit` of one changed manifest in repositories of 5,000 and 50,000 tracked files, against
#    `git commit FILE` of the same change in the same repository (the baseline, measured in the same run).
#    With a configured target, modelbump reads only that file, HEAD's tree along its path and the index;
#    `git commit FILE` refreshes the whole index. Also measured: `commit` without a config, which has to
#    look for modified YAML files and so does grow with the repository.
# 2. 1, 8 and 16 `modelbump commit --push` processes, each changing a different model of one file, pushing
#    at once to one loopback smart-HTTP remote (`git http-backend`, so the server checks the old value of
#    the ref like any forge) with the default push settings: failures, values landed, retries, the most
#    attempts one writer needed, and the wall time until all have exited, as a ratio to one writer in
#    the same round.
#
# Usage: scripts/bench-git.sh            (builds the release binary first)
#        MODELBUMP_BIN=path RUNS=15 SIZES="5000 50000" WRITERS="8 16" ROUNDS=3 scripts/bench-git.sh
#        SIZES= scripts/bench-git.sh     (the concurrent writers only)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z "${MODELBUMP_BIN:-}" ]]; then
    (cd "$root" && cargo build --release --quiet --bin modelbump)
    MODELBUMP_BIN="${CARGO_TARGET_DIR:-$root/target}/release/modelbump"
fi
RUNS=${RUNS:-15}
SIZES=${SIZES-"5000 50000"}
WRITERS=${WRITERS:-"8 16"}
ROUNDS=${ROUNDS:-3}

tmp=$(mktemp -d)
server_pid=""
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

export HOME="$tmp/home" GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 NO_COLOR=1 MODELBUMP_LOG=warn
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid
mkdir -p "$HOME"

model() { # name uri
    printf 'apiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata:\n  name: %s\nspec:\n  storageUri: %s  # from MLflow\n  requirements:\n  - mlflow\n' "$1" "$2"
}

# A repository of $1 tracked files: apps/app-N/svc-M.yaml plus k8s/models.yaml, built with fast-import.
make_repo() {
    local n=$1 dir=$2
    git init -q -b main "$dir"
    python3 - "$n" <<'EOF' | git -C "$dir" fast-import --quiet
import sys
n = int(sys.argv[1])
out = sys.stdout
out.write("commit refs/heads/main\ncommitter bench <bench@example.invalid> 1767225600 +0000\n")
out.write("data 7\ninitial\n")
for i in range(n - 1):
    body = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: svc-{i}\ndata:\n  replicas: \"{i % 7}\"\n"
    out.write(f"M 100644 inline apps/app-{i // 100}/svc-{i}.yaml\ndata {len(body.encode())}\n{body}")
body = ("apiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata:\n  name: alpha\nspec:\n"
        "  storageUri: s3://models/alpha/0/  # from MLflow\n  requirements:\n  - mlflow\n")
out.write(f"M 100644 inline k8s/models.yaml\ndata {len(body.encode())}\n{body}\n")
EOF
    git -C "$dir" reset -q --hard main
    git -C "$dir" update-index --refresh >/dev/null || true
}

now_ns() { date +%s%N; }

# Median of a column of numbers (seconds), printed in milliseconds.
median_ms() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.0f", m*1000}'; }

# Runs a command and appends "wall cpu" seconds (cpu = user + sys of the process) to the file $1.
timed() {
    local file=$1
    shift
    local TIMEFORMAT='%3R %3U %3S'
    { time "$@" >/dev/null 2>&1; } 2>>"$file.raw"
    tail -n 1 "$file.raw" | awk '{printf "%s %.3f\n", $1, $2 + $3}' >>"$file"
}

# Times $RUNS commits of one changed file: modelbump with a configured target, modelbump without a
# config, and `git commit FILE`. Prints median wall and CPU milliseconds.
bench_commit() {
    local n=$1 dir="$tmp/repo-$1"
    make_repo "$n" "$dir"
    local files
    files=$(git -C "$dir" ls-files | wc -l)
    rm -f "$tmp"/t.*
    printf 'targets:\n  - file: k8s/models.yaml\n    name: alpha\n    pinned: true\n' >"$tmp/config.yaml"
    for r in $(seq 1 "$RUNS"); do
        "$MODELBUMP_BIN" -C "$dir" set k8s/models.yaml alpha "s3://models/alpha/a$r/" >/dev/null
        timed "$tmp/t.config" "$MODELBUMP_BIN" -C "$dir" -c "$tmp/config.yaml" commit
        "$MODELBUMP_BIN" -C "$dir" set k8s/models.yaml alpha "s3://models/alpha/b$r/" >/dev/null
        timed "$tmp/t.scan" "$MODELBUMP_BIN" -C "$dir" commit
        "$MODELBUMP_BIN" -C "$dir" set k8s/models.yaml alpha "s3://models/alpha/c$r/" >/dev/null
        timed "$tmp/t.git" git -C "$dir" commit -q -m "baseline" k8s/models.yaml
    done
    [[ -z "$(git -C "$dir" status --porcelain)" ]] || { echo "unexpected changes in $dir" >&2; exit 1; }
    [[ $(git -C "$dir" rev-list --count main) -eq $((3 * RUNS + 1)) ]] || { echo "missing commits in $dir" >&2; exit 1; }
    local cw cc sw sc gw gc
    cw=$(cut -d' ' -f1 "$tmp/t.config" | median_ms); cc=$(cut -d' ' -f2 "$tmp/t.config" | median_ms)
    sw=$(cut -d' ' -f1 "$tmp/t.scan" | median_ms); sc=$(cut -d' ' -f2 "$tmp/t.scan" | median_ms)
    gw=$(cut -d' ' -f1 "$tmp/t.git" | median_ms); gc=$(cut -d' ' -f2 "$tmp/t.git" | median_ms)
    printf '| %s | %s / %s | %s / %s | %s / %s | %s |\n' "$files" "$cw" "$cc" "$sw" "$sc" "$gw" "$gc" \
        "$(awk -v a="$cc" -v c="$gc" 'BEGIN {printf "%.2f", a / c}')"
    rm -rf "$dir"
}

# A smart-HTTP git server on a loopback port: `git http-backend` as CGI behind Python's HTTP server, so
# that pushes go through libgit2's HTTP transport and the server checks the old value of the ref, as a
# forge does. Sets server_pid and server_port; the server stops by itself after ten minutes.
start_http_server() {
    local root=$1
    rm -f "$tmp/http.port"
    python3 - "$root" >"$tmp/http.port" 2>"$tmp/http.log" <<'EOF_PY' &
import http.server, os, subprocess, sys, threading
root = sys.argv[1]
threading.Timer(600, lambda: os._exit(0)).start()
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))
    def serve(self):
        body = self.body()
        path, _, query = self.path.partition("?")
        env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": root, "GIT_HTTP_EXPORT_ALL": "1",
               "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
               "REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query,
               "CONTENT_LENGTH": str(len(body)), "REMOTE_USER": "pusher", "REMOTE_ADDR": "127.0.0.1"}
        for header, var in (("Content-Type", "CONTENT_TYPE"), ("Git-Protocol", "HTTP_GIT_PROTOCOL"),
                            ("Content-Encoding", "HTTP_CONTENT_ENCODING")):
            if self.headers.get(header):
                env[var] = self.headers[header]
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = "200 OK", []
        for line in head.decode().split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = value.strip()
            elif key:
                headers.append((key, value.strip()))
        self.send_response(int(status.split()[0]), status.partition(" ")[2])
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)
        self.close_connection = True
    do_GET = do_POST = serve
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
EOF_PY
    server_pid=$!
    for _ in $(seq 1 50); do
        [[ -s "$tmp/http.port" ]] && break
        sleep 0.1
    done
    server_port=$(cat "$tmp/http.port")
}

# $1 processes pushing different models of one file to one loopback smart-HTTP remote at once, with the
# default settings. Prints one table row: writers, failed, values landed, pushes retried, the most
# attempts one writer needed, wall time in ms.
bench_pushers() {
    local writers=$1 port remote="$tmp/served/models.git" seed="$tmp/seed"
    rm -rf "$tmp/served" "$tmp"/p* "$seed"
    mkdir -p "$tmp/served"
    git init -q --bare -b main "$remote"
    git init -q -b main "$seed"
    : > "$seed/models.yaml"
    for i in $(seq 1 "$writers"); do
        [[ $i -gt 1 ]] && echo '---' >> "$seed/models.yaml"
        model "m$i" "s3://models/m$i/v1/" >> "$seed/models.yaml"
    done
    git -C "$seed" add -A && git -C "$seed" commit -q -m initial
    git -C "$seed" push -q "$remote" main
    start_http_server "$tmp/served"
    port=$server_port
    for i in $(seq 1 "$writers"); do
        git clone -q "http://127.0.0.1:$port/models.git" "$tmp/p$i"
        "$MODELBUMP_BIN" -C "$tmp/p$i" set models.yaml "m$i" "s3://models/m$i/v2/" >/dev/null
    done
    local t0 t1 pids=() failed=0
    t0=$(now_ns)
    for i in $(seq 1 "$writers"); do
        MODELBUMP_LOG=info "$MODELBUMP_BIN" -C "$tmp/p$i" commit --push >"$tmp/p$i.out" 2>"$tmp/p$i.err" &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then
            failed=$((failed + 1))
            echo "writer $((i + 1)) failed: $(tail -n 1 "$tmp/p$((i + 1)).err")" >&2
        fi
    done
    t1=$(now_ns)
    kill "$server_pid" 2>/dev/null || true
    server_pid=""
    local landed commits retried most
    landed=$(git -C "$remote" show main:models.yaml | grep -c 'v2/' || true)
    commits=$(git -C "$remote" rev-list --count main)
    [[ $commits -eq $((writers + 1)) ]] || echo "expected $((writers + 1)) commits on the remote, found $commits" >&2
    retried=$(cat "$tmp"/p*.err | grep -c 'retrying on the fresh tip' || true)
    most=$( (cat "$tmp"/p*.err | grep -o 'attempt [0-9]*/' || true) | tr -dc '0-9\n' | sort -n | tail -n 1)
    echo "$writers $failed $landed $retried ${most:-1} $(( (t1 - t0) / 1000000 ))"
}

echo "modelbump: $("$MODELBUMP_BIN" --version), git: $(git --version), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $RUNS runs per size"
echo
echo "Medians, wall / CPU (user + sys) in ms:"
echo
echo "| tracked files | modelbump commit, target configured | modelbump commit, no config (scan) | git commit FILE (baseline) | modelbump / git, CPU |"
echo "|---:|---:|---:|---:|---:|"
for n in $SIZES; do bench_commit "$n"; done
echo
echo "Concurrent writers over smart HTTP, default settings; the ratio is the wall time against one writer"
echo "in the same round:"
echo
echo "| round | writers | failed | values landed | pushes retried | most attempts by one writer | wall time (ms) | / 1 writer |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for round in $(seq 1 "$ROUNDS"); do
    base=""
    for w in 1 $WRITERS; do
        bench_pushers "$w" >"$tmp/row"
        read -r writers failed landed retried most wall <"$tmp/row"
        [[ -z "$base" ]] && base=$wall
        printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$round" "$writers" "$failed" "$landed" "$retried" "$most" "$wall" \
            "$(awk -v a="$wall" -v b="$base" 'BEGIN {printf "%.1f", a / b}')"
    done
done
