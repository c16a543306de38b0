//! What a user sees: short plan lines with a summary, colour, readable `targets` columns, help texts,
//! errors that suggest the right name, the config found from a subfolder, retries on stderr and the
//! commit trailers of several models. Each through the real binary.

use std::path::Path;

use crate::support::git::{Fixture, git, models_yaml, quickstart_fixture, read, write};
use crate::support::mlflow::{MlflowServer, RunSeed, free_port, unique};
use crate::support::{assert_success, modelbump};

const MANIFEST: &str = "k8s/base/financial-predictor-ab-test.yaml";

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The quickstart repo with its baseline gate raised out of reach, so that one target changes and one
/// is blocked; returns the fixture and the tracking URI of its store.
fn blocked_quickstart() -> (Fixture, String) {
    let (fx, store) = quickstart_fixture("");
    let config = read(&fx.work, "modelbump.yaml").replace(">= 0.6", ">= 0.99");
    write(&fx.work, "modelbump.yaml", &config);
    (fx, store)
}

fn cmd(fx: &Fixture, dir: &Path, store: &str) -> assert_cmd::Command {
    let mut cmd = modelbump(&fx.home);
    cmd.current_dir(dir).env("MLFLOW_TRACKING_URI", store);
    cmd
}

#[test]
fn plan_lines_are_short_aligned_and_end_with_a_summary() {
    let (fx, store) = blocked_quickstart();
    let out = cmd(&fx, &fx.work, &store).arg("plan").output().unwrap();
    assert_success(&out);
    let text = stdout(&out);
    let table: Vec<&str> = text.lines().take_while(|l| !l.is_empty()).collect();
    for line in &table {
        assert!(line.chars().count() < 200, "a long line: {line}");
    }
    insta::assert_snapshot!(table.join("\n"), @r#"
    blocked  k8s/base/financial-predictor-ab-test.yaml:12  baseline-predictor  require "metrics.val_accuracy >= 0.99": metrics.val_accuracy (0.641) >= 0.99 does not hold
    changed  k8s/base/financial-predictor-ab-test.yaml:31  enhanced-predictor  s3://mlflow-artifacts/29/models/m-a1b2c3d4e5f647188a9b0c1d2e3f4a5b/artifacts/  (version 2, run 4e3b8f7d2a5c)
    1 to change, 1 blocked
    "#);
    // The change is stated once in the table; the old value is in the diff below it.
    assert_eq!(
        text.matches("m-a1b2c3d4e5f647188a9b0c1d2e3f4a5b").count(),
        2,
        "{text}"
    );
    assert!(text.contains("\ndiff --git a/"), "{text}");
}

#[test]
fn colour_follows_the_flag_the_variables_and_the_terminal() {
    let (fx, store) = blocked_quickstart();
    let plan = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = cmd(&fx, &fx.work, &store);
        c.args(args).arg("plan");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert_success(&out);
        stdout(&out)
    };
    // The tests run with NO_COLOR=1 and stdout is a pipe: plain text either way.
    let plain = plan(&[], &[]);
    assert!(!plain.contains('\x1b'), "{plain}");
    assert_eq!(
        plan(&["--color", "never"], &[("MODELBUMP_COLOR", "always")]),
        plain
    );
    assert_eq!(plan(&[], &[("NO_COLOR", "")]), plain, "auto into a pipe");

    let always = plan(&["--color", "always"], &[]);
    assert!(always.contains("\x1b[32mchanged\x1b[0m"), "{always:?}");
    assert!(always.contains("\x1b[33mblocked\x1b[0m"), "{always:?}");
    assert!(
        always.contains("\x1b[32m+"),
        "the added diff line: {always:?}"
    );
    assert_eq!(plan(&[], &[("MODELBUMP_COLOR", "always")]), always);
    // The same text, escape codes aside.
    let stripped = always
        .split('\x1b')
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part
            } else {
                &part[part.find('m').unwrap() + 1..]
            }
        })
        .collect::<String>();
    assert_eq!(stripped, plain);

    let out = cmd(&fx, &fx.work, &store)
        .arg("plan")
        .env("MODELBUMP_COLOR", "sometimes")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("MODELBUMP_COLOR"), "{}", stderr(&out));
}

