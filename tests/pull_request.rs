//! Pull-request mode against real parts: a real MLflow server, the real `git http-backend` on loopback
//! with a pre-receive hook that protects `main` (as a forge's branch protection does), and the GitHub
//! stand-in, which checks every request and answer against GitHub's OpenAPI description.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::git::{HttpRemote, configure_identity, git, git_cmd};
use crate::support::github::StandIn;
use crate::support::mlflow::{MlflowServer, RunSeed, unique};
use crate::support::{modelbump, shared_dir};

mod github_app;
mod gitlab;

/// The token of the git remote and of the GitHub stand-in; it must never be printed.
const TOKEN: &str = "ghs_CANARYtoken0123456789abcdefCANARY";

const HOOK: &str = "#!/bin/sh\nwhile read old new ref; do\n  if [ \"$ref\" = refs/heads/main ]; then\n    echo \"GH006: Protected branch update failed for refs/heads/main.\" >&2\n    echo \"Changes must be made through a pull request.\" >&2\n    exit 1\n  fi\ndone\n";

pub(crate) struct Setup {
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) home: PathBuf,
    pub(crate) bare: PathBuf,
    pub(crate) work: PathBuf,
    pub(crate) server: &'static MlflowServer,
    pub(crate) experiment: String,
    pub(crate) deployed_uri: String,
    _remote: HttpRemote,
    pub(crate) github: StandIn,
}

fn uri_of(server: &MlflowServer, artifact_uri: &str) -> String {
    let rest = artifact_uri
        .strip_prefix(&format!("{}/", server.artifact_dir.display()))
        .unwrap();
    format!("s3://mlflow-artifacts/{rest}/")
}

