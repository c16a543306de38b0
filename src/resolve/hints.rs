//! The hints of the resolver's "not found" errors: the closest experiment or registered model names, and
//! the aliases a registered model has, so that a typo in `modelbump.yaml` is fixed from the message alone.
//!
//! Asked only once a lookup has failed, and best effort: a store that cannot list names (or fails while
//! listing them) gives no hint, never another error, because the error being worded is the one to report.

use super::ResolveError;
use crate::tracking::TrackingStore;

/// `; did you mean ...?` with the experiments closest to `wanted`, or empty.
pub(super) async fn experiment(store: &dyn TrackingStore, wanted: &str) -> String {
    match store.experiment_names().await {
        Ok(Some(names)) => crate::suggest::did_you_mean(wanted, names.iter().map(String::as_str)),
        _ => String::new(),
    }
}

/// [`ResolveError::NoRegisteredModel`] when the store says that no registered model is named `name`;
/// `None` when it exists or the store cannot tell.
pub(super) async fn missing_model(store: &dyn TrackingStore, name: &str) -> Option<ResolveError> {
    let names = store.registered_model_names().await.ok()??;
    if names.iter().any(|n| n == name) {
        return None;
    }
    Some(ResolveError::NoRegisteredModel {
        name: name.to_string(),
        store: store.describe(),
        hint: crate::suggest::did_you_mean(name, names.iter().map(String::as_str)),
    })
}

/// The error for an alias that does not resolve: the model does not exist (with close names), or it
/// exists and the message lists the aliases it has, then the closest one when one is close.
pub(super) async fn missing_alias(
    store: &dyn TrackingStore,
    name: &str,
    alias: &str,
) -> ResolveError {
    if let Some(missing) = missing_model(store, name).await {
        return missing;
    }
    let hint = match store.model_aliases(name).await {
        Ok(Some(aliases)) if aliases.is_empty() => {
            format!(
                "; {name:?} has no aliases (set one with MlflowClient.set_registered_model_alias)"
            )
        }
        Ok(Some(aliases)) => {
            let close =
                crate::suggest::did_you_mean(alias, aliases.iter().map(|(a, _)| a.as_str()));
            let listed: Vec<String> = aliases
                .iter()
                .map(|(a, v)| format!("{a} (version {v})"))
                .collect();
            format!("; its aliases: {}{close}", listed.join(", "))
        }
        _ => String::new(),
    };
    ResolveError::NoVersion {
        name: name.to_string(),
        what: format!("alias {alias:?}"),
        store: store.describe(),
        hint,
    }
}
