//! "Did you mean": the known names closest to a wrong one, for error messages (config keys, experiments,
//! registered models, aliases).
//!
//! One rule for every message, so that they agree: names are compared without regard to case, `-`, `_`
//! and spaces (`trackingURI` is one edit from `trackingUri`, `financial_predictor` none from
//! `financial-predictor`), with the Jaro-Winkler similarity of `strsim` (the crate clap uses for its own
//! suggestions); a name is close at 0.8 or more, and at most three of the closest are offered, best first.

/// The least Jaro-Winkler similarity of a suggestion.
const THRESHOLD: f64 = 0.8;
/// The most suggestions shown.
const MAX: usize = 3;

/// The names of `known` closest to `wrong`, best first (at most three; none when nothing is close).
pub(crate) fn closest<'a, I>(wrong: &str, known: I) -> Vec<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let wanted = fold(wrong);
    let mut scored: Vec<(f64, &str)> = known
        .into_iter()
        .filter(|k| *k != wrong)
        .map(|k| (strsim::jaro_winkler(&wanted, &fold(k)), k))
        .filter(|(score, _)| *score >= THRESHOLD)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let mut out: Vec<String> = Vec::new();
    for (_, name) in scored {
        if !out.iter().any(|o| o == name) {
            out.push(name.to_string());
        }
        if out.len() == MAX {
            break;
        }
    }
    out
}

/// `; did you mean `a`?` (or `` `a` or `b` ``), or nothing when nothing is close: ready to append to a
/// message.
pub(crate) fn did_you_mean<'a, I>(wrong: &str, known: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    let close = closest(wrong, known);
    if close.is_empty() {
        return String::new();
    }
    let quoted: Vec<String> = close.iter().map(|c| format!("`{c}`")).collect();
    format!("; did you mean {}?", quoted.join(" or "))
}

fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_best_first() {
        let keys = ["trackingUri", "concurrency"];
        assert_eq!(closest("trackingURI", keys), vec!["trackingUri"]);
        assert_eq!(
            did_you_mean("trackingURI", keys),
            "; did you mean `trackingUri`?"
        );
        let names = [
            "financial-mlops-pytorch-baseline",
            "financial-mlops-pytorch-enhanced",
            "churn",
        ];
        assert_eq!(
            closest("financial-mlops-pytorch-basline", names)[0],
            "financial-mlops-pytorch-baseline"
        );
        assert_eq!(
            closest("financial_predictor", ["financial-predictor"]).len(),
            1
        );
    }

    #[test]
    fn nothing_close_nothing_said() {
        assert!(closest("zzz", ["trackingUri", "concurrency"]).is_empty());
        assert_eq!(did_you_mean("zzz", ["champion"]), "");
        // The name itself is not a suggestion.
        assert!(closest("champion", ["champion"]).is_empty());
        assert!(closest("x", Vec::<&str>::new()).is_empty());
    }

    #[test]
    fn at_most_three() {
        let known = ["model-a", "model-b", "model-c", "model-d"];
        assert_eq!(closest("model-x", known).len(), 3);
    }
}
