//! Parsing, principals and actions (operators are in `tests_operators`). Expectations are written from the IAM User
//! Guide's rules and examples, not taken from the code.

use super::*;
use serde_json::json;
use std::collections::BTreeMap;

pub(super) const ACCT: &str = "111122223333";
pub(super) const ROLE: &str = "arn:aws:iam::111122223333:role/RoleForExampleApp";
pub(super) const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/RoleForExampleApp/s1";
pub(super) const ROOT: &str = "arn:aws:iam::111122223333:root";

/// A session of `RoleForExampleApp` in account 111122223333 calling `action`.
pub(super) fn role_request(action: &str) -> Request {
    let mut r = Request::new(action, [SESSION]);
    r.iam_principal = true;
    r.account = Some(ACCT.to_string());
    r.caller_account = Some(ACCT.to_string());
    r.principal_arn = Some(ROLE.to_string());
    r.principal_type = Some("AssumedRole".to_string());
    r
}

pub(super) fn context(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// The outcome of the single statement of `policy` for `req`.
pub(super) fn outcome_of(policy: serde_json::Value, req: &Request) -> Outcome {
    let p = Policy::from_value(&policy).expect("test policy parses");
    assert_eq!(p.statements.len(), 1);
    p.statements[0].evaluate(req).outcome
}

/// An Allow to everyone for `kms:*` with one condition block.
pub(super) fn with_condition(condition: serde_json::Value) -> serde_json::Value {
    json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*",
        "Resource": "*", "Condition": condition}})
}

use Outcome::{DoesNotHold as No, Holds as Yes, Unevaluable as Unk};

// ---- parsing ----

#[test]
fn statement_as_object_or_array_and_policy_as_string_or_object() {
    let stmt = json!({"Sid": "S", "Effect": "Allow", "Principal": {"AWS": ROLE},
        "Action": "kms:Decrypt", "Resource": "*"});
    let as_object = json!({"Version": "2012-10-17", "Statement": stmt.clone()});
    let as_array = json!({"Version": "2012-10-17", "Statement": [stmt.clone()]});
    let a = Policy::from_value(&as_object).unwrap();
    let b = Policy::from_value(&as_array).unwrap();
    let c = Policy::parse(&as_array.to_string()).unwrap();
    let d = Policy::from_value(&json!(as_object.to_string())).unwrap();
    assert_eq!(a, b);
    assert_eq!(b, c);
    assert_eq!(c, d);
    let s = &a.statements[0];
    assert_eq!(s.index, 1);
    assert_eq!(s.sid.as_deref(), Some("S"));
    assert_eq!(s.effect, Effect::Allow);
    assert_eq!(s.action, ActionSpec::Action(vec!["kms:Decrypt".into()]));
    assert_eq!(s.resources, vec!["*".to_string()]);
    assert_eq!(s.raw, stmt);
    assert_eq!(a.version.as_deref(), Some("2012-10-17"));
}

#[test]
fn principal_forms() {
    let p = Policy::from_value(&json!({"Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "kms:*"},
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*"},
        {"Effect": "Allow", "Principal": {"AWS": [ROLE, ACCT], "Service": "proton.amazonaws.com",
            "Federated": "cognito-identity.amazonaws.com", "CanonicalUser": "abc"},
         "NotAction": ["kms:Decrypt", "kms:Encrypt"]},
        {"Effect": "Deny", "NotPrincipal": {"AWS": [ROLE]}, "Action": ["kms:*"]}
    ]}))
    .unwrap();
    let s = &p.statements;
    assert_eq!(
        s[0].principal,
        PrincipalSpec::Principal(Principals {
            any: true,
            ..Default::default()
        })
    );
    assert_eq!(s[0].principal, s[1].principal);
    assert_eq!(
        s[2].principal,
        PrincipalSpec::Principal(Principals {
            any: false,
            aws: vec![ROLE.into(), ACCT.into()],
            service: vec!["proton.amazonaws.com".into()],
            federated: vec!["cognito-identity.amazonaws.com".into()],
            canonical_user: vec!["abc".into()],
        })
    );
    assert_eq!(
        s[2].action,
        ActionSpec::NotAction(vec!["kms:Decrypt".into(), "kms:Encrypt".into()])
    );
    assert_eq!(s[3].effect, Effect::Deny);
    assert!(matches!(s[3].principal, PrincipalSpec::NotPrincipal(_)));
    assert_eq!(s[3].index, 4);
}

