"""Seeds an MLflow tracking store with the real MLflow client, and answers queries with it.

Used by the local-store tests: the same runs go into a sqlite store, a file store or a real server, and
MLflow's own answers are the reference the Rust backends are compared with.

    python local_stores.py seed    URI   -> prints {"runs": {name: id}, "models": {...}} as JSON
    python local_stores.py query   URI   <- reads {"runs": [...], "registry": [...]} on stdin, prints answers

URI is an MLflow tracking URI (sqlite:///..., file:///..., http://127.0.0.1:P); the registry is the same.
"""

import json
import math
import os
import sys

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")

import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402


class Identity(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


# name: (experiment, status, start_time, end_time, metrics [(key, value, ts, step)], params, tags, extras)
RUNS = [
    ("alpha", "exp-a", "FINISHED", 1_000, 1_500,
     [("acc", 0.7, 10, 0), ("acc", 0.95, 11, 1), ("acc", 0.8, 12, 2), ("loss", 0.3, 10, 0)],
     {"variant": "baseline", "lr": "0.01"}, {"team": "ml", "tier": "Gold"}, {"logged_model": True}),
    ("bravo", "exp-a", "FINISHED", 2_000, 2_600,
     [("acc", 0.9, 20, 0), ("loss", 0.2, 20, 0)],
     {"variant": "enhanced", "lr": "0.001"}, {"team": "ML", "tier": "silver"}, {"logged_model": True}),
    ("charlie", "exp-a", "FINISHED", 2_000, 2_700,
     [("acc", 0.9, 21, 0), ("loss", 0.25, 21, 0)],
     {"variant": "Enhanced-v2", "lr": "0.001"}, {"team": "ml_ops", "tier": "gold"}, {}),
    ("delta", "exp-a", "FAILED", 3_000, 3_100,
     [("acc", 0.97, 30, 0)], {"variant": "enhanced"}, {"team": "ml"}, {}),
    ("echo", "exp-a", "RUNNING", 4_000, None,
     [("acc", 0.5, 40, 0)], {"variant": "baseline"}, {"team": "ml"}, {}),
    ("foxtrot", "exp-a", "FINISHED", 5_000, 5_100,
     [("acc", 0.99, 50, 0)], {"variant": "baseline"}, {"team": "ml"}, {"delete": True}),
    ("golf", "exp-a", "FINISHED", 6_000, 6_100,
     [("acc", float("nan"), 60, 0), ("loss", 0.1, 60, 0)], {"variant": "baseline"}, {"team": "ml%"}, {}),
    ("hotel", "exp-a", "FINISHED", 7_000, 7_100,
     [("loss", 0.4, 70, 0)], {"variant": "base_line"}, {}, {"mlflow2_model": True}),
    ("india", "exp-a", "KILLED", 7_500, 7_600,
     [("acc", 0.6, 75, 3), ("acc", 0.65, 74, 3)], {"variant": "enhanced"}, {"team": "ml"}, {}),
    ("juliet", "exp-b", "FINISHED", 8_000, 8_100,
     [("acc", 0.85, 80, 0), ("acc", -0.5, 81, 0)], {"variant": "enhanced"}, {"team": "ml"}, {}),
]


def seed(uri):
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    exps = {}
    for name in ("exp-a", "exp-b"):
        exps[name] = client.create_experiment(name)
    ids, models = {}, {}
    for name, exp, status, start, end, metrics, params, tags, extras in RUNS:
        run = client.create_run(exps[exp], start_time=start, run_name=name, tags=tags)
        rid = run.info.run_id
        ids[name] = rid
        for key, value, ts, step in metrics:
            client.log_metric(rid, key, value, timestamp=ts, step=step)
        for key, value in params.items():
            client.log_param(rid, key, value)
        if extras.get("logged_model"):
            with mlflow.start_run(run_id=rid):
                info = mlflow.pyfunc.log_model(name="model", python_model=Identity(), pip_requirements=[])
            models[name] = info.model_id
        if extras.get("mlflow2_model"):
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                with open(os.path.join(tmp, "MLmodel"), "w") as f:
                    f.write("flavors: {}\n")
                client.log_artifact(rid, os.path.join(tmp, "MLmodel"), artifact_path="model")
        if status == "RUNNING":
            pass
        else:
            client.set_terminated(rid, status=status, end_time=end)
        if extras.get("delete"):
            client.delete_run(rid)

    # A deleted experiment with a finished run: still found by name (lifecycle "deleted").
    exps["exp-gone"] = client.create_experiment("exp-gone")
    gone = client.create_run(exps["exp-gone"], start_time=9_000, run_name="kilo")
    client.log_metric(gone.info.run_id, "acc", 0.5, timestamp=90, step=0)
    client.set_terminated(gone.info.run_id, status="FINISHED", end_time=9_100)
    ids["kilo"] = gone.info.run_id
    client.delete_experiment(exps["exp-gone"])

    client.create_registered_model("fin-model")
    v1 = client.create_model_version("fin-model", f"models:/{models['alpha']}", run_id=ids["alpha"],
                                     model_id=models["alpha"])
    v2 = client.create_model_version("fin-model", f"runs:/{ids['hotel']}/model", run_id=ids["hotel"])
    v3 = client.create_model_version("fin-model", f"models:/{models['bravo']}", run_id=ids["bravo"],
                                     model_id=models["bravo"])
    client.set_registered_model_alias("fin-model", "champion", v1.version)
    client.set_registered_model_alias("fin-model", "challenger", v3.version)
    client.transition_model_version_stage("fin-model", v1.version, "Production")
    client.transition_model_version_stage("fin-model", v2.version, "Staging")
    client.transition_model_version_stage("fin-model", v3.version, "Staging")
    client.create_registered_model("empty-model")
    return {"experiments": exps, "runs": ids, "models": models}


def run_json(r):
    def num(v):
        return None if isinstance(v, float) and math.isnan(v) else v

    return {
        "run_id": r.info.run_id,
        "run_name": r.info.run_name,
        "experiment_id": r.info.experiment_id,
        "status": r.info.status,
        "start_time": r.info.start_time,
        "end_time": r.info.end_time,
        "artifact_uri": r.info.artifact_uri,
        "lifecycle_stage": r.info.lifecycle_stage,
        "metrics": {k: num(v) for k, v in r.data.metrics.items()},
        "metrics_nan": sorted(k for k, v in r.data.metrics.items() if isinstance(v, float) and math.isnan(v)),
        "params": r.data.params,
        "tags": {k: v for k, v in r.data.tags.items()},
        "model_outputs": [o.model_id for o in (r.outputs.model_outputs if r.outputs else [])],
    }


def version_json(v):
    if v is None:
        return None
    return {
        "name": v.name,
        "version": str(v.version),
        "source": v.source,
        "run_id": v.run_id or None,
        "status": v.status,
        "current_stage": v.current_stage,
        "aliases": sorted(v.aliases or []),
    }


def answer(client, q):
    """One query: {"op": ..., args}; returns {"ok": value} or {"error": message}."""
    try:
        op = q["op"]
        if op == "search":
            runs = client.search_runs(
                q["experiment_ids"], q.get("filter", ""), max_results=q.get("max_results", 1000),
                order_by=q.get("order_by") or None,
            )
            return {"ok": [r.info.run_id for r in runs]}
        if op == "run":
            return {"ok": run_json(client.get_run(q["run_id"]))}
        if op == "alias":
            return {"ok": version_json(client.get_model_version_by_alias(q["name"], q["alias"]))}
        if op == "version":
            return {"ok": version_json(client.get_model_version(q["name"], q["version"]))}
        if op == "stage":
            return {"ok": [version_json(v) for v in client.get_latest_versions(q["name"], [q["stage"]])]}
        if op == "download_uri":
            return {"ok": client.get_model_version_download_uri(q["name"], q["version"])}
        if op == "artifacts":
            files = client.list_artifacts(q["run_id"], q.get("path") or None)
            return {"ok": sorted([f.path, f.is_dir] for f in files)}
        if op == "model_artifacts":
            files = client.list_logged_model_artifacts(q["model_id"], q.get("path") or None)
            return {"ok": sorted([f.path, f.is_dir] for f in files)}
        if op == "logged_model":
            m = client.get_logged_model(q["model_id"])
            return {"ok": {"model_id": m.model_id, "name": m.name, "experiment_id": m.experiment_id,
                           "source_run_id": m.source_run_id, "artifact_uri": m.artifact_location}}
        if op == "experiment_by_name":
            e = client.get_experiment_by_name(q["name"])
            return {"ok": None if e is None else {"experiment_id": e.experiment_id, "name": e.name,
                                                   "artifact_location": e.artifact_location,
                                                   "lifecycle_stage": e.lifecycle_stage}}
        raise ValueError(f"unknown op {op}")
    except MlflowException as e:
        # A missing object is "absent" in modelbump's trait (Ok(None)); MLflow says so with an error code
        # (a missing alias is INVALID_PARAMETER_VALUE there).
        if q["op"] in ("run", "alias", "version", "logged_model") and e.error_code in (
            "RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND",
        ):
            return {"ok": None}
        return {"error": f"{e.error_code}: {e.message}"}
    except ValueError as e:
        # MLflow's file store computes `latest` as max() over no versions and crashes where the SQL store
        # says RESOURCE_DOES_NOT_EXIST: both mean "no such version".
        if q["op"] == "alias" and q["alias"].lower() == "latest" and "empty sequence" in str(e):
            return {"ok": None}
        return {"error": f"{type(e).__name__}: {e}"}
    except Exception as e:  # the reference's refusal is an answer too
        return {"error": f"{type(e).__name__}: {e}"}


def emit(value):
    # MLflow prints its own lines to stdout (e.g. "View run ... at" for a server): mark ours.
    print("MODELBUMP-JSON " + json.dumps(value), flush=True)


def main():
    mode, uri = sys.argv[1], sys.argv[2]
    if mode == "seed":
        emit(seed(uri))
    elif mode == "query":
        mlflow.set_tracking_uri(uri)
        client = MlflowClient(uri, uri)
        queries = json.load(sys.stdin)
        emit([answer(client, q) for q in queries])
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
