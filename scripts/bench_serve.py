"""Driver of scripts/bench-serve.sh: see there."""
import json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time
from datetime import datetime

import requests

BIN = os.environ["MODELBUMP_BIN"]
ROUNDS = int(os.environ.get("ROUNDS", "10"))
MLMODEL = "artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git(cwd, *args):
    env = dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.invalid",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.invalid")
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


tmp = tempfile.mkdtemp(prefix="bench-serve-")
procs = []
try:
    # MLflow
    port = free_port()
    art = os.path.join(tmp, "artifacts")
    os.makedirs(art)
    env = dict(os.environ, MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS="true", MLFLOW_WEBHOOK_ALLOWED_SCHEMES="http,https",
               MLFLOW_WEBHOOK_CACHE_TTL="1", MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    env.pop("MLFLOW_TRACKING_URI", None)
    mlflow = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "mlflow"), "server", "--host", "127.0.0.1",
                               "--port", str(port), "--workers", "1", "--backend-store-uri",
                               f"sqlite:///{tmp}/mlflow.db", "--default-artifact-root", art],
                              env=env, stdout=open(f"{tmp}/mlflow.log", "w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    procs.append(mlflow)
    url = f"http://127.0.0.1:{port}"
    api = url + "/api/2.0/mlflow/"
    for _ in range(1200):
        try:
            if requests.get(url + "/health", timeout=2).ok:
                break
        except requests.RequestException:
            pass
        time.sleep(0.1)
    post = lambda path, body: requests.post(api + path, json=body, timeout=60).json()
    exp = post("experiments/create", {"name": "bench"})["experiment_id"]
    post("registered-models/create", {"name": "bench-model"})
    uris = []
    for i in range(ROUNDS * 2 + 2):
        run = post("runs/create", {"experiment_id": exp, "start_time": int(time.time() * 1000)})["run"]["info"]
        model = post("logged-models", {"experiment_id": exp, "name": "model", "source_run_id": run["run_id"]})["model"]["info"]
        path = model["artifact_uri"].removeprefix("file://")
        os.makedirs(path, exist_ok=True)
        open(os.path.join(path, "MLmodel"), "w").write(MLMODEL)
        post("runs/outputs", {"run_id": run["run_id"], "models": [{"model_id": model["model_id"], "step": 0}]})
        requests.patch(api + f"logged-models/{model['model_id']}", json={"model_id": model["model_id"], "status": "LOGGED_MODEL_READY"}, timeout=60)
        post("runs/update", {"run_id": run["run_id"], "status": "FINISHED", "end_time": int(time.time() * 1000)})
        version = post("model-versions/create", {"name": "bench-model", "source": f"models:/{model['model_id']}", "run_id": run["run_id"], "model_id": model["model_id"]})["model_version"]["version"]
        uris.append((version, "s3://mlflow-artifacts/" + path.removeprefix(art + "/") + "/"))

    # Git: a bare remote and the seed commit.
    remote = os.path.join(tmp, "remote.git")
    git(tmp, "init", "-q", "--bare", "-b", "main", remote)
    seed = os.path.join(tmp, "seed")
    git(tmp, "clone", "-q", remote, seed)
    os.makedirs(os.path.join(seed, "k8s"))
    manifest = "apiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata:\n  name: {name}\nspec:\n  storageUri: s3://mlflow-artifacts/0/models/m-0/artifacts/\n"
    open(os.path.join(seed, "k8s/serve.yaml"), "w").write(manifest.format(name="served"))
    open(os.path.join(seed, "k8s/run.yaml"), "w").write(manifest.format(name="baseline"))
    target = "  - file: {file}\n    name: {name}\n    registered: {{name: bench-model, alias: {alias}}}\n"
    common = f"mlflow:\n  trackingUri: {url}\nuriRewrite:\n  - from: \"{art}/\"\n    to: \"s3://mlflow-artifacts/\"\n"
    open(os.path.join(seed, "modelbump.yaml"), "w").write(common + "targets:\n" + target.format(file="k8s/serve.yaml", name="served", alias="champion"))
    open(os.path.join(seed, "baseline.yaml"), "w").write(common + "targets:\n" + target.format(file="k8s/run.yaml", name="baseline", alias="baseline"))
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "seed")
    git(seed, "push", "-q", "origin", "main")
    run_clone = os.path.join(tmp, "run-clone")
    git(tmp, "clone", "-q", remote, run_clone)

    # serve
    sport = free_port()
    secret = "bench-secret-0123456789"
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    senv = {"PATH": os.environ["PATH"], "HOME": home, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid", "MODELBUMP_LOG": "info",
            "MODELBUMP_MLFLOW_WEBHOOK_SECRET": secret}
    post("registered-models/alias", {"name": "bench-model", "alias": "champion", "version": uris[0][0]})
    log_path = os.path.join(tmp, "serve.log")
    serve = subprocess.Popen([BIN, "-C", os.path.join(tmp, "serve-clone"), "serve", "--clone", remote,
                              "--listen", f"127.0.0.1:{sport}", "--interval", "0", "--log-format", "json"],
                             env=senv, stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))
    procs.append(serve)
    tip = lambda: git(remote, "rev-parse", "main").strip()
    first = tip()
    while tip() == first:  # the start-up reconciliation commits version 1
        time.sleep(0.05)
    time.sleep(2)
    rss_idle_start = rss_kib(serve.pid)
    hook = post("webhooks", {"name": "bench", "url": f"http://127.0.0.1:{sport}/webhooks/mlflow",
                             "events": [{"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"}], "secret": secret})
    time.sleep(2)  # MLflow's webhook cache (1 s)

    event_to_push, run_wall = [], []
    for r in range(ROUNDS):
        before = tip()
        t0 = time.monotonic()
        post("registered-models/alias", {"name": "bench-model", "alias": "champion", "version": uris[1 + r][0]})
        while tip() == before:
            time.sleep(0.005)
        event_to_push.append(time.monotonic() - t0)
        time.sleep(0.5)  # let serve finish its bookkeeping before the baseline runs
        # Baseline: a plain `run` of the same kind of change (another target, another alias).
        post("registered-models/alias", {"name": "bench-model", "alias": "baseline", "version": uris[ROUNDS + 1 + r][0]})
        git(run_clone, "pull", "-q", "--rebase")
        t0 = time.monotonic()
        subprocess.run([BIN, "-C", run_clone, "-c", os.path.join(run_clone, "baseline.yaml"), "-q", "run"],
                       env=senv, check=True, stdout=subprocess.DEVNULL)
        run_wall.append(time.monotonic() - t0)
    time.sleep(2)
    rss_idle_after = rss_kib(serve.pid)

    accepted, finished = [], []
    for line in open(log_path):
        entry = json.loads(line)
        message = entry.get("fields", {}).get("message", "")
        ts = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()
        if message == "webhook delivery accepted" and entry.get("fields", {}).get("alias") == "champion":
            accepted.append(ts)
        elif message == "run finished":
            finished.append(ts)
    delivery_to_push = []
    for a in accepted:
        after = [f for f in finished if f >= a]
        if after:
            delivery_to_push.append(min(after) - a)

    def line(name, xs):
        xs = sorted(xs)
        return f"{name}: median {statistics.median(xs)*1000:.0f} ms, min {xs[0]*1000:.0f} ms, max {xs[-1]*1000:.0f} ms (n={len(xs)})"
    print(line("event-to-push (alias call returned -> commit on the remote)", event_to_push))
    print(line("delivery-to-push (serve accepted the delivery -> run finished, pushed)", delivery_to_push))
    print(line("baseline: plain `modelbump run` of the same change (process start -> exit)", run_wall))
    print(f"ratio event-to-push / run: {statistics.median(event_to_push) / statistics.median(run_wall):.2f}")
    print(f"serve idle RSS: {rss_idle_start/1024:.1f} MB after start, {rss_idle_after/1024:.1f} MB after {ROUNDS} runs")
finally:
    for p in procs:
        try:
            if p is procs[0]:
                os.killpg(p.pid, signal.SIGTERM)
            else:
                p.send_signal(signal.SIGTERM)
            p.wait(20)
        except Exception:
            p.kill()
    shutil.rmtree(tmp, ignore_errors=True)
