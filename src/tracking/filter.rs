//! MLflow's run search language (`filter_string`, `order_by`) for the local backends.
//!
//! The REST backend hands filters to the server; the sqlite and file stores have no server, so they parse
//! the filter here and evaluate it over runs they loaded. The grammar and its refusals follow MLflow's
//! `SearchUtils` (3.17): an AND-list of comparisons on `metrics.`, `params.`, `tags.` and `attributes.`
//! keys; metrics and `start_time`/`end_time` compare numerically; params, tags and the other attributes
//! compare as strings with `=`, `!=`, `LIKE`, `ILIKE`; `IN`/`NOT IN` only on `attributes.run_id`;
//! `IS [NOT] NULL` only on params and tags. Anything else (OR, parentheses, dataset filters) is refused
//! with a message that says what to write instead, rather than guessed at.
//!
//! MLflow's two local stores disagree on a few corners (the SQL store matches `run_name` against the
//! `mlflow.runName` tag and lowercases ASCII only for `ILIKE`; the file store uses the run's own name and
//! Python's regex semantics), so evaluation takes a [`Dialect`]. Ordering follows the SQL store, which the
//! file store's stable sorts reproduce: present values first (then NaN, then missing), the requested
//! direction, then `start_time DESC`, then `run_id` ascending as the final tie-breaker.

use std::cmp::Ordering;

use super::Run;

/// Which MLflow store's semantics to reproduce where the two differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// MLflow's SQLAlchemy store on sqlite (and the server in front of it).
    Sql,
    /// MLflow's file store (`mlruns/`).
    File,
}

/// A run as the filter sees it: the run, plus the attributes [`Run`] does not carry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Candidate {
    /// The run.
    pub run: Run,
    /// `attributes.user_id`.
    pub user_id: Option<String>,
    /// Metrics whose latest value is NaN (kept apart because NaN sorts and compares specially).
    pub nan_metrics: Vec<String>,
}

/// A filter or order clause MLflow would refuse, or that the local stores do not support.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct FilterError {
    /// What is wrong, and what to write instead.
    pub message: String,
}

fn err<T>(message: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError {
        message: message.into(),
    })
}

/// The kind of key a comparison or order clause is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyType {
    /// `metrics.<key>`: the latest value, compared numerically.
    Metric,
    /// `params.<key>`.
    Param,
    /// `tags.<key>`.
    Tag,
    /// `attributes.<key>`: `run_id`, `run_name`, `user_id`, `status`, `artifact_uri`, `start_time`, `end_time`.
    Attribute,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `LIKE`: `%` any run of characters, `_` one character, case-sensitive.
    Like,
    /// `ILIKE`: as `LIKE`, ignoring case.
    ILike,
    /// `IN (...)`
    In,
    /// `NOT IN (...)`
    NotIn,
    /// `IS NULL`
    IsNull,
    /// `IS NOT NULL`
    IsNotNull,
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A number.
    Number(f64),
    /// A quoted string, quotes removed.
    Text(String),
    /// A parenthesised list of quoted strings.
    List(Vec<String>),
    /// No value (`IS NULL`).
    None,
}

/// One comparison of an AND-list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Comparison {
    /// The kind of key.
    pub key_type: KeyType,
    /// The key, unquoted, aliases resolved (`created` is `start_time`).
    pub key: String,
    /// The operator.
    pub op: Op,
    /// The value.
    pub value: Value,
}

/// One `order_by` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderBy {
    /// The kind of key.
    pub key_type: KeyType,
    /// The key, unquoted, aliases resolved.
    pub key: String,
    /// Ascending (the default) or descending.
    pub ascending: bool,
}

const NUMERIC_ATTRIBUTES: [&str; 2] = ["start_time", "end_time"];
const STRING_ATTRIBUTES: [&str; 5] = ["run_id", "run_name", "user_id", "status", "artifact_uri"];

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A word or dotted identifier, possibly with quoted parts (quotes kept, as MLflow sees them).
    Ident(String),
    Str(String),
    Number(String),
    Op(String),
    LParen,
    RParen,
    Comma,
}

