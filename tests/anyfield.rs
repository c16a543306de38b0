//! Path and marker targets, value templates and `init`, through the real binary: `set` by a target's
//! name, `targets` listing marked values and path targets, `commit` accepting exactly those edits, and a
//! `run` against the real MLflow server that updates a Helm values file and a kustomize patch (env and
//! args) in one commit pushed to the loopback smart-HTTP remote.

use serde_json::Value;

use crate::support::git::{Fixture, HttpRemote, git, read, write};
use crate::support::mlflow::{MlflowServer, RunSeed, unique};

const VALUES: &str = "# Helm values of the LLM chart
replicaCount: 2
model:
  # where the weights are
  uri: \"s3://mlflow-artifacts/0/models/m-0/artifacts/\"   # bumped by modelbump
  name: llm
";

const PATCH: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: llm-server
spec:
  template:
    spec:
      containers:
      - name: sidecar
        image: envoy
      - name: server
        env:
        - name: MODEL_URI
          value: s3://mlflow-artifacts/0/models/m-0/artifacts/
        args:
        - --port=8000
        - --model=s3://mlflow-artifacts/0/models/m-0/artifacts/  # {\"$modelbump\": \"llm-args\"}
";

const ENV_PATH: &str = "spec.template.spec.containers[name=server].env[name=MODEL_URI].value";

fn targets(source: &str) -> String {
    format!(
        "targets:
  - name: llm-values
    file: charts/llm/values.yaml
    path: model.uri
{source}  - name: llm-env
    file: k8s/prod/patch.yaml
    path: \"{ENV_PATH}\"
{source}  - name: llm-args
    template: \"--model={{uri}}\"
{source}"
    )
}

fn fixture(config: &str) -> Fixture {
    Fixture::new(&[
        ("charts/llm/values.yaml", VALUES),
        ("k8s/prod/patch.yaml", PATCH),
        ("modelbump.yaml", config),
    ])
}

fn modelbump(fx: &Fixture) -> assert_cmd::Command {
    let mut cmd = crate::support::modelbump(&fx.home);
    cmd.current_dir(&fx.work);
    cmd
}

fn out(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

#[test]
fn set_by_path_and_marker_name_changes_only_those_bytes_and_commit_takes_them() {
    let fx = fixture(&targets("    pinned: true\n"));
    let new = "s3://mlflow-artifacts/7/models/m-7/artifacts/";
    let o = modelbump(&fx)
        .args(["set", "charts/llm/values.yaml", "llm-values", new])
        .output()
        .unwrap();
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        format!(
            "charts/llm/values.yaml:5 llm-values: s3://mlflow-artifacts/0/models/m-0/artifacts/ -> {new}\n"
        )
    );
    assert_eq!(
        read(&fx.work, "charts/llm/values.yaml"),
        VALUES.replace("s3://mlflow-artifacts/0/models/m-0/artifacts/", new)
    );
    // A marker name with its configured template: the URI goes where {uri} stands.
    let o = modelbump(&fx)
        .args(["-o", "json", "set", "k8s/prod/patch.yaml", "llm-args", new])
        .output()
        .unwrap();
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["targets"][0]["kind"], "marker");
    assert_eq!(report["targets"][0]["name"], "llm-args");
    assert_eq!(report["targets"][0]["line"], 17);
    assert_eq!(report["targets"][0]["newUri"], format!("--model={new}"));
    let patched = PATCH.replacen(
        "--model=s3://mlflow-artifacts/0/models/m-0/artifacts/",
        &format!("--model={new}"),
        1,
    );
    assert_eq!(read(&fx.work, "k8s/prod/patch.yaml"), patched);
    let o = modelbump(&fx)
        .args(["set", "k8s/prod/patch.yaml", "llm-env", new])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out(&o).1);

    // commit accepts exactly these values...
    let o = modelbump(&fx).args(["commit"]).output().unwrap();
    assert!(o.status.success(), "{}", out(&o).1);
    assert_eq!(
        git(&fx.work, &["show", "--name-only", "--format=", "HEAD"]),
        "charts/llm/values.yaml\nk8s/prod/patch.yaml"
    );
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
    // ...and still refuses anything else, also next to a marked value's change.
    let edited = read(&fx.work, "k8s/prod/patch.yaml")
        .replace("--port=8000", "--port=9000")
        .replace(
            "--model=s3://mlflow-artifacts/7/",
            "--model=s3://mlflow-artifacts/8/",
        );
    write(&fx.work, "k8s/prod/patch.yaml", &edited);
    let o = modelbump(&fx).args(["commit"]).output().unwrap();
    let (_, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("k8s/prod/patch.yaml: it has edits besides model URI values"),
        "{stderr}"
    );
}

