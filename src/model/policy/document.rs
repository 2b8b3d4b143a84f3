//! Parsing a key policy document into [`Policy`] and [`Statement`]s.
//!
//! Tolerant the way AWS's policy grammar is: single values or lists, `Statement` as one
//! object or an array, `Principal` as `"*"` or an object. Anything the grammar does not allow
//! (no `Effect`, both `Action` and `NotAction`, an object where a string belongs) is a
//! [`PolicyError`]: KMS rejects such a policy (`MalformedPolicyDocumentException`), so a
//! logged one came from a call that failed.

use super::PolicyError;
use serde_json::{json, Map, Value};
use std::borrow::Cow;

/// How deeply a policy may be wrapped in JSON strings (`"{\"Statement\": ...}"`) before
/// parsing gives up.
const MAX_STRING_WRAPPING: usize = 3;

/// A parsed key policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `Version`, as written.
    pub version: Option<String>,
    /// `Id`, as written.
    pub id: Option<String>,
    /// The statements, in document order.
    pub statements: Vec<Statement>,
    /// Whether this is the synthesised default key policy ([`Policy::default_key_policy`]).
    pub is_default: bool,
}

/// One policy statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Position in the document, from 1.
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    /// `Principal` or `NotPrincipal`.
    pub principal: PrincipalSpec,
    /// `Action` or `NotAction`.
    pub action: ActionSpec,
    /// `Resource` (or `NotResource`) values. Not evaluated: in a key policy the resource is
    /// the key itself (KMS Developer Guide, "Key policies in AWS KMS").
    pub resources: Vec<String>,
    /// The `Condition` block, one row per operator and key (in the order the parsed JSON
    /// object yields them; the rows are ANDed, so order does not matter).
    pub conditions: Vec<ConditionRow>,
    /// The statement as written.
    pub raw: Value,
    /// Whether the statement belongs to the synthesised default key policy.
    pub in_default_policy: bool,
}

/// `Effect`. Anything but `Allow` or `Deny` is kept as written and never holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
    Other(String),
}

/// Whom a statement names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalSpec {
    /// `Principal`: the statement applies to these principals.
    Principal(Principals),
    /// `NotPrincipal`: the statement applies to everyone except these.
    NotPrincipal(Principals),
}

/// The principals of a `Principal` or `NotPrincipal` element, values as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principals {
    /// `"*"` or `{"AWS": "*"}`: everyone.
    pub any: bool,
    /// `AWS` values other than `*`: ARNs or bare 12-digit account ids.
    pub aws: Vec<String>,
    /// `Service` values (`proton.amazonaws.com`).
    pub service: Vec<String>,
    /// `Federated` values.
    pub federated: Vec<String>,
    /// `CanonicalUser` values.
    pub canonical_user: Vec<String>,
}

/// Which actions a statement names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionSpec {
    /// `Action`: these patterns.
    Action(Vec<String>),
    /// `NotAction`: every action but these patterns.
    NotAction(Vec<String>),
}

/// One condition: an operator applied to a key with the policy's values (an OR of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionRow {
    /// The operator as written (`ForAnyValue:StringEquals`, `StringLikeIfExists`, ...).
    pub operator: String,
    /// The condition key as written (`kms:EncryptionContext:AppName`).
    pub key: String,
    /// The values, as strings (JSON booleans and numbers in their JSON spelling).
    pub values: Vec<String>,
}

