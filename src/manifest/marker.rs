//! Markers: a comment on the line of a scalar value that names the target owning the value.
//!
//! ```yaml
//! model:
//!   uri: s3://bucket/m-1/artifacts  # {"$modelbump": "fraud-detector"}
//! args:
//!   - --model=gs://b/m  # {"$modelbump": "llm"}
//! ```
//!
//! # The rules
//! - The comment, after `#`, is exactly a JSON object with the one key `$modelbump` and a non-empty
//!   string value, the target's name. Spacing inside the JSON is free (`{ "$modelbump" : "x" }`).
//! - A comment that starts like a marker (`{` and then `"$modelbump"`) but is anything else (invalid JSON,
//!   other keys, a value that is not a string, an empty name, text after the object) is an error naming
//!   the line: a marker that is silently ignored would silently leave a model behind.
//! - The marked value is the one scalar value (a mapping value or a sequence item, never a key) whose
//!   text ends on the comment's line. A marker on a line with YAML but no such value (a key whose value
//!   is a mapping or a list, a block scalar's `|` header) or with several values (`[a, b]`) is an
//!   error naming the line.
//! - A marker in a comment that has the line to itself is not live: a commented-out line
//!   (`# uri: s3://...  # {"$modelbump": "x"}`) marks nothing, as a commented-out value is no value.
//! - Several values may carry the same name (the same URI repeated in a file): the target owns them
//!   all and an edit by marker changes all of them.
//!
//! Only files that contain `$modelbump` are parsed for markers ([`super::source::may_hold_marker`]).

use super::EditError;

/// The key of a marker's JSON object.
pub const MARKER_KEY: &str = "$modelbump";

/// The target named by a comment (the text after `#`): `Ok(None)` when the comment is no marker, an
/// error (the reason; the caller adds the line) when it starts like one but is not one.
pub fn parse_comment(comment: &str) -> Result<Option<String>, String> {
    let payload = comment.trim();
    let Some(inner) = payload.strip_prefix('{') else {
        return Ok(None);
    };
    let quoted_key = format!("\"{MARKER_KEY}\"");
    if !inner.trim_start().starts_with(&quoted_key) {
        return Ok(None);
    }
    let example = format!("write it as {{\"{MARKER_KEY}\": \"TARGET\"}}");
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(payload)
        .map_err(|e| format!("the marker {payload} is not one JSON object ({e}); {example}"))?;
    if object.len() != 1 {
        return Err(format!(
            "the marker {payload} holds other keys than \"{MARKER_KEY}\"; {example}"
        ));
    }
    match object.get(MARKER_KEY) {
        Some(serde_json::Value::String(name))
            if !name.trim().is_empty() && !name.chars().any(char::is_control) =>
        {
            Ok(Some(name.clone()))
        }
        Some(serde_json::Value::String(_)) => {
            Err(format!("the marker {payload} names no target; {example}"))
        }
        _ => Err(format!(
            "the marker {payload} does not name the target as a string; {example}"
        )),
    }
}

/// The error for a marker the caller could not use.
pub(crate) fn bad(line: usize, reason: String) -> EditError {
    EditError::BadMarker { line, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_one_json_object_with_one_key() {
        assert_eq!(
            parse_comment(r#" {"$modelbump": "fraud-detector"}"#),
            Ok(Some("fraud-detector".into()))
        );
        assert_eq!(
            parse_comment(r#"{ "$modelbump" :"a/b"  } "#),
            Ok(Some("a/b".into()))
        );
        for not_a_marker in [
            " plain comment",
            " {\"$imagepolicy\": \"a:b\"}",
            " see {\"$modelbump\": \"x\"}",
            "",
        ] {
            assert_eq!(parse_comment(not_a_marker), Ok(None), "{not_a_marker:?}");
        }
    }

    #[test]
    fn what_starts_like_a_marker_but_is_none_is_an_error() {
        for (bad, why) in [
            (r#" {"$modelbump": "x""#, "not one JSON object"),
            (r#" {"$modelbump": "x"} pinned"#, "not one JSON object"),
            (r#" {"$modelbump": "x", "y": 1}"#, "other keys"),
            (r#" {"$modelbump": 3}"#, "as a string"),
            (r#" {"$modelbump": ""}"#, "names no target"),
            (r#" {"$modelbump": "  "}"#, "names no target"),
        ] {
            let err = parse_comment(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(err.contains(r#"{"$modelbump": "TARGET"}"#), "{err}");
        }
    }
}