#[test]
fn a_template_mismatch_is_refused_with_file_line_and_both_values() {
    let config = "targets:\n  - name: port\n    file: k8s/prod/patch.yaml\n    path: \"spec.template.spec.containers[name=server].args[0]\"\n    template: \"--model={uri}\"\n    pinned: true\n";
    let fx = fixture(config);
    let o = modelbump(&fx)
        .args(["set", "k8s/prod/patch.yaml", "port", "s3://b/m"])
        .output()
        .unwrap();
    let (_, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    for part in [
        "k8s/prod/patch.yaml",
        "line 16",
        "--port=8000",
        "--model=s3://b/m",
    ] {
        assert!(stderr.contains(part), "{part}: {stderr}");
    }
    assert_eq!(read(&fx.work, "k8s/prod/patch.yaml"), PATCH);
}

#[test]
fn an_unknown_placeholder_is_a_config_error_with_file_and_line() {
    let config =
        "targets:\n  - name: llm-args\n    template: \"--model={url}\"\n    pinned: true\n";
    let fx = fixture(config);
    let o = modelbump(&fx).args(["targets"]).output().unwrap();
    let (_, stderr) = out(&o);
    assert!(!o.status.success());
    for part in ["modelbump.yaml", "line 3", "unknown placeholder {url}"] {
        assert!(stderr.contains(part), "{part}: {stderr}");
    }
}

#[test]
fn targets_lists_marked_values_and_path_targets_by_name() {
    let fx = fixture(&targets("    pinned: true\n"));
    let o = modelbump(&fx)
        .args(["-o", "json", "targets"])
        .output()
        .unwrap();
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stderr}");
    let listing: Value = serde_json::from_str(&stdout).unwrap();
    let rows: Vec<(String, u64, String, String, String, String)> = listing["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["file"].as_str().unwrap().to_string(),
                r["line"].as_u64().unwrap(),
                r["kind"].as_str().unwrap().to_string(),
                r["name"].as_str().unwrap().to_string(),
                r["path"].as_str().unwrap().to_string(),
                r["target"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    let row = |f: &str, l: u64, k: &str, n: &str, p: &str, t: &str| {
        (f.into(), l, k.into(), n.into(), p.into(), t.into())
    };
    assert_eq!(
        rows,
        vec![
            row(
                "charts/llm/values.yaml",
                5,
                "path",
                "llm-values",
                "model.uri",
                "llm-values (pinned)"
            ),
            row(
                "k8s/prod/patch.yaml",
                14,
                "path",
                "llm-env",
                ENV_PATH,
                "llm-env (pinned)"
            ),
            row(
                "k8s/prod/patch.yaml",
                17,
                "marker",
                "llm-args",
                "spec.template.spec.containers[1].args[1]",
                "llm-args (pinned)"
            ),
        ]
    );
    // The text table gains a PATH column only when such rows are listed.
    let o = modelbump(&fx).args(["targets"]).output().unwrap();
    let (stdout, _) = out(&o);
    assert!(stdout.starts_with("FILE:LINE"), "{stdout}");
    assert!(stdout.lines().next().unwrap().ends_with("PATH"), "{stdout}");
    assert!(stdout.contains("k8s/prod/patch.yaml:17"), "{stdout}");
}

#[test]
fn init_writes_a_loadable_config_and_never_overwrites_one() {
    let fx = Fixture::new(&[
        ("charts/llm/values.yaml", VALUES),
        ("k8s/prod/patch.yaml", PATCH),
        (
            "k8s/model.yaml",
            "apiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata:\n  name: iris\nspec:\n  storageUri: s3://b/iris/1\n",
        ),
    ]);
    let o = modelbump(&fx).args(["init"]).output().unwrap();
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "wrote modelbump.yaml with 2 target(s), each pinned until you give it a source\n"
    );
    let text = read(&fx.work, "modelbump.yaml");
    assert!(
        text.contains("# k8s/model.yaml:6  Model  now: s3://b/iris/1"),
        "{text}"
    );
    assert!(
        text.contains("  - name: \"llm-args\"\n    template: \"--model={uri}\""),
        "{text}"
    );
    // It loads, and the listing marks both locations as configured.
    let o = modelbump(&fx)
        .args(["-o", "json", "targets"])
        .output()
        .unwrap();
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stderr}");
    let listing: Value = serde_json::from_str(&stdout).unwrap();
    let configured: Vec<&str> = listing["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["target"].as_str())
        .collect();
    assert_eq!(configured, vec!["iris (pinned)", "llm-args (pinned)"]);
    // A second init refuses and leaves the file alone.
    write(&fx.work, "modelbump.yaml", &format!("{text}# mine\n"));
    let o = modelbump(&fx).args(["init"]).output().unwrap();
    let (_, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("never overwrites"), "{stderr}");
    assert_eq!(read(&fx.work, "modelbump.yaml"), format!("{text}# mine\n"));
}

/// The end to end: one `run` against the real MLflow server updates a Helm values file (by path) and a
/// kustomize patch (its env by path, its args by marker with a template) in one commit, pushed to the
/// loopback smart-HTTP remote.
#[test]
fn run_updates_helm_values_and_a_kustomize_patch_in_one_pushed_commit() {
    let server = MlflowServer::shared();
    let client = server.client();
    let name = unique("anyfield");
    let exp = client.create_experiment(&name);
    let run = client.seed_run(&exp, &RunSeed::new("FINISHED", 1));
    let model = client.log_model(&run, "model", true);
    let rest = model
        .artifact_uri
        .strip_prefix(&format!("{}/", server.artifact_dir.display()))
        .unwrap();
    let uri = format!("s3://mlflow-artifacts/{rest}/");

    let config = format!(
        "mlflow:\n  trackingUri: {url}\n{targets}uriRewrite:\n  - from: \"{root}/\"\n    to: \"s3://mlflow-artifacts/\"\ngit:\n  author: {{name: modelbump, email: modelbump@example.invalid}}\n",
        url = server.url,
        targets = targets(&format!("    run: {{experiment: {name}}}\n")),
        root = server.artifact_dir.display()
    );
    let fx = fixture(&config);
    let remote = HttpRemote::start(fx.tmp.path(), "ci-bot", "s3cret");
    git(
        &fx.work,
        &["remote", "set-url", "origin", &remote.url("remote.git")],
    );

    let o = modelbump(&fx)
        .args(["-o", "json", "run"])
        .env("MODELBUMP_GIT_USERNAME", "ci-bot")
        .env("MODELBUMP_GIT_TOKEN", "s3cret")
        .output()
        .unwrap();
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let lines: Vec<(String, String, u64, String)> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["kind"].as_str().unwrap().to_string(),
                t["name"].as_str().unwrap().to_string(),
                t["line"].as_u64().unwrap(),
                t["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let line = |k: &str, n: &str, l: u64| (k.to_string(), n.to_string(), l, "changed".to_string());
    assert_eq!(
        lines,
        vec![
            line("path", "llm-values", 5),
            line("path", "llm-env", 14),
            line("marker", "llm-args", 17)
        ]
    );
    assert_eq!(report["targets"][2]["newUri"], format!("--model={uri}"));
    assert_eq!(report["targets"][0]["runId"], run.run_id);
    assert_eq!(report["pushed"], true);

    // One commit with both files, on the remote, and nothing else changed.
    let head = git(&fx.work, &["rev-parse", "HEAD"]);
    assert_eq!(fx.remote_head(), head);
    assert_eq!(report["commit"], head);
    assert_eq!(
        git(&fx.work, &["show", "--name-only", "--format=", "HEAD"]),
        "charts/llm/values.yaml\nk8s/prod/patch.yaml"
    );
    assert_eq!(git(&fx.work, &["rev-list", "--count", "HEAD"]), "2");
    let old = "s3://mlflow-artifacts/0/models/m-0/artifacts/";
    assert_eq!(
        fx.remote_file("charts/llm/values.yaml"),
        VALUES.replace(old, &uri).trim_end()
    );
    assert_eq!(
        fx.remote_file("k8s/prod/patch.yaml"),
        PATCH.replace(old, &uri).trim_end()
    );
    let message = git(&fx.work, &["log", "-1", "--format=%B"]);
    assert!(
        message.contains(&format!("MLflow-Run-Id: {}", run.run_id)),
        "{message}"
    );
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
}
