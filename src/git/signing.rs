//! Signed commits: every commit object modelbump writes goes through [`GitRepo::write_commit`], which
//! builds the commit buffer, signs it when signing is configured and stores it with the signature in its
//! `gpgsig` header, as `git commit -S` does.
//!
//! The signature is made by the program git itself runs for the format, with the arguments git passes:
//! `ssh-keygen -Y sign -n git -f KEY` for SSH (the SSHSIG format that `git verify-commit` checks with
//! `gpg.format=ssh` and `gpg.ssh.allowedSignersFile`) and `gpg --detach-sign --armor --local-user KEY` for
//! OpenPGP. Running the same programs means every key type, hardware key and agent that works for
//! `git commit -S` works here, and the signature is by construction the one git verifies; the price is a
//! process per commit, which is nothing next to a push.
//!
//! Both programs are run without a terminal and told never to ask for a passphrase: a key that needs one
//! must be in an agent (ssh-agent, gpg-agent). [`Signer::check`] is run before anything is written: it
//! says what is wrong with the key (missing, not a key, encrypted, not in the keyring) naming the key,
//! then signs a probe to catch the rest. Key material is never read into messages: only the first line
//! of an SSH key file is looked at, to tell a private key from a public one, and the programs' messages
//! name keys, never their contents.
//!
//! The programs run with the environment snapshot modelbump was given (`PATH`, `HOME`, `SSH_AUTH_SOCK`,
//! `GNUPGHOME`, ...), not the process environment, so a command stays hermetic.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use git2::{Oid, Signature, Tree};

use super::{GitError, GitRepo};
use crate::env::Env;

/// The header a commit's signature goes in, for every format (git's name for it).
const SIGNATURE_HEADER: &str = "gpgsig";

/// What the probe signature of [`Signer::check`] signs.
const PROBE: &[u8] = b"modelbump signing check\n";

/// How to sign commits (`git.signing`), as resolved from flags, environment and config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signing {
    /// An SSH key: a private key file (without a passphrase), or a public key file whose private key is
    /// in the ssh-agent (`SSH_AUTH_SOCK`), as git's `user.signingKey` with `gpg.format=ssh`.
    Ssh {
        /// The key file.
        key: PathBuf,
    },
    /// An OpenPGP key in the GnuPG keyring (`GNUPGHOME`, else `~/.gnupg`), as git's `user.signingKey`.
    OpenPgp {
        /// What `gpg --local-user` takes: a fingerprint, a key id or a user id (an email).
        key: String,
    },
}

impl Signing {
    /// The format's name, as configured.
    pub fn format(&self) -> &'static str {
        match self {
            Self::Ssh { .. } => "ssh",
            Self::OpenPgp { .. } => "openpgp",
        }
    }

    /// The key, for messages.
    pub fn key_name(&self) -> String {
        match self {
            Self::Ssh { key } => key.display().to_string(),
            Self::OpenPgp { key } => key.clone(),
        }
    }
}