fn tokenize(input: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            // A quoted string; a doubled quote stays inside it, as in SQL (and MLflow keeps it verbatim).
            let start = i;
            i += 1;
            loop {
                if i >= chars.len() {
                    return err(format!(
                        "unterminated string starting at character {}",
                        start + 1
                    ));
                }
                if chars[i] == c {
                    if chars.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
            let raw: String = chars[start..i].iter().collect();
            // A quoted string here is a value: a quoted key (`params."a b"`) never starts a token, it
            // follows the dot of an identifier and is read by the identifier branch below.
            tokens.push(Token::Str(raw));
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
            || (c == '-'
                && chars
                    .get(i + 1)
                    .is_some_and(|d| d.is_ascii_digit() || *d == '.')
                && matches!(tokens.last(), Some(Token::Op(_))))
        {
            let start = i;
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || chars[i] == '.'
                    || ((chars[i] == 'e' || chars[i] == 'E')
                        && chars
                            .get(i + 1)
                            .is_some_and(|d| d.is_ascii_digit() || *d == '-' || *d == '+'))
                    || ((chars[i] == '-' || chars[i] == '+') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            tokens.push(Token::Number(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' || c == '`' {
            // An identifier: words joined by dots, where a part may be `backticked` or "double-quoted".
            let start = i;
            loop {
                if i < chars.len() && (chars[i] == '`' || (chars[i] == '"' && i > start)) {
                    let q = chars[i];
                    i += 1;
                    while i < chars.len() && chars[i] != q {
                        i += 1;
                    }
                    if i >= chars.len() {
                        return err(format!(
                            "unterminated {q}quoted{q} key starting at character {}",
                            start + 1
                        ));
                    }
                    i += 1;
                } else {
                    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                        i += 1;
                    }
                }
                if i < chars.len() && chars[i] == '.' {
                    i += 1;
                    continue;
                }
                break;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c == '(' {
            tokens.push(Token::LParen);
            i += 1;
        } else if c == ')' {
            tokens.push(Token::RParen);
            i += 1;
        } else if c == ',' {
            tokens.push(Token::Comma);
            i += 1;
        } else if "=!<>".contains(c) {
            let start = i;
            while i < chars.len() && "=!<>".contains(chars[i]) {
                i += 1;
            }
            tokens.push(Token::Op(chars[start..i].iter().collect()));
        } else {
            return err(format!("unexpected character {c:?} at position {}", i + 1));
        }
    }
    Ok(tokens)
}

fn is_keyword(token: &Token, word: &str) -> bool {
    matches!(token, Token::Ident(w) if w.eq_ignore_ascii_case(word))
}

fn strip_quotes(s: &str, q: char) -> Option<&str> {
    (s.len() >= 2 && s.starts_with(q) && s.ends_with(q)).then(|| &s[1..s.len() - 1])
}

/// Splits `metrics.acc` / `` metrics.`f1 score` `` / `params."a b"` / `status` into a key type and key.
fn parse_identifier(raw: &str, order: bool) -> Result<(KeyType, String), FilterError> {
    let (entity, key) = match split_first_dot(raw) {
        Some((entity, key)) => (entity, key),
        None => ("attribute", raw),
    };
    let entity = strip_quotes(entity, '`').unwrap_or(entity);
    let key_type = match entity {
        "metric" | "metrics" => KeyType::Metric,
        "param" | "params" | "parameter" | "parameters" => KeyType::Param,
        "tag" | "tags" => KeyType::Tag,
        "attribute" | "attributes" | "attr" | "run" => KeyType::Attribute,
        "dataset" | "datasets" => {
            return err(format!(
                "{raw}: dataset filters are not supported by the local stores; filter on metrics, params, tags or attributes, or use a tracking server"
            ));
        }
        other => {
            return err(format!(
                "invalid entity type {other:?} in {raw:?}; valid values are metrics, params, tags, attributes"
            ));
        }
    };
    let key = strip_quotes(key, '"')
        .or_else(|| strip_quotes(key, '\''))
        .or_else(|| strip_quotes(key, '`'))
        .unwrap_or(key);
    let key = match key {
        "created" | "Created" => "start_time",
        "run name" | "Run name" | "Run Name" => "run_name",
        k => k,
    };
    if key_type == KeyType::Attribute
        && !NUMERIC_ATTRIBUTES.contains(&key)
        && !STRING_ATTRIBUTES.contains(&key)
    {
        let what = if order { "order_by" } else { "filter" };
        return err(format!(
            "invalid attribute key {key:?} in {what}; valid keys are artifact_uri, end_time, run_id, run_name, start_time, status, user_id"
        ));
    }
    Ok((key_type, key.to_string()))
}

fn split_first_dot(raw: &str) -> Option<(&str, &str)> {
    // The entity part may be backticked; the dot after it separates the key, which may itself hold dots.
    if let Some(rest) = raw.strip_prefix('`') {
        let end = rest.find('`')?;
        let after = &rest[end + 1..];
        return after.strip_prefix('.').map(|key| (&raw[..end + 2], key));
    }
    raw.split_once('.')
}

fn unquote_value(raw: &str) -> Option<String> {
    strip_quotes(raw, '\'')
        .or_else(|| strip_quotes(raw, '"'))
        .map(str::to_string)
}

/// Parses a `filter_string` into its AND-ed comparisons. An empty filter is an empty list.
pub(crate) fn parse_filter(filter: &str) -> Result<Vec<Comparison>, FilterError> {
    let tokens = tokenize(filter)?;
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if !out.is_empty() {
            if is_keyword(&tokens[i], "AND") {
                i += 1;
            } else if is_keyword(&tokens[i], "OR") {
                return err(
                    "OR is not supported (MLflow's search accepts only AND); run one search per alternative",
                );
            } else {
                return err(format!(
                    "expected AND between comparisons, found {}",
                    describe(&tokens[i])
                ));
            }
        }
        let (comparison, next) = parse_comparison(&tokens, i)?;
        out.push(comparison);
        i = next;
    }
    Ok(out)
}

fn describe(token: &Token) -> String {
    match token {
        Token::Ident(s) | Token::Str(s) | Token::Number(s) | Token::Op(s) => format!("{s:?}"),
        Token::LParen => "\"(\"".into(),
        Token::RParen => "\")\"".into(),
        Token::Comma => "\",\"".into(),
    }
}

fn parse_comparison(tokens: &[Token], start: usize) -> Result<(Comparison, usize), FilterError> {
    let ident = match &tokens[start] {
        Token::Ident(s) if !is_keyword(&tokens[start], "AND") => s.clone(),
        Token::LParen => {
            return err(
                "parentheses are not supported (MLflow's search is a flat AND-list of comparisons)",
            );
        }
        t => {
            return err(format!(
                "expected a key such as metrics.acc, found {}",
                describe(t)
            ));
        }
    };
    let (key_type, key) = parse_identifier(&ident, false)?;
    let mut i = start + 1;
    let Some(op_token) = tokens.get(i) else {
        return err(format!("{ident}: missing comparison operator"));
    };
    let op = match op_token {
        Token::Op(s) => match s.as_str() {
            "=" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            other => {
                return err(format!(
                    "invalid comparator {other:?}; use one of =, !=, <, <=, >, >="
                ));
            }
        },
        t if is_keyword(t, "LIKE") => Op::Like,
        t if is_keyword(t, "ILIKE") => Op::ILike,
        t if is_keyword(t, "IN") => Op::In,
        t if is_keyword(t, "NOT") && tokens.get(i + 1).is_some_and(|t| is_keyword(t, "IN")) => {
            i += 1;
            Op::NotIn
        }
        t if is_keyword(t, "IS") => {
            if tokens.get(i + 1).is_some_and(|t| is_keyword(t, "NULL")) {
                i += 1;
                Op::IsNull
            } else if tokens.get(i + 1).is_some_and(|t| is_keyword(t, "NOT"))
                && tokens.get(i + 2).is_some_and(|t| is_keyword(t, "NULL"))
            {
                i += 2;
                Op::IsNotNull
            } else {
                return err(format!("{ident}: IS must be followed by NULL or NOT NULL"));
            }
        }
        t => {
            return err(format!(
                "{ident}: expected a comparison operator, found {}",
                describe(t)
            ));
        }
    };
    i += 1;
    check_operator(key_type, &key, op)?;
    let value = match op {
        Op::IsNull | Op::IsNotNull => Value::None,
        Op::In | Op::NotIn => {
            if tokens.get(i) != Some(&Token::LParen) {
                return err(format!(
                    "{ident}: IN needs a parenthesised list of quoted strings"
                ));
            }
            i += 1;
            let mut items = Vec::new();
            loop {
                match tokens.get(i) {
                    Some(Token::Str(s)) => items.push(unquote_value(s).unwrap_or_default()),
                    _ => return err(format!("{ident}: IN needs a list of quoted strings")),
                }
                i += 1;
                match tokens.get(i) {
                    Some(Token::Comma) => i += 1,
                    Some(Token::RParen) => break,
                    _ => return err(format!("{ident}: unterminated IN list")),
                }
            }
            i += 1;
            Value::List(items)
        }
        _ => {
            let Some(token) = tokens.get(i) else {
                return err(format!("{ident}: missing value"));
            };
            i += 1;
            let numeric = key_type == KeyType::Metric
                || (key_type == KeyType::Attribute && NUMERIC_ATTRIBUTES.contains(&key.as_str()));
            match (numeric, token) {
                (true, Token::Number(n)) => match n.parse::<f64>() {
                    Ok(v) => Value::Number(v),
                    Err(_) => return err(format!("{ident}: {n:?} is not a number")),
                },
                (true, t) => {
                    return err(format!(
                        "{ident}: expected a numeric value, found {}",
                        describe(t)
                    ));
                }
                (false, Token::Str(s)) => Value::Text(unquote_value(s).unwrap_or_default()),
                (false, t) => {
                    return err(format!(
                        "{ident}: expected a quoted string value (e.g. 'my-value'), found {}",
                        describe(t)
                    ));
                }
            }
        }
    };
    Ok((
        Comparison {
            key_type,
            key,
            op,
            value,
        },
        i,
    ))
}

fn check_operator(key_type: KeyType, key: &str, op: Op) -> Result<(), FilterError> {
    use Op::*;
    let (valid, names): (&[Op], &str) = match key_type {
        KeyType::Metric => (&[Eq, Ne, Lt, Le, Gt, Ge], "=, !=, <, <=, >, >="),
        KeyType::Param | KeyType::Tag => (
            &[Eq, Ne, Like, ILike, IsNull, IsNotNull],
            "=, !=, LIKE, ILIKE, IS NULL, IS NOT NULL",
        ),
        KeyType::Attribute if NUMERIC_ATTRIBUTES.contains(&key) => {
            (&[Eq, Ne, Lt, Le, Gt, Ge], "=, !=, <, <=, >, >=")
        }
        KeyType::Attribute => {
            if matches!(op, In | NotIn) && key != "run_id" {
                return err(format!(
                    "attributes.{key}: only attributes.run_id supports IN / NOT IN with a list of quoted strings"
                ));
            }
            (
                &[Eq, Ne, Like, ILike, In, NotIn],
                "=, !=, LIKE, ILIKE, IN, NOT IN",
            )
        }
    };
    if valid.contains(&op) {
        Ok(())
    } else {
        let prefix = match key_type {
            KeyType::Metric => "metrics",
            KeyType::Param => "params",
            KeyType::Tag => "tags",
            KeyType::Attribute => "attributes",
        };
        err(format!(
            "{prefix}.{key}: invalid comparator {op:?}; use one of {names}"
        ))
    }
}

/// Parses one `order_by` clause: `<key> [ASC|DESC]`.
pub(crate) fn parse_order_by(clause: &str) -> Result<OrderBy, FilterError> {
    let tokens = tokenize(clause)?;
    let (ident, ascending) = match tokens.as_slice() {
        [Token::Ident(ident)] => (ident.clone(), true),
        [Token::Ident(ident), dir] if is_keyword(dir, "ASC") => (ident.clone(), true),
        [Token::Ident(ident), dir] if is_keyword(dir, "DESC") => (ident.clone(), false),
        _ => {
            return err(format!(
                "invalid order_by clause {clause:?}; write e.g. \"metrics.acc DESC\""
            ));
        }
    };
    let (key_type, key) = parse_identifier(&ident, true)?;
    Ok(OrderBy {
        key_type,
        key,
        ascending,
    })
}

/// Parses a list of `order_by` clauses, refusing a key given twice as MLflow's SQL store does.
pub(crate) fn parse_order_by_list(clauses: &[String]) -> Result<Vec<OrderBy>, FilterError> {
    let mut out: Vec<OrderBy> = Vec::new();
    for clause in clauses {
        let parsed = parse_order_by(clause)?;
        if out
            .iter()
            .any(|o| o.key_type == parsed.key_type && o.key == parsed.key)
        {
            return err(format!("order_by contains duplicate fields: {clauses:?}"));
        }
        out.push(parsed);
    }
    Ok(out)
}

/// An attribute's value: a number for the times, a string otherwise, `None` when unset.
enum AttrValue<'a> {
    Number(Option<f64>),
    Text(Option<&'a str>),
}

fn attribute<'a>(c: &'a Candidate, key: &str, dialect: Dialect) -> AttrValue<'a> {
    let info = &c.run.info;
    match key {
        "start_time" => AttrValue::Number(info.start_time.map(|t| t as f64)),
        "end_time" => AttrValue::Number(info.end_time.map(|t| t as f64)),
        "run_id" => AttrValue::Text(Some(&info.run_id)),
        "status" => AttrValue::Text(Some(&info.status)),
        "artifact_uri" => AttrValue::Text(Some(&info.artifact_uri)),
        "user_id" => AttrValue::Text(c.user_id.as_deref()),
        // The SQL store matches run_name against the mlflow.runName tag (runs of old clients have no name
        // column); the file store uses the name in the run's meta.yaml.
        "run_name" => match dialect {
            Dialect::Sql => AttrValue::Text(c.run.tags.get("mlflow.runName").map(String::as_str)),
            Dialect::File => AttrValue::Text(Some(&info.run_name)),
        },
        _ => AttrValue::Text(None),
    }
}

