//! Tolerant field readers for snapshot input: strings, booleans, dates, string lists and
//! maps out of JSON objects, each recording a [`Problem`] (with the file, key, grant and
//! field) when a value is present but unusable, and returning `None` then.

use super::Problem;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Where the values being read come from, and the problem list they report to.
pub(super) struct Cx<'a> {
    source: String,
    key_index: Option<usize>,
    key: Option<String>,
    grant_index: Option<usize>,
    /// Prefix of every field name (`describe_key.`).
    prefix: String,
    problems: &'a mut Vec<Problem>,
}

impl<'a> Cx<'a> {
    pub(super) fn new(source: &str, problems: &'a mut Vec<Problem>) -> Cx<'a> {
        Cx {
            source: source.to_string(),
            key_index: None,
            key: None,
            grant_index: None,
            prefix: String::new(),
            problems,
        }
    }

    fn child(&mut self) -> Cx<'_> {
        Cx {
            source: self.source.clone(),
            key_index: self.key_index,
            key: self.key.clone(),
            grant_index: self.grant_index,
            prefix: self.prefix.clone(),
            problems: self.problems,
        }
    }

    /// The context of key `i`.
    pub(super) fn key(&mut self, i: usize) -> Cx<'_> {
        let mut c = self.child();
        c.key_index = Some(i);
        c
    }

    /// Names the key (its ARN or id) in the problems from now on.
    pub(super) fn name_key(&mut self, key: &str) {
        self.key = Some(key.to_string());
    }

    /// The context of grant `i` of the current key.
    pub(super) fn grant(&mut self, i: usize) -> Cx<'_> {
        let mut c = self.child();
        c.grant_index = Some(i);
        c
    }

    /// The context of one part of a key: its own file (in a folder) and field prefix.
    pub(super) fn part(&mut self, source: Option<&str>, prefix: &str) -> Cx<'_> {
        let mut c = self.child();
        if let Some(s) = source {
            c.source = s.to_string();
        }
        c.prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{}{prefix}.", c.prefix)
        };
        c
    }

    /// The field name `name` under the current prefix (`describe_key.KeyState`).
    pub(super) fn field_name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Records a problem about `field` (under the prefix; `None`: the part itself).
    pub(super) fn problem(&mut self, field: Option<&str>, reason: String) {
        let field = match field {
            Some(f) => Some(self.field_name(f)),
            None => Some(self.prefix.trim_end_matches('.').to_string()).filter(|s| !s.is_empty()),
        };
        self.problems.push(Problem {
            source: self.source.clone(),
            key_index: self.key_index,
            key: self.key.clone(),
            grant_index: self.grant_index,
            field,
            reason,
        });
    }

    fn wrong(&mut self, name: &str, want: &str, v: &Value) {
        self.problem(
            Some(name),
            format!("expected {want}, found {}; left unknown", kind(v)),
        );
    }

    /// A string field; `None` when absent, null or not a string (reported).
    pub(super) fn text(&mut self, obj: &Map<String, Value>, name: &str) -> Option<String> {
        match obj.get(name)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => {
                self.wrong(name, "a string", other);
                None
            }
        }
    }

    /// A boolean field (`true`, or the strings `"true"` / `"false"`).
    pub(super) fn boolean(&mut self, obj: &Map<String, Value>, name: &str) -> Option<bool> {
        match obj.get(name)? {
            Value::Null => None,
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            other => {
                self.wrong(name, "true or false", other);
                None
            }
        }
    }

    /// A date field, as Unix milliseconds (see [`date_millis`]).
    pub(super) fn date(&mut self, obj: &Map<String, Value>, name: &str) -> Option<i64> {
        let v = obj.get(name)?;
        if v.is_null() {
            return None;
        }
        match date_millis(v) {
            Some(t) => Some(t),
            None => {
                self.wrong(name, "a date (epoch seconds or RFC 3339)", v);
                None
            }
        }
    }

    /// A list of strings; items that are not strings are reported and left out.
    pub(super) fn strings(&mut self, obj: &Map<String, Value>, name: &str) -> Vec<String> {
        match obj.get(name) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => self.problem(
                            Some(&format!("{name}[{i}]")),
                            format!("expected a string, found {}; left out", kind(other)),
                        ),
                    }
                }
                out
            }
            Some(other) => {
                self.wrong(name, "an array of strings", other);
                Vec::new()
            }
        }
    }

    /// An object of string values (an encryption context); other values are reported and
    /// left out.
    pub(super) fn string_map(&mut self, v: &Value, name: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        match v {
            Value::Null => {}
            Value::Object(m) => {
                for (k, v) in m {
                    match v {
                        Value::String(s) => {
                            out.insert(k.clone(), s.clone());
                        }
                        other => self.problem(
                            Some(&format!("{name}.{k}")),
                            format!("expected a string, found {}; left out", kind(other)),
                        ),
                    }
                }
            }
            other => self.wrong(name, "an object of strings", other),
        }
        out
    }
}

/// What kind of JSON value `v` is, for messages (`a number (12)`).
pub(super) fn kind(v: &Value) -> String {
    let shown = |s: String| crate::text::fit(s, 40);
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({})", shown(n.to_string())),
        Value::String(s) => format!("a string ({})", shown(format!("{s:?}"))),
        Value::Array(a) => format!("an array of {}", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// A date as Unix milliseconds: epoch seconds (an integer or a fraction, as a JSON number
/// or a string, as the AWS CLI writes them) or RFC 3339 text (the CLI's
/// `cli_timestamp_format = iso8601`). Fractions are rounded to the millisecond.
pub fn date_millis(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(s) => s.checked_mul(1000),
            None => n.as_f64().and_then(seconds_to_millis),
        },
        Value::String(s) => date_text_millis(s),
        _ => None,
    }
}

/// [`date_millis`] for text.
pub fn date_text_millis(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        if let Ok(i) = s.parse::<i64>() {
            return i.checked_mul(1000);
        }
        return s.parse::<f64>().ok().and_then(seconds_to_millis);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn seconds_to_millis(f: f64) -> Option<i64> {
    let ms = (f * 1000.0).round();
    // Within chrono's range of years (about ±262,000), which also rules out NaN.
    (ms.abs() < 8.2e15).then_some(ms as i64)
}
