//! GitLab merge requests (API v4) through the pull-request use case, against the GitLab stand-in (which
//! checks every request against GitLab's documentation), the real git remote and the real MLflow server.

use serde_json::Value;

use super::wait_merged::{APP, argocd_with, run_waiting_with};
use super::{Setup, TOKEN};
use crate::support::argocd::{FakeApp, Outcome};
use crate::support::gitlab::StandIn as GitLab;

/// The variables that point modelbump at the GitLab stand-in.
fn on(gitlab: &GitLab) -> Vec<(&'static str, String)> {
    vec![
        ("MODELBUMP_FORGE", "gitlab".to_string()),
        ("MODELBUMP_FORGE_API", gitlab.url()),
    ]
}

/// `run -o json` against GitLab; the output, checked for the token and for violations.
fn run_on(s: &Setup, gitlab: &GitLab, args: &[&str]) -> std::process::Output {
    let mut cmd = s.cmd(args);
    for (name, value) in on(gitlab) {
        cmd.env(name, value);
    }
    let out = cmd.output().unwrap();
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !String::from_utf8_lossy(stream).contains("CANARY"),
            "the token was printed"
        );
    }
    assert!(gitlab.violations().is_empty(), "{:#?}", gitlab.violations());
    assert!(s.github.received().is_empty(), "only GitLab was asked");
    out
}

fn json_of(out: &std::process::Output) -> Value {
    crate::support::assert_success(out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn writes(gitlab: &GitLab) -> usize {
    gitlab
        .received()
        .iter()
        .filter(|r| r.method != "GET")
        .count()
}

#[test]
fn a_gitlab_merge_request_is_opened_left_alone_and_updated() {
    let Some(s) = Setup::new("gitlab merge request") else {
        return;
    };
    let gitlab = GitLab::start(TOKEN, "acme/gitops", &s.bare);
    let report = json_of(&run_on(&s, &gitlab, &["-vvv", "run", "-o", "json"]));
    let pr = &report["pullRequest"];
    assert_eq!(pr["forge"], "gitlab");
    assert_eq!(pr["action"], "opened");
    assert_eq!(pr["number"], 1);
    assert_eq!(pr["state"], "open");
    assert!(
        pr["url"]
            .as_str()
            .unwrap()
            .ends_with("/acme/gitops/-/merge_requests/1"),
        "{pr}"
    );
    let head = pr["head"].as_str().unwrap().to_string();
    assert_eq!(report["commit"], Value::from(s.branch(&head).unwrap()));
    let pulls = gitlab.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].base, "main");
    assert_eq!(pulls[0].labels, ["model-update"]);
    assert_eq!(pulls[0].reviewers, ["alice"], "alice resolved to her id");
    assert!(
        pulls[0].body.contains("| **acc** | 0.95 | 0.9 |"),
        "{}",
        pulls[0].body
    );
    // The calls: the project by its encoded path, the reviewer looked up by username.
    let received = gitlab.received();
    assert!(
        received
            .iter()
            .any(|r| r.method == "GET" && r.uri == "/api/v4/users?username=alice"),
        "{received:#?}"
    );
    assert!(
        received
            .iter()
            .all(|r| r.uri.starts_with("/api/v4/projects/acme%2Fgitops/")
                || r.uri.starts_with("/api/v4/users")),
        "{received:#?}"
    );

    let before = writes(&gitlab);
    let again = json_of(&run_on(&s, &gitlab, &["run", "-o", "json"]));
    assert_eq!(again["pullRequest"]["action"], "unchanged");
    assert_eq!(again["pullRequest"]["number"], 1);
    assert_eq!(writes(&gitlab), before, "no write to the forge");
    assert_eq!(s.branch(&head).unwrap(), report["commit"].as_str().unwrap());

    let newer = s.newer_candidate(0.97);
    let updated = json_of(&run_on(&s, &gitlab, &["run", "-o", "json"]));
    assert_eq!(updated["pullRequest"]["action"], "updated");
    assert_eq!(updated["pullRequest"]["number"], 1);
    let pulls = gitlab.pulls();
    assert_eq!(pulls.len(), 1);
    assert!(pulls[0].body.contains(&newer), "{}", pulls[0].body);
    assert!(pulls[0].body.contains("| **acc** | 0.97 | 0.9 |"));
    assert_eq!(
        s.branch(&head).unwrap(),
        updated["commit"].as_str().unwrap(),
        "the head branch holds the newer candidate"
    );

    // Closed: not reopened. Then merged (a newer candidate's): nothing to do.
    gitlab.close(1);
    let closed = json_of(&run_on(&s, &gitlab, &["run", "-o", "json"]));
    assert_eq!(closed["pullRequest"]["state"], "closed");
    assert_eq!(closed["pullRequest"]["action"], "unchanged");
    s.newer_candidate(0.98);
    let second = json_of(&run_on(&s, &gitlab, &["run", "-o", "json"]));
    assert_eq!(second["pullRequest"]["action"], "opened");
    assert_eq!(second["pullRequest"]["number"], 2);
    gitlab.merge(2);
    let merged = json_of(&run_on(&s, &gitlab, &["run", "-o", "json"]));
    assert_eq!(merged["pullRequest"]["action"], "none");
    assert_eq!(gitlab.pulls().len(), 2);
}

