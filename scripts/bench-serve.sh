#!/usr/bin/env bash
# Benchmark of `modelbump serve`, recorded in BENCHMARKS.md ("serve").
#
# A real MLflow 3.17.2 server (sqlite, webhooks to loopback allowed, 1 s webhook cache), a bare git remote,
# one registered model with ROUNDS+2 versions, and `modelbump serve --interval 0` with a webhook registered
# through MLflow's REST API. Each round moves the alias `champion` to the next version and measures:
#   - event-to-push: from the moment MLflow's alias call returned to the commit on the remote (sync excluded:
#     no Argo CD configured), polled every 5 ms;
#   - delivery-to-push: from serve's "webhook delivery accepted" log line to its "run finished" line (after
#     the push), from the JSON logs' timestamps;
# and, in the same round, the baseline: a plain `modelbump run` of the same kind of change in a second clone
# (process start to exit, after its push). The idle memory of serve (VmRSS) is read after start-up and after
# the rounds.
#
# Usage: scripts/bench-serve.sh                      (builds the release binary first)
#        MODELBUMP_BIN=path ROUNDS=10 scripts/bench-serve.sh
# Needs the MLflow venv the tests provision (MODELBUMP_TEST_DEPS, default target/test-deps).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z "${MODELBUMP_BIN:-}" ]]; then
    (cd "$root" && cargo build --release --quiet --bin modelbump)
    MODELBUMP_BIN="${CARGO_TARGET_DIR:-$root/target}/release/modelbump"
fi
deps=${MODELBUMP_TEST_DEPS:-$root/target/test-deps}
python="$deps/mlflow-3.17.2/bin/python"
[[ -x "$python" ]] || { echo "no MLflow venv at $deps/mlflow-3.17.2: run the MLflow tests once (cargo test --test tests mlflow)" >&2; exit 1; }
MODELBUMP_BIN="$MODELBUMP_BIN" ROUNDS="${ROUNDS:-10}" exec "$python" "$root/scripts/bench_serve.py"