/// Why a commit could not be signed. Each names the key and says what to do; none holds key material.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The SSH key file cannot be read.
    #[error(
        "cannot read the SSH signing key {key} ({message}); set git.signing.key (MODELBUMP_GIT_SIGNING_KEY, --signing-key) to a key file"
    )]
    KeyUnreadable {
        /// The key file.
        key: PathBuf,
        /// The system's message.
        message: String,
    },
    /// The file is not an OpenSSH key.
    #[error(
        "the SSH signing key {key} is not an OpenSSH key file (neither a private key nor a public key line); with git.signing.format ssh the key is a file made by ssh-keygen, with openpgp it is a GnuPG key id or fingerprint"
    )]
    NotAnSshKey {
        /// The key file.
        key: PathBuf,
    },
    /// The private key needs a passphrase, which modelbump never asks for.
    #[error(
        "the SSH signing key {key} is protected by a passphrase, which modelbump cannot ask for: load it into an ssh-agent (ssh-add {key}) and set the key to its public key file ({key}.pub), or use a signing key without a passphrase kept in the pipeline's secret store"
    )]
    Encrypted {
        /// The key file.
        key: PathBuf,
    },
    /// A public key file was given, and no agent is there to hold its private key.
    #[error(
        "the SSH signing key {key} is a public key, so its private key must be in an ssh-agent, but SSH_AUTH_SOCK is not set: start an agent and ssh-add the key, or set the key to the private key file"
    )]
    NoAgent {
        /// The key file.
        key: PathBuf,
    },
    /// The OpenPGP key is not in the keyring.
    #[error(
        "no secret OpenPGP key {key} in the GnuPG keyring ({home}): {message}; import it (gpg --import) or set git.signing.key to a key id or fingerprint that `gpg --list-secret-keys` shows"
    )]
    NoSecretKey {
        /// The key id.
        key: String,
        /// The keyring's folder.
        home: String,
        /// gpg's message.
        message: String,
    },
    /// The signing program is not installed.
    #[error(
        "cannot run {program} to sign with the {format} key {key} ({message}); install it ({package}) or make it reachable through PATH"
    )]
    NoProgram {
        /// The program.
        program: &'static str,
        /// The package that has it.
        package: &'static str,
        /// The format.
        format: &'static str,
        /// The key.
        key: String,
        /// The system's message.
        message: String,
    },
    /// The signing program failed.
    #[error("{program} could not sign with the {format} key {key}: {message}")]
    Failed {
        /// The program.
        program: &'static str,
        /// The format.
        format: &'static str,
        /// The key.
        key: String,
        /// The program's message.
        message: String,
    },
}

/// Signs commit buffers with the configured key, running the signing program with `env`.
#[derive(Debug, Clone)]
pub struct Signer {
    signing: Signing,
    env: Env,
}

impl Signer {
    /// A signer for `signing`, whose program runs with the environment snapshot `env`.
    pub fn new(signing: Signing, env: Env) -> Self {
        Self { signing, env }
    }

    /// What it signs with.
    pub fn signing(&self) -> &Signing {
        &self.signing
    }

    /// Checks that a commit can be signed: the key is there and usable without a passphrase prompt, and
    /// a probe is signed. Run before anything is written.
    pub fn check(&self) -> Result<(), SigningError> {
        match &self.signing {
            Signing::Ssh { key } => self.check_ssh_key(key)?,
            Signing::OpenPgp { key } => self.check_openpgp_key(key)?,
        }
        self.sign(PROBE).map(drop)
    }

    /// The armored signature of `payload` (`-----BEGIN SSH SIGNATURE-----` or `-----BEGIN PGP
    /// SIGNATURE-----`), ending with a newline.
    pub fn sign(&self, payload: &[u8]) -> Result<String, SigningError> {
        let (program, args, armor) = match &self.signing {
            Signing::Ssh { key } => (
                "ssh-keygen",
                vec![
                    "-Y".into(),
                    "sign".into(),
                    "-n".into(),
                    "git".into(),
                    "-f".into(),
                    key.as_os_str().to_owned(),
                ],
                "-----BEGIN SSH SIGNATURE-----",
            ),
            Signing::OpenPgp { key } => (
                "gpg",
                [
                    "--batch",
                    "--no-tty",
                    "--pinentry-mode",
                    "error",
                    "--status-fd",
                    "2",
                    "--armor",
                    "--detach-sign",
                    "--local-user",
                    key,
                ]
                .iter()
                .map(Into::into)
                .collect(),
                "-----BEGIN PGP SIGNATURE-----",
            ),
        };
        let out = self.run(program, &args, payload)?;
        let signature = String::from_utf8_lossy(&out.stdout).to_string();
        if !out.status.success() || !signature.starts_with(armor) {
            return Err(self.failed(program, &out.stderr));
        }
        Ok(signature)
    }