impl Policy {
    /// Parses a policy from JSON text (CloudTrail's `requestParameters.policy`).
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| PolicyError::new(format!("policy is not JSON: {e}")))?;
        Policy::from_value_wrapped(&value, 1)
    }

    /// Parses a policy from a JSON value: the policy object itself, or a string holding its
    /// JSON text (both occur in logged records).
    pub fn from_value(value: &Value) -> Result<Policy, PolicyError> {
        Policy::from_value_wrapped(value, 0)
    }

    fn from_value_wrapped(value: &Value, wrapping: usize) -> Result<Policy, PolicyError> {
        match value {
            Value::Object(obj) => parse_policy(obj),
            Value::String(text) if wrapping < MAX_STRING_WRAPPING => {
                let inner: Value = serde_json::from_str(text)
                    .map_err(|e| PolicyError::new(format!("policy is not JSON: {e}")))?;
                Policy::from_value_wrapped(&inner, wrapping + 1)
            }
            Value::String(_) => Err(PolicyError::new(
                "policy is wrapped in too many JSON strings",
            )),
            other => Err(PolicyError::new(format!(
                "policy is a JSON {}, not an object",
                kind(other)
            ))),
        }
    }

    /// The default key policy KMS applies when `CreateKey` names none (KMS Developer Guide,
    /// "Default key policy"): the account root may do `kms:*`, which lets IAM policies of
    /// that account grant use of the key.
    pub fn default_key_policy(partition: &str, account: &str) -> Policy {
        let root = crate::model::arn::account_root(partition, account);
        let raw = json!({
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": "kms:*",
            "Resource": "*"
        });
        Policy {
            version: Some("2012-10-17".to_string()),
            id: Some("key-default-1".to_string()),
            statements: vec![Statement {
                index: 1,
                sid: Some("Enable IAM User Permissions".to_string()),
                effect: Effect::Allow,
                principal: PrincipalSpec::Principal(Principals {
                    aws: vec![root],
                    ..Principals::default()
                }),
                action: ActionSpec::Action(vec!["kms:*".to_string()]),
                resources: vec!["*".to_string()],
                conditions: Vec::new(),
                raw,
                in_default_policy: true,
            }],
            is_default: true,
        }
    }
}

impl Statement {
    /// How messages name this statement: "the default key policy" for the synthesised
    /// default, else its `Sid`, else "statement N".
    pub fn name(&self) -> Cow<'_, str> {
        if self.in_default_policy {
            Cow::Borrowed("the default key policy")
        } else {
            match self.sid.as_deref() {
                Some(sid) if !sid.trim().is_empty() => Cow::Borrowed(sid),
                _ => Cow::Owned(format!("statement {}", self.index)),
            }
        }
    }
}

fn parse_policy(obj: &Map<String, Value>) -> Result<Policy, PolicyError> {
    let version = optional_string(obj, "Version", "policy")?;
    let id = optional_string(obj, "Id", "policy")?;
    let statements = match obj.get("Statement") {
        None => return Err(PolicyError::new("policy has no Statement")),
        Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        Some(other) => {
            return Err(PolicyError::new(format!(
                "Statement is a JSON {}, not an object or array",
                kind(other)
            )))
        }
    };
    let statements = statements
        .into_iter()
        .enumerate()
        .map(|(i, v)| parse_statement(i + 1, v))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy {
        version,
        id,
        statements,
        is_default: false,
    })
}

fn parse_statement(index: usize, value: &Value) -> Result<Statement, PolicyError> {
    let at = format!("statement {index}");
    let Value::Object(obj) = value else {
        return Err(PolicyError::new(format!(
            "{at} is a JSON {}, not an object",
            kind(value)
        )));
    };
    let sid = optional_string(obj, "Sid", &at)?;
    let effect = match obj.get("Effect") {
        None => return Err(PolicyError::new(format!("{at} has no Effect"))),
        Some(Value::String(s)) if s == "Allow" => Effect::Allow,
        Some(Value::String(s)) if s == "Deny" => Effect::Deny,
        Some(Value::String(s)) => Effect::Other(s.clone()),
        Some(other) => {
            return Err(PolicyError::new(format!(
                "{at}: Effect is a JSON {}, not a string",
                kind(other)
            )))
        }
    };
    let principal = match (obj.get("Principal"), obj.get("NotPrincipal")) {
        (Some(_), Some(_)) => {
            return Err(PolicyError::new(format!(
                "{at} has both Principal and NotPrincipal"
            )))
        }
        (Some(p), None) => PrincipalSpec::Principal(parse_principals(p, &at, "Principal")?),
        (None, Some(p)) => PrincipalSpec::NotPrincipal(parse_principals(p, &at, "NotPrincipal")?),
        (None, None) => {
            return Err(PolicyError::new(format!(
                "{at} has no Principal (a key policy statement must name one)"
            )))
        }
    };
    let action = match (obj.get("Action"), obj.get("NotAction")) {
        (Some(_), Some(_)) => {
            return Err(PolicyError::new(format!(
                "{at} has both Action and NotAction"
            )))
        }
        (Some(a), None) => ActionSpec::Action(string_list(a, &at, "Action")?),
        (None, Some(a)) => ActionSpec::NotAction(string_list(a, &at, "NotAction")?),
        (None, None) => return Err(PolicyError::new(format!("{at} has no Action or NotAction"))),
    };
    let resources = match (obj.get("Resource"), obj.get("NotResource")) {
        (Some(r), _) => string_list(r, &at, "Resource")?,
        (None, Some(r)) => string_list(r, &at, "NotResource")?,
        (None, None) => Vec::new(),
    };
    let conditions = match obj.get("Condition") {
        None => Vec::new(),
        Some(c) => parse_conditions(c, &at)?,
    };
    Ok(Statement {
        index,
        sid,
        effect,
        principal,
        action,
        resources,
        conditions,
        raw: value.clone(),
        in_default_policy: false,
    })
}