fn metric(c: &Candidate, key: &str) -> Option<f64> {
    if c.nan_metrics.iter().any(|k| k == key) {
        Some(f64::NAN)
    } else {
        c.run.metrics.get(key).copied()
    }
}

/// Whether a run satisfies every comparison.
pub(crate) fn matches(c: &Candidate, filter: &[Comparison], dialect: Dialect) -> bool {
    filter.iter().all(|cmp| matches_one(c, cmp, dialect))
}

fn matches_one(c: &Candidate, cmp: &Comparison, dialect: Dialect) -> bool {
    match cmp.key_type {
        KeyType::Metric => compare_number(metric(c, &cmp.key), cmp.op, &cmp.value),
        KeyType::Param => compare_text(
            c.run.params.get(&cmp.key).map(String::as_str),
            cmp.op,
            &cmp.value,
            dialect,
        ),
        KeyType::Tag => compare_text(
            c.run.tags.get(&cmp.key).map(String::as_str),
            cmp.op,
            &cmp.value,
            dialect,
        ),
        KeyType::Attribute => match attribute(c, &cmp.key, dialect) {
            AttrValue::Number(n) => compare_number(n, cmp.op, &cmp.value),
            AttrValue::Text(t) => compare_text(t, cmp.op, &cmp.value, dialect),
        },
    }
}

