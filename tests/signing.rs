//! Signed commits against real parts: SSH keys made by `ssh-keygen` at test time, a smart-HTTP remote
//! (`git http-backend`) whose pre-receive hook runs `git verify-commit` with `gpg.format=ssh` and an
//! allowed-signers file on every pushed commit (the rule a protected branch that requires signed commits
//! enforces), and an OpenPGP key made by `gpg` in a throwaway `GNUPGHOME`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::git::{
    Fixture, HttpRemote, git, git_cmd, models_yaml, quickstart_fixture, read, write,
};

const CANARY: &str = "canary-token-5f3a9c";
const AB_TEST: &str = "k8s/base/financial-predictor-ab-test.yaml";
/// What the hook says when it refuses a commit.
const REFUSAL: &str = "is not signed by an allowed key";

/// Makes an ed25519 key pair `dir/name` (and `.pub`) with `ssh-keygen`, protected by `passphrase`.
fn ssh_key(dir: &Path, name: &str, passphrase: &str) -> PathBuf {
    let key = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen (OpenSSH's client) is installed: the SSH signing tests need it");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    key
}

/// An allowed-signers file (`principal key` per line) listing the public keys of `keys`.
fn allowed_signers(dir: &Path, keys: &[(&str, &Path)]) -> PathBuf {
    let lines: String = keys
        .iter()
        .map(|(principal, key)| {
            let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
            format!("{principal} {}", public.trim())
        })
        .collect::<Vec<_>>()
        .join("\n");
    let file = dir.join("allowed_signers");
    std::fs::write(&file, lines + "\n").unwrap();
    file
}

/// Installs the signed-commits rule in the fixture's remote: every commit a push brings must pass
/// `git verify-commit` against `allowed`.
fn require_signed_commits(fx: &Fixture, allowed: &Path) {
    let hook = fx.remote.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!(
            r#"#!/bin/sh
zero=0000000000000000000000000000000000000000
while read old new ref; do
  [ "$new" = "$zero" ] && continue
  if [ "$old" = "$zero" ]; then range="$new --not --all"; else range="$old..$new"; fi
  for commit in $(git rev-list $range); do
    if ! git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile='{}' verify-commit "$commit" >/dev/null 2>&1; then
      echo "commit $commit {REFUSAL}: this branch requires signed commits" >&2
      exit 1
    fi
  done
done
"#,
            allowed.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Serves the fixture's remote over smart HTTP (hooks run in receive-pack, which a local push skips) and
/// points `origin` of `clones` there.
fn http_origin(fx: &Fixture, clones: &[&Path]) -> HttpRemote {
    let server = HttpRemote::start(fx.tmp.path(), "ci-bot", CANARY);
    for clone in clones {
        git(
            clone,
            &["remote", "set-url", "origin", &server.url("remote.git")],
        );
    }
    server
}

/// `modelbump` in `dir`, with the push token for the HTTP remote.
fn modelbump(fx: &Fixture, dir: &Path) -> assert_cmd::Command {
    let mut cmd = crate::support::modelbump(&fx.home);
    cmd.current_dir(dir)
        .env("MODELBUMP_GIT_TOKEN", CANARY)
        .env("MODELBUMP_GIT_USERNAME", "ci-bot");
    cmd
}

/// `modelbump` signing with the SSH key `key`.
fn signed(fx: &Fixture, dir: &Path, key: &Path) -> assert_cmd::Command {
    let mut cmd = modelbump(fx, dir);
    cmd.env("MODELBUMP_GIT_SIGNING_FORMAT", "ssh")
        .env("MODELBUMP_GIT_SIGNING_KEY", key);
    cmd
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// What `git verify-commit` says about `commit` in `dir` against `allowed`: success, and its message.
fn verify_ssh(dir: &Path, allowed: &Path, commit: &str) -> (bool, String) {
    let out = git_cmd(dir)
        .args([
            "-c",
            "gpg.format=ssh",
            "-c",
            &format!("gpg.ssh.allowedSignersFile={}", allowed.display()),
            "verify-commit",
            commit,
        ])
        .output()
        .unwrap();
    (out.status.success(), stderr(&out))
}

/// Asserts that the command succeeded and that the remote's main is the checkout's HEAD; returns it.
fn assert_pushed(fx: &Fixture, out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", stderr(out));
    let head = git(&fx.work, &["rev-parse", "HEAD"]);
    assert_eq!(fx.remote_head(), head);
    head
}

fn two_models() -> Fixture {
    Fixture::new(&[(
        "models.yaml",
        &models_yaml(&[
            ("alpha", "s3://models/alpha/1/"),
            ("beta", "s3://models/beta/1/"),
        ]),
    )])
}

fn set(fx: &Fixture, dir: &Path, name: &str, uri: &str) {
    crate::support::modelbump(&fx.home)
        .current_dir(dir)
        .args(["set", "models.yaml", name, uri])
        .assert()
        .success();
}

#[test]
fn an_unsigned_push_is_refused_by_the_hook_and_a_signed_one_lands() {
    let fx = two_models();
    let keys = fx.tmp.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let key = ssh_key(&keys, "modelbump", "");
    let allowed = allowed_signers(&keys, &[("modelbump@example.invalid", &key)]);
    require_signed_commits(&fx, &allowed);
    let _server = http_origin(&fx, &[&fx.work]);
    let before = fx.remote_head();

    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    let out = modelbump(&fx, &fx.work)
        .args(["commit", "--push"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("pre-receive hook declined"), "{err}");
    assert!(err.contains(REFUSAL), "{err}");
    assert!(!err.contains(CANARY), "{err}");
    assert_eq!(fx.remote_head(), before);
    let unsigned = git(&fx.work, &["rev-parse", "HEAD"]);
    assert!(!verify_ssh(&fx.work, &allowed, &unsigned).0);

    // Signed, the same edit lands: the unsigned local commit is modelbump's own, so `commit --push`
    // from a fresh edit on the remote tip is what a pipeline does next.
    git(&fx.work, &["reset", "-q", "--hard", "origin/main"]);
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    let out = signed(&fx, &fx.work, &key)
        .args(["commit", "--push"])
        .output()
        .unwrap();
    let head = assert_pushed(&fx, &out);
    let (ok, message) = verify_ssh(&fx.remote, &allowed, &head);
    assert!(ok, "{message}");
    assert!(
        message.contains("Good \"git\" signature for modelbump@example.invalid"),
        "{message}"
    );
    assert!(
        fx.remote_file("models.yaml")
            .contains("s3://models/alpha/2/")
    );
}

#[test]
fn after_a_race_the_commit_reapplied_on_the_fresh_tip_is_signed_and_accepted() {
    let (fx, store) = quickstart_fixture("");
    let keys = fx.tmp.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let key = ssh_key(&keys, "modelbump", "");
    let colleague = ssh_key(&keys, "colleague", "");
    let allowed = allowed_signers(
        &keys,
        &[
            ("modelbump@example.invalid", &key),
            ("colleague@example.invalid", &colleague),
        ],
    );
    require_signed_commits(&fx, &allowed);
    let other = fx.clone("other");
    let _server = http_origin(&fx, &[&fx.work]);

    // Another writer moves main with a signed commit after our checkout last fetched: modelbump's first
    // push is built on a stale tip and is rejected, so it re-applies its edit on the fresh tip.
    write(&other, "README.md", "unrelated\n");
    git(&other, &["add", "README.md"]);
    git(
        &other,
        &[
            "-c",
            "gpg.format=ssh",
            "-c",
            &format!("user.signingKey={}", colleague.display()),
            "commit",
            "-q",
            "-S",
            "-m",
            "unrelated change",
        ],
    );
    // git's own push to the bare repository runs receive-pack, and so the hook, too.
    git(&other, &["push", "-q", fx.remote.to_str().unwrap(), "main"]);
    let theirs = fx.remote_head();
    assert_eq!(theirs, git(&other, &["rev-parse", "HEAD"]));

    let out = signed(&fx, &fx.work, &key)
        .args(["-o", "json", "run"])
        .env("MLFLOW_TRACKING_URI", &store)
        .env("MODELBUMP_LOG", "info")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("retrying on the fresh tip"),
        "{}",
        stderr(&out)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["pushed"], true, "{report}");
    let head = git(&fx.work, &["rev-parse", "HEAD"]);
    assert_eq!(fx.remote_head(), head);
    assert_eq!(
        git(&fx.work, &["rev-parse", "HEAD^"]),
        theirs,
        "re-applied on their tip"
    );
    let (ok, message) = verify_ssh(&fx.remote, &allowed, &head);
    assert!(ok, "{message}");
    assert!(message.contains("modelbump@example.invalid"), "{message}");
    // Both the edit and the other writer's commit are there.
    assert_eq!(fx.remote_file(AB_TEST), read(&fx.work, AB_TEST).trim_end());
    assert_eq!(git(&fx.remote, &["show", "main:README.md"]), "unrelated");
}

#[test]
fn a_key_that_cannot_sign_stops_run_before_anything_is_written() {
    let (fx, store) = quickstart_fixture("");
    let keys = fx.tmp.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let passphrase = "canary-passphrase-81c2";
    let encrypted = ssh_key(&keys, "encrypted", passphrase);
    let missing = keys.join("missing");
    let pgp = keys.join("pgp.asc");
    std::fs::write(
        &pgp,
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQVYBGcanary-material\n-----END PGP PRIVATE KEY BLOCK-----\n",
    )
    .unwrap();
    let before = read(&fx.work, AB_TEST);
    let head = git(&fx.work, &["rev-parse", "HEAD"]);
    let remote = fx.remote_head();
    for (key, says) in [
        (&encrypted, "protected by a passphrase"),
        (&missing, "cannot read the SSH signing key"),
        (&pgp, "is not an OpenSSH key file"),
    ] {
        let out = signed(&fx, &fx.work, key)
            .arg("run")
            .env("MLFLOW_TRACKING_URI", &store)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(err.contains(says), "{err}");
        assert!(err.contains(&key.display().to_string()), "{err}");
        assert!(
            !err.contains(passphrase) && !err.contains("canary-material"),
            "{err}"
        );
        let secret = std::fs::read_to_string(key).unwrap_or_default();
        if let Some(body) = secret.lines().nth(2) {
            assert!(!err.contains(body), "key material in {err}");
        }
        assert_eq!(read(&fx.work, AB_TEST), before, "nothing written");
        assert_eq!(
            git(&fx.work, &["rev-parse", "HEAD"]),
            head,
            "nothing committed"
        );
        assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
        assert_eq!(fx.remote_head(), remote);
    }
}

#[test]
fn signing_from_the_config_signs_the_local_commit_too() {
    let fx = Fixture::new(&[
        (
            "models.yaml",
            &models_yaml(&[("alpha", "s3://models/alpha/1/")]),
        ),
        (
            "modelbump.yaml",
            "targets:\n  - file: models.yaml\n    name: alpha\n    pinned: true\n",
        ),
    ]);
    let keys = fx.tmp.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let key = ssh_key(&keys, "modelbump", "");
    let allowed = allowed_signers(&keys, &[("modelbump@example.invalid", &key)]);
    let config = format!(
        "targets:\n  - file: models.yaml\n    name: alpha\n    pinned: true\ngit:\n  signing:\n    format: ssh\n    key: {}\n",
        key.display()
    );
    write(&fx.work, "modelbump.yaml", &config);
    git(&fx.work, &["commit", "-q", "-am", "sign commits"]);
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    let out = crate::support::modelbump(&fx.home)
        .current_dir(&fx.work)
        .arg("commit")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let (ok, message) = verify_ssh(&fx.work, &allowed, "HEAD");
    assert!(ok, "{message}");
    // The signature covers the commit: changing a byte of it breaks the verification.
    let raw = git(&fx.work, &["cat-file", "commit", "HEAD"]);
    assert!(
        raw.contains("\ngpgsig -----BEGIN SSH SIGNATURE-----\n"),
        "{raw}"
    );
    let forged = raw.replace("s3://models/alpha/2/", "s3://models/alpha/9/");
    let forged_file = fx.tmp.path().join("forged");
    std::fs::write(&forged_file, forged + "\n").unwrap();
    let forged_id = git(
        &fx.work,
        &[
            "hash-object",
            "-t",
            "commit",
            "-w",
            forged_file.to_str().unwrap(),
        ],
    );
    assert!(!verify_ssh(&fx.work, &allowed, &forged_id).0);
}

/// A throwaway GnuPG home with one secret key (no passphrase); its agent is stopped on drop.
struct GnupgHome {
    home: PathBuf,
    fingerprint: String,
}

impl GnupgHome {
    /// `None` (said loudly) when `gpg` is not installed.
    fn new(dir: &Path) -> Option<Self> {
        if Command::new("gpg").arg("--version").output().is_err() {
            eprintln!("SKIPPED: gpg is not installed, so the OpenPGP signing test cannot run");
            return None;
        }
        let home = dir.join("gnupg");
        std::fs::create_dir_all(&home).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        let gpg = |args: &[&str]| {
            let out = Command::new("gpg")
                .env("GNUPGHOME", &home)
                .args(["--batch", "--no-tty"])
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "gpg {args:?}: {}", stderr(&out));
            String::from_utf8_lossy(&out.stdout).to_string()
        };
        gpg(&[
            "--passphrase",
            "",
            "--quick-gen-key",
            "modelbump <modelbump@example.invalid>",
            "ed25519",
            "sign",
            "never",
        ]);
        let listing = gpg(&["--with-colons", "--list-secret-keys"]);
        let fingerprint = listing
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|rest| rest.split(':').find(|f| f.len() == 40))
            .expect("a fingerprint")
            .to_string();
        Some(Self { home, fingerprint })
    }
}

impl Drop for GnupgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", &self.home)
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

#[test]
fn an_openpgp_signed_commit_passes_git_verify_commit() {
    let fx = two_models();
    let Some(gnupg) = GnupgHome::new(fx.tmp.path()) else {
        return;
    };
    let remote = fx.remote_head();

    // A key the keyring does not hold is refused before anything is committed, naming it.
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    let out = crate::support::modelbump(&fx.home)
        .current_dir(&fx.work)
        .env("GNUPGHOME", &gnupg.home)
        .args([
            "commit",
            "--push",
            "--signing-format",
            "openpgp",
            "--signing-key",
            "0123456789ABCDEF0123456789ABCDEF01234567",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no secret OpenPGP key 0123456789ABCDEF0123456789ABCDEF01234567"),
        "{err}"
    );
    assert_eq!(fx.remote_head(), remote);
    assert_eq!(git(&fx.work, &["rev-parse", "HEAD"]), remote);

    let out = crate::support::modelbump(&fx.home)
        .current_dir(&fx.work)
        .env("GNUPGHOME", &gnupg.home)
        .env("MODELBUMP_GIT_SIGNING_FORMAT", "openpgp")
        .env("MODELBUMP_GIT_SIGNING_KEY", &gnupg.fingerprint)
        .args(["commit", "--push"])
        .output()
        .unwrap();
    let head = assert_pushed(&fx, &out);
    let out = git_cmd(&fx.remote)
        .env("GNUPGHOME", &gnupg.home)
        .args(["verify-commit", "--raw", &head])
        .output()
        .unwrap();
    let status = stderr(&out);
    assert!(out.status.success(), "{status}");
    assert!(
        status.contains(&format!("VALIDSIG {}", gnupg.fingerprint)),
        "{status}"
    );
    assert_eq!(
        git_cmd(&fx.remote)
            .env("GNUPGHOME", &gnupg.home)
            .args(["log", "-1", "--format=%G? %GF", &head])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap(),
        format!("G {}", gnupg.fingerprint)
    );
}