fn parse_principals(value: &Value, at: &str, element: &str) -> Result<Principals, PolicyError> {
    let mut out = Principals::default();
    match value {
        Value::String(s) if s == "*" => out.any = true,
        Value::Object(obj) => {
            for (name, v) in obj {
                let values = string_list(v, at, &format!("{element}.{name}"))?;
                let list = match name.as_str() {
                    "AWS" => {
                        if values.iter().any(|s| s == "*") {
                            out.any = true;
                        }
                        out.aws.extend(values.into_iter().filter(|s| s != "*"));
                        continue;
                    }
                    "Service" => &mut out.service,
                    "Federated" => &mut out.federated,
                    "CanonicalUser" => &mut out.canonical_user,
                    other => {
                        return Err(PolicyError::new(format!(
                            "{at}: {element} has an unknown principal type {other:?}"
                        )))
                    }
                };
                list.extend(values);
            }
        }
        Value::String(s) => {
            return Err(PolicyError::new(format!(
                "{at}: {element} is the string {s:?}; only \"*\" or an object is allowed"
            )))
        }
        other => {
            return Err(PolicyError::new(format!(
                "{at}: {element} is a JSON {}, not \"*\" or an object",
                kind(other)
            )))
        }
    }
    Ok(out)
}

fn parse_conditions(value: &Value, at: &str) -> Result<Vec<ConditionRow>, PolicyError> {
    let Value::Object(ops) = value else {
        return Err(PolicyError::new(format!(
            "{at}: Condition is a JSON {}, not an object",
            kind(value)
        )));
    };
    let mut rows = Vec::new();
    for (operator, keys) in ops {
        let Value::Object(keys) = keys else {
            return Err(PolicyError::new(format!(
                "{at}: Condition operator {operator} holds a JSON {}, not an object",
                kind(keys)
            )));
        };
        for (key, values) in keys {
            let values = condition_values(values).ok_or_else(|| {
                PolicyError::new(format!(
                    "{at}: condition {operator} {key} has a value that is not a string, \
                     boolean or number"
                ))
            })?;
            rows.push(ConditionRow {
                operator: operator.clone(),
                key: key.clone(),
                values,
            });
        }
    }
    Ok(rows)
}

fn condition_values(value: &Value) -> Option<Vec<String>> {
    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    match value {
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

fn string_list(value: &Value, at: &str, element: &str) -> Result<Vec<String>, PolicyError> {
    let bad = |v: &Value| {
        PolicyError::new(format!(
            "{at}: {element} holds a JSON {}, not a string",
            kind(v)
        ))
    };
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| bad(v)))
            .collect(),
        other => Err(bad(other)),
    }
}

fn optional_string(
    obj: &Map<String, Value>,
    name: &str,
    at: &str,
) -> Result<Option<String>, PolicyError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(PolicyError::new(format!(
            "{at}: {name} is a JSON {}, not a string",
            kind(other)
        ))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
