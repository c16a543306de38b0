//! The integration tests: one binary that drives the real `modelbump` binary against real parts (a real
//! MLflow server, real git repositories and remotes, a stand-in Argo CD).

mod anyfield;
mod anyfield_history;
mod anyfield_pr;
mod argocd;
mod cli;
mod config_schema;
mod doc_links;
mod editor;
mod git;
mod hold_pr;
mod holds;
mod layers;
mod local_stores;
mod manual_changes;
mod mlflow;
mod ops;
mod pipeline;
mod polish;
mod pull_request;
mod quickstart;
mod quickstart_script;
mod record;
mod serve;
mod signing;
mod support;
mod templates;
mod validate;
