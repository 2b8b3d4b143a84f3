//! Condition operators and the condition keys the evaluator knows.
//!
//! Every function here answers with [`Truth`]: a condition the evaluator cannot decide
//! (an operator or key it does not know, a policy variable, a value the log does not tell)
//! is `Unknown`, never `False`.

use super::document::ConditionRow;
use super::request::Request;
use super::Truth;

/// A parsed condition operator: `[ForAnyValue:|ForAllValues:]<base>[IfExists]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Operator {
    set: Option<SetOp>,
    base: Base,
    if_exists: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Bool,
    Null,
}

impl Base {
    fn from_name(name: &str) -> Option<Base> {
        Some(match name {
            "StringEquals" => Base::StringEquals,
            "StringNotEquals" => Base::StringNotEquals,
            "StringEqualsIgnoreCase" => Base::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Base::StringNotEqualsIgnoreCase,
            "StringLike" => Base::StringLike,
            "StringNotLike" => Base::StringNotLike,
            "ArnEquals" => Base::ArnEquals,
            "ArnLike" => Base::ArnLike,
            "ArnNotEquals" => Base::ArnNotEquals,
            "ArnNotLike" => Base::ArnNotLike,
            "Bool" => Base::Bool,
            "Null" => Base::Null,
            _ => return None,
        })
    }

    /// Negated operators: true when the key's value matches none of the policy's values,
    /// and when the key is missing.
    fn negated(self) -> bool {
        matches!(
            self,
            Base::StringNotEquals
                | Base::StringNotEqualsIgnoreCase
                | Base::StringNotLike
                | Base::ArnNotEquals
                | Base::ArnNotLike
        )
    }

    /// Whether values may hold policy variables (`${aws:username}`): the string and ARN
    /// operators (IAM User Guide, "Condition operators").
    fn takes_variables(self) -> bool {
        !matches!(self, Base::Bool | Base::Null)
    }

    /// Whether one request value matches one policy value, before negation.
    fn matches(self, value: &str, pattern: &str) -> Option<bool> {
        match self {
            Base::StringEquals | Base::StringNotEquals => Some(value == pattern),
            Base::StringEqualsIgnoreCase | Base::StringNotEqualsIgnoreCase => {
                Some(value.to_lowercase() == pattern.to_lowercase())
            }
            Base::StringLike | Base::StringNotLike => Some(glob(pattern, value)),
            Base::ArnEquals | Base::ArnLike | Base::ArnNotEquals | Base::ArnNotLike => {
                arn_like(pattern, value)
            }
            Base::Bool => {
                let p = pattern.to_ascii_lowercase();
                if p != "true" && p != "false" {
                    return None;
                }
                Some(value.eq_ignore_ascii_case(&p))
            }
            Base::Null => None,
        }
    }
}

impl Operator {
    fn parse(text: &str) -> Option<Operator> {
        let (set, rest) = if let Some(r) = text.strip_prefix("ForAnyValue:") {
            (Some(SetOp::ForAnyValue), r)
        } else if let Some(r) = text.strip_prefix("ForAllValues:") {
            (Some(SetOp::ForAllValues), r)
        } else {
            (None, text)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let base = Base::from_name(base)?;
        if base == Base::Null && (if_exists || set.is_some()) {
            return None;
        }
        Some(Operator {
            set,
            base,
            if_exists,
        })
    }
}

/// A condition key's value in the request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyValue {
    Absent,
    Single(String),
    Multi(Vec<String>),
    Unknown(String),
}

/// The value of condition key `key` (case-insensitive) in `req`.
fn resolve(key: &str, req: &Request) -> KeyValue {
    if req.is_unknown(key) {
        return KeyValue::Unknown(format!("the log does not tell {key}"));
    }
    let lower = key.to_ascii_lowercase();
    let single = |v: &Option<String>| match v {
        Some(s) => KeyValue::Single(s.clone()),
        None => KeyValue::Absent,
    };
    const CONTEXT_PREFIX: &str = "kms:encryptioncontext:";
    if lower.len() > CONTEXT_PREFIX.len() && lower.starts_with(CONTEXT_PREFIX) {
        // The prefix is ASCII, so this index is a char boundary of `key` too.
        let wanted = key[CONTEXT_PREFIX.len()..].to_lowercase();
        let Some(ctx) = &req.encryption_context else {
            return KeyValue::Absent;
        };
        // KMS Developer Guide, "kms:EncryptionContext:context-key": the whole condition
        // key, context key included, is not case sensitive.
        let mut found = ctx.iter().filter(|(k, _)| k.to_lowercase() == wanted);
        return match (found.next(), found.next()) {
            (None, _) => KeyValue::Absent,
            (Some((_, v)), None) => KeyValue::Single(v.clone()),
            (Some(_), Some(_)) => KeyValue::Unknown(format!(
                "the encryption context has several keys that match {key} but for case"
            )),
        };
    }
    match lower.as_str() {
        "kms:encryptioncontextkeys" => match &req.encryption_context {
            Some(ctx) if !ctx.is_empty() => KeyValue::Multi(ctx.keys().cloned().collect()),
            _ => KeyValue::Absent,
        },
        "kms:viaservice" => single(&req.via_service),
        "kms:calleraccount" => single(&req.caller_account),
        "aws:principalarn" => single(&req.principal_arn),
        "aws:principalaccount" => single(&req.account),
        "aws:principaltype" => single(&req.principal_type),
        "aws:principalservicename" => single(&req.principal_service_name),
        _ => KeyValue::Unknown(format!("condition key {key} is not evaluated")),
    }
}