impl Setup {
    /// A protected `main` holding a manifest that points at a deployed model (acc 0.9), and a better
    /// candidate (acc 0.95) in MLflow. `None` when the shared schemas are missing.
    pub(crate) fn new(test: &str) -> Option<Setup> {
        let shared = shared_dir(test)?;
        let server = MlflowServer::shared();
        let client = server.client();
        let experiment = unique("pr");
        let exp = client.create_experiment(&experiment);
        let deployed = client.seed_run(
            &exp,
            &RunSeed::new("FINISHED", 30)
                .metric("acc", 0.9)
                .metric("loss", 0.4),
        );
        let deployed_model = client.log_model(&deployed, "model", true);
        let deployed_uri = uri_of(server, &deployed_model.artifact_uri);
        let setup_candidate = client.seed_run(
            &exp,
            &RunSeed::new("FINISHED", 20)
                .metric("acc", 0.95)
                .metric("loss", 0.3),
        );
        client.log_model(&setup_candidate, "model", true);

        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let root = tmp.path().join("srv");
        let work = tmp.path().join("work");
        let bare = HttpRemote::create_repo(&root, "acme/gitops.git", &work);
        let manifest = format!(
            "apiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata:\n  name: fraud-detector\nspec:\n  storageUri: {deployed_uri}   # keep me\n  requirements: [sklearn]\n"
        );
        crate::support::git::write(&work, "k8s/models.yaml", &manifest);
        let config = format!(
            "mlflow:\n  trackingUri: {url}\ntargets:\n  - file: k8s/models.yaml\n    name: fraud-detector\n    run:\n      experiment: {experiment}\n      orderBy: \"metrics.acc DESC\"\n    require:\n      - \"metrics.acc >= deployed.metrics.acc\"\nuriRewrite:\n  - from: \"{root}/\"\n    to: \"s3://mlflow-artifacts/\"\ngit:\n  author: {{name: modelbump, email: modelbump@example.invalid}}\n  pullRequest:\n    labels: [model-update]\n    reviewers: [alice]\n",
            url = server.url,
            root = server.artifact_dir.display()
        );
        crate::support::git::write(&work, "modelbump.yaml", &config);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "initial manifests"]);
        git(&work, &["push", "-q", "origin", "main"]);
        let hook = bare.join("hooks/pre-receive");
        std::fs::write(&hook, HOOK).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();

        let remote =
            HttpRemote::start_as_origin(&root, "x-access-token", TOKEN, &work, "acme/gitops.git");
        let github = StandIn::start(&shared, TOKEN, "acme", "gitops", &bare);
        Some(Setup {
            tmp,
            home,
            bare,
            work,
            server,
            experiment: exp,
            deployed_uri,
            _remote: remote,
            github,
        })
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = modelbump(&self.home);
        cmd.arg("-C")
            .arg(&self.work)
            .args(args)
            .env("MODELBUMP_GIT_TOKEN", TOKEN)
            .env("MODELBUMP_FORGE", "github")
            .env("MODELBUMP_FORGE_API", self.github.url());
        cmd
    }

    /// `run -o json` in pull-request mode; the report.
    pub(crate) fn run(&self) -> Value {
        let out = self.cmd(&["run", "-o", "json"]).output().unwrap();
        crate::support::assert_success(&out);
        let violations = self.github.violations();
        assert!(violations.is_empty(), "{violations:#?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// A newer, better candidate.
    pub(crate) fn newer_candidate(&self, acc: f64) -> String {
        let client = self.server.client();
        let run = client.seed_run(
            &self.experiment,
            &RunSeed::new("FINISHED", 10)
                .metric("acc", acc)
                .metric("loss", 0.2),
        );
        uri_of(
            self.server,
            &client.log_model(&run, "model", true).artifact_uri,
        )
    }

    pub(crate) fn branch(&self, name: &str) -> Option<String> {
        let out = git_cmd(&self.bare)
            .args(["rev-parse", "--verify", "-q", &format!("refs/heads/{name}")])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    pub(crate) fn file_at(&self, rev: &str) -> String {
        git(&self.bare, &["show", &format!("{rev}:k8s/models.yaml")])
    }

    /// Moves `main` on by a commit of someone else's (bypassing the hook, as a merged PR does).
    fn move_main(&self) -> String {
        let other = self.tmp.path().join("other");
        if !other.exists() {
            git(
                self.tmp.path(),
                &[
                    "clone",
                    "-q",
                    self.bare.to_str().unwrap(),
                    other.to_str().unwrap(),
                ],
            );
            configure_identity(&other);
        }
        git(&other, &["pull", "-q", "origin", "main"]);
        crate::support::git::write(&other, "README.md", "the GitOps repo\n");
        git(&other, &["add", "-A"]);
        git(&other, &["commit", "-q", "-m", "docs: a readme"]);
        let id = git(&other, &["rev-parse", "HEAD"]).trim().to_string();
        git(&other, &["push", "-q", "origin", "HEAD:refs/heads/side"]);
        let old = self.branch("main").unwrap();
        git(&self.bare, &["update-ref", "refs/heads/main", &id, &old]);
        id
    }
}

#[test]
fn a_protected_branch_refuses_the_push_and_pull_request_mode_opens_one_pull_request() {
    let Some(s) = Setup::new("pull request opened") else {
        return;
    };
    let main_before = s.branch("main").unwrap();
    let out = s
        .cmd(&["run"])
        .env("MODELBUMP_PULL_REQUEST", "false")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Protected branch update failed"),
        "{stderr}"
    );
    assert!(stderr.contains("--pull-request"), "{stderr}");
    assert_eq!(s.branch("main").unwrap(), main_before);

    // The pull request, at -vvv: the token shows nowhere.
    let out = s.cmd(&["-vvv", "run", "-o", "json"]).output().unwrap();
    crate::support::assert_success(&out);
    for stream in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains("CANARY"));
    }
    assert!(
        s.github.violations().is_empty(),
        "{:#?}",
        s.github.violations()
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pr = &report["pullRequest"];
    assert_eq!(pr["forge"], "github");
    assert_eq!(pr["action"], "opened");
    assert_eq!(pr["number"], 1);
    assert_eq!(pr["state"], "open");
    assert_eq!(pr["base"], "main");
    let head = pr["head"].as_str().unwrap();
    assert!(head.starts_with("modelbump/fraud-detector-"), "{head}");
    assert_eq!(
        s.branch("main").unwrap(),
        main_before,
        "main is never pushed"
    );
    let tip = s.branch(head).expect("the head branch is pushed");
    assert_eq!(report["commit"], Value::from(tip.clone()));
    assert_eq!(
        git(&s.bare, &["rev-parse", &format!("{tip}^")]).trim(),
        main_before
    );
    let new_uri = report["targets"][0]["newUri"].as_str().unwrap().to_string();
    assert!(
        s.file_at(&tip)
            .contains(&format!("storageUri: {new_uri}   # keep me"))
    );

    let pulls = s.github.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].labels, ["model-update"]);
    assert_eq!(pulls[0].reviewers, ["alice"]);
    assert_eq!(pulls[0].head, head);
    // The body: old and new URI, the run with its MLflow link, the metrics next to the deployed
    // model's, the gate, the diff.
    let body = &pulls[0].body;
    assert!(
        body.contains(&format!("| old | `{}` |", s.deployed_uri)),
        "{body}"
    );
    assert!(body.contains(&format!("| new | `{new_uri}` |")), "{body}");
    let run_id = report["targets"][0]["runId"].as_str().unwrap();
    assert!(
        body.contains(&format!(
            "{}/#/experiments/{}/runs/{run_id}",
            s.server.url.trim_end_matches('/'),
            s.experiment
        )),
        "{body}"
    );
    assert!(body.contains("| **acc** | 0.95 | 0.9 |"), "{body}");
    assert!(body.contains("| loss | 0.3 | 0.4 |"), "{body}");
    assert!(
        body.contains("| `metrics.acc >= deployed.metrics.acc` | ✅ passed |"),
        "{body}"
    );
    assert!(body.contains("```diff"), "{body}");

    // The same candidate again: nothing.
    let writes = |s: &Setup| {
        s.github
            .received()
            .iter()
            .filter(|r| r.method != "GET")
            .count()
    };
    let before = writes(&s);
    let report = s.run();
    assert_eq!(report["pullRequest"]["action"], "unchanged");
    assert_eq!(report["pullRequest"]["number"], 1);
    assert_eq!(s.branch(head).unwrap(), tip, "no new push");
    assert_eq!(writes(&s), before, "no write to the forge");
    assert_eq!(s.github.pulls().len(), 1);
}

