//! Arbitrary bytes and a URI into `manifest::apply`. The editor must never panic; when it returns a
//! result, an independent check (not the editor's own verify step) must agree with it: every byte
//! outside the edited values is unchanged, and a YAML loader reads the new URI where the old one was.

#![no_main]

use libfuzzer_sys::fuzz_target;
use modelbump::manifest::{self, Edit, Selector};
use yaml_rust2::{Yaml, YamlLoader};

fuzz_target!(|data: &[u8]| {
    // The first line is the URI, the second the name, the rest the file.
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let (Some(uri), Some(name), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let (Ok(uri), Ok(name)) = (std::str::from_utf8(uri), std::str::from_utf8(name)) else {
        return;
    };
    let Ok(fields) = manifest::find_fields(file) else {
        return;
    };
    let edit = Edit {
        selector: Selector { name: name.to_string(), kind: None },
        uri: uri.to_string(),
    };
    let Ok(edited) = manifest::apply(file, &[edit]) else {
        return;
    };
    let change = &edited.changes[0];
    let field = fields
        .iter()
        .find(|f| f.span == change.field.span)
        .expect("the changed field is one find_fields reported");
    // Bytes before the value are untouched; the bytes after it are the old ones, shifted.
    assert_eq!(&edited.bytes[..field.span.start], &file[..field.span.start]);
    let tail = &file[field.span.end..];
    if change.old != change.new {
        assert!(edited.bytes.ends_with(tail));
    } else {
        assert_eq!(edited.bytes, file);
    }
    // A loader reads the new URI at the field's place.
    let text = std::str::from_utf8(&edited.bytes).unwrap();
    let docs = YamlLoader::load_from_str(text.strip_prefix('\u{feff}').unwrap_or(text)).expect("the output parses");
    let mut node = &docs[field.document];
    for part in field.path.split('.') {
        let (key, index) = match part.split_once('[') {
            Some((k, i)) => (k, Some(i.trim_end_matches(']').parse::<usize>().unwrap())),
            None => (part, None),
        };
        node = &node[key];
        if let Some(i) = index {
            node = &node[i];
        }
    }
    match node {
        // Exactly the URI: a line break kept by a block scalar is a different value.
        Yaml::String(s) => assert_eq!(s, uri),
        // A key with `.` or `[` in it makes the path ambiguous to this simple walk.
        Yaml::BadValue => {}
        other => panic!("the URI reads back as {other:?}"),
    }
});
