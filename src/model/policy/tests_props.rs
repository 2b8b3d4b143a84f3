//! Properties: parsing any JSON never panics, and `Holds` implies that the principal and
//! the action match and every condition is true.

use super::tests::{context, role_request};
use super::*;
use proptest::prelude::*;
use serde_json::{json, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "Statement",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "Condition",
        "Sid",
        "AWS",
        "Service",
        "Allow",
        "Deny",
        "StringEquals",
        "ForAllValues:StringLike",
        "ForAnyValue:StringNotEquals",
        "Null",
        "BoolIfExists",
        "ArnLike",
        "kms:EncryptionContext:AppName",
        "kms:EncryptionContextKeys",
        "kms:ViaService",
        "kms:CallerAccount",
        "aws:PrincipalArn",
        "*",
        "kms:*",
        "x",
    ])
    .prop_map(str::to_string);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        names.clone().prop_map(Value::String),
        "[a-zA-Z0-9:*?${}./ -]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((names.clone(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn requests() -> Vec<Request> {
    let mut via = role_request("kms:Decrypt");
    via.via_service = Some("ec2.us-west-2.amazonaws.com".into());
    via.encryption_context = context(&[("AppName", "x"), ("appname", "y")]);
    vec![
        role_request("kms:Decrypt"),
        via,
        Request::new("x", ["*", "proton.amazonaws.com", ""]),
        Request::default(),
    ]
}

proptest! {
    #[test]
    fn policy_shaped_statements_keep_the_holds_invariant(
        stmts in prop::collection::vec(arb_statement(), 1..4),
        as_text in any::<bool>(),
    ) {
        let doc = json!({"Version": "2012-10-17", "Statement": stmts});
        let policy = if as_text {
            Policy::parse(&doc.to_string())
        } else {
            Policy::from_value(&doc)
        };
        let policy = policy.expect("policy-shaped statements parse");
        for req in requests() {
            for m in policy.evaluate(&req) {
                if m.outcome == Outcome::Holds {
                    prop_assert!(matches!(m.principal, PrincipalMatch::Matched(_)));
                    prop_assert!(m.action_matches);
                    prop_assert!(m.conditions.iter().all(|t| *t == Truth::True));
                }
                if m.outcome == Outcome::Unevaluable {
                    prop_assert!(!m.unevaluable_reasons().is_empty());
                }
            }
        }
    }

    #[test]
    fn parsing_never_panics_and_holds_implies_principal_and_action(v in arb_json()) {
        let wrapped = json!({"Statement": v.clone()});
        for candidate in [&v, &wrapped] {
            if let Ok(policy) = Policy::from_value(candidate) {
                for req in requests() {
                    for (s, m) in policy.statements.iter().zip(policy.evaluate(&req)) {
                        prop_assert_eq!(m.conditions.len(), s.conditions.len());
                        if m.outcome == Outcome::Holds {
                            prop_assert!(matches!(m.principal, PrincipalMatch::Matched(_)));
                            prop_assert!(m.action_matches);
                            prop_assert!(m.conditions.iter().all(|t| *t == Truth::True));
                        }
                        let _ = s.name();
                    }
                }
            }
        }
        let _ = Policy::parse(&v.to_string());
        if let Value::String(s) = &v {
            let _ = Policy::parse(s);
        }
    }

    #[test]
    fn any_text_parses_or_errs(text in "\\PC{0,64}") {
        if let Err(e) = Policy::parse(&text) {
            prop_assert!(!e.to_string().contains('\n'));
        }
    }
}

/// Statements built from policy-shaped pieces, so most of them parse.
fn arb_statement() -> impl Strategy<Value = Value> {
    let effect = prop::sample::select(vec!["Allow", "Deny", "Audit"]);
    let principal = prop::sample::select(vec![
        json!({"Principal": "*"}),
        json!({"Principal": {"AWS": "*"}}),
        json!({"Principal": {"AWS": "arn:aws:iam::111122223333:root"}}),
        json!({"Principal": {"AWS": ["111122223333", "arn:aws:iam::111122223333:role/RoleForExampleApp"]}}),
        json!({"Principal": {"Service": "proton.amazonaws.com"}}),
        json!({"NotPrincipal": {"AWS": "arn:aws:iam::111122223333:role/RoleForExampleApp"}}),
        json!({"NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:role/RoleForExampleApp"]}}),
    ]);
    let action = prop::sample::select(vec![
        json!({"Action": "kms:*"}),
        json!({"Action": ["kms:Decrypt", "kms:GenerateDataKey*"]}),
        json!({"Action": "*"}),
        json!({"NotAction": "kms:Decrypt"}),
        json!({"NotAction": ["kms:Put*", "kms:Create*"]}),
    ]);
    let op = prop::sample::select(vec![
        "StringEquals",
        "StringNotEquals",
        "StringLike",
        "StringNotLike",
        "StringEqualsIgnoreCase",
        "ArnEquals",
        "ArnLike",
        "ArnNotLike",
        "Bool",
        "Null",
        "ForAnyValue:StringEquals",
        "ForAllValues:StringLike",
        "ForAllValues:StringNotLike",
        "StringEqualsIfExists",
        "ArnLikeIfExists",
        "NumericLessThan",
    ]);
    let key = prop::sample::select(vec![
        "kms:EncryptionContext:AppName",
        "kms:EncryptionContextKeys",
        "kms:ViaService",
        "kms:CallerAccount",
        "aws:PrincipalArn",
        "aws:PrincipalAccount",
        "aws:PrincipalType",
        "aws:PrincipalServiceName",
        "aws:SourceIp",
    ]);
    let value = prop::sample::select(vec![
        json!("x"),
        json!("App*"),
        json!("true"),
        json!(false),
        json!("111122223333"),
        json!("ec2.us-west-2.amazonaws.com"),
        json!("arn:aws:iam::*:role/*"),
        json!("${aws:username}"),
        json!(["AppName", "appname"]),
        json!([]),
    ]);
    let conditions = prop::collection::vec((op, key, value), 0..4);
    (effect, principal, action, conditions).prop_map(|(effect, principal, action, conditions)| {
        let mut s = json!({"Effect": effect, "Resource": "*"});
        for (k, v) in principal
            .as_object()
            .into_iter()
            .flatten()
            .chain(action.as_object().into_iter().flatten())
        {
            s[k] = v.clone();
        }
        if !conditions.is_empty() {
            let mut block = json!({});
            for (op, key, value) in conditions {
                block[op][key] = value;
            }
            s["Condition"] = block;
        }
        s
    })
}