fn compare_number(lhs: Option<f64>, op: Op, value: &Value) -> bool {
    let (Some(lhs), Value::Number(rhs)) = (lhs, value) else {
        return false;
    };
    let rhs = *rhs;
    // NaN compares false with everything but `!=`, in Python and in MLflow's SQL alike.
    match op {
        Op::Eq => lhs == rhs,
        Op::Ne => lhs != rhs,
        Op::Lt => lhs < rhs,
        Op::Le => lhs <= rhs,
        Op::Gt => lhs > rhs,
        Op::Ge => lhs >= rhs,
        _ => false,
    }
}

fn compare_text(lhs: Option<&str>, op: Op, value: &Value, dialect: Dialect) -> bool {
    match op {
        Op::IsNull => return lhs.is_none(),
        Op::IsNotNull => return lhs.is_some(),
        _ => {}
    }
    let Some(lhs) = lhs else { return false };
    match (op, value) {
        (Op::Eq, Value::Text(v)) => lhs == v,
        (Op::Ne, Value::Text(v)) => lhs != v,
        (Op::Like, Value::Text(v)) => like(lhs, v, false, dialect),
        (Op::ILike, Value::Text(v)) => like(lhs, v, true, dialect),
        (Op::In, Value::List(vs)) => vs.iter().any(|v| v == lhs),
        (Op::NotIn, Value::List(vs)) => !vs.iter().any(|v| v == lhs),
        _ => false,
    }
}