#[test]
fn condition_rows_keep_operator_key_and_values_as_strings() {
    let p = Policy::from_value(&with_condition(json!({
        "StringEquals": {"kms:ViaService": ["ec2.us-west-2.amazonaws.com", "rds.us-west-2.amazonaws.com"]},
        "Bool": {"kms:GrantIsForAWSResource": true},
        "Null": {"kms:EncryptionContextKeys": "false"},
        "NumericLessThan": {"kms:ValidTo": 1700000000}
    })))
    .unwrap();
    let mut rows: Vec<(String, String, Vec<String>)> = p.statements[0]
        .conditions
        .iter()
        .map(|r| (r.operator.clone(), r.key.clone(), r.values.clone()))
        .collect();
    rows.sort();
    let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        rows,
        vec![
            (
                "Bool".into(),
                "kms:GrantIsForAWSResource".into(),
                strs(&["true"])
            ),
            (
                "Null".into(),
                "kms:EncryptionContextKeys".into(),
                strs(&["false"])
            ),
            (
                "NumericLessThan".into(),
                "kms:ValidTo".into(),
                strs(&["1700000000"])
            ),
            (
                "StringEquals".into(),
                "kms:ViaService".into(),
                strs(&["ec2.us-west-2.amazonaws.com", "rds.us-west-2.amazonaws.com"])
            ),
        ]
    );
}

#[test]
fn effect_other_than_allow_or_deny_is_kept_and_never_holds() {
    let policy = json!({"Statement": {"Effect": "allow", "Principal": "*", "Action": "kms:*"}});
    let p = Policy::from_value(&policy).unwrap();
    assert_eq!(p.statements[0].effect, Effect::Other("allow".into()));
    assert_eq!(outcome_of(policy, &role_request("kms:Decrypt")), No);
}

