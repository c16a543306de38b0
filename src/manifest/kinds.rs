//! The resource kinds that hold model URIs, and where in each the URI fields are.
//!
//! Adding a kind touches this file only: a variant of [`ResourceKind`], its `kind:` and API group, and
//! a branch of [`fields_of_resource`] that walks to its fields.

use super::EditError;
use super::tree::{Node, NodeKind, Seg};

/// A kind of resource that holds one or more model URI fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    /// Seldon Core v2 `Model` (`mlops.seldon.io`): `spec.storageUri`.
    SeldonModel,
    /// Seldon Core v1 `SeldonDeployment`: `spec.predictors[].graph.modelUri`, recursively through `children`.
    SeldonDeployment,
    /// KServe `InferenceService`: `spec.{predictor,transformer,explainer}.model.storageUri` and the legacy
    /// `spec.predictor.<framework>.storageUri`; also of the legacy KFServing group `serving.kubeflow.org`.
    InferenceService,
    /// KServe `TrainedModel` (multi-model serving): `spec.model.storageUri`.
    TrainedModel,
    /// KServe `LLMInferenceService`: `spec.model.uri` and the LoRA adapters `spec.model.lora.adapters[].uri`,
    /// each named by its `name`.
    LlmInferenceService,
}

impl ResourceKind {
    /// Every kind, in a stable order.
    pub const ALL: [ResourceKind; 5] = [
        ResourceKind::SeldonModel,
        ResourceKind::SeldonDeployment,
        ResourceKind::InferenceService,
        ResourceKind::TrainedModel,
        ResourceKind::LlmInferenceService,
    ];

    /// The `kind:` as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SeldonModel => "Model",
            Self::SeldonDeployment => "SeldonDeployment",
            Self::InferenceService => "InferenceService",
            Self::TrainedModel => "TrainedModel",
            Self::LlmInferenceService => "LLMInferenceService",
        }
    }

    /// The API group of `apiVersion:` (`group/version`).
    pub fn api_group(self) -> &'static str {
        self.api_groups()[0]
    }

    /// Every API group the kind is found under, the current one first: KServe's `InferenceService`
    /// also under the legacy KFServing group `serving.kubeflow.org`.
    pub fn api_groups(self) -> &'static [&'static str] {
        match self {
            Self::SeldonModel => &["mlops.seldon.io"],
            Self::SeldonDeployment => &["machinelearning.seldon.io"],
            Self::InferenceService => &["serving.kserve.io", "serving.kubeflow.org"],
            Self::TrainedModel | Self::LlmInferenceService => &["serving.kserve.io"],
        }
    }

    /// The kind a `--kind` value or a config `kind:` names (case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(name))
    }

    /// The kind of a manifest, from its `kind:` and `apiVersion:`. A `kind: Model` of another API
    /// group is some other resource; a missing `apiVersion` (a partial manifest) is given the benefit of
    /// the doubt.
    pub fn of_manifest(kind: &str, api_version: Option<&str>) -> Option<Self> {
        let found = Self::ALL.into_iter().find(|k| k.as_str() == kind)?;
        match api_version {
            Some(v)
                if !v
                    .split('/')
                    .next()
                    .is_some_and(|g| found.api_groups().contains(&g)) =>
            {
                None
            }
            _ => Some(found),
        }
    }
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A model URI field as found in a resource, before naming.
#[derive(Debug, Clone)]
pub struct RawField<'t, 'a> {
    /// The resource's kind.
    pub kind: ResourceKind,
    /// `metadata.name` (empty when missing).
    pub resource: String,
    /// The graph node or KServe component (`None` for a Seldon Model).
    pub component: Option<String>,
    /// What tells two fields of the same component apart: the predictor of a SeldonDeployment graph
    /// node, the `model` / framework key of a KServe component.
    pub qualifier: Option<String>,
    /// The value node.
    pub node: &'t Node<'a>,
    /// Where the value is, from the document's root.
    pub path: Vec<Seg>,
}

/// Every model URI field of one document, with the `kind: List` items looked into.
pub fn fields_of_document<'t, 'a>(root: &'t Node<'a>) -> Result<Vec<RawField<'t, 'a>>, EditError> {
    let mut out = Vec::new();
    if root.get_str("kind")? == Some("List") {
        if let Some(items) = root.get("items")? {
            for (i, item) in items.items().iter().enumerate() {
                let prefix = vec![Seg::Key("items".into()), Seg::Index(i)];
                fields_of_resource(item, prefix, &mut out)?;
            }
        }
    } else {
        fields_of_resource(root, Vec::new(), &mut out)?;
    }
    Ok(out)
}

