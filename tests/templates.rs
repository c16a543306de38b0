//! Every YAML file the project ships for pipelines (`workflow-templates/`, `examples/`) validates
//! strictly against the upstream schemas in `schemas/`: the Argo Workflows CRDs and their JSON schema,
//! the Argo CD Application CRD, the Seldon and KServe CRDs. Objects are closed (see
//! `support::schemas`), so a misspelt key or a bad enum fails here instead of in a cluster.
//!
//! Beyond the schemas: the templates' `modelbump` command lines parse with the real binary, the
//! variables they set are ones modelbump reads, every `templateRef` to `modelbump` names a template
//! and its parameters, the cluster-scoped variant equals the namespaced one, and the sample config
//! loads.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::schemas::{self, close_objects, crd_schema, crd_validator, yaml_documents};
use crate::support::{modelbump, shared_dir};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The YAML files shipped in `workflow-templates/` and `examples/` (the quickstart's own files aside).
fn shipped_yaml() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["workflow-templates", "examples"] {
        collect_yaml(&crate_dir().join(dir), &mut files);
    }
    files.sort();
    files
}

fn collect_yaml(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("quickstart") {
            continue;
        }
        if path.is_dir() {
            collect_yaml(&path, files);
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            files.push(path);
        }
    }
}

/// The closed validators, built once (the CRDs are megabytes of YAML).
struct Validators {
    workflow_template: jsonschema::Validator,
    workflow: jsonschema::Validator,
    argo_json_schema: jsonschema::Validator,
    application: jsonschema::Validator,
    seldon_model: jsonschema::Validator,
    seldon_experiment: jsonschema::Validator,
    seldon_deployment: jsonschema::Validator,
    inference_service: jsonschema::Validator,
}

fn validators(shared: &Path) -> &'static Validators {
    static VALIDATORS: OnceLock<Validators> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        let s = shared.join("schemas");
        let mut argo: Value =
            serde_json::from_slice(&std::fs::read(s.join("argo-workflows/schema.json")).unwrap())
                .unwrap();
        close_objects(&mut argo);
        let crd = |file: &str, version: &str| crd_validator(&crd_schema(&s.join(file), version));
        Validators {
            workflow_template: crd(
                "argo-workflows/argoproj.io_workflowtemplates.yaml",
                "v1alpha1",
            ),
            workflow: crd("argo-workflows/argoproj.io_workflows.yaml", "v1alpha1"),
            argo_json_schema: jsonschema::draft202012::new(&argo).unwrap(),
            application: crd("argo-cd/application-crd.yaml", "v1alpha1"),
            seldon_model: crd("seldon-core-v2/mlops.seldon.io_models.yaml", "v1alpha1"),
            seldon_experiment: crd(
                "seldon-core-v2/mlops.seldon.io_experiments.yaml",
                "v1alpha1",
            ),
            seldon_deployment: crd(
                "seldon-core-v1/machinelearning.seldon.io_seldondeployments.yaml",
                "v1",
            ),
            inference_service: crd("kserve/serving.kserve.io_inferenceservices.yaml", "v1beta1"),
        }
    })
}

/// The schema errors of one Kubernetes document; panics on a kind without a schema, so nothing ships
/// unchecked.
fn kubernetes_errors(v: &Validators, doc: &Value, path: &Path) -> Vec<String> {
    let api = doc["apiVersion"].as_str().unwrap_or_default();
    let kind = doc["kind"].as_str().unwrap_or_default();
    let mut errors = Vec::new();
    let crd = match (api, kind) {
        ("argoproj.io/v1alpha1", "WorkflowTemplate" | "ClusterWorkflowTemplate") => {
            // The ClusterWorkflowTemplate is the same Go type at cluster scope (its CRD is not
            // vendored): its spec is checked with the WorkflowTemplate CRD, and the whole object
            // with the JSON schema's own ClusterWorkflowTemplate definition below.
            &v.workflow_template
        }
        ("argoproj.io/v1alpha1", "Workflow") => &v.workflow,
        ("argoproj.io/v1alpha1", "Application") => &v.application,
        ("mlops.seldon.io/v1alpha1", "Model") => &v.seldon_model,
        ("mlops.seldon.io/v1alpha1", "Experiment") => &v.seldon_experiment,
        ("machinelearning.seldon.io/v1", "SeldonDeployment") => &v.seldon_deployment,
        ("serving.kserve.io/v1beta1", "InferenceService") => &v.inference_service,
        _ => panic!(
            "{}: no schema for {api} {kind}; add one to tests/templates.rs",
            path.display()
        ),
    };
    errors.extend(schemas::errors(crd, doc));
    if matches!(
        kind,
        "Workflow" | "WorkflowTemplate" | "ClusterWorkflowTemplate"
    ) {
        errors.extend(
            schemas::errors(&v.argo_json_schema, doc)
                .into_iter()
                .map(|e| format!("(schema.json) {e}")),
        );
    }
    errors
}