    /// Runs `program` with `args`, `input` on stdin, the snapshot as its environment and no terminal.
    fn run(
        &self,
        program: &'static str,
        args: &[std::ffi::OsString],
        input: &[u8],
    ) -> Result<std::process::Output, SigningError> {
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .envs(self.env.vars())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| SigningError::NoProgram {
            program,
            package: match program {
                "gpg" => "GnuPG, e.g. the gnupg package",
                _ => "OpenSSH's client, e.g. the openssh-client package",
            },
            format: self.signing.format(),
            key: self.signing.key_name(),
            message: e.to_string(),
        })?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let input = input.to_vec();
        // Written from a thread: a program that answers before reading all of its input must not block us.
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().map_err(|e| SigningError::Failed {
            program,
            format: self.signing.format(),
            key: self.signing.key_name(),
            message: e.to_string(),
        });
        let _ = writer.join();
        out
    }

    fn failed(&self, program: &'static str, stderr: &[u8]) -> SigningError {
        SigningError::Failed {
            program,
            format: self.signing.format(),
            key: self.signing.key_name(),
            message: program_message(stderr),
        }
    }

    /// Tells a private key from a public one by the file's first line, and checks that a private key
    /// opens without a passphrase and that a public one has an agent.
    fn check_ssh_key(&self, key: &Path) -> Result<(), SigningError> {
        let first = first_line(key).map_err(|e| SigningError::KeyUnreadable {
            key: key.to_path_buf(),
            message: e.to_string(),
        })?;
        match ssh_key_kind(&first) {
            SshKeyKind::Private => {
                // `-y` derives the public key; with an empty passphrase it fails on an encrypted key
                // instead of prompting.
                let args = ["-y", "-P", "", "-f"]
                    .iter()
                    .map(Into::into)
                    .chain([key.as_os_str().to_owned()])
                    .collect::<Vec<std::ffi::OsString>>();
                let out = self.run("ssh-keygen", &args, b"")?;
                if out.status.success() {
                    return Ok(());
                }
                let message = String::from_utf8_lossy(&out.stderr).to_ascii_lowercase();
                if message.contains("passphrase") {
                    return Err(SigningError::Encrypted {
                        key: key.to_path_buf(),
                    });
                }
                Err(self.failed("ssh-keygen", &out.stderr))
            }
            SshKeyKind::Public if self.env.get("SSH_AUTH_SOCK").is_none() => {
                Err(SigningError::NoAgent {
                    key: key.to_path_buf(),
                })
            }
            SshKeyKind::Public => Ok(()),
            SshKeyKind::Other => Err(SigningError::NotAnSshKey {
                key: key.to_path_buf(),
            }),
        }
    }

    /// Checks that the keyring holds a secret key for `key`.
    fn check_openpgp_key(&self, key: &str) -> Result<(), SigningError> {
        let args: Vec<std::ffi::OsString> =
            ["--batch", "--no-tty", "--list-secret-keys", "--", key]
                .iter()
                .map(Into::into)
                .collect();
        let out = self.run("gpg", &args, b"")?;
        if out.status.success() {
            return Ok(());
        }
        let home = match (self.env.get("GNUPGHOME"), self.env.home()) {
            (Some(home), _) => home.to_string(),
            (None, Some(home)) => home.join(".gnupg").display().to_string(),
            (None, None) => "~/.gnupg".to_string(),
        };
        Err(SigningError::NoSecretKey {
            key: key.to_string(),
            home,
            message: program_message(&out.stderr),
        })
    }
}

/// What an SSH key file's first line says it is.
#[derive(Debug, PartialEq, Eq)]
enum SshKeyKind {
    Private,
    Public,
    Other,
}

fn ssh_key_kind(first_line: &str) -> SshKeyKind {
    let line = first_line.trim();
    if line.starts_with("-----BEGIN ") && line.ends_with("PRIVATE KEY-----") {
        return SshKeyKind::Private;
    }
    let algorithm = line.split_whitespace().next().unwrap_or_default();
    if ["ssh-", "ecdsa-", "sk-"]
        .iter()
        .any(|p| algorithm.starts_with(p))
        && line.split_whitespace().nth(1).is_some()
    {
        return SshKeyKind::Public;
    }
    SshKeyKind::Other
}