/// SQL `LIKE`: `%` any run of characters, `_` exactly one. With `ignore_case`, sqlite lowercases ASCII
/// only (`lower()` without ICU) and Python's regex folds all of Unicode. Python's `.` does not match a
/// newline, so in the file store `%` and `_` stop at one.
fn like(text: &str, pattern: &str, ignore_case: bool, dialect: Dialect) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if !ignore_case {
            s.chars().collect()
        } else if dialect == Dialect::Sql {
            s.chars().map(|c| c.to_ascii_lowercase()).collect()
        } else {
            s.chars().flat_map(char::to_lowercase).collect()
        }
    };
    let text = fold(text);
    let pattern = fold(pattern);
    let newline_is_wild = dialect == Dialect::Sql;
    // Classic wildcard matching with backtracking on the last `%`.
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == '%' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len()
            && (pattern[p] == text[t]
                || (pattern[p] == '_' && (newline_is_wild || text[t] != '\n')))
        {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            if !newline_is_wild && text[st] == '\n' {
                return false;
            }
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == '%' {
        p += 1;
    }
    p == pattern.len()
}

/// A sortable value: a number or a string; `None` for missing, and NaN kept as a number.
#[derive(Debug, Clone, PartialEq)]
enum SortValue<'a> {
    Number(f64),
    Text(&'a str),
}