#[test]
fn the_config_is_found_from_a_subfolder_and_paths_keep_their_meaning() {
    let (fx, store) = blocked_quickstart();
    let at_root = cmd(&fx, &fx.work, &store)
        .args(["-o", "json", "plan"])
        .output()
        .unwrap();
    assert_success(&at_root);
    let sub = fx.work.join("k8s/base");
    let below = cmd(&fx, &sub, &store)
        .args(["-o", "json", "plan"])
        .output()
        .unwrap();
    assert_success(&below);
    assert_eq!(stdout(&below), stdout(&at_root));
    // -C names the folder started in, and the walk starts there.
    let with_c = cmd(&fx, fx.tmp.path(), &store)
        .arg("-C")
        .arg(&sub)
        .args(["-o", "json", "plan"])
        .output()
        .unwrap();
    assert_success(&with_c);
    assert_eq!(stdout(&with_c), stdout(&at_root));

    // A path on the command line is relative to the folder it was typed in.
    let out = cmd(&fx, &sub, &store)
        .args([
            "set",
            "financial-predictor-ab-test.yaml",
            "baseline-predictor",
            "s3://bucket/pinned/",
        ])
        .output()
        .unwrap();
    assert_success(&out);
    assert!(read(&fx.work, MANIFEST).contains("s3://bucket/pinned/"));
    assert!(
        stdout(&out).starts_with("k8s/base/financial-predictor-ab-test.yaml:"),
        "{}",
        stdout(&out)
    );

    // Above the git root nothing is looked for: a folder outside any repository uses only its own file.
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(outside.path().join("sub")).unwrap();
    std::fs::write(
        outside.path().join("modelbump.yaml"),
        "targets: []\nbogus: 1\n",
    )
    .unwrap();
    let out = modelbump(&fx.home)
        .current_dir(outside.path().join("sub"))
        .arg("targets")
        .output()
        .unwrap();
    assert_success(&out);
}

#[test]
fn targets_keeps_its_columns_readable_with_a_huge_value() {
    let huge = format!("s3://bucket/{}/end", "x".repeat(120_000));
    let fx = Fixture::new(&[
        (
            "k8s/a.yaml",
            &models_yaml(&[("small", "s3://bucket/small/")]),
        ),
        ("k8s/b.yaml", &models_yaml(&[("huge", &huge)])),
    ]);
    let out = modelbump(&fx.home)
        .current_dir(&fx.work)
        .arg("targets")
        .output()
        .unwrap();
    assert_success(&out);
    let text = stdout(&out);
    assert!(
        text.lines().all(|l| l.chars().count() < 200),
        "{}",
        &text[..text.len().min(600)]
    );
    assert!(text.contains("s3://bucket/small/"), "{text}");
    assert!(text.contains('…') && text.contains("x/end"), "{text}");
    let json = modelbump(&fx.home)
        .current_dir(&fx.work)
        .args(["-o", "json", "targets"])
        .output()
        .unwrap();
    assert_success(&json);
    assert!(stdout(&json).contains(&huge), "the JSON has the full value");
}

fn help(args: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let out = modelbump(home.path())
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert_success(&out);
    stdout(&out)
}

/// The examples of each subcommand, one per line, and each flag under its own heading.
#[test]
fn help_examples_are_one_per_line_and_flags_under_their_heading() {
    for (command, example) in [
        (
            "plan",
            "\n  modelbump plan -o json --report /tmp/plan.json\n",
        ),
        (
            "apply",
            "\n  modelbump apply --tracking-uri http://localhost:5000 --report report.json\n",
        ),
        (
            "sync",
            "\n  modelbump sync --app financial-mlops-infrastructure --wait\n",
        ),
        (
            "completions",
            "\n  modelbump completions zsh > \"${fpath[1]}/_modelbump\"\n",
        ),
        (
            "run",
            "\n  modelbump run --report /tmp/modelbump-report.json\n",
        ),
    ] {
        let text = help(&[command]);
        assert!(text.contains(example), "{command}:\n{text}");
    }
    let run = help(&["run"]);
    let mlflow = section(&run, "MLflow:");
    assert!(mlflow.contains("--tracking-uri"), "{run}");
    for flag in [
        "--report",
        "--dry-run",
        "--message",
        "--no-push",
        "--remote",
        "--branch",
    ] {
        assert!(!mlflow.contains(flag), "{flag} is under MLflow:\n{run}");
    }
    let git_section = section(&run, "Git:");
    for flag in ["--message", "--no-push", "--remote", "--branch"] {
        assert!(
            git_section.contains(flag),
            "{flag} is not under Git:\n{run}"
        );
    }
    assert!(section(&run, "Options:").contains("--dry-run"), "{run}");
    assert!(
        run.contains("run pushes by default; commit pushes only with --push"),
        "{run}"
    );
    assert!(
        help(&["commit"]).contains("commit does not push by default; run does unless --no-push")
    );
    assert!(help(&["plan"]).contains("--color <WHEN>"));
}

