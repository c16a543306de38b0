//! The command line as users see it: the help of every command (a snapshot, so that a change shows in
//! review) and the shell completions.

use crate::support;

fn help(args: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let out = support::modelbump(home.path())
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_of_every_command() {
    insta::assert_snapshot!("help", help(&[]));
    for command in [
        "targets",
        "set",
        "plan",
        "apply",
        "commit",
        "sync",
        "run",
        "completions",
        "serve",
        "init",
    ] {
        insta::assert_snapshot!(format!("help_{command}"), help(&[command]));
    }
}

#[test]
fn help_documents_the_exit_codes() {
    let text = help(&[]);
    for code in [
        "0  success",
        "1  failure",
        "2  usage or configuration error",
        "3  --detailed-exitcode",
        "4  unreachable",
        "5  push attempts exhausted",
        "6  pushed, but the Argo CD sync failed",
        "7  not merged",
        "docs/exit-codes.md",
    ] {
        assert!(text.contains(code), "{code}");
    }
}

#[test]
fn a_usage_error_exits_2() {
    let home = tempfile::tempdir().unwrap();
    let out = support::modelbump(home.path())
        .args(["set", "only-a-file"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn completions_for_each_shell() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = support::modelbump(home.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains("modelbump"), "{shell}");
        assert!(
            script.contains("targets") && script.contains("kind"),
            "{shell}"
        );
    }
}
