//! The gate language of `require:`: one comparison per entry, `LEFT OP RIGHT`, each side a field of the
//! candidate's run (`metrics.x`, `params.x`, `tags.x`, `attributes.x`), the same under `deployed.` for the
//! run behind the URI deployed now, or a literal (a number or a quoted string). Keys with spaces or
//! operators are written in backticks, as in MLflow filters.
//!
//! Numbers compare as numbers (a param or tag that parses as one too), everything else as text. A gate
//! that does not hold, or that names a value the run does not have, explains itself; the resolver turns
//! that into `blocked`. Parsing and evaluating need no store: the resolver finds the runs
//! ([`super::resolve_one`]) and hands them in.

use crate::tracking::Run;

/// A gate that cannot be parsed; the message says what is wrong and shows how to write one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid gate {gate:?}: {message}")]
pub struct GateError {
    /// The gate as written.
    pub gate: String,
    /// What is wrong, and an example.
    pub message: String,
}

/// The model deployed now, as far as the current URI tells.
#[derive(Debug, Clone)]
pub(crate) enum Deployed {
    /// Its run.
    Run(Box<Run>),
    /// Not identifiable; the message says why.
    Unknown,
    /// Identified, but its run is gone or unknown; the message says why.
    Missing(String),
}

/// One `require:` entry: `LEFT OP RIGHT`, each side a field (`metrics.x`, `params.x`, `tags.x`,
/// `attributes.x`, each also under `deployed.`) or a literal (a number or a quoted string).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Gate {
    /// As written.
    pub text: String,
    left: Operand,
    op: Op,
    right: Operand,
}

/// A metric, param or tag a gate names, e.g. `metrics.val_accuracy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldRef {
    kind: FieldKind,
    key: String,
}

impl FieldRef {
    /// Whether `run` has this field.
    pub(crate) fn present_in(&self, run: &Run) -> bool {
        match self.kind {
            FieldKind::Metric => run.metrics.contains_key(&self.key),
            FieldKind::Param => run.params.contains_key(&self.key),
            FieldKind::Tag => run.tags.contains_key(&self.key),
            FieldKind::Attribute => true,
        }
    }

    /// The keys of this field's kind that `run` has (its metrics, its params or its tags).
    pub(crate) fn keys_in<'r>(&self, run: &'r Run) -> Vec<&'r str> {
        match self.kind {
            FieldKind::Metric => run.metrics.keys().map(String::as_str).collect(),
            FieldKind::Param => run.params.keys().map(String::as_str).collect(),
            FieldKind::Tag => run.tags.keys().map(String::as_str).collect(),
            FieldKind::Attribute => Vec::new(),
        }
    }
}

impl std::fmt::Display for FieldRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let prefix = match self.kind {
            FieldKind::Metric => "metrics",
            FieldKind::Param => "params",
            FieldKind::Tag => "tags",
            FieldKind::Attribute => "attributes",
        };
        write!(f, "{prefix}.{}", self.key)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Field {
        deployed: bool,
        kind: FieldKind,
        key: String,
    },
    Number(f64),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Metric,
    Param,
    Tag,
    Attribute,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Number(f64),
    Text(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::Text(t) => write!(f, "{t:?}"),
        }
    }
}