#[test]
fn a_newer_candidate_updates_the_branch_and_the_pull_request_on_the_moved_base() {
    let Some(s) = Setup::new("pull request updated") else {
        return;
    };
    let first = s.run();
    let head = first["pullRequest"]["head"].as_str().unwrap().to_string();
    let first_tip = s.branch(&head).unwrap();
    let moved = s.move_main();
    let newer = s.newer_candidate(0.97);

    let report = s.run();
    assert_eq!(report["pullRequest"]["action"], "updated");
    assert_eq!(report["pullRequest"]["number"], 1);
    assert_eq!(report["pullRequest"]["head"], Value::from(head.clone()));
    let tip = s.branch(&head).unwrap();
    assert_ne!(tip, first_tip);
    assert_eq!(
        git(&s.bare, &["rev-parse", &format!("{tip}^")]).trim(),
        moved,
        "built on the fresh base tip"
    );
    assert!(
        s.file_at(&tip)
            .contains(&format!("storageUri: {newer}   # keep me"))
    );
    assert_eq!(
        git(&s.bare, &["show", &format!("{tip}:README.md")]),
        "the GitOps repo"
    );
    let pulls = s.github.pulls();
    assert_eq!(pulls.len(), 1);
    assert!(pulls[0].body.contains(&newer), "{}", pulls[0].body);
    assert!(pulls[0].body.contains("| **acc** | 0.97 | 0.9 |"));
}

