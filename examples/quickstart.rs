//! The quickstart: the whole job, on this machine, with no server and no network.
//!
//! `cargo run --release --example quickstart` builds, in a temporary folder, a GitOps repository holding the
//! seed scenario's Seldon Core manifest and a `modelbump.yaml` (both from `examples/quickstart/`), a bare
//! repository as its `origin`, and a copy of the small MLflow file store shipped in
//! `examples/quickstart/mlruns`, its recorded locations pointed at the copy, where the models' `MLmodel`
//! files are (the config's `uriRewrite` maps them back to the bucket the manifest names, so the plan's
//! pre-flight checks each model and the diff keeps the `s3://` form). Then it runs modelbump as a
//! pipeline step would: `plan` shows the diff, `run` applies it, commits and pushes (no Argo CD is
//! configured, so there is nothing to sync). It prints the pushed commit and the file as `origin` now has
//! it. Everything is written under the temporary folder; the clone it runs from is left as it was.
//!
//! The test suite runs the same [`quickstart`] function (tests/quickstart.rs), so the README's first
//! command cannot silently rot.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

/// What the quickstart left behind, for the test to check.
pub struct Outcome {
    /// The pushed commit.
    pub commit: String,
    /// Its message.
    pub message: String,
    /// The manifest as `origin` has it after the push.
    pub manifest: String,
    /// The manifest before.
    pub manifest_before: String,
}

const MANIFEST: &str = "k8s/base/financial-predictor-ab-test.yaml";

/// Where the shipped `modelbump.yaml` says the models' files are; the quickstart writes its own store's
/// folder there.
const STORE_PLACEHOLDER: &str = "file:///tmp/quickstart/mlruns/";

/// Where the shipped store records the models' files: the bucket the manifests name.
const BUCKET: &str = "s3://mlflow-artifacts/";

/// The fixtures' folder in the source tree.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart")
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("create {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("read {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Points the copied store's recorded locations (`meta.yaml` files) at the copy itself, as MLflow
/// records them when it keeps the artifacts next to its store: the models' files (`MLmodel`) are
/// shipped there, so the plan's pre-flight can check them.
fn relocate_artifacts(store: &Path, to: &str) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(store).with_context(|| format!("read {}", store.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            relocate_artifacts(&path, to)?;
        } else if path.file_name().is_some_and(|n| n == "meta.yaml") {
            let text = std::fs::read_to_string(&path)?;
            std::fs::write(&path, text.replace(BUCKET, to))
                .with_context(|| format!("write {}", path.display()))?;
        }
    }
    Ok(())
}

fn signature() -> anyhow::Result<git2::Signature<'static>> {
    Ok(git2::Signature::now(
        "Quickstart",
        "quickstart@example.invalid",
    )?)
}