/// The model URI fields of one resource (a mapping with `kind:`).
pub fn fields_of_resource<'t, 'a>(
    res: &'t Node<'a>,
    prefix: Vec<Seg>,
    out: &mut Vec<RawField<'t, 'a>>,
) -> Result<(), EditError> {
    let Some(kind) = res.get_str("kind")? else {
        return Ok(());
    };
    let Some(kind) = ResourceKind::of_manifest(kind, res.get_str("apiVersion")?) else {
        return Ok(());
    };
    let resource = match res.get("metadata")? {
        Some(meta) => meta.get_str("name")?.unwrap_or_default().to_string(),
        None => String::new(),
    };
    let Some(spec) = res.get("spec")? else {
        return Ok(());
    };
    let at = |rest: &[&str]| {
        let mut path = prefix.clone();
        path.push(Seg::Key("spec".into()));
        path.extend(rest.iter().map(|k| Seg::Key((*k).to_string())));
        path
    };
    let mut push = |component: Option<String>, qualifier: Option<String>, node, path| {
        out.push(RawField {
            kind,
            resource: resource.clone(),
            component,
            qualifier,
            node,
            path,
        })
    };
    match kind {
        ResourceKind::SeldonModel => {
            if let Some(node) = uri_node(spec.get("storageUri")?) {
                push(None, None, node, at(&["storageUri"]));
            }
        }
        ResourceKind::SeldonDeployment => {
            if let Some(predictors) = spec.get("predictors")? {
                for (i, predictor) in predictors.items().iter().enumerate() {
                    let qualifier = predictor
                        .get_str("name")?
                        .map(str::to_string)
                        .unwrap_or_else(|| i.to_string());
                    if let Some(graph) = predictor.get("graph")? {
                        let mut path = at(&["predictors"]);
                        path.push(Seg::Index(i));
                        path.push(Seg::Key("graph".into()));
                        graph_fields(graph, path, &qualifier, &mut push)?;
                    }
                }
            }
        }
        ResourceKind::InferenceService => {
            for component in ["predictor", "transformer", "explainer"] {
                let Some(comp) = spec.get(component)? else {
                    continue;
                };
                // `model:` first (the current shape), then the legacy framework keys in source order.
                if let Some(model) = comp.get("model")?
                    && let Some(node) = uri_node(model.get("storageUri")?)
                {
                    let path = at(&[component, "model", "storageUri"]);
                    push(Some(component.into()), Some("model".into()), node, path);
                }
                for (key, value) in comp.entries() {
                    let Some(key) = key.as_str() else { continue };
                    if key == "model" {
                        continue;
                    }
                    if let Some(node) = uri_node(value.get("storageUri")?) {
                        let path = at(&[component, key, "storageUri"]);
                        push(Some(component.into()), Some(key.into()), node, path);
                    }
                }
            }
        }
        ResourceKind::TrainedModel => {
            if let Some(model) = spec.get("model")?
                && let Some(node) = uri_node(model.get("storageUri")?)
            {
                push(None, None, node, at(&["model", "storageUri"]));
            }
        }
        ResourceKind::LlmInferenceService => {
            let Some(model) = spec.get("model")? else {
                return Ok(());
            };
            if let Some(node) = uri_node(model.get("uri")?) {
                push(
                    Some("model".into()),
                    Some("model".into()),
                    node,
                    at(&["model", "uri"]),
                );
            }
            if let Some(lora) = model.get("lora")?
                && let Some(adapters) = lora.get("adapters")?
            {
                for (i, adapter) in adapters.items().iter().enumerate() {
                    let Some(node) = uri_node(adapter.get("uri")?) else {
                        continue;
                    };
                    let name = adapter
                        .get_str("name")?
                        .map_or_else(|| i.to_string(), str::to_string);
                    let mut path = at(&["model", "lora", "adapters"]);
                    path.push(Seg::Index(i));
                    path.push(Seg::Key("uri".into()));
                    push(Some(name), Some("lora".into()), node, path);
                }
            }
        }
    }
    Ok(())
}

