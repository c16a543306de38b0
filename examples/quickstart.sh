#!/bin/sh
# The quickstart with an installed `modelbump` (`cargo install --locked --path .`), no cargo needed:
# the same job as `cargo run --release --example quickstart` (examples/quickstart.rs), on this machine,
# with no server and no network.
#
# In a temporary folder it builds a GitOps repository holding the A/B test's Seldon Core manifest and
# the quickstart's modelbump.yaml (both from examples/quickstart/), a bare repository as its `origin`,
# and a copy of the small MLflow file store shipped in examples/quickstart/mlruns, its recorded
# locations pointed at the copy (where the models' MLmodel files are; the config's uriRewrite maps them
# back to the bucket the manifest names). Then it runs `modelbump plan` and `modelbump run` as a
# pipeline step would, and prints the pushed commit and the file as `origin` has it.
# Nothing is written outside the temporary folder. MODELBUMP names another binary to run.
#
#   sh examples/quickstart.sh
set -eu

modelbump=${MODELBUMP:-modelbump}
command -v "$modelbump" >/dev/null 2>&1 || {
    echo "error: $modelbump is not on PATH: install it with \`cargo install --locked --path .\`" >&2
    exit 1
}
fixtures=$(cd "$(dirname "$0")/quickstart" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/modelbump-quickstart-XXXXXX")
manifest=k8s/base/financial-predictor-ab-test.yaml

# A home of its own: no git or MLflow settings of this user reach the job.
export HOME="$work/home" GIT_CONFIG_NOSYSTEM=1 NO_COLOR=1
mkdir -p "$HOME"

# The MLflow store: a copy, its recorded locations pointed at the copy.
cp -R "$fixtures/mlruns" "$work/mlruns"
store_root="file://$work/mlruns/"
find "$work/mlruns" -name meta.yaml | while read -r meta; do
    sed "s|s3://mlflow-artifacts/|$store_root|g" "$meta" >"$meta.new" && mv "$meta.new" "$meta"
done
export MLFLOW_TRACKING_URI="file://$work/mlruns"

# The GitOps repository, its first commit pushed to a bare `origin`.
git init -q --bare "$work/origin.git"
git init -q -b main "$work/gitops"
mkdir -p "$work/gitops/k8s/base"
cp "$fixtures/financial-predictor-ab-test.yaml" "$work/gitops/$manifest"
sed "s|file:///tmp/quickstart/mlruns/|$store_root|" "$fixtures/modelbump.yaml" >"$work/gitops/modelbump.yaml"
git -C "$work/gitops" add "$manifest" modelbump.yaml
git -C "$work/gitops" -c user.name=Quickstart -c user.email=quickstart@example.invalid \
    commit -q -m "GitOps repository of the A/B test"
git -C "$work/gitops" remote add origin "$work/origin.git"
git -C "$work/gitops" push -q -u origin main

echo "== GitOps repository $work/gitops"
echo "== MLflow store      $MLFLOW_TRACKING_URI (no server)"
echo
echo "== modelbump plan"
"$modelbump" -C "$work/gitops" plan
echo
echo "== modelbump run (apply, commit, push)"
"$modelbump" -C "$work/gitops" run
echo
echo "== origin/main is now $(git --git-dir "$work/origin.git" rev-parse main)"
git --git-dir "$work/origin.git" log -1 --format=%B main
echo "== $manifest on origin/main"
git --git-dir "$work/origin.git" show "main:$manifest"
