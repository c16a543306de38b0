//! GitHub App auth: modelbump signs a JWT with the app's private key, the GitHub stand-in verifies it with
//! the public key (by `openssl`) and issues the installation token, which is then the only token the git
//! remote and the API take. No `MODELBUMP_GIT_TOKEN` is given.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::Setup;
use super::wait_merged::{APP, argocd_with, run_waiting_with};
use crate::support::argocd::FakeApp;

const APP_ID: &str = "424242";
const INSTALLATION: &str = "31337";

/// A throwaway RSA key pair made with `openssl genrsa`: the private key file and the public key file.
fn key_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl is installed");
        assert!(out.status.success(), "{out:?}");
    };
    run(&[
        "genrsa",
        "-traditional",
        "-out",
        private.to_str().unwrap(),
        "2048",
    ]);
    run(&[
        "rsa",
        "-in",
        private.to_str().unwrap(),
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);
    (private, public)
}

/// `run` with the app's settings and no push token.
fn app_cmd(s: &Setup, key: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = s.cmd(args);
    cmd.env_remove("MODELBUMP_GIT_TOKEN");
    for (name, value) in app_env(key) {
        cmd.env(name, value);
    }
    cmd
}

fn app_env(key: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("MODELBUMP_GITHUB_APP_ID", APP_ID.to_string()),
        (
            "MODELBUMP_GITHUB_APP_INSTALLATION_ID",
            INSTALLATION.to_string(),
        ),
        (
            "MODELBUMP_GITHUB_APP_PRIVATE_KEY",
            key.display().to_string(),
        ),
    ]
}

/// Lines of the private key that must never be printed.
fn key_lines(key: &Path) -> Vec<String> {
    std::fs::read_to_string(key)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::to_string)
        .collect()
}

fn assert_nothing_secret(out: &std::process::Output, key: &Path) {
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(
            !text.contains("CANARY"),
            "the installation token was printed"
        );
        assert!(!text.contains("eyJ"), "a JWT was printed");
        for line in key_lines(key) {
            assert!(!text.contains(&line), "key material was printed");
        }
    }
}

#[test]
fn a_pull_request_is_opened_as_a_github_app() {
    let Some(s) = Setup::new("github app") else {
        return;
    };
    let (key, public) = key_pair(s.tmp.path(), "app");
    s.github
        .with_app(APP_ID, INSTALLATION, &public, Duration::from_secs(3600));
    let out = app_cmd(&s, &key, &["-vvv", "run", "-o", "json"])
        .output()
        .unwrap();
    crate::support::assert_success(&out);
    assert_nothing_secret(&out, &key);
    assert!(
        s.github.violations().is_empty(),
        "{:#?}",
        s.github.violations()
    );
    let (issued, refused) = s.github.app_tokens();
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(issued, 1, "one token for the push and the API");
    let exchange: Vec<_> = s
        .github
        .received()
        .into_iter()
        .filter(|r| r.uri.starts_with("/app/"))
        .collect();
    assert_eq!(exchange.len(), 1);
    assert_eq!(
        exchange[0].uri,
        format!("/app/installations/{INSTALLATION}/access_tokens")
    );
    assert_eq!(
        exchange[0].body["repositories"],
        serde_json::json!(["gitops"])
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["pullRequest"]["action"], "opened");
    let head = report["pullRequest"]["head"].as_str().unwrap();
    assert_eq!(
        report["commit"],
        Value::from(s.branch(head).expect("pushed with the installation token"))
    );
    assert_eq!(s.github.pulls().len(), 1);
}

#[test]
fn a_short_lived_installation_token_is_refreshed_while_waiting() {
    let Some(s) = Setup::new("github app refresh") else {
        return;
    };
    let (key, public) = key_pair(s.tmp.path(), "app");
    // Tokens that expire within the refresh margin: every use fetches a fresh one.
    s.github
        .with_app(APP_ID, INSTALLATION, &public, Duration::from_secs(120));
    let argocd = argocd_with(
        &s,
        FakeApp::new(APP, "https://github.example/acme/gitops.git"),
    );
    s.github.merge_after_polls(1, 2);
    let mut env = app_env(&key);
    env.push(("MODELBUMP_GIT_TOKEN", "not-the-token".to_string()));
    let (out, written) = run_waiting_with(&s, &argocd, &[], &env);
    crate::support::assert_success(&out);
    assert_nothing_secret(&out, &key);
    assert_eq!(written["pullRequest"]["waitResult"], "merged");
    let (issued, refused) = s.github.app_tokens();
    assert!(refused.is_empty(), "{refused:?}");
    assert!(issued >= 4, "a fresh token for each use: {issued}");
    assert_eq!(argocd.sync_requests(APP).len(), 1);
    assert!(
        s.github.violations().is_empty(),
        "{:#?}",
        s.github.violations()
    );
}

#[test]
fn a_bad_or_wrong_app_key_is_a_clear_error() {
    let Some(s) = Setup::new("github app bad key") else {
        return;
    };
    let (_, public) = key_pair(s.tmp.path(), "app");
    s.github
        .with_app(APP_ID, INSTALLATION, &public, Duration::from_secs(3600));

    // Not a key: a usage error naming the file, before anything is fetched or pushed.
    let garbage = s.tmp.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN RSA PRIVATE KEY-----\nCANARYkeymaterial\n-----END RSA PRIVATE KEY-----\n",
    )
    .unwrap();
    let out = app_cmd(&s, &garbage, &["-vvv", "run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&garbage.display().to_string()), "{stderr}");
    assert!(stderr.contains("not an RSA private key"), "{stderr}");
    assert!(!stderr.contains("CANARY"), "{stderr}");
    assert!(s.github.received().is_empty());

    // A part missing: a usage error naming it.
    let out = s
        .cmd(&["run"])
        .env("MODELBUMP_GITHUB_APP_ID", APP_ID)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("MODELBUMP_GITHUB_APP_INSTALLATION_ID"),
        "{stderr}"
    );

    // Without pull-request mode the app is not used: said, rather than a push without a token.
    let main_before = s.branch("main").unwrap();
    let out = app_cmd(&s, &garbage, &["run"])
        .env("MODELBUMP_PULL_REQUEST", "false")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pull-request mode only"), "{stderr}");
    assert_eq!(s.branch("main").unwrap(), main_before);

    // Another app's key: GitHub refuses the JWT; the message says what to check.
    let (other, _) = key_pair(s.tmp.path(), "other");
    let out = app_cmd(&s, &other, &["-vvv", "run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_nothing_secret(&out, &other);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("github refused GitHub App 424242"),
        "{stderr}"
    );
    assert!(stderr.contains(&other.display().to_string()), "{stderr}");
    let (issued, refused) = s.github.app_tokens();
    assert_eq!(issued, 0);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains("signature"), "{refused:?}");
    assert!(s.github.pulls().is_empty());
}