/// The lines of `text` under `heading`, up to the next heading (a line that is not indented).
fn section(text: &str, heading: &str) -> String {
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no {heading} in\n{text}"));
    text[start + heading.len() + 2..]
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_config_key_typo_gets_a_suggestion_the_file_name_and_one_error_prefix() {
    let (fx, store) = quickstart_fixture("mlflow:\n  trackingURI: http://127.0.0.1:9\n");
    let out = cmd(&fx, &fx.work.join("k8s"), &store)
        .arg("plan")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("unknown field `trackingURI`"), "{err}");
    assert!(err.contains("did you mean `trackingUri`?"), "{err}");
    let config = fx.work.join("modelbump.yaml").canonicalize().unwrap();
    assert!(err.contains(&format!("--> {}:", config.display())), "{err}");
    assert!(!err.contains("<input>"), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
}

/// A repo with one Model and a config whose single target is `target` (YAML, indented by two spaces),
/// against `url`.
fn mlflow_case(url: &str, target: &str) -> (tempfile::TempDir, tempfile::TempDir) {
    let repo = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write(
        repo.path(),
        "k8s/models.yaml",
        &models_yaml(&[("baseline-predictor", "s3://b/old/")]),
    );
    write(
        repo.path(),
        "modelbump.yaml",
        &format!(
            "mlflow:\n  trackingUri: {url}\ntargets:\n  - file: k8s/models.yaml\n    name: baseline-predictor\n{target}"
        ),
    );
    (repo, home)
}

fn plan_error(url: &str, target: &str) -> String {
    let (repo, home) = mlflow_case(url, target);
    let out = modelbump(home.path())
        .arg("-C")
        .arg(repo.path())
        .arg("plan")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", stdout(&out));
    stderr(&out)
}

#[test]
fn a_wrong_experiment_name_gets_the_closest_names() {
    let server = MlflowServer::shared();
    let name = unique("polish-experiment");
    server.client().create_experiment(&name);
    let typo = name.replacen("experiment", "experimnet", 1);
    let err = plan_error(
        &server.url,
        &format!("    run:\n      experiment: {typo}\n"),
    );
    assert!(
        err.contains(&format!("experiment {typo:?} not found")),
        "{err}"
    );
    assert!(err.contains(&format!("did you mean `{name}`")), "{err}");
}

#[test]
fn a_wrong_registered_model_or_alias_is_named_as_such_with_what_exists() {
    let server = MlflowServer::shared();
    let client = server.client();
    let exp = client.create_experiment(&unique("polish-registry"));
    let run = client.seed_run(&exp, &RunSeed::new("FINISHED", 1));
    let model = client.log_model(&run, "model", true);
    let registered = unique("polish-predictor");
    client.create_registered_model(&registered);
    let version = client.create_version(
        &registered,
        &format!("models:/{}", model.model_id),
        Some(&run.run_id),
    );
    client.set_alias(&registered, "champion", &version);

    let typo = registered.replacen("predictor", "predicter", 1);
    let err = plan_error(
        &server.url,
        &format!("    registered:\n      name: {typo}\n      alias: champion\n"),
    );
    assert!(
        err.contains(&format!("registered model {typo:?} does not exist")),
        "{err}"
    );
    assert!(
        err.contains(&format!("did you mean `{registered}`")),
        "{err}"
    );
    assert!(!err.contains("has no alias"), "{err}");

    let err = plan_error(
        &server.url,
        &format!("    registered:\n      name: {registered}\n      alias: champio\n"),
    );
    assert!(err.contains("has no alias \"champio\""), "{err}");
    assert!(err.contains("did you mean `champion`?"), "{err}");
    assert!(
        err.contains(&format!("its aliases: champion (version {version})")),
        "{err}"
    );
}

#[test]
fn retries_are_visible_at_the_default_verbosity() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let (repo, home) = mlflow_case(&url, "    run:\n      experiment: anything\n");
    let out = modelbump(home.path())
        .arg("-C")
        .arg(repo.path())
        .arg("plan")
        .env_remove("MODELBUMP_LOG")
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    let prefix = format!("MLflow {url}/api/2.0/mlflow/experiments/get-by-name: connection failed");
    let retries: Vec<&str> = err.lines().filter(|l| l.contains(&prefix)).collect();
    assert_eq!(retries.len(), 2, "{err}");
    assert!(
        retries[0].contains("; retrying in ") && retries[0].ends_with("(2/3)"),
        "{err}"
    );
    assert!(retries[1].ends_with("(3/3)"), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
}

/// A commit that changes two models gives each its own block of trailers.
#[test]
fn two_models_in_one_commit_have_a_trailer_block_each() {
    let (fx, store) = quickstart_fixture("");
    let out = cmd(&fx, &fx.work, &store)
        .args(["run", "--no-push"])
        .output()
        .unwrap();
    assert_success(&out);
    let message = git(&fx.work, &["log", "-1", "--format=%B"]);
    let trailers: Vec<&str> = message
        .lines()
        .filter(|l| l.starts_with("Modelbump-Target:") || l.starts_with("MLflow-"))
        .collect();
    let targets: Vec<usize> = trailers
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("Modelbump-Target:"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(targets.len(), 2, "{message}");
    assert_eq!(
        trailers[targets[0]],
        format!("Modelbump-Target: baseline-predictor ({MANIFEST})")
    );
    assert_eq!(
        trailers[targets[1]],
        format!("Modelbump-Target: enhanced-predictor ({MANIFEST})")
    );
    // Each block has its own run id, and git reads them all as trailers.
    for block in [&trailers[targets[0]..targets[1]], &trailers[targets[1]..]] {
        assert_eq!(
            block
                .iter()
                .filter(|l| l.starts_with("MLflow-Run-Id:"))
                .count(),
            1,
            "{message}"
        );
    }
    let parsed = git(
        &fx.work,
        &[
            "log",
            "-1",
            "--format=%(trailers:key=Modelbump-Target,valueonly)",
        ],
    );
    assert_eq!(
        parsed.lines().filter(|l| !l.is_empty()).count(),
        2,
        "{parsed}"
    );
}