impl Gate {
    /// Parses a gate.
    pub(crate) fn parse(text: &str) -> Result<Gate, GateError> {
        let bad = |message: &str| GateError {
            gate: text.to_string(),
            message: format!(
                "{message} (write e.g. \"metrics.val_accuracy >= 0.6\" or \"metrics.val_accuracy > deployed.metrics.val_accuracy\")"
            ),
        };
        let trimmed = text.trim();
        let (left, rest) = parse_operand(trimmed).map_err(|m| bad(&m))?;
        let rest = rest.trim_start();
        let (op, rest) = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("!=", Op::Ne),
            ("==", Op::Eq),
            (">", Op::Gt),
            ("<", Op::Lt),
            ("=", Op::Eq),
        ]
        .iter()
        .find_map(|(s, op)| rest.strip_prefix(s).map(|r| (*op, r)))
        .ok_or_else(|| bad("expected a comparison: =, !=, <, <=, >, >="))?;
        let (right, rest) = parse_operand(rest.trim_start()).map_err(|m| bad(&m))?;
        if !rest.trim().is_empty() {
            return Err(bad(&format!(
                "unexpected {:?} after the comparison; write one comparison per entry (entries are ANDed)",
                rest.trim()
            )));
        }
        if !matches!(left, Operand::Field { .. }) && !matches!(right, Operand::Field { .. }) {
            return Err(bad("compares two constants"));
        }
        Ok(Gate {
            text: trimmed.to_string(),
            left,
            op,
            right,
        })
    }

    /// True when the gate refers to the deployed model.
    pub(crate) fn uses_deployed(&self) -> bool {
        [&self.left, &self.right]
            .iter()
            .any(|o| matches!(o, Operand::Field { deployed: true, .. }))
    }

    /// The candidate's fields (`metrics.*`, `params.*`, `tags.*`, not `deployed.*`) that `run` lacks:
    /// the resolver then asks whether any run of the experiment has them, and when none has, the gate
    /// is a configuration error (a misspelt key), not a `blocked` target.
    pub(crate) fn missing_fields(&self, run: &Run) -> Vec<FieldRef> {
        [&self.left, &self.right]
            .into_iter()
            .filter_map(|operand| match operand {
                Operand::Field {
                    deployed: false,
                    kind,
                    key,
                } if *kind != FieldKind::Attribute => Some(FieldRef {
                    kind: *kind,
                    key: key.clone(),
                }),
                _ => None,
            })
            .filter(|field| !field.present_in(run))
            .collect()
    }

    /// Whether the gate holds for `candidate` (and `deployed`); the error says why not, naming the
    /// values compared or what is missing.
    pub(crate) fn check(&self, candidate: Option<&Run>, deployed: &Deployed) -> Result<(), String> {
        let left = value_of(&self.left, candidate, deployed)?;
        let right = value_of(&self.right, candidate, deployed)?;
        let ordering = match (&left, &right) {
            (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
            (a, b) => {
                let (a, b) = (as_number(a), as_number(b));
                match (a, b) {
                    (Some(a), Some(b)) => a.partial_cmp(&b),
                    _ => Some(text_of(&left).cmp(&text_of(&right))),
                }
            }
        };
        let holds = match ordering {
            None => false,
            Some(o) => match self.op {
                Op::Eq => o.is_eq(),
                Op::Ne => o.is_ne(),
                Op::Lt => o.is_lt(),
                Op::Le => o.is_le(),
                Op::Gt => o.is_gt(),
                Op::Ge => o.is_ge(),
            },
        };
        if holds {
            Ok(())
        } else {
            Err(format!(
                "{} {} {} does not hold",
                describe(&self.left, &left),
                self.op.as_str(),
                describe(&self.right, &right)
            ))
        }
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        Value::Text(t) => t.trim().parse().ok(),
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::Text(t) => t.clone(),
    }
}

fn describe(operand: &Operand, value: &Value) -> String {
    match operand {
        Operand::Field {
            deployed,
            kind,
            key,
        } => format!(
            "{}{}.{key} ({value})",
            if *deployed { "deployed." } else { "" },
            match kind {
                FieldKind::Metric => "metrics",
                FieldKind::Param => "params",
                FieldKind::Tag => "tags",
                FieldKind::Attribute => "attributes",
            }
        ),
        _ => value.to_string(),
    }
}

fn value_of(
    operand: &Operand,
    candidate: Option<&Run>,
    deployed: &Deployed,
) -> Result<Value, String> {
    match operand {
        Operand::Number(n) => Ok(Value::Number(*n)),
        Operand::Text(t) => Ok(Value::Text(t.clone())),
        Operand::Field {
            deployed: is_deployed,
            kind,
            key,
        } => {
            let run = if *is_deployed {
                match deployed {
                    Deployed::Run(run) => run.as_ref(),
                    Deployed::Unknown => {
                        return Err(
                            "the deployed model cannot be identified from the current URI (no logged-model id, run id or models:/ reference in it)".into(),
                        );
                    }
                    Deployed::Missing(why) => return Err(why.clone()),
                }
            } else {
                candidate.ok_or("the candidate has no MLflow run to check")?
            };
            let who = if *is_deployed {
                "the deployed run"
            } else {
                "run"
            };
            let run_id = &run.info.run_id;
            let missing = |what: &str| format!("{what} {key:?} is not set on {who} {run_id}");
            match kind {
                FieldKind::Metric => run
                    .metrics
                    .get(key)
                    .map(|v| Value::Number(*v))
                    .ok_or_else(|| missing("metric")),
                FieldKind::Param => run
                    .params
                    .get(key)
                    .map(|v| Value::Text(v.clone()))
                    .ok_or_else(|| missing("param")),
                FieldKind::Tag => run
                    .tags
                    .get(key)
                    .map(|v| Value::Text(v.clone()))
                    .ok_or_else(|| missing("tag")),
                FieldKind::Attribute => {
                    let info = &run.info;
                    let number = |v: Option<i64>| {
                        v.map(|n| Value::Number(n as f64))
                            .ok_or_else(|| missing("attribute"))
                    };
                    match key.as_str() {
                        "status" => Ok(Value::Text(info.status.clone())),
                        "run_id" | "run_uuid" => Ok(Value::Text(info.run_id.clone())),
                        "run_name" => Ok(Value::Text(info.run_name.clone())),
                        "experiment_id" => Ok(Value::Text(info.experiment_id.clone())),
                        "artifact_uri" => Ok(Value::Text(info.artifact_uri.clone())),
                        "lifecycle_stage" => Ok(Value::Text(info.lifecycle_stage.clone())),
                        "start_time" => number(info.start_time),
                        "end_time" => number(info.end_time),
                        other => Err(format!(
                            "unknown attribute {other:?} (status, run_id, run_name, experiment_id, artifact_uri, lifecycle_stage, start_time, end_time)"
                        )),
                    }
                }
            }
        }
    }
}

