//! One file per subcommand: its clap `Args` (whose doc comment is the help text) and its `run` function,
//! which resolves the settings into the options of a use case ([`crate::ops`]), calls it and renders the
//! outcome. No `env = ...` attribute: the variables are read from the snapshot by
//! [`crate::cli::settings`]; the help text names them as `[env: NAME=]`.

pub(crate) mod apply;
pub(crate) mod commit;
pub(crate) mod completions;
pub(crate) mod hold;
pub(crate) mod init;
pub(crate) mod plan;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod set;
pub(crate) mod sync;
pub(crate) mod targets;
pub(crate) mod validate;
