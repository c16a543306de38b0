//! Editing one value in a 1 MB multi-document file (target: under 5 ms).
//!
//! Two files: a realistic one (ConfigMaps, Deployments, Services, with a model manifest in 2% of the
//! documents, like a rendered monorepo) and a worst case where every document is a model manifest, so
//! that no document can be skipped. The edit targets the last model of the file.
//!
//! A plain yaml-rust2 load of the same file is timed in the same run as a baseline.
//!
//!   cargo bench --bench editor

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use modelbump::manifest::{self, Edit, Selector};

fn model(i: usize) -> String {
    format!(
        "---\n# model {i}\napiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata:\n  name: model-{i}\n  namespace: ml\nspec:\n  storageUri: s3://mlflow-artifacts/29/models/m-{i:032x}/artifacts/ # newest\n  requirements:\n  - mlflow\n  server: mlserver\n"
    )
}

fn other(i: usize) -> String {
    let data: String = (0..12)
        .map(|k| format!("  key_{k}: \"value {k} of app {i} (é)\"\n"))
        .collect();
    format!(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i}-config\n  namespace: apps\ndata:\n{data}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app-{i}\nspec:\n  selector: {{app: app-{i}}}\n  ports:\n    - port: 80\n      targetPort: 8080 # the container port\n"
    )
}

/// About 1 MB of documents; every `every`-th document is a model. Returns the text and the last model's name.
fn file(every: usize) -> (String, String) {
    let mut text = String::new();
    let mut last = String::new();
    let mut i = 0;
    while text.len() < 1_000_000 {
        if i % every == 0 {
            text.push_str(&model(i));
            last = format!("model-{i}");
        } else {
            text.push_str(&other(i));
        }
        i += 1;
    }
    (text, last)
}

fn bench(c: &mut Criterion) {
    for (label, every) in [("1MB, 2% models", 50), ("1MB, every document a model", 1)] {
        let (text, last) = file(every);
        let edit = [Edit {
            selector: Selector {
                name: last.clone(),
                kind: None,
            },
            uri: "s3://mlflow-artifacts/30/models/m-new/artifacts/".into(),
        }];
        // The edit must work before it is timed.
        let out = manifest::apply(text.as_bytes(), &edit).unwrap();
        assert_ne!(out.bytes, text.as_bytes());
        c.bench_function(&format!("apply one edit ({label})"), |b| {
            b.iter(|| manifest::apply(black_box(text.as_bytes()), black_box(&edit)).unwrap())
        });
        c.bench_function(&format!("find_fields ({label})"), |b| {
            b.iter(|| manifest::find_fields(black_box(text.as_bytes())).unwrap())
        });
        // The baseline, in the same run: one plain load of the whole file by a YAML library, which is
        // what an editor that parses the whole file would pay at least once.
        c.bench_function(
            &format!("baseline: yaml-rust2 load of the whole file ({label})"),
            |b| {
                b.iter(|| {
                    yaml_rust2::YamlLoader::load_from_str(black_box(&text))
                        .unwrap()
                        .len()
                })
            },
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
