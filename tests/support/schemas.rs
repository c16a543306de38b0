//! Strict JSON-schema validation for the upstream schemas in `schemas/`: the Argo CD swagger (request
//! bodies sent to the stand-in Argo CD) and the CRDs (every YAML file the project ships).
//!
//! Upstream schemas leave objects open; validated as they are, a misspelt key (`contaner:`) passes. Like
//! kubeconform's strict mode, every object schema that lists `properties` and does not say
//! `x-kubernetes-preserve-unknown-fields` is closed here with `additionalProperties: false`.

use std::path::Path;

use serde_json::Value;

/// Closes every object schema that lists `properties` (in place, recursively).
pub fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let open = map
                .get("x-kubernetes-preserve-unknown-fields")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if map.contains_key("properties") && !open && !map.contains_key("additionalProperties")
            {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            for (key, value) in map.iter_mut() {
                // `properties` maps names to schemas; its own keys are not schema keywords.
                if key == "properties" || key == "definitions" || key == "$defs" {
                    if let Value::Object(children) = value {
                        for child in children.values_mut() {
                            close_objects(child);
                        }
                    }
                } else if key != "enum" && key != "default" && key != "example" {
                    close_objects(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// A validator for one definition of a Swagger 2.0 document (`#/definitions/NAME`), closed.
pub fn swagger_validator(swagger: &Value, definition: &str) -> jsonschema::Validator {
    let mut definitions = swagger["definitions"].clone();
    close_objects(&mut definitions);
    let schema = serde_json::json!({
        "$ref": format!("#/definitions/{definition}"),
        "definitions": definitions,
    });
    jsonschema::draft4::new(&schema)
        .unwrap_or_else(|e| panic!("the swagger definition {definition} is not a schema: {e}"))
}

/// A closed validator for an `openAPIV3Schema` of a CRD.
pub fn crd_validator(open_api_v3_schema: &Value) -> jsonschema::Validator {
    let mut schema = open_api_v3_schema.clone();
    close_objects(&mut schema);
    jsonschema::draft4::new(&schema).unwrap_or_else(|e| panic!("a CRD schema is invalid: {e}"))
}

/// Every error of `instance`, one per line, with the path of the offending value.
pub fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {}", e.instance_path(), e))
        .collect()
}

/// The documents of a YAML file as JSON values (empty documents dropped).
pub fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    // The CRDs run to megabytes: the default parsing budget is for untrusted input.
    let mut options = serde_saphyr::Options::default();
    options.budget = None;
    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(&text, options)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// The `openAPIV3Schema` of the served version `version` of the CRD in `path`.
pub fn crd_schema(path: &Path, version: &str) -> Value {
    let crd = yaml_documents(path)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{} holds no CRD", path.display()));
    crd["spec"]["versions"]
        .as_array()
        .and_then(|versions| versions.iter().find(|v| v["name"] == version))
        .map(|v| v["schema"]["openAPIV3Schema"].clone())
        .unwrap_or_else(|| panic!("{} has no version {version}", path.display()))
}

#[test]
fn closing_objects_catches_a_misspelt_key() {
    let mut schema = serde_json::json!({
        "type": "object",
        "properties": {
            "container": {"type": "object", "properties": {"image": {"type": "string"}}},
            "free": {"type": "object", "properties": {"a": {}}, "x-kubernetes-preserve-unknown-fields": true}
        }
    });
    close_objects(&mut schema);
    let validator = jsonschema::draft4::new(&schema).unwrap();
    assert!(
        validator.is_valid(&serde_json::json!({"container": {"image": "x"}, "free": {"b": 1}}))
    );
    assert!(!validator.is_valid(&serde_json::json!({"contaner": {"image": "x"}})));
    assert!(!validator.is_valid(&serde_json::json!({"container": {"imag": "x"}})));
}

/// The published report schema (`schemas/report.schema.json`), closed (every object that lists
/// `properties` gets `additionalProperties: false`, except the `if` conditions, which test one property
/// and would never match closed), so that a field the schema does not document fails validation.
pub fn report_validator() -> jsonschema::Validator {
    let path =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/report.schema.json");
    let mut schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    close_objects(&mut schema);
    open_conditions(&mut schema);
    jsonschema::draft202012::new(&schema)
        .expect("the report schema is a valid draft 2020-12 schema")
}

fn open_conditions(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(cond)) = map.get_mut("if") {
                cond.remove("additionalProperties");
            }
            map.values_mut().for_each(open_conditions);
        }
        Value::Array(items) => items.iter_mut().for_each(open_conditions),
        _ => {}
    }
}

/// Asserts that `report` is valid against [`report_validator`], listing every error.
pub fn assert_valid_report(report: &Value) {
    let errors = errors(&report_validator(), report);
    assert!(errors.is_empty(), "{errors:#?}\n{report:#}");
}