#[test]
fn every_shipped_yaml_validates_strictly() {
    let Some(shared) = shared_dir("every_shipped_yaml_validates_strictly") else {
        return;
    };
    let v = validators(&shared);
    let files = shipped_yaml();
    assert!(
        files.len() >= 6,
        "expected the templates and examples, found {files:?}"
    );
    let mut failures = Vec::new();
    let mut kinds = BTreeSet::new();
    for path in &files {
        let rel = path.strip_prefix(crate_dir()).unwrap().to_path_buf();
        let docs = yaml_documents(path);
        assert!(!docs.is_empty(), "{} is empty", rel.display());
        for doc in &docs {
            let problems = if doc.get("apiVersion").is_some() {
                kinds.insert(doc["kind"].as_str().unwrap_or_default().to_string());
                kubernetes_errors(v, doc, &rel)
            } else {
                other_file_errors(&rel, doc)
            };
            for problem in problems {
                failures.push(format!("{}: {problem}", rel.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for kind in [
        "WorkflowTemplate",
        "ClusterWorkflowTemplate",
        "Workflow",
        "Application",
    ] {
        assert!(kinds.contains(kind), "no shipped {kind} was checked");
    }
}

/// Files that are not Kubernetes objects: the sample config (loaded by modelbump's own parser) and the
/// CI jobs (no schema is vendored for them: their shape is checked, and their modelbump command lines
/// are checked with the binary in `command_lines_parse_with_the_real_binary`).
fn other_file_errors(rel: &Path, doc: &Value) -> Vec<String> {
    let name = rel.file_name().unwrap().to_string_lossy();
    match name.as_ref() {
        "modelbump.yaml" => {
            let text = std::fs::read_to_string(crate_dir().join(rel)).unwrap();
            match modelbump::config::Config::parse(&text, rel) {
                Ok(config) => {
                    let mut errors = Vec::new();
                    if config.targets.len() != 2 {
                        errors.push("expected the two models of the seed scenario".into());
                    }
                    if config.argocd.apps.is_empty() {
                        errors.push("expected argocd.apps".into());
                    }
                    errors
                }
                Err(e) => vec![e.to_string()],
            }
        }
        "github-actions.yml" => {
            let mut errors = Vec::new();
            if !doc["on"].is_object() || !doc["jobs"].is_object() {
                errors.push("a GitHub Actions workflow needs `on` and `jobs`".into());
            }
            for (job, spec) in doc["jobs"].as_object().into_iter().flatten() {
                if !spec["runs-on"].is_string() || !spec["steps"].is_array() {
                    errors.push(format!("job {job} needs runs-on and steps"));
                }
            }
            errors
        }
        "gitlab-ci.yml" => doc
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, job)| !job["script"].is_array() || !job["image"].is_string())
            .map(|(name, _)| format!("GitLab job {name} needs image and script"))
            .collect(),
        _ => vec![format!(
            "no check for this file; add one to tests/templates.rs"
        )],
    }
}

#[test]
fn the_strict_check_catches_a_typo_and_a_bad_enum() {
    let Some(shared) = shared_dir("the_strict_check_catches_a_typo_and_a_bad_enum") else {
        return;
    };
    let v = validators(&shared);
    let path = crate_dir().join("workflow-templates/modelbump.yaml");
    let good = yaml_documents(&path).remove(0);
    assert!(kubernetes_errors(v, &good, &path).is_empty());

    let mut typo = good.clone();
    let container = typo["spec"]["templates"][1]["container"].take();
    typo["spec"]["templates"][1]["contaner"] = container;
    let errors = kubernetes_errors(v, &typo, &path);
    assert!(errors.iter().any(|e| e.contains("contaner")), "{errors:?}");

    let mut bad_enum = good.clone();
    bad_enum["spec"]["templates"][1]["retryStrategy"]["retryPolicy"] = "Sometimes".into();
    assert!(!kubernetes_errors(v, &bad_enum, &path).is_empty());

    let mut unquoted = good;
    unquoted["spec"]["templates"][1]["retryStrategy"]["limit"] = 2.into();
    let errors = kubernetes_errors(v, &unquoted, &path);
    assert!(
        errors.iter().any(|e| e.starts_with("(schema.json)")),
        "schema.json types an int-or-string as a string: {errors:?}"
    );
}

fn template_docs() -> (Value, Value) {
    let dir = crate_dir().join("workflow-templates");
    (
        yaml_documents(&dir.join("modelbump.yaml")).remove(0),
        yaml_documents(&dir.join("modelbump-cluster.yaml")).remove(0),
    )
}

#[test]
fn the_cluster_template_is_the_namespaced_one_at_cluster_scope() {
    let (namespaced, cluster) = template_docs();
    assert_eq!(namespaced["kind"], "WorkflowTemplate");
    assert_eq!(cluster["kind"], "ClusterWorkflowTemplate");
    assert_eq!(namespaced["metadata"], cluster["metadata"]);
    assert!(cluster["metadata"].get("namespace").is_none());
    // Not assert_eq: the specs are pages long; the first differing line is enough.
    let (a, b) = (
        serde_json::to_string_pretty(&namespaced["spec"]).unwrap(),
        serde_json::to_string_pretty(&cluster["spec"]).unwrap(),
    );
    if let Some((n, (x, y))) = a
        .lines()
        .zip(b.lines())
        .enumerate()
        .find(|(_, (x, y))| x != y)
    {
        panic!(
            "modelbump-cluster.yaml's spec differs from modelbump.yaml's at JSON line {n}: {x:?} vs {y:?}"
        );
    }
    assert_eq!(
        a.len(),
        b.len(),
        "modelbump-cluster.yaml's spec differs in length"
    );
}

#[test]
fn template_refs_name_existing_templates_and_parameters() {
    let (template, _) = template_docs();
    let templates: Vec<&Value> = template["spec"]["templates"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    let find = |name: &str| {
        templates
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no template {name} in WorkflowTemplate modelbump"))
    };
    // The outputs docs/pipelines.md promises.
    let outputs: Vec<&str> = find("git-commit")["outputs"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(outputs, ["report", "commit-sha", "pull-request-url"]);

    let mut refs = Vec::new();
    for path in shipped_yaml() {
        for doc in yaml_documents(&path) {
            collect_refs(&doc, &mut refs);
        }
    }
    // Internal steps too (none at present: git-commit is the container).
    collect_refs(&template, &mut refs);
    let to_modelbump: Vec<_> = refs
        .into_iter()
        .filter(|(name, _, _)| name == "modelbump")
        .collect();
    assert!(!to_modelbump.is_empty(), "{to_modelbump:?}");
    for (_, target, passed) in to_modelbump {
        let inputs = find(&target)["inputs"]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let declared: BTreeSet<&str> = inputs.iter().filter_map(|p| p["name"].as_str()).collect();
        for name in &passed {
            assert!(
                declared.contains(name.as_str()),
                "{target} has no parameter {name}"
            );
        }
        for input in &inputs {
            let required = input.get("default").is_none() && input.get("value").is_none();
            let name = input["name"].as_str().unwrap();
            assert!(
                !required || passed.iter().any(|p| p == name),
                "a call of {target} does not pass the required parameter {name}"
            );
        }
    }
}

/// `(WorkflowTemplate name, template, passed parameter names)` of every step calling a template of
/// the `modelbump` WorkflowTemplate (by templateRef, or by `template:` inside it).
fn collect_refs(value: &Value, out: &mut Vec<(String, String, Vec<String>)>) {
    match value {
        Value::Object(map) => {
            let passed = || -> Vec<String> {
                map.get("arguments")
                    .and_then(|a| a["parameters"].as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["name"].as_str().map(str::to_string))
                    .collect()
            };
            if let Some(r) = map.get("templateRef") {
                out.push((
                    r["name"].as_str().unwrap_or_default().to_string(),
                    r["template"].as_str().unwrap_or_default().to_string(),
                    passed(),
                ));
            } else if let Some(Value::String(t)) = map.get("template")
                && t.starts_with("modelbump-")
            {
                out.push(("modelbump".into(), t.clone(), passed()));
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The variables modelbump reads that clap does not list in `--help` (secrets, and the MLflow
/// client's own).
const READ_OUTSIDE_CLAP: &[&str] = &[
    "ARGOCD_AUTH_TOKEN",
    "MODELBUMP_WEBHOOK_SECRET",
    "MODELBUMP_GIT_TOKEN",
    "MODELBUMP_GIT_USERNAME",
    "MODELBUMP_GIT_BRANCH",
    "MODELBUMP_GIT_SSH_KEY",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "MODELBUMP_SYNC_POLL_INTERVAL",
];

#[test]
fn command_lines_parse_with_the_real_binary() {
    let home = tempfile::tempdir().unwrap();
    let (template, _) = template_docs();
    let mut checked = 0;
    for t in template["spec"]["templates"].as_array().unwrap() {
        let Some(container) = t.get("container") else {
            continue;
        };
        assert_eq!(container["command"], serde_json::json!(["modelbump"]));
        let args: Vec<String> = container["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| fill_placeholders(a.as_str().unwrap()))
            .collect();
        let subcommand = args
            .iter()
            .find(|a| ["run", "sync"].contains(&a.as_str()))
            .unwrap()
            .clone();
        // clap parses every argument before it acts on --help, so a wrong flag fails here. The repo
        // and config paths do not exist here, which --help does not mind.
        let help = modelbump(home.path())
            .args(&args)
            .arg("--help")
            .assert()
            .success();
        let help = String::from_utf8_lossy(&help.get_output().stdout).into_owned();
        assert!(help.contains(&format!("modelbump {subcommand}")), "{help}");
        // The help names each variable as `[env: NAME=]`, wrapped like the rest of the line.
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        for env in container["env"].as_array().into_iter().flatten() {
            let name = env["name"].as_str().unwrap();
            assert!(
                help.contains(&format!("[env: {name}=")) || READ_OUTSIDE_CLAP.contains(&name),
                "template {} sets {name}, which `modelbump {subcommand}` does not read",
                t["name"]
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 2, "git-commit and sync");
}

/// `{{inputs.parameters.x}}` and friends replaced by plausible values.
fn fill_placeholders(arg: &str) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").unwrap() + start;
        let name = rest[start + 2..end].trim();
        out.push_str(match name {
            "inputs.parameters.revision" => "0123456789abcdef0123456789abcdef01234567",
            "inputs.parameters.config" => "modelbump.yaml",
            _ => "value",
        });
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_wait_merged_parameters_reach_modelbump_run() {
    let (template, _) = template_docs();
    let commit = template["spec"]["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "git-commit")
        .expect("the git-commit template");
    let inputs: Vec<&str> = commit["inputs"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    let env: Vec<(&str, &str)> = commit["container"]["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e["name"].as_str()?, e["value"].as_str()?)))
        .collect();
    for (parameter, variable) in [
        ("wait-merged", "MODELBUMP_WAIT_MERGED"),
        ("merge-timeout", "MODELBUMP_MERGE_TIMEOUT"),
    ] {
        assert!(inputs.contains(&parameter), "{inputs:?}");
        let value = format!("{{{{inputs.parameters.{parameter}}}}}");
        assert!(
            env.contains(&(variable, value.as_str())),
            "{variable} is not set from {parameter}: {env:?}"
        );
    }
}