fn parse_operand(text: &str) -> Result<(Operand, &str), String> {
    let Some(first) = text.chars().next() else {
        return Err("missing a value".into());
    };
    if first == '\'' || first == '"' {
        let end = text[1..]
            .find(first)
            .ok_or_else(|| format!("unterminated string {text:?}"))?;
        return Ok((
            Operand::Text(text[1..1 + end].to_string()),
            &text[2 + end..],
        ));
    }
    let end = text
        .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '=' | '!'))
        .unwrap_or(text.len());
    let word = &text[..end];
    let mut rest = &text[end..];
    if word.is_empty() {
        return Err(format!("expected a field or a value at {text:?}"));
    }
    if let Ok(n) = word.parse::<f64>() {
        return Ok((Operand::Number(n), rest));
    }
    let (deployed, path) = match word.strip_prefix("deployed.") {
        Some(p) => (true, p),
        None => (false, word),
    };
    let (ns, mut key) = path.split_once('.').ok_or_else(|| {
        format!(
            "{word:?} is neither a number, a quoted string nor a field such as metrics.accuracy"
        )
    })?;
    let kind = match ns {
        "metrics" | "metric" => FieldKind::Metric,
        "params" | "param" => FieldKind::Param,
        "tags" | "tag" => FieldKind::Tag,
        "attributes" | "attribute" | "attr" => FieldKind::Attribute,
        other => {
            return Err(format!(
                "unknown field kind {other:?}: use metrics., params., tags., attributes. (optionally after deployed.)"
            ));
        }
    };
    // A key with spaces or operators is written in backticks, as in MLflow filters.
    let owned;
    if key.starts_with('`') {
        let start = text.find('`').unwrap();
        let close = text[start + 1..]
            .find('`')
            .ok_or_else(|| format!("unterminated backtick in {text:?}"))?;
        owned = text[start + 1..start + 1 + close].to_string();
        key = &owned;
        rest = &text[start + close + 2..];
    }
    if key.is_empty() {
        return Err(format!("{word:?} names no key"));
    }
    Ok((
        Operand::Field {
            deployed,
            kind,
            key: key.to_string(),
        },
        rest,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn run(metrics: &[(&str, f64)], params: &[(&str, &str)]) -> Run {
        Run {
            info: crate::tracking::RunInfo {
                run_id: "r1".into(),
                run_name: "n".into(),
                experiment_id: "1".into(),
                status: "FINISHED".into(),
                start_time: Some(1000),
                end_time: None,
                artifact_uri: "s3://b/1/r1/artifacts".into(),
                lifecycle_stage: "active".into(),
            },
            metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            tags: BTreeMap::new(),
            model_outputs: vec![],
        }
    }

    #[test]
    fn gates_compare_metrics_params_and_the_deployed_run() {
        let cand = run(
            &[("acc", 0.9)],
            &[("variant", "baseline"), ("epochs", "10")],
        );
        let dep = Deployed::Run(Box::new(run(&[("acc", 0.92)], &[])));
        let ok = |g: &str| Gate::parse(g).unwrap().check(Some(&cand), &dep);
        assert!(ok("metrics.acc >= 0.6").is_ok());
        assert!(ok("metrics.acc>0.95").is_err());
        assert!(ok("params.variant = 'baseline'").is_ok());
        assert!(
            ok("params.epochs > 9").is_ok(),
            "numeric params compare as numbers"
        );
        assert!(ok("attributes.status == \"FINISHED\"").is_ok());
        let err = ok("metrics.acc > deployed.metrics.acc").unwrap_err();
        assert!(err.contains("deployed.metrics.acc (0.92)"), "{err}");
        let err = ok("metrics.loss < 1").unwrap_err();
        assert!(err.contains("\"loss\" is not set on run r1"), "{err}");
        let unknown = Gate::parse("metrics.acc > deployed.metrics.acc")
            .unwrap()
            .check(Some(&cand), &Deployed::Unknown)
            .unwrap_err();
        assert!(unknown.contains("cannot be identified"), "{unknown}");
        assert!(ok("metrics.`acc` >= 0.9").is_ok());
    }

    #[test]
    fn bad_gates_say_how_to_write_them() {
        for g in [
            "metrics.acc",
            "acc > 1",
            "metrics.acc >> 1",
            "1 < 2",
            "metrics.a > 1 and metrics.b > 1",
        ] {
            let err = Gate::parse(g).unwrap_err().to_string();
            assert!(err.contains("write e.g."), "{g}: {err}");
        }
    }
}
