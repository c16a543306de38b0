//! Pull-request mode for path and marker targets, against a real MLflow server, the real
//! `git http-backend` on loopback and the GitHub stand-in: a Helm values path target and a marked
//! kustomize argument are proposed in one pull request whose body shows each value's file, line and
//! YAML path; a rerun changes nothing; a newer candidate updates the head branch.

use serde_json::Value;

use crate::support::git::{HttpRemote, git, git_cmd, read, write};
use crate::support::github::StandIn;
use crate::support::mlflow::{MlflowServer, RunSeed, unique};
use crate::support::{assert_success, modelbump, shared_dir};

const TOKEN: &str = "ghs_anyfieldTOKEN0123456789abcdef";
const FIRST: &str = "s3://mlflow-artifacts/0/models/m-0/artifacts/";

fn values(uri: &str) -> String {
    format!("replicaCount: 2\nmodel:\n  # where the weights are\n  uri: \"{uri}\"   # bumped\n")
}

fn patch(uri: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: llm-server\nspec:\n  template:\n    spec:\n      containers:\n      - name: server\n        args:\n        - --port=8000\n        - --model={uri}  # {{\"$modelbump\": \"llm-args\"}}\n"
    )
}

/// A newer FINISHED run with a logged model of experiment `exp`; the URI modelbump writes for it.
fn candidate(server: &MlflowServer, exp: &str, start: i64) -> String {
    let client = server.client();
    let run = client.seed_run(exp, &RunSeed::new("FINISHED", start));
    let model = client.log_model(&run, "model", true);
    let rest = model
        .artifact_uri
        .strip_prefix(&format!("{}/", server.artifact_dir.display()))
        .unwrap();
    format!("s3://mlflow-artifacts/{rest}/")
}

#[test]
fn a_helm_path_target_and_a_marker_are_proposed_in_one_pull_request() {
    let Some(shared) = shared_dir("path and marker targets in a pull request") else {
        return;
    };
    let server = MlflowServer::shared();
    let name = unique("anypr");
    let exp = server.client().create_experiment(&name);
    let uri = candidate(server, &exp, 20);

    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let root = tmp.path().join("srv");
    let work = tmp.path().join("work");
    let bare = HttpRemote::create_repo(&root, "acme/gitops.git", &work);
    write(&work, "charts/llm/values.yaml", &values(FIRST));
    write(&work, "k8s/patch.yaml", &patch(FIRST));
    let config = format!(
        "mlflow:\n  trackingUri: {url}\ntargets:\n  - name: llm-values\n    file: charts/llm/values.yaml\n    path: model.uri\n    run: {{experiment: {name}}}\n  - name: llm-args\n    template: \"--model={{uri}}\"\n    run: {{experiment: {name}}}\nuriRewrite:\n  - from: \"{root}/\"\n    to: \"s3://mlflow-artifacts/\"\ngit:\n  author: {{name: modelbump, email: modelbump@example.invalid}}\n  pullRequest:\n    labels: [model-update]\n",
        url = server.url,
        root = server.artifact_dir.display()
    );
    write(&work, "modelbump.yaml", &config);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "initial manifests"]);
    git(&work, &["push", "-q", "origin", "main"]);
    let _remote =
        HttpRemote::start_as_origin(&root, "x-access-token", TOKEN, &work, "acme/gitops.git");
    let github = StandIn::start(&shared, TOKEN, "acme", "gitops", &bare);
    let run = || -> Value {
        let out = modelbump(&home)
            .arg("-C")
            .arg(&work)
            .args(["run", "-o", "json"])
            .env("MODELBUMP_GIT_TOKEN", TOKEN)
            .env("MODELBUMP_FORGE", "github")
            .env("MODELBUMP_FORGE_API", github.url())
            .output()
            .unwrap();
        assert_success(&out);
        let violations = github.violations();
        assert!(violations.is_empty(), "{violations:#?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let branch = |name: &str| -> Option<String> {
        let out = git_cmd(&bare)
            .args(["rev-parse", "--verify", "-q", &format!("refs/heads/{name}")])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let at = |rev: &str, file: &str| git(&bare, &["show", &format!("{rev}:{file}")]);
    let main_before = branch("main").unwrap();

    let report = run();
    let pr = &report["pullRequest"];
    assert_eq!(pr["action"], "opened", "{report}");
    let head = pr["head"].as_str().unwrap().to_string();
    assert!(head.starts_with("modelbump/llm-args-llm-values-"), "{head}");
    let kinds: Vec<(&str, &str)> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["kind"].as_str().unwrap(), t["status"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, vec![("path", "changed"), ("marker", "changed")]);
    // One commit on main's tip with both edits, byte for byte; main and the checkout untouched.
    let tip = branch(&head).expect("the head branch is pushed");
    assert_eq!(
        git(&bare, &["rev-parse", &format!("{tip}^")]).trim(),
        main_before
    );
    assert_eq!(at(&tip, "charts/llm/values.yaml"), values(&uri).trim_end());
    assert_eq!(
        at(&tip, "k8s/patch.yaml"),
        patch(&uri).trim_end(),
        "only the URI inside --model= changed"
    );
    assert_eq!(branch("main").unwrap(), main_before);
    assert_eq!(read(&work, "charts/llm/values.yaml"), values(FIRST));
    assert_eq!(git(&work, &["status", "--porcelain"]), "");

    // The body: each value with its file:line, YAML path, old and new value.
    let pulls = github.pulls();
    assert_eq!(pulls.len(), 1);
    let body = &pulls[0].body;
    for expected in [
        "### path `llm-values` in `charts/llm/values.yaml:4`".to_string(),
        "| YAML path | `model.uri` |".to_string(),
        format!("| old | `{FIRST}` |"),
        format!("| new | `{uri}` |"),
        "### marker `llm-args` in `k8s/patch.yaml:12`".to_string(),
        "| YAML path | `spec.template.spec.containers[0].args[1]` |".to_string(),
        format!("| new | `--model={uri}` |"),
    ] {
        assert!(body.contains(&expected), "{expected}\n{body}");
    }

    // The same candidate again: nothing pushed, nothing written to the forge.
    let writes = || {
        github
            .received()
            .iter()
            .filter(|r| r.method != "GET")
            .count()
    };
    let before = writes();
    let report = run();
    assert_eq!(report["pullRequest"]["action"], "unchanged", "{report}");
    assert_eq!(branch(&head).unwrap(), tip, "no new push");
    assert_eq!(writes(), before, "no write to the forge");

    // A newer candidate: the head branch (recognised as modelbump's) moves, the pull request stays.
    let newer = candidate(server, &exp, 10);
    let report = run();
    assert_eq!(report["pullRequest"]["action"], "updated", "{report}");
    assert_eq!(report["pullRequest"]["number"], 1);
    let moved = branch(&head).unwrap();
    assert_ne!(moved, tip);
    assert_eq!(
        at(&moved, "charts/llm/values.yaml"),
        values(&newer).trim_end()
    );
    assert_eq!(at(&moved, "k8s/patch.yaml"), patch(&newer).trim_end());
    assert_eq!(github.pulls().len(), 1);
}
