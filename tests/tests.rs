//! The integration tests: one binary that drives the real `modelbump` binary against real parts (a real
//! MLflow server, real git repositories and remotes, a stand-in Argo CD).

mod argocd;
mod cli;
mod editor;
mod git;
mod holds;
mod layers;
mod local_stores;
mod manual_changes;
mod mlflow;
mod ops;
mod quickstart;
mod support;
mod templates;