#[test]
fn malformed_policies_are_errors_with_one_line_reasons() {
    let cases: Vec<(&str, &str)> = vec![
        ("", "not JSON"),
        ("{", "not JSON"),
        ("[1, 2]", "array"),
        ("42", "number"),
        ("null", "null"),
        (r#"{"Version": "2012-10-17"}"#, "no Statement"),
        (r#"{"Statement": "x"}"#, "Statement is a JSON string"),
        (r#"{"Statement": [1]}"#, "statement 1 is a JSON number"),
        (
            r#"{"Statement": {"Principal": "*", "Action": "kms:*"}}"#,
            "no Effect",
        ),
        (
            r#"{"Statement": {"Effect": true, "Principal": "*", "Action": "kms:*"}}"#,
            "Effect",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Action": "kms:*"}}"#,
            "no Principal",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": "*", "NotPrincipal": "*", "Action": "kms:*"}}"#,
            "both Principal and NotPrincipal",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": "*"}}"#,
            "no Action",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "a", "NotAction": "b"}}"#,
            "both Action and NotAction",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": 7}}"#,
            "Action",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": ["kms:x", {}]}}"#,
            "Action",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": "me", "Action": "kms:*"}}"#,
            "Principal",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": {"Aws": "*"}, "Action": "kms:*"}}"#,
            "unknown principal type",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": 5}, "Action": "kms:*"}}"#,
            "Principal.AWS",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Condition": []}}"#,
            "Condition",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Condition": {"StringEquals": "x"}}}"#,
            "StringEquals",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Condition": {"StringEquals": {"kms:ViaService": {"a": 1}}}}}"#,
            "kms:ViaService",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Condition": {"StringEquals": {"kms:ViaService": [null]}}}}"#,
            "kms:ViaService",
        ),
        (
            r#"{"Statement": {"Sid": 3, "Effect": "Allow", "Principal": "*", "Action": "kms:*"}}"#,
            "Sid",
        ),
    ];
    for (text, needle) in cases {
        let err = Policy::parse(text).expect_err(text);
        let line = err.to_string();
        assert!(!line.contains('\n'), "{text}: {line}");
        assert!(line.contains(needle), "{text}: {line} lacks {needle}");
    }
    assert!(Policy::from_value(&json!(true)).is_err());
    assert!(Policy::from_value(&json!("not json")).is_err());
    // A string wrapped in strings forever does not recurse forever.
    let mut v = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*"}});
    for _ in 0..6 {
        v = json!(v.to_string());
    }
    assert!(Policy::from_value(&v).is_err());
}

#[test]
fn statement_names() {
    let p = Policy::from_value(&json!({"Statement": [
        {"Sid": "Allow use", "Effect": "Allow", "Principal": "*", "Action": "kms:*"},
        {"Effect": "Allow", "Principal": "*", "Action": "kms:*"},
        {"Sid": "", "Effect": "Allow", "Principal": "*", "Action": "kms:*"}
    ]}))
    .unwrap();
    let names: Vec<String> = p.statements.iter().map(|s| s.name().into_owned()).collect();
    assert_eq!(names, ["Allow use", "statement 2", "statement 3"]);
    let d = Policy::default_key_policy("aws", ACCT);
    assert_eq!(d.statements[0].name(), "the default key policy");
}

#[test]
fn default_key_policy_is_the_documented_statement() {
    let d = Policy::default_key_policy("aws-cn", ACCT);
    assert!(d.is_default);
    assert_eq!(d.statements.len(), 1);
    let s = &d.statements[0];
    assert_eq!(
        s.raw,
        json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws-cn:iam::111122223333:root"},
            "Action": "kms:*", "Resource": "*"})
    );
    // Parsing its raw JSON gives the same statement (but for being the default).
    let reparsed = Policy::from_value(&json!({"Statement": s.raw.clone()})).unwrap();
    let mut r = reparsed.statements[0].clone();
    r.in_default_policy = true;
    assert_eq!(&r, s);
    // Any IAM principal of the account matches, through the root only.
    let mut req = role_request("kms:Decrypt");
    req.partition = "aws-cn".into();
    req.identities = vec!["arn:aws-cn:sts::111122223333:assumed-role/R/s".into()];
    let m = s.evaluate(&req);
    assert_eq!(m.outcome, Yes);
    assert_eq!(
        m.principal,
        PrincipalMatch::Matched(PrincipalKind::AccountRoot)
    );
    // Not a service principal, and not another account.
    let svc = Request::new("kms:Decrypt", ["proton.amazonaws.com"]);
    assert_eq!(s.evaluate(&svc).outcome, No);
    let mut other = role_request("kms:Decrypt");
    other.account = Some("444455556666".into());
    other.identities = vec!["arn:aws:iam::444455556666:user/u".into()];
    assert_eq!(
        Policy::default_key_policy("aws", ACCT).statements[0]
            .evaluate(&other)
            .outcome,
        No
    );
}

// ---- principals ----

fn principal_match(principal: serde_json::Value, req: &Request) -> PrincipalMatch {
    let p = Policy::from_value(&json!({"Statement": {"Effect": "Allow",
        "Principal": principal, "Action": "kms:*"}}))
    .unwrap();
    p.statements[0].evaluate(req).principal
}