#[test]
fn a_merged_candidate_needs_no_pull_request_and_a_closed_one_is_not_reopened() {
    let Some(s) = Setup::new("pull request closed") else {
        return;
    };
    s.run();
    s.github.close(1);
    let report = s.run();
    let pr = &report["pullRequest"];
    assert_eq!(pr["action"], "unchanged");
    assert_eq!(pr["state"], "closed");
    assert!(pr["note"].as_str().unwrap().contains("not reopen"), "{pr}");
    assert_eq!(s.github.pulls().len(), 1);

    // A newer candidate opens a new one, from the same head branch.
    s.newer_candidate(0.97);
    let report = s.run();
    assert_eq!(report["pullRequest"]["action"], "opened");
    assert_eq!(report["pullRequest"]["number"], 2);
    assert_eq!(s.github.pulls().len(), 2);

    // Merged: main holds the values, so nothing is pushed and nothing opened.
    let merge = s.github.merge(2);
    assert_eq!(s.branch("main").unwrap(), merge);
    let report = s.run();
    let pr = &report["pullRequest"];
    assert_eq!(pr["action"], "none");
    assert!(pr.get("number").is_none_or(Value::is_null), "{pr}");
    assert!(
        pr["note"].as_str().unwrap().contains("already holds"),
        "{pr}"
    );
    assert_eq!(s.github.pulls().len(), 2);
}

