//! Shared test helpers: the binary under test, hermetic environments, and the location of the shared
//! corpus and schemas.

#![allow(dead_code)]

use std::path::PathBuf;

/// The folder holding `corpus/` and `schemas/`: `MODELBUMP_SHARED`, else `../shared` next to the crate.
/// `None` (and a loud message on stderr) when it is missing, so that a user's clone skips those tests.
pub fn shared_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("MODELBUMP_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    if dir.join("corpus").is_dir() {
        Some(dir)
    } else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "{test}: the shared corpus is missing at {} (set MODELBUMP_SHARED)",
                dir.display()
            );
        }
        eprintln!(
            "SKIPPED {test}: no shared corpus at {} (set MODELBUMP_SHARED to run it)",
            dir.display()
        );
        None
    }
}

/// A `modelbump` command with a hermetic environment: no inherited variables but PATH, a fixed HOME,
/// no global git config, no colour.
pub fn modelbump(home: &std::path::Path) -> assert_cmd::Command {
    hermetic(assert_cmd::Command::cargo_bin("modelbump").unwrap(), home)
}

/// [`modelbump`] run by `sh` under an address-space limit (`ulimit -v`, in KiB): a test of a memory
/// blow-up then fails fast with an allocation failure instead of taking the machine down.
pub fn modelbump_with_memory_limit(home: &std::path::Path, kib: u64) -> assert_cmd::Command {
    let mut cmd = hermetic(assert_cmd::Command::new("sh"), home);
    cmd.arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_modelbump"));
    cmd
}

fn hermetic(mut cmd: assert_cmd::Command, home: &std::path::Path) -> assert_cmd::Command {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("NO_COLOR", "1")
        .env("MODELBUMP_LOG", "warn");
    cmd
}

/// Asserts that a command exited 0, showing its stderr when it did not.
pub fn assert_success(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub mod argocd;
pub mod editor;
pub mod git;
pub mod gitea;
pub mod github;
pub mod gitlab;
pub mod http_server;
pub mod http_stub;
pub mod local_stores;
pub mod mlflow;
pub mod schemas;
pub mod serve;