#[test]
fn principal_table() {
    use PrincipalKind::*;
    use PrincipalMatch::{Matched, NoMatch};
    let role = role_request("kms:Decrypt");
    let mut user = Request::new("kms:Decrypt", ["arn:aws:iam::111122223333:user/alice"]);
    user.iam_principal = true;
    user.account = Some(ACCT.into());
    let service = Request::new("kms:Decrypt", ["proton.us-east-1.amazonaws.com"]);
    let cases: Vec<(serde_json::Value, &Request, PrincipalMatch)> = vec![
        (json!("*"), &role, Matched(Any)),
        (json!({"AWS": "*"}), &role, Matched(Any)),
        (json!({"AWS": "*"}), &service, Matched(Any)),
        (json!({"AWS": ROLE}), &role, Matched(Specific)),
        // A role ARN with a path names the same role.
        (
            json!({"AWS": "arn:aws:iam::111122223333:role/team/RoleForExampleApp"}),
            &role,
            Matched(Specific),
        ),
        (json!({"AWS": SESSION}), &role, Matched(Specific)),
        (json!({"AWS": ROOT}), &role, Matched(AccountRoot)),
        (json!({"AWS": ACCT}), &role, Matched(AccountRoot)),
        (json!({"AWS": [ROOT, ROLE]}), &role, Matched(Specific)),
        (json!({"AWS": ["*", ROOT]}), &role, Matched(Any)),
        (
            json!({"AWS": "arn:aws:iam::444455556666:root"}),
            &role,
            NoMatch,
        ),
        (
            json!({"AWS": "arn:aws:iam::111122223333:role/Other"}),
            &role,
            NoMatch,
        ),
        // No partial wildcards in principals: compared literally.
        (
            json!({"AWS": "arn:aws:iam::111122223333:role/*"}),
            &role,
            NoMatch,
        ),
        (
            json!({"AWS": "arn:aws:iam::111122223333:user/alice"}),
            &user,
            Matched(Specific),
        ),
        (json!({"AWS": ROOT}), &user, Matched(AccountRoot)),
        (
            json!({"Service": "proton.amazonaws.com"}),
            &service,
            Matched(Specific),
        ),
        (
            json!({"Service": "proton.us-east-1.amazonaws.com"}),
            &service,
            Matched(Specific),
        ),
        (json!({"Service": "ec2.amazonaws.com"}), &service, NoMatch),
        // Root delegation does not reach service principals.
        (json!({"AWS": ROOT}), &service, NoMatch),
        (json!({"Service": "proton.amazonaws.com"}), &role, NoMatch),
        (json!({}), &role, NoMatch),
    ];
    for (principal, req, want) in cases {
        assert_eq!(principal_match(principal.clone(), req), want, "{principal}");
    }
}

#[test]
fn bare_account_id_is_read_in_the_request_partition() {
    let mut req = role_request("kms:Decrypt");
    req.partition = "aws-us-gov".into();
    req.identities = vec!["arn:aws-us-gov:iam::111122223333:user/u".into()];
    assert_eq!(
        principal_match(json!({"AWS": ACCT}), &req),
        PrincipalMatch::Matched(PrincipalKind::AccountRoot)
    );
    assert_eq!(
        principal_match(json!({"AWS": ROOT}), &req),
        PrincipalMatch::NoMatch
    );
}

