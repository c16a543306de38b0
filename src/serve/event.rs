//! What a registry event says, and which configured targets it can affect.
//!
//! MLflow posts `{"entity", "action", "timestamp", "data"}`; `data` holds the registered model's `name`
//! and, depending on the event, `version`, `alias`, `run_id` or a tag `key`. An event is only a trigger:
//! the run it starts asks MLflow for the current state, so deliveries that arrive late, twice (within
//! what the replay check lets through) or out of order cannot make a target point at anything but what
//! the registry says now.
//!
//! | event | targets it can affect |
//! |-------|-----------------------|
//! | `model_version_alias.created` / `.deleted` | `registered:` with that model name and alias |
//! | `model_version.created` | `registered:` with that model name; every `run:` target (a new version can come from a run of any experiment, and which one is not in the payload) |
//! | `model_version_tag.set` / `.deleted`, `registered_model.created` | `registered:` with that model name (gates can read tags) |
//! | anything else (prompts, budgets) | none: answered 2xx and ignored |

use serde::Deserialize;

use crate::config::TargetConfig;

/// A registry event, reduced to what selects targets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Event {
    /// `entity.action`, e.g. `model_version_alias.created`.
    pub kind: String,
    /// The registered model's name.
    pub model: String,
    /// The alias, for alias events.
    pub alias: Option<String>,
}

/// Why a body is not an event.
#[derive(Debug, thiserror::Error)]
#[error("not an MLflow webhook payload: {0}")]
pub(crate) struct BadPayload(String);

#[derive(Deserialize)]
struct Payload {
    entity: String,
    action: String,
    #[serde(default)]
    data: Data,
}

#[derive(Deserialize, Default)]
struct Data {
    name: Option<String>,
    alias: Option<String>,
}

impl Event {
    /// Reads a delivery's body.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, BadPayload> {
        let payload: Payload =
            serde_json::from_slice(body).map_err(|e| BadPayload(e.to_string()))?;
        Ok(Self {
            kind: format!("{}.{}", payload.entity, payload.action),
            model: payload.data.name.unwrap_or_default(),
            alias: payload.data.alias,
        })
    }

    /// Whether this kind of event can affect any target at all (prompt and budget events cannot).
    pub(crate) fn is_relevant(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "model_version_alias.created"
                | "model_version_alias.deleted"
                | "model_version.created"
                | "model_version_tag.set"
                | "model_version_tag.deleted"
                | "registered_model.created"
        )
    }

    /// Whether `target` can be affected by this event.
    pub(crate) fn affects(&self, target: &TargetConfig) -> bool {
        match self.kind.as_str() {
            "model_version_alias.created" | "model_version_alias.deleted" => {
                target.registered.as_ref().is_some_and(|r| {
                    r.name == self.model && r.alias.is_some() && r.alias == self.alias
                })
            }
            "model_version.created" => {
                target.run.is_some()
                    || target
                        .registered
                        .as_ref()
                        .is_some_and(|r| r.name == self.model)
            }
            "model_version_tag.set" | "model_version_tag.deleted" | "registered_model.created" => {
                target
                    .registered
                    .as_ref()
                    .is_some_and(|r| r.name == self.model)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const CONFIG: &str = "targets:\n  - file: a.yaml\n    name: a\n    registered: {name: fraud, alias: champion}\n  - file: a.yaml\n    name: b\n    registered: {name: fraud, version: 3}\n  - file: a.yaml\n    name: c\n    run: {experiment: churn}\n  - file: a.yaml\n    name: d\n    registered: {name: other, alias: champion}\n";

    fn affected(body: &str) -> Vec<String> {
        let config = Config::parse(CONFIG, std::path::Path::new("modelbump.yaml")).unwrap();
        let event = Event::parse(body.as_bytes()).unwrap();
        config
            .targets
            .iter()
            .filter(|t| event.affects(t))
            .map(|t| t.name.clone())
            .collect()
    }

    #[test]
    fn maps_each_event_to_the_targets_it_can_change() {
        let alias = r#"{"entity":"model_version_alias","action":"created","timestamp":"2026-01-01T00:00:00+00:00","data":{"name":"fraud","alias":"champion","version":"4"}}"#;
        assert_eq!(affected(alias), ["a"]);
        let other_alias = r#"{"entity":"model_version_alias","action":"deleted","data":{"name":"fraud","alias":"challenger"}}"#;
        assert!(affected(other_alias).is_empty());
        let created = r#"{"entity":"model_version","action":"created","data":{"name":"fraud","version":"5","source":"models:/m-1","run_id":"r","tags":{},"description":null}}"#;
        assert_eq!(affected(created), ["a", "b", "c"]);
        let tag = r#"{"entity":"model_version_tag","action":"set","data":{"name":"other","version":"1","key":"k","value":"v"}}"#;
        assert_eq!(affected(tag), ["d"]);
        let prompt = r#"{"entity":"prompt","action":"created","data":{"name":"fraud"}}"#;
        assert!(affected(prompt).is_empty());
        assert!(!Event::parse(prompt.as_bytes()).unwrap().is_relevant());
        assert!(Event::parse(alias.as_bytes()).unwrap().is_relevant());
        // MLflow's "test webhook" sends the example payload of the event: a model nobody deploys.
        let test = r#"{"entity":"model_version_alias","action":"created","data":{"name":"example_model","alias":"example_alias","version":"1"}}"#;
        assert!(affected(test).is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_payload() {
        assert!(Event::parse(b"[]").is_err());
        assert!(Event::parse(b"{\"entity\":\"x\"}").is_err());
    }
}