#[test]
fn a_failure_after_the_push_is_reported_and_a_rerun_completes_it() {
    let Some(s) = Setup::new("pull request after push") else {
        return;
    };
    s.github.fail_next_create(403);
    let out = s.cmd(&["run", "-o", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("but the pull request is not complete"),
        "{stderr}"
    );
    assert!(stderr.contains("run again"), "{stderr}");
    assert!(stderr.contains("github forbids"), "{stderr}");
    assert!(stderr.contains("acme/gitops"), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["pushed"], true);
    let pushed = report["commit"].as_str().unwrap().to_string();
    assert!(s.github.pulls().is_empty());

    let report = s.run();
    assert_eq!(report["pullRequest"]["action"], "opened");
    let head = report["pullRequest"]["head"].as_str().unwrap();
    assert_eq!(s.branch(head).unwrap(), pushed, "the pushed commit is used");
    assert_eq!(s.github.pulls().len(), 1);
}

mod wait_merged {
    //! `run --pull-request --wait-merged`: the stand-in GitHub plays the reviewer while modelbump polls,
    //! the Argo CD stand-in records the sync.

    use super::*;
    use crate::support::argocd::{FakeApp, StandIn as ArgoCd};

    pub(super) const APP: &str = "fraud-serving";
    const ARGOCD_TOKEN: &str = "argocd-token-for-the-stand-in";

    /// The Argo CD stand-in with one app following `main` of the remote.
    fn argocd(s: &Setup) -> ArgoCd {
        argocd_with(
            s,
            FakeApp::new(APP, "https://github.example/acme/gitops.git"),
        )
    }

    /// The Argo CD stand-in with `app` following `main` of the remote.
    pub(super) fn argocd_with(s: &Setup, app: FakeApp) -> ArgoCd {
        let shared = shared_dir("wait merged").unwrap();
        let main = s.branch("main").unwrap();
        ArgoCd::start(&shared, ARGOCD_TOKEN, &main, None, vec![app])
    }

    /// `run -o json --wait-merged --report FILE` against both stand-ins; the output and the report file.
    fn run_waiting(s: &Setup, argocd: &ArgoCd, extra: &[&str]) -> (std::process::Output, Value) {
        run_waiting_with(s, argocd, extra, &[])
    }

    /// [`run_waiting`] with further variables (another forge).
    pub(super) fn run_waiting_with(
        s: &Setup,
        argocd: &ArgoCd,
        extra: &[&str],
        env: &[(&str, String)],
    ) -> (std::process::Output, Value) {
        let report = s.tmp.path().join("report.json");
        let mut args = vec!["run", "-o", "json", "--wait-merged", "--report"];
        args.push(report.to_str().unwrap());
        args.extend_from_slice(extra);
        let mut cmd = s.cmd(&args);
        for (name, value) in env {
            cmd.env(name, value);
        }
        let out = cmd
            .env("MODELBUMP_MERGE_POLL_INTERVAL", "10ms")
            .env("ARGOCD_SERVER", argocd.url())
            .env("ARGOCD_AUTH_TOKEN", ARGOCD_TOKEN)
            .env("MODELBUMP_ARGOCD_APPS", APP)
            .env("MODELBUMP_SYNC_POLL_INTERVAL", "10ms")
            .output()
            .unwrap();
        let written: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        (out, written)
    }

    fn polls(s: &Setup) -> usize {
        s.github
            .received()
            .iter()
            .filter(|r| r.method == "GET" && r.uri.ends_with("/pulls/1"))
            .count()
    }

    #[test]
    fn a_merge_made_while_waiting_is_synced_to_argo_cd() {
        let Some(s) = Setup::new("wait merged") else {
            return;
        };
        let argocd = argocd(&s);
        s.github.merge_after_polls(1, 3);
        let (out, written) = run_waiting(&s, &argocd, &[]);
        crate::support::assert_success(&out);
        assert!(
            s.github.violations().is_empty(),
            "{:#?}",
            s.github.violations()
        );
        assert!(argocd.violations().is_empty(), "{:#?}", argocd.violations());
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report, written, "stdout and the report file agree");
        let pr = &report["pullRequest"];
        assert_eq!(pr["action"], "opened");
        assert_eq!(pr["state"], "merged");
        assert_eq!(pr["waitResult"], "merged");
        let merge = s.branch("main").unwrap();
        assert_eq!(pr["mergeCommit"], Value::from(merge.clone()));
        let head_tip = s.branch(pr["head"].as_str().unwrap()).unwrap();
        assert_eq!(
            git(&s.bare, &["rev-parse", &format!("{merge}^2")]).trim(),
            head_tip,
            "main is the stand-in's merge of the head branch"
        );
        assert_eq!(polls(&s), 3, "polled until the merge showed");
        let syncs = argocd.sync_requests(APP);
        assert_eq!(syncs.len(), 1, "{syncs:?}");
        assert_eq!(syncs[0]["revision"], Value::from(merge.clone()));
        assert_eq!(report["sync"][0]["app"], APP, "{report}");
    }

    #[test]
    fn a_pull_request_closed_unmerged_exits_7_and_syncs_nothing() {
        let Some(s) = Setup::new("wait merged, closed") else {
            return;
        };
        let argocd = argocd(&s);
        let main_before = s.branch("main").unwrap();
        s.github.close_after_polls(1, 2);
        let (out, written) = run_waiting(&s, &argocd, &[]);
        assert_eq!(out.status.code(), Some(7), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("closed without merging"), "{stderr}");
        let pr = &written["pullRequest"];
        assert_eq!(pr["state"], "closed");
        assert_eq!(pr["waitResult"], "closedUnmerged");
        assert!(pr.get("mergeCommit").is_none(), "{pr}");
        assert!(
            pr["note"].as_str().unwrap().contains("nothing was synced"),
            "{pr}"
        );
        assert!(
            written["error"].as_str().unwrap().contains("#1"),
            "{written}"
        );
        assert_eq!(polls(&s), 2);
        assert!(argocd.sync_requests(APP).is_empty());
        assert_eq!(s.branch("main").unwrap(), main_before);

        // The rerun of the same candidate does not reopen it and does not wait either: exit 7 at once.
        let (out, written) = run_waiting(&s, &argocd, &[]);
        assert_eq!(out.status.code(), Some(7), "{out:?}");
        assert_eq!(written["pullRequest"]["waitResult"], "closedUnmerged");
        assert_eq!(polls(&s), 2, "nothing to poll");
        assert_eq!(s.github.pulls().len(), 1);
    }

    #[test]
    fn a_pull_request_not_merged_in_time_exits_7_and_stays_open() {
        let Some(s) = Setup::new("wait merged, timeout") else {
            return;
        };
        let argocd = argocd(&s);
        let (out, written) = run_waiting(&s, &argocd, &["--merge-timeout", "0s"]);
        assert_eq!(out.status.code(), Some(7), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("was not merged within"), "{stderr}");
        let pr = &written["pullRequest"];
        assert_eq!(pr["state"], "open");
        assert_eq!(pr["waitResult"], "timedOut");
        assert!(argocd.sync_requests(APP).is_empty());
        assert!(
            s.github.violations().is_empty(),
            "{:#?}",
            s.github.violations()
        );
    }

    #[test]
    fn waiting_without_pull_request_mode_is_refused_before_anything_is_written() {
        let Some(s) = Setup::new("wait merged without pull requests") else {
            return;
        };
        let main_before = s.branch("main").unwrap();
        let out = s
            .cmd(&["run", "--wait-merged"])
            .env("MODELBUMP_PULL_REQUEST", "false")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("pull-request mode is off"), "{stderr}");
        assert_eq!(s.branch("main").unwrap(), main_before);
        assert!(s.github.received().is_empty());
    }
}

