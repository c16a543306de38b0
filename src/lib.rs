//! modelbump points the model-serving manifests of a GitOps repository (Seldon Core `Model`,
//! `SeldonDeployment`, KServe `InferenceService`) at the right MLflow model, changing the bytes of the URI
//! and nothing else, then commits, pushes and has Argo CD sync.
//!
//! The data flows one way: settings -> targets -> resolutions (MLflow) -> plan (pure edits) -> writes ->
//! commit/push -> sync. Each stage is one module; the manifest editor in the middle is pure and knows
//! nothing of the network, the file system or git.

// Only what a caller outside the crate can reach is `pub`; everything else is `pub(crate)`, so that the
// compiler reports dead code instead of taking it for library API.
#![warn(unreachable_pub)]

pub(crate) mod argocd;
pub mod cli;
pub mod config;
pub(crate) mod discover;
pub mod env;
pub(crate) mod fsutil;
pub mod git;
pub(crate) mod http;
pub mod manifest;
pub mod ops;
pub mod report;
pub mod resolve;
pub mod secret;
pub mod tracking;