/// Walks a SeldonDeployment graph node and its `children`.
fn graph_fields<'t, 'a, F>(
    node: &'t Node<'a>,
    path: Vec<Seg>,
    predictor: &str,
    push: &mut F,
) -> Result<(), EditError>
where
    F: FnMut(Option<String>, Option<String>, &'t Node<'a>, Vec<Seg>),
{
    if let Some(value) = uri_node(node.get("modelUri")?) {
        let name = node.get_str("name")?.unwrap_or_default().to_string();
        let mut p = path.clone();
        p.push(Seg::Key("modelUri".into()));
        push(Some(name), Some(predictor.to_string()), value, p);
    }
    if let Some(children) = node.get("children")? {
        for (i, child) in children.items().iter().enumerate() {
            let mut p = path.clone();
            p.push(Seg::Key("children".into()));
            p.push(Seg::Index(i));
            graph_fields(child, p, predictor, push)?;
        }
    }
    Ok(())
}

/// A value that can be a model URI: a scalar or an alias. A mapping or sequence there is not a URI.
fn uri_node<'t, 'a>(node: Option<&'t Node<'a>>) -> Option<&'t Node<'a>> {
    node.filter(|n| matches!(n.kind, NodeKind::Scalar { .. } | NodeKind::Alias(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_matched_with_their_api_group() {
        assert_eq!(
            ResourceKind::of_manifest("Model", Some("mlops.seldon.io/v1alpha1")),
            Some(ResourceKind::SeldonModel)
        );
        assert_eq!(
            ResourceKind::of_manifest("Model", Some("example.com/v1")),
            None
        );
        assert_eq!(
            ResourceKind::of_manifest("Model", None),
            Some(ResourceKind::SeldonModel)
        );
        assert_eq!(
            ResourceKind::of_manifest("Explainer", Some("mlops.seldon.io/v1alpha1")),
            None
        );
        assert_eq!(
            ResourceKind::parse("inferenceservice"),
            Some(ResourceKind::InferenceService)
        );
    }

    #[test]
    fn the_legacy_kfserving_group_and_the_new_kserve_kinds() {
        assert_eq!(
            ResourceKind::of_manifest("InferenceService", Some("serving.kubeflow.org/v1beta1")),
            Some(ResourceKind::InferenceService)
        );
        assert_eq!(
            ResourceKind::of_manifest("TrainedModel", Some("serving.kubeflow.org/v1alpha1")),
            None
        );
        assert_eq!(
            ResourceKind::parse("llminferenceservice"),
            Some(ResourceKind::LlmInferenceService)
        );
        // As in kserve/kserve's own v1beta1 samples of the KFServing days.
        let text = "apiVersion: serving.kubeflow.org/v1beta1\nkind: InferenceService\nmetadata:\n  name: flowers\nspec:\n  predictor:\n    tensorflow:\n      storageUri: \"gs://kfserving-samples/models/tensorflow/flowers\"\n";
        let fields = crate::manifest::find_fields(text.as_bytes()).unwrap();
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].path, "spec.predictor.tensorflow.storageUri");
        // Adapters without a name are told apart by their index; a mapping as `uri` is no URI.
        let text = "apiVersion: serving.kserve.io/v1alpha2\nkind: LLMInferenceService\nmetadata: {name: l}\nspec:\n  model:\n    uri: {x: 1}\n    lora:\n      adapters:\n      - uri: hf://a\n      - name: b\n        uri: hf://b\n";
        let names: Vec<(String, String)> = crate::manifest::find_fields(text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|f| (f.name, f.path))
            .collect();
        assert_eq!(
            names,
            [
                (
                    "l/0".to_string(),
                    "spec.model.lora.adapters[0].uri".to_string()
                ),
                (
                    "l/b".to_string(),
                    "spec.model.lora.adapters[1].uri".to_string()
                )
            ]
        );
    }

    #[test]
    fn paths_read_like_users_write_them() {
        let segs = [
            Seg::Key("spec".into()),
            Seg::Key("predictors".into()),
            Seg::Index(0),
            Seg::Key("graph".into()),
            Seg::Key("modelUri".into()),
        ];
        assert_eq!(
            crate::manifest::tree::path_string(&segs),
            "spec.predictors[0].graph.modelUri"
        );
    }
}