fn sort_value<'a>(c: &'a Candidate, o: &OrderBy, dialect: Dialect) -> Option<SortValue<'a>> {
    match o.key_type {
        KeyType::Metric => metric(c, &o.key).map(SortValue::Number),
        KeyType::Param => c.run.params.get(&o.key).map(|s| SortValue::Text(s)),
        KeyType::Tag => c.run.tags.get(&o.key).map(|s| SortValue::Text(s)),
        KeyType::Attribute => match o.key.as_str() {
            // Ordering by run_name uses the run's own name in both stores (the SQL store's `name` column).
            "run_name" => Some(SortValue::Text(&c.run.info.run_name)),
            key => match attribute(c, key, dialect) {
                AttrValue::Number(n) => n.map(SortValue::Number),
                AttrValue::Text(t) => t.map(SortValue::Text),
            },
        },
    }
}

/// Rank of presence: a value, then NaN, then nothing: in both directions, as MLflow sorts.
fn presence(v: &Option<SortValue<'_>>) -> u8 {
    match v {
        Some(SortValue::Number(n)) if n.is_nan() => 1,
        Some(_) => 0,
        None => 2,
    }
}

fn compare_values(a: &SortValue<'_>, b: &SortValue<'_>) -> Ordering {
    match (a, b) {
        (SortValue::Number(x), SortValue::Number(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (SortValue::Text(x), SortValue::Text(y)) => x.cmp(y),
        (SortValue::Number(_), SortValue::Text(_)) => Ordering::Less,
        (SortValue::Text(_), SortValue::Number(_)) => Ordering::Greater,
    }
}

/// Sorts runs as MLflow does: by each clause (present values first, then NaN, then missing), then by
/// `start_time` descending unless a clause already orders by it, then by `run_id` ascending.
pub(crate) fn sort(runs: &mut [Candidate], order: &[OrderBy], dialect: Dialect) {
    let orders_by_start = order
        .iter()
        .any(|o| o.key_type == KeyType::Attribute && o.key == "start_time");
    runs.sort_by(|a, b| {
        for o in order {
            let (va, vb) = (sort_value(a, o, dialect), sort_value(b, o, dialect));
            let rank = presence(&va).cmp(&presence(&vb));
            if rank != Ordering::Equal {
                return rank;
            }
            if let (Some(va), Some(vb)) = (&va, &vb) {
                let ord = compare_values(va, vb);
                let ord = if o.ascending { ord } else { ord.reverse() };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
        if !orders_by_start {
            // Descending, with an unset start time last (sqlite sorts NULL lowest).
            let ord = b.run.info.start_time.cmp(&a.run.info.start_time);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.run.info.run_id.cmp(&b.run.info.run_id)
    });
}

/// Filters, sorts and truncates candidates: the local stores' `runs/search`.
pub(crate) fn search(
    candidates: Vec<Candidate>,
    filter: &str,
    order_by: &[String],
    max_results: usize,
    dialect: Dialect,
) -> Result<Vec<Run>, FilterError> {
    let parsed = parse_filter(filter)?;
    let order = parse_order_by_list(order_by)?;
    let mut kept: Vec<Candidate> = candidates
        .into_iter()
        .filter(|c| matches(c, &parsed, dialect))
        .collect();
    sort(&mut kept, &order, dialect);
    Ok(kept.into_iter().take(max_results).map(|c| c.run).collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::tracking::RunInfo;

    fn run(id: &str, start: i64, metrics: &[(&str, f64)], params: &[(&str, &str)]) -> Candidate {
        Candidate {
            run: Run {
                info: RunInfo {
                    run_id: id.into(),
                    run_name: id.into(),
                    experiment_id: "1".into(),
                    status: "FINISHED".into(),
                    start_time: Some(start),
                    end_time: None,
                    artifact_uri: format!("/a/{id}"),
                    lifecycle_stage: "active".into(),
                },
                metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                params: params
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                tags: BTreeMap::from([("mlflow.runName".to_string(), id.to_string())]),
                model_outputs: vec![],
            },
            user_id: Some("me".into()),
            nan_metrics: vec![],
        }
    }

    fn ids(runs: &[Run]) -> Vec<&str> {
        runs.iter().map(|r| r.info.run_id.as_str()).collect()
    }

    #[test]
    fn parses_the_documented_forms() {
        let f = parse_filter(
            "metrics.acc >= 0.8 and params.`model type` = 'cnn' AND tags.\"a b\" LIKE '%x_' AND attributes.status = \"FINISHED\" AND run_id IN ('a', 'b') AND created > -1e3",
        )
        .unwrap();
        assert_eq!(f.len(), 6);
        assert_eq!(
            (f[0].key_type, f[0].key.as_str(), f[0].op),
            (KeyType::Metric, "acc", Op::Ge)
        );
        assert_eq!(f[1].key, "model type");
        assert_eq!(f[2].key, "a b");
        assert_eq!(f[3].value, Value::Text("FINISHED".into()));
        assert_eq!(f[4].value, Value::List(vec!["a".into(), "b".into()]));
        assert_eq!(
            (f[5].key.as_str(), &f[5].value),
            ("start_time", &Value::Number(-1000.0))
        );
        assert!(parse_filter("  ").unwrap().is_empty());
    }

    #[test]
    fn refuses_what_mlflow_refuses_with_a_message() {
        for (filter, needle) in [
            (
                "metrics.acc > 0.5 OR metrics.acc < 0.1",
                "OR is not supported",
            ),
            ("(metrics.acc > 0.5)", "parentheses"),
            ("metrics.acc > '0.5'", "numeric"),
            ("params.lr = 0.1", "quoted string"),
            ("params.lr > '0.1'", "invalid comparator"),
            ("params.lr IN ('0.1')", "invalid comparator"),
            (
                "attributes.status IN ('FINISHED')",
                "only attributes.run_id",
            ),
            ("attributes.colour = 'red'", "invalid attribute key"),
            ("datasets.name = 'x'", "dataset filters are not supported"),
            ("metrics.acc <> 1", "invalid comparator"),
            ("metrics.acc > 1 metrics.b < 2", "expected AND"),
            ("foo.acc > 1", "invalid entity type"),
        ] {
            let e = parse_filter(filter).unwrap_err();
            assert!(e.message.contains(needle), "{filter}: {}", e.message);
        }
    }

    #[test]
    fn like_follows_each_dialect() {
        assert!(like("enhanced-v2", "enh%_2", false, Dialect::Sql));
        assert!(!like("Enhanced", "enh%", false, Dialect::Sql));
        assert!(like("Enhanced", "enh%", true, Dialect::Sql));
        assert!(!like("ÉX", "éx", true, Dialect::Sql));
        assert!(like("ÉX", "éx", true, Dialect::File));
        assert!(like("a\nb", "a%b", false, Dialect::Sql));
        assert!(!like("a\nb", "a%b", false, Dialect::File));
        assert!(
            like("ml%", "ml\\%", false, Dialect::Sql) == like("ml%", "ml\\%", false, Dialect::File)
        );
        assert!(like("", "%", false, Dialect::Sql));
        assert!(!like("abc", "ab", false, Dialect::Sql));
    }

    #[test]
    fn missing_values_never_match_and_nan_matches_only_not_equal() {
        let mut nan = run("n", 1, &[], &[]);
        nan.nan_metrics.push("acc".into());
        let none = run("x", 1, &[], &[]);
        for f in ["metrics.acc = 1", "metrics.acc < 1", "params.p != 'a'"] {
            let parsed = parse_filter(f).unwrap();
            assert!(!matches(&none, &parsed, Dialect::Sql), "{f}");
        }
        assert!(matches(
            &nan,
            &parse_filter("metrics.acc != 1").unwrap(),
            Dialect::Sql
        ));
        assert!(!matches(
            &nan,
            &parse_filter("metrics.acc >= 0").unwrap(),
            Dialect::Sql
        ));
        assert!(matches(
            &none,
            &parse_filter("params.p IS NULL").unwrap(),
            Dialect::Sql
        ));
    }

    #[test]
    fn sorts_with_missing_last_and_ties_by_start_then_id() {
        let runs = vec![
            run("d", 4, &[], &[]),
            run("b", 2, &[("acc", 0.9)], &[]),
            run("c", 2, &[("acc", 0.9)], &[]),
            run("a", 3, &[("acc", 0.9)], &[]),
            run("e", 1, &[("acc", 0.1)], &[]),
        ];
        for (order_by, max_results, expected) in [
            (
                &["metrics.acc DESC"][..],
                10,
                ["a", "b", "c", "e", "d"].as_slice(),
            ),
            (&["metrics.acc"], 10, &["e", "a", "b", "c", "d"]),
            // No order: newest start first.
            (&[], 2, &["d", "a"]),
            (
                &["attributes.start_time ASC"],
                10,
                &["e", "b", "c", "a", "d"],
            ),
        ] {
            let order_by: Vec<String> = order_by.iter().map(|o| o.to_string()).collect();
            let found = search(runs.clone(), "", &order_by, max_results, Dialect::Sql).unwrap();
            assert_eq!(ids(&found), expected, "order by {order_by:?}");
        }
    }

    #[test]
    fn order_by_is_validated() {
        assert!(parse_order_by("metrics.acc DESC").is_ok());
        assert!(!parse_order_by("created").unwrap().ascending.eq(&false));
        assert!(parse_order_by("metrics.acc DOWN").is_err());
        assert!(parse_order_by_list(&["metrics.a".into(), "metrics.a DESC".into()]).is_err());
    }
}