/// Gitea/Forgejo (API v1) through the same client and use case: opened, then unchanged, then updated.
#[test]
fn a_gitea_pull_request_is_opened_left_alone_and_updated() {
    let Some(s) = Setup::new("gitea pull request") else {
        return;
    };
    let gitea = crate::support::gitea::StandIn::start(TOKEN, "acme", "gitops", &s.bare);
    let run = || {
        let out = s
            .cmd(&["run", "-o", "json"])
            .env("MODELBUMP_FORGE", "gitea")
            .env("MODELBUMP_FORGE_API", gitea.url())
            .output()
            .unwrap();
        crate::support::assert_success(&out);
        for stream in [&out.stdout, &out.stderr] {
            assert!(!String::from_utf8_lossy(stream).contains("CANARY"));
        }
        assert!(gitea.violations().is_empty(), "{:#?}", gitea.violations());
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let report = run();
    let pr = &report["pullRequest"];
    assert_eq!(pr["forge"], "gitea");
    assert_eq!(pr["action"], "opened");
    assert_eq!(pr["number"], 1);
    assert!(
        pr["url"]
            .as_str()
            .unwrap()
            .ends_with("/acme/gitops/pulls/1"),
        "{pr}"
    );
    let head = pr["head"].as_str().unwrap().to_string();
    assert_eq!(report["commit"], Value::from(s.branch(&head).unwrap()));
    let pulls = gitea.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].labels, ["model-update"]);
    assert_eq!(pulls[0].reviewers, ["alice"]);
    assert!(
        pulls[0].body.contains("| **acc** | 0.95 | 0.9 |"),
        "{}",
        pulls[0].body
    );
    assert!(s.github.received().is_empty(), "only Gitea was asked");

    let writes = || {
        gitea
            .received()
            .iter()
            .filter(|r| r.method != "GET")
            .count()
    };
    let before = writes();
    assert_eq!(run()["pullRequest"]["action"], "unchanged");
    assert_eq!(writes(), before, "no write to the forge");

    let newer = s.newer_candidate(0.97);
    let report = run();
    assert_eq!(report["pullRequest"]["action"], "updated");
    assert_eq!(report["pullRequest"]["number"], 1);
    let pulls = gitea.pulls();
    assert_eq!(pulls.len(), 1);
    assert!(pulls[0].body.contains(&newer), "{}", pulls[0].body);
}