#[test]
fn not_principal_table() {
    use PrincipalMatch::{Matched, NoMatch, Uncertain};
    let role = role_request("kms:Decrypt");
    let service = Request::new("kms:Decrypt", ["proton.amazonaws.com"]);
    let not = |p: serde_json::Value, req: &Request| {
        let policy = Policy::from_value(&json!({"Statement": {"Effect": "Deny",
            "NotPrincipal": p, "Action": "kms:*"}}))
        .unwrap();
        policy.statements[0].evaluate(req).principal
    };
    // Lists none of the caller's identities: applies.
    assert_eq!(
        not(json!({"AWS": "arn:aws:iam::444455556666:root"}), &role),
        Matched(PrincipalKind::Any)
    );
    // Lists the role and its account (the documented way): does not apply.
    assert_eq!(not(json!({"AWS": [ROLE, ROOT]}), &role), NoMatch);
    assert_eq!(not(json!({"AWS": [SESSION, ACCT]}), &role), NoMatch);
    // Lists the role without its account, or the account alone: documented as unsafe.
    assert_eq!(not(json!({"AWS": ROLE}), &role), Uncertain);
    assert_eq!(not(json!({"AWS": ROOT}), &role), Uncertain);
    // A service principal has no account root.
    assert_eq!(
        not(json!({"Service": "proton.amazonaws.com"}), &service),
        NoMatch
    );
    assert_eq!(
        not(json!({"Service": "ec2.amazonaws.com"}), &service),
        Matched(PrincipalKind::Any)
    );
    // NotPrincipal "*" excludes everyone.
    assert_eq!(not(json!("*"), &role), NoMatch);
    // Uncertain principal makes the statement unevaluable.
    let deny =
        json!({"Statement": {"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "kms:*"}});
    assert_eq!(outcome_of(deny, &role), Unk);
}

// ---- actions ----

#[test]
fn action_table() {
    let cases: Vec<(serde_json::Value, &str, bool)> = vec![
        (json!({"Action": "kms:*"}), "kms:Decrypt", true),
        (json!({"Action": "*"}), "kms:Decrypt", true),
        (json!({"Action": "kms:Decrypt"}), "kms:Decrypt", true),
        (json!({"Action": "KMS:decrypt"}), "kms:Decrypt", true),
        (json!({"Action": "kms:Decrypt"}), "kms:Encrypt", false),
        (
            json!({"Action": "kms:GenerateDataKey*"}),
            "kms:GenerateDataKeyWithoutPlaintext",
            true,
        ),
        (
            json!({"Action": "kms:GenerateDataKey*"}),
            "kms:GenerateDataKey",
            true,
        ),
        (
            json!({"Action": "kms:GenerateDataKey*"}),
            "kms:Decrypt",
            false,
        ),
        (
            json!({"Action": "kms:ReEncrypt*"}),
            "kms:ReEncryptFrom",
            true,
        ),
        (json!({"Action": "kms:ReEncrypt*"}), "kms:ReEncryptTo", true),
        (json!({"Action": "kms:?ncrypt"}), "kms:Encrypt", true),
        (json!({"Action": "kms:?ncrypt"}), "kms:Decrypt", false),
        (json!({"Action": "s3:*"}), "kms:Decrypt", false),
        (
            json!({"Action": ["kms:Encrypt", "kms:Decrypt"]}),
            "kms:Decrypt",
            true,
        ),
        (json!({"Action": []}), "kms:Decrypt", false),
        (json!({"NotAction": "kms:Decrypt"}), "kms:Decrypt", false),
        (json!({"NotAction": "kms:Decrypt"}), "kms:Encrypt", true),
        (
            json!({"NotAction": ["kms:Create*", "kms:Put*"]}),
            "kms:PutKeyPolicy",
            false,
        ),
        (
            json!({"NotAction": ["kms:Create*", "kms:Put*"]}),
            "kms:Decrypt",
            true,
        ),
        (json!({"NotAction": "kms:*"}), "kms:Decrypt", false),
        (json!({"NotAction": []}), "kms:Decrypt", true),
    ];
    for (action, call, want) in cases {
        let mut stmt = json!({"Effect": "Allow", "Principal": "*"});
        for (k, v) in action.as_object().unwrap() {
            stmt[k] = v.clone();
        }
        let p = Policy::from_value(&json!({"Statement": stmt})).unwrap();
        let m = p.statements[0].evaluate(&role_request(call));
        assert_eq!(m.action_matches, want, "{action} {call}");
        assert_eq!(m.outcome == Yes, want, "{action} {call}");
    }
    // A bare operation name gets the kms: prefix.
    assert_eq!(Request::new("Decrypt", [ROLE]).action, "kms:Decrypt");
}