/// Evaluates one condition row against the request.
pub(crate) fn evaluate(row: &ConditionRow, req: &Request) -> Truth {
    let Some(op) = Operator::parse(&row.operator) else {
        return Truth::Unknown(format!(
            "condition operator {} is not evaluated",
            row.operator
        ));
    };
    if op.base.takes_variables() && row.values.iter().any(|v| v.contains("${")) {
        return Truth::Unknown(format!(
            "condition {} {} uses a policy variable",
            row.operator, row.key
        ));
    }
    let value = resolve(&row.key, req);
    if let KeyValue::Unknown(reason) = value {
        return Truth::Unknown(reason);
    }
    if op.base == Base::Null {
        return null_check(&row.values, value != KeyValue::Absent);
    }
    let values: Vec<&str> = match &value {
        KeyValue::Absent => Vec::new(),
        KeyValue::Single(v) => vec![v.as_str()],
        KeyValue::Multi(vs) => vs.iter().map(String::as_str).collect(),
        KeyValue::Unknown(_) => Vec::new(),
    };
    // One request value against the policy's values: any of them (an OR); for a negated
    // operator, none of them.
    let one = |v: &str| -> Option<bool> {
        let hit = any(row.values.iter().map(|p| op.base.matches(v, p)))?;
        Some(hit != op.base.negated())
    };
    let result = match op.set {
        None => match &value {
            KeyValue::Multi(_) => {
                return Truth::Unknown(format!(
                    "multivalued key {} is used without ForAnyValue or ForAllValues",
                    row.key
                ))
            }
            // IAM User Guide, "Condition operators": a missing key makes the condition
            // false, and true for a negated operator; ...IfExists is true.
            KeyValue::Absent | KeyValue::Unknown(_) => Some(op.if_exists || op.base.negated()),
            KeyValue::Single(v) => one(v),
        },
        // "Single-valued vs. multivalued context keys": with no values in the request,
        // ForAllValues is true and ForAnyValue false. A single-valued key is a set of one.
        Some(_) if values.is_empty() => Some(op.if_exists || op.set == Some(SetOp::ForAllValues)),
        Some(SetOp::ForAnyValue) => any(values.iter().map(|v| one(v))),
        Some(SetOp::ForAllValues) => all(values.iter().map(|v| one(v))),
    };
    match result {
        Some(true) => Truth::True,
        Some(false) => Truth::False,
        None => Truth::Unknown(format!(
            "condition {} {} has a value the operator does not take",
            row.operator, row.key
        )),
    }
}

/// `Null`: `true` holds when the key is absent, `false` when it is present.
fn null_check(policy_values: &[String], present: bool) -> Truth {
    let mut unknown = false;
    for p in policy_values {
        match p.to_ascii_lowercase().as_str() {
            "true" if !present => return Truth::True,
            "false" if present => return Truth::True,
            "true" | "false" => {}
            _ => unknown = true,
        }
    }
    if unknown {
        Truth::Unknown("a Null condition has a value other than true or false".to_string())
    } else {
        Truth::False
    }
}

/// Three-valued OR: true if any is true, else unknown if any is unknown.
fn any(items: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut unknown = false;
    for item in items {
        match item {
            Some(true) => return Some(true),
            None => unknown = true,
            Some(false) => {}
        }
    }
    if unknown {
        None
    } else {
        Some(false)
    }
}

/// Three-valued AND: false if any is false, else unknown if any is unknown.
fn all(items: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut unknown = false;
    for item in items {
        match item {
            Some(false) => return Some(false),
            None => unknown = true,
            Some(true) => {}
        }
    }
    if unknown {
        None
    } else {
        Some(true)
    }
}

/// `ArnEquals`/`ArnLike`: the six colon-separated parts are matched one by one, each with
/// `*` and `?` wildcards, case-sensitively. `None` when the pattern is not ARN-shaped.
fn arn_like(pattern: &str, value: &str) -> Option<bool> {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    if p.len() != 6 {
        return None;
    }
    let v: Vec<&str> = value.splitn(6, ':').collect();
    if v.len() != 6 {
        return Some(false);
    }
    Some(p.iter().zip(&v).all(|(p, v)| glob(p, v)))
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters (none too)
/// and `?` exactly one. Linear backtracking on the last `*`: no blow-up on any input.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}
