//! The resource kinds that hold model URIs, and where in each the URI fields are.
//!
//! Adding a kind touches this file only.

/// A kind of resource that holds one or more model URI fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    /// Seldon Core v2 `Model` (`mlops.seldon.io`): `spec.storageUri`.
    SeldonModel,
    /// Seldon Core v1 `SeldonDeployment`: `spec.predictors[].graph.modelUri`, recursively through `children`.
    SeldonDeployment,
    /// KServe `InferenceService`: `spec.{predictor,transformer,explainer}.model.storageUri` and the legacy
    /// `spec.predictor.<framework>.storageUri`.
    InferenceService,
}

impl ResourceKind {
    /// The `kind:` as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SeldonModel => "Model",
            Self::SeldonDeployment => "SeldonDeployment",
            Self::InferenceService => "InferenceService",
        }
    }
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