/// Runs modelbump's command line in-process, as the binary would.
fn modelbump(args: &[&str], env: &[(&str, String)]) -> anyhow::Result<()> {
    let mut argv = vec!["modelbump".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let env = modelbump::env::Env::from_pairs(env.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let code = modelbump::cli::main_from(argv, env);
    if code != ExitCode::SUCCESS {
        bail!("`modelbump {}` failed (see above)", args.join(" "));
    }
    Ok(())
}

/// What [`setup`] built: the GitOps repository, its bare `origin`, the store, and the environment
/// modelbump runs in.
pub struct Setup {
    /// The GitOps repository.
    pub repo_dir: PathBuf,
    /// Its bare `origin`.
    pub remote_dir: PathBuf,
    /// The copy of the MLflow file store.
    pub store: PathBuf,
    /// The environment of every modelbump command.
    pub env: Vec<(&'static str, String)>,
    /// The manifest before the job.
    pub manifest_before: String,
}

/// Builds the repository, the remote and the store under `work`.
pub fn setup(work: &Path) -> anyhow::Result<Setup> {
    let fixtures = fixtures();
    let remote_dir = work.join("origin.git");
    let repo_dir = work.join("gitops");
    let store = work.join("mlruns");
    let home = work.join("home");
    std::fs::create_dir_all(&home)?;

    // The MLflow store: a copy, so that nothing the job does can touch the shipped one.
    copy_tree(&fixtures.join("mlruns"), &store)?;
    let store_root = format!("file://{}/", store.display());
    relocate_artifacts(&store, &store_root)?;

    // The GitOps repository, its first commit pushed to a bare `origin`.
    git2::Repository::init_bare(&remote_dir).context("create the bare remote")?;
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let repo =
        git2::Repository::init_opts(&repo_dir, &init).context("create the GitOps repository")?;
    let manifest_before =
        std::fs::read_to_string(fixtures.join("financial-predictor-ab-test.yaml"))
            .context("read the manifest")?;
    std::fs::create_dir_all(repo_dir.join("k8s/base"))?;
    std::fs::write(repo_dir.join(MANIFEST), &manifest_before)?;
    // The config maps the store's folder back to the bucket: the serving side reads the bucket.
    let config =
        std::fs::read_to_string(fixtures.join("modelbump.yaml")).context("read the config")?;
    anyhow::ensure!(
        config.contains(STORE_PLACEHOLDER),
        "modelbump.yaml has no uriRewrite from {STORE_PLACEHOLDER}"
    );
    std::fs::write(
        repo_dir.join("modelbump.yaml"),
        config.replace(STORE_PLACEHOLDER, &store_root),
    )?;
    let mut index = repo.index()?;
    index.add_path(Path::new(MANIFEST))?;
    index.add_path(Path::new("modelbump.yaml"))?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let sig = signature()?;
    repo.commit(
        Some("HEAD"),
        &sig,
        &sig,
        "GitOps repository of the A/B test",
        &tree,
        &[],
    )?;
    repo.remote(
        "origin",
        remote_dir.to_str().context("a UTF-8 temporary path")?,
    )?;
    repo.find_remote("origin")?
        .push(&["refs/heads/main:refs/heads/main"], None)
        .context("push the first commit")?;
    let mut config = repo.config()?;
    config.set_str("branch.main.remote", "origin")?;
    config.set_str("branch.main.merge", "refs/heads/main")?;

    let env = vec![
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("HOME", home.display().to_string()),
        ("MLFLOW_TRACKING_URI", format!("file://{}", store.display())),
        ("NO_COLOR", "1".to_string()),
    ];
    Ok(Setup {
        repo_dir,
        remote_dir,
        store,
        env,
        manifest_before,
    })
}

/// Builds the repository, the remote and the store under `work`, runs the job, reports to `out`.
pub fn quickstart(work: &Path, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let Setup {
        repo_dir,
        remote_dir,
        store,
        env,
        manifest_before,
    } = setup(work)?;
    let repo_arg = repo_dir.to_str().context("a UTF-8 temporary path")?;
    writeln!(out, "== GitOps repository {}", repo_dir.display())?;
    writeln!(
        out,
        "== MLflow store      file://{} (no server)",
        store.display()
    )?;
    writeln!(out, "\n== modelbump plan")?;
    out.flush()?;
    modelbump(&["-C", repo_arg, "plan"], &env)?;
    writeln!(out, "\n== modelbump run (apply, commit, push)")?;
    out.flush()?;
    modelbump(&["-C", repo_arg, "run"], &env)?;

    // What origin has now.
    let remote = git2::Repository::open_bare(&remote_dir)?;
    let head = remote.find_reference("refs/heads/main")?.peel_to_commit()?;
    let blob = head
        .tree()?
        .get_path(Path::new(MANIFEST))?
        .to_object(&remote)?
        .peel_to_blob()?;
    let manifest = String::from_utf8(blob.content().to_vec())?;
    let outcome = Outcome {
        commit: head.id().to_string(),
        message: head.message().unwrap_or_default().to_string(),
        manifest,
        manifest_before,
    };
    writeln!(out, "\n== origin/main is now {}", outcome.commit)?;
    writeln!(out, "{}", outcome.message.trim_end())?;
    writeln!(out, "\n== {MANIFEST} on origin/main")?;
    write!(out, "{}", outcome.manifest)?;
    Ok(outcome)
}

fn main() -> ExitCode {
    let work = match tempfile::Builder::new()
        .prefix("modelbump-quickstart-")
        .tempdir()
    {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("error: cannot create a temporary folder: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    match quickstart(work.path(), &mut stdout) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