/// The first line of a file, at most 200 bytes of it: enough to tell what kind of key it is, and
/// nothing more of the key is read here.
fn first_line(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut head = [0u8; 200];
    let mut file = std::fs::File::open(path)?;
    let mut len = 0;
    while len < head.len() {
        let n = file.read(&mut head[len..])?;
        if n == 0 {
            break;
        }
        len += n;
    }
    let text = String::from_utf8_lossy(&head[..len]);
    Ok(text.lines().next().unwrap_or_default().to_string())
}

/// A signing program's message: its lines, without gpg's machine-readable status lines, joined.
fn program_message(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("[GNUPG:]"))
        // ssh-keygen frames its warning about a key file others can read with a row of `@`.
        .filter(|l| !l.chars().all(|c| c == '@'))
        .collect();
    if lines.is_empty() {
        "it gave no reason".to_string()
    } else {
        lines.join("; ")
    }
}

/// A commit with its `gpgsig` header: `buffer` (a commit object without signature) with the header
/// inserted before the blank line that ends the headers, each line of the signature after the first
/// indented by a space. This is what libgit2's `commit_signed` writes; it is here to test that
/// [`GitRepo::write_commit`] stores what git would.
#[cfg(test)]
fn with_signature_header(buffer: &str, signature: &str) -> String {
    let (headers, message) = buffer.split_once("\n\n").expect("a commit has a message");
    let folded = signature.trim_end_matches('\n').replace('\n', "\n ");
    format!("{headers}\n{SIGNATURE_HEADER} {folded}\n\n{message}")
}

