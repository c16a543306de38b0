//! modelbump points the model-serving manifests of a GitOps repository (Seldon Core `Model`,
//! `SeldonDeployment`, KServe `InferenceService` and the other kinds of [`manifest`]) at the right MLflow
//! model, changing the bytes of the URI and nothing else, then commits, pushes and has Argo CD sync.
//!
//! The layers, each using only its own and those below it (`tests/layers.rs` enforces this):
//! [`cli`] (clap, the environment snapshot, settings, rendering, exit codes) > [`ops`] (the use cases:
//! plain options in, typed outcomes out, no printing) > the domain ([`manifest`], [`tracking`],
//! [`resolve`], [`git`], `argocd`, [`report`], [`config`], `discover`) > the leaves ([`env`](mod@env), `fsutil`,
//! `http`, [`secret`]). The data flows one way: settings -> targets -> resolutions (MLflow) -> edits
//! (the pure, self-verifying editor) -> writes -> commit -> push -> sync. `ARCHITECTURE.md` at the
//! repository root maps each step and each rule to its module.

// Only what a caller outside the crate can reach is `pub`; everything else is `pub(crate)`, so that the
// compiler reports dead code instead of taking it for library API.
#![warn(unreachable_pub)]
// The module docs are written for the code's readers and link crate-private items
// (`cargo doc --document-private-items`).
#![allow(rustdoc::private_intra_doc_links)]

pub(crate) mod argocd;
pub mod cli;
pub mod config;
pub(crate) mod discover;
pub mod env;
pub(crate) mod forge;
pub(crate) mod fsutil;
pub mod git;
pub(crate) mod http;
pub mod manifest;
pub mod ops;
pub mod report;
pub mod resolve;
pub mod secret;
pub(crate) mod serve;
pub(crate) mod suggest;
pub mod tracking;