#[test]
fn a_gitlab_draft_keeps_its_marker_and_a_rate_limit_is_waited_out() {
    let Some(s) = Setup::new("gitlab draft") else {
        return;
    };
    let gitlab = GitLab::start(TOKEN, "acme/gitops", &s.bare);
    let config = std::fs::read_to_string(s.work.join("modelbump.yaml")).unwrap();
    std::fs::write(
        s.work.join("modelbump.yaml"),
        config.replace("    reviewers: [alice]\n", "    draft: true\n"),
    )
    .unwrap();
    gitlab.fail_next_create(429);
    let report = json_of(&run_on(&s, &gitlab, &["run", "-o", "json"]));
    assert_eq!(report["pullRequest"]["action"], "opened");
    let creates: Vec<u16> = gitlab
        .received()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.status)
        .collect();
    assert_eq!(creates, [429, 201], "the rate limit was retried once");
    let pulls = gitlab.pulls();
    assert!(pulls[0].title.starts_with("Draft: "), "{}", pulls[0].title);

    s.newer_candidate(0.97);
    let updated = json_of(&run_on(&s, &gitlab, &["run", "-o", "json"]));
    assert_eq!(updated["pullRequest"]["action"], "updated");
    let pulls = gitlab.pulls();
    assert!(
        pulls[0].title.starts_with("Draft: "),
        "still a draft: {}",
        pulls[0].title
    );
}

#[test]
fn gitlab_refusals_name_gitlab_and_the_project() {
    let Some(s) = Setup::new("gitlab refusals") else {
        return;
    };
    let gitlab = GitLab::start(TOKEN, "acme/gitops", &s.bare);
    gitlab.fail_next_create(409);
    let out = run_on(&s, &gitlab, &["run", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("gitlab refused opening a merge request"),
        "{stderr}"
    );
    assert!(stderr.contains("acme/gitops"), "{stderr}");
    assert!(
        stderr.contains("Another open merge request already exists"),
        "{stderr}"
    );
    assert!(stderr.contains("run again to complete it"), "{stderr}");
    // The rerun completes it.
    let report = json_of(&run_on(&s, &gitlab, &["run", "-o", "json"]));
    assert_eq!(report["pullRequest"]["action"], "opened");

    // A token the API does not take: 401, before anything is pushed for this stand-in.
    let other = GitLab::start("glpat-another-token", "acme/gitops", &s.bare);
    let out = run_on(&s, &other, &["run"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("gitlab refused the token"), "{stderr}");
    assert!(stderr.contains("acme/gitops"), "{stderr}");
    assert!(stderr.contains("401 Unauthorized"), "{stderr}");
    assert!(other.pulls().is_empty());
}

#[test]
fn a_gitlab_merge_request_merged_while_waiting_is_synced_to_argo_cd() {
    let Some(s) = Setup::new("gitlab wait merged") else {
        return;
    };
    let gitlab = GitLab::start(TOKEN, "acme/gitops", &s.bare);
    let argocd = argocd_with(
        &s,
        FakeApp::new(APP, "https://gitlab.example/acme/gitops.git"),
    );
    gitlab.merge_after_polls(1, 2);
    let (out, written) = run_waiting_with(&s, &argocd, &[], &on(&gitlab));
    crate::support::assert_success(&out);
    assert!(gitlab.violations().is_empty(), "{:#?}", gitlab.violations());
    assert!(argocd.violations().is_empty(), "{:#?}", argocd.violations());
    let pr = &written["pullRequest"];
    assert_eq!(pr["forge"], "gitlab");
    assert_eq!(pr["state"], "merged");
    assert_eq!(pr["waitResult"], "merged");
    let merge = s.branch("main").unwrap();
    assert_eq!(pr["mergeCommit"], Value::from(merge.clone()));
    let syncs = argocd.sync_requests(APP);
    assert_eq!(syncs.len(), 1, "{syncs:?}");
    assert_eq!(syncs[0]["revision"], Value::from(merge));
}

#[test]
fn a_failed_sync_after_the_merge_exits_6() {
    let Some(s) = Setup::new("gitlab wait merged, degraded") else {
        return;
    };
    let gitlab = GitLab::start(TOKEN, "acme/gitops", &s.bare);
    let argocd = argocd_with(
        &s,
        FakeApp::new(APP, "https://gitlab.example/acme/gitops.git").ending(Outcome::Degraded),
    );
    gitlab.merge_after_polls(1, 1);
    // `--wait`: Argo CD's sync is waited for until the app is Healthy (here it ends Degraded).
    let (out, written) = run_waiting_with(&s, &argocd, &["--wait"], &on(&gitlab));
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("merged, but the Argo CD sync failed"),
        "{stderr}"
    );
    assert!(stderr.contains("Degraded"), "{stderr}");
    let merge = s.branch("main").unwrap();
    assert_eq!(written["pullRequest"]["waitResult"], "merged");
    assert_eq!(
        written["pullRequest"]["mergeCommit"],
        Value::from(merge.clone())
    );
    assert_eq!(written["sync"][0]["healthStatus"], "Degraded", "{written}");
    assert_eq!(argocd.sync_requests(APP)[0]["revision"], Value::from(merge));
}