impl GitRepo {
    /// Writes a commit object (refs are not touched): the one place modelbump creates commits. The
    /// commit buffer is built as `git commit` would; with a `signer` it is signed and stored with the
    /// signature in its `gpgsig` header, else stored as is.
    pub(crate) fn write_commit(
        &self,
        author: &Signature<'_>,
        committer: &Signature<'_>,
        message: &str,
        tree: &Tree<'_>,
        parents: &[&git2::Commit<'_>],
        signer: Option<&Signer>,
    ) -> Result<Oid, GitError> {
        let buffer = self
            .repo
            .commit_create_buffer(author, committer, message, tree, parents)
            .map_err(self.err("building the commit"))?;
        let Some(signer) = signer else {
            let odb = self
                .repo
                .odb()
                .map_err(self.err("opening the object database"))?;
            return odb
                .write(git2::ObjectType::Commit, &buffer)
                .map_err(self.err("writing the commit"));
        };
        let content = std::str::from_utf8(&buffer).map_err(|e| GitError::Git {
            action: "signing the commit".into(),
            repo: self.workdir.clone(),
            message: e.to_string(),
        })?;
        let signature = signer.sign(&buffer)?;
        // libgit2 indents each line break of the signature and ends the header itself: a final line
        // break kept here would add an empty continuation line that git's own `commit -S` does not write.
        let signature = signature.trim_end_matches(['\n', '\r']);
        self.repo
            .commit_signed(content, signature, Some(SIGNATURE_HEADER))
            .map_err(self.err("writing the signed commit"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_told_apart_by_their_first_line() {
        assert_eq!(
            ssh_key_kind("-----BEGIN OPENSSH PRIVATE KEY-----"),
            SshKeyKind::Private
        );
        assert_eq!(
            ssh_key_kind("-----BEGIN RSA PRIVATE KEY-----\r"),
            SshKeyKind::Private
        );
        assert_eq!(
            ssh_key_kind("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI me@example"),
            SshKeyKind::Public
        );
        assert_eq!(
            ssh_key_kind("sk-ssh-ed25519@openssh.com AAAAGnNr"),
            SshKeyKind::Public
        );
        assert_eq!(
            ssh_key_kind("ecdsa-sha2-nistp256 AAAAE2VjZHNh"),
            SshKeyKind::Public
        );
        assert_eq!(
            ssh_key_kind("-----BEGIN PGP PRIVATE KEY BLOCK-----"),
            SshKeyKind::Other
        );
        assert_eq!(ssh_key_kind("ssh-ed25519"), SshKeyKind::Other);
        assert_eq!(ssh_key_kind(""), SshKeyKind::Other);
    }

    #[test]
    fn program_messages_drop_gpg_status_lines() {
        let stderr = b"[GNUPG:] KEY_CONSIDERED ABC 2\ngpg: skipped \"x\": No secret key\n[GNUPG:] INV_SGNR 9 x\n\ngpg: signing failed: No secret key\n";
        assert_eq!(
            program_message(stderr),
            "gpg: skipped \"x\": No secret key; gpg: signing failed: No secret key"
        );
        assert_eq!(program_message(b"\n"), "it gave no reason");
        assert_eq!(
            program_message(b"@@@@\n@  WARNING: UNPROTECTED PRIVATE KEY FILE!  @\n@@@@\nLoad key \"k\": bad permissions\n"),
            "@  WARNING: UNPROTECTED PRIVATE KEY FILE!  @; Load key \"k\": bad permissions"
        );
    }

    /// A repository with one commit, and what a commit on it needs.
    fn repo_with_commit() -> (tempfile::TempDir, GitRepo, Oid) {
        let tmp = tempfile::tempdir().unwrap();
        let raw = git2::Repository::init(tmp.path()).unwrap();
        let sig =
            Signature::new("T", "t@example.invalid", &git2::Time::new(1_700_000_000, 0)).unwrap();
        let tree_id = raw.treebuilder(None).unwrap().write().unwrap();
        let tree = raw.find_tree(tree_id).unwrap();
        let id = raw
            .commit(Some("HEAD"), &sig, &sig, "first\n", &tree, &[])
            .unwrap();
        drop(tree);
        let repo = GitRepo::discover(tmp.path()).unwrap();
        (tmp, repo, id)
    }

    fn write_on(repo: &GitRepo, parent: Oid, signer: Option<&Signer>) -> Result<Oid, GitError> {
        let raw = repo.raw();
        let parent = raw.find_commit(parent).unwrap();
        let tree = parent.tree().unwrap();
        let sig =
            Signature::new("T", "t@example.invalid", &git2::Time::new(1_700_000_100, 0)).unwrap();
        repo.write_commit(&sig, &sig, "second\n", &tree, &[&parent], signer)
    }

    #[test]
    fn an_unsigned_commit_is_the_one_libgit2_would_write() {
        let (_tmp, repo, first) = repo_with_commit();
        let ours = write_on(&repo, first, None).unwrap();
        let raw = repo.raw();
        let parent = raw.find_commit(first).unwrap();
        let sig =
            Signature::new("T", "t@example.invalid", &git2::Time::new(1_700_000_100, 0)).unwrap();
        let theirs = raw
            .commit(
                None,
                &sig,
                &sig,
                "second\n",
                &parent.tree().unwrap(),
                &[&parent],
            )
            .unwrap();
        assert_eq!(ours, theirs);
        assert!(raw.extract_signature(&ours, None).is_err(), "not signed");
    }

    /// A signer whose "program" is a script that prints a fixed armored signature, standing in for
    /// ssh-keygen to test the buffer plumbing (the real programs are tested with real keys in the
    /// integration tests).
    fn script_signer(dir: &Path, body: &str) -> Signer {
        use std::os::unix::fs::PermissionsExt;
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let script = bin.join("ssh-keygen");
        std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        Signer::new(
            Signing::Ssh {
                key: dir.join("key"),
            },
            Env::from_pairs([("PATH", format!("{}:/usr/bin:/bin", bin.display()))]),
        )
    }

    #[test]
    fn a_signed_commit_holds_the_signature_of_exactly_its_unsigned_buffer() {
        let (tmp, repo, first) = repo_with_commit();
        // The stand-in keeps what it was asked to sign, and answers with a two-line armor.
        let seen = tmp.path().join("seen");
        let signer = script_signer(
            tmp.path(),
            &format!(
                "cat > '{}'\nprintf -- '-----BEGIN SSH SIGNATURE-----\\nU1NIU0lH\\n-----END SSH SIGNATURE-----\\n'",
                seen.display()
            ),
        );
        let id = write_on(&repo, first, Some(&signer)).unwrap();
        let raw = repo.raw();
        let (signature, signed_data) = raw.extract_signature(&id, None).unwrap();
        assert_eq!(
            signature.as_str().unwrap(),
            "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----"
        );
        let signed_data = signed_data.as_str().unwrap().to_string();
        assert_eq!(std::fs::read_to_string(&seen).unwrap(), signed_data);
        // The stored object is the buffer with the header `git commit -S` writes (no empty continuation
        // line after the armor), and nothing else changed.
        let odb = raw.odb().unwrap();
        let object = odb.read(id).unwrap();
        let stored = std::str::from_utf8(object.data()).unwrap();
        assert_eq!(
            stored,
            with_signature_header(
                &signed_data,
                "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"
            )
        );
        let unsigned = write_on(&repo, first, None).unwrap();
        let unsigned = odb.read(unsigned).unwrap();
        assert_eq!(unsigned.data(), signed_data.as_bytes());
    }

    #[test]
    fn a_failing_signer_writes_no_commit_and_says_why() {
        let (tmp, repo, first) = repo_with_commit();
        let signer = script_signer(
            tmp.path(),
            "cat > /dev/null\necho 'Load key: bad' >&2\nexit 1",
        );
        let err = write_on(&repo, first, Some(&signer))
            .unwrap_err()
            .to_string();
        assert!(err.contains("ssh-keygen could not sign"), "{err}");
        assert!(err.contains("Load key: bad"), "{err}");
        assert!(
            err.contains(&tmp.path().join("key").display().to_string()),
            "{err}"
        );
        // An answer that is not an armored signature is refused too.
        let signer = script_signer(tmp.path(), "cat > /dev/null\necho not-a-signature");
        assert!(write_on(&repo, first, Some(&signer)).is_err());
    }

    #[test]
    fn a_missing_program_is_named_with_its_package() {
        let signer = Signer::new(
            Signing::OpenPgp {
                key: "ABCDEF".into(),
            },
            Env::from_pairs([("PATH", "/nonexistent")]),
        );
        let err = signer.sign(b"x").unwrap_err().to_string();
        assert!(
            err.contains("cannot run gpg") && err.contains("gnupg"),
            "{err}"
        );
        assert!(err.contains("ABCDEF"), "{err}");
    }

    #[test]
    fn key_problems_are_found_before_signing_and_name_the_key() {
        let tmp = tempfile::tempdir().unwrap();
        let env = Env::from_pairs([("PATH", "/nonexistent")]);
        let check = |key: &Path| {
            Signer::new(
                Signing::Ssh {
                    key: key.to_path_buf(),
                },
                env.clone(),
            )
            .check()
            .unwrap_err()
        };
        let missing = tmp.path().join("missing");
        let err = check(&missing);
        assert!(matches!(err, SigningError::KeyUnreadable { .. }), "{err:?}");
        assert!(err.to_string().contains(&missing.display().to_string()));

        let pgp = tmp.path().join("pgp.asc");
        std::fs::write(
            &pgp,
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQVYBGcanary-material\n",
        )
        .unwrap();
        let err = check(&pgp);
        assert!(matches!(err, SigningError::NotAnSshKey { .. }), "{err:?}");
        assert!(!err.to_string().contains("canary-material"), "{err}");

        let public = tmp.path().join("id.pub");
        std::fs::write(&public, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 me\n").unwrap();
        let err = check(&public);
        assert!(matches!(err, SigningError::NoAgent { .. }), "{err:?}");
    }
}
