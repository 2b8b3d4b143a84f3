//! The KMS Developer Guide's key policy examples and every condition key the evaluator
//! knows, with expectations from the documentation's own explanations; and the helpers.

use super::tests::{context, outcome_of, role_request, ACCT, ROLE};
use super::*;
use serde_json::{json, Value};

use Outcome::{DoesNotHold as No, Holds as Yes, Unevaluable as Unk};

fn with_context(action: &str, pairs: Option<&[(&str, &str)]>) -> Request {
    let mut r = role_request(action);
    r.encryption_context = pairs.and_then(context);
    r
}

fn check(policy: &Value, cases: Vec<(Request, Outcome)>) {
    for (req, want) in cases {
        assert_eq!(
            outcome_of(policy.clone(), &req),
            want,
            "{} with {:?}",
            policy,
            req.encryption_context
        );
    }
}

#[test]
fn encryption_context_string_equals_on_decrypt() {
    // "kms:EncryptionContext:context-key": requires Department=IT and Project=Alpha (ANDed,
    // different keys); other pairs are permitted.
    let policy = json!({"Statement": {"Effect": "Allow",
        "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:Department": "IT",
            "kms:EncryptionContext:Project": "Alpha"}}}});
    let ctx = |p: &[(&str, &str)]| with_context("kms:Decrypt", Some(p));
    check(
        &policy,
        vec![
            (ctx(&[("Department", "IT"), ("Project", "Alpha")]), Yes),
            (
                ctx(&[
                    ("Department", "IT"),
                    ("Project", "Alpha"),
                    ("Stage", "Test"),
                ]),
                Yes,
            ),
            (ctx(&[("Department", "IT")]), No),
            (ctx(&[("Department", "HR"), ("Project", "Alpha")]), No),
            (with_context("kms:Decrypt", None), No),
            (ctx(&[]), No),
            // Not for another action.
            (
                with_context(
                    "kms:Encrypt",
                    Some(&[("Department", "IT"), ("Project", "Alpha")]),
                ),
                No,
            ),
        ],
    );
}

#[test]
fn encryption_context_key_is_not_case_sensitive_but_value_is() {
    // "Case sensitivity of the encryption context condition": the Appname condition key
    // matches an AppName context key; StringEquals keeps the value's case.
    let policy = json!({"Statement": {"Effect": "Allow",
        "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:Appname": "ExampleApp"}}}});
    let ctx = |p: &[(&str, &str)]| with_context("kms:Decrypt", Some(p));
    check(
        &policy,
        vec![
            (ctx(&[("AppName", "ExampleApp")]), Yes),
            (ctx(&[("appname", "ExampleApp")]), Yes),
            (ctx(&[("AppName", "exampleapp")]), No),
            // Two context keys that differ only by case: the log cannot say which one counts.
            (ctx(&[("AppName", "ExampleApp"), ("APPNAME", "Other")]), Unk),
        ],
    );
    let ignore_case = json!({"Statement": {"Effect": "Allow", "Principal": "*",
        "Action": "kms:*", "Condition": {"StringEqualsIgnoreCase":
            {"kms:EncryptionContext:AppName": "exampleapp"}}}});
    check(&ignore_case, vec![(ctx(&[("AppName", "ExampleApp")]), Yes)]);
}

#[test]
fn deny_on_a_forbidden_encryption_context_pair() {
    // Deny when Stage is Restricted OR Production (several values for one key: OR).
    let policy = json!({"Statement": {"Effect": "Deny",
        "Principal": {"AWS": ROLE}, "Action": "kms:GenerateDataKey", "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:Stage": ["Restricted", "Production"]}}}});
    let ctx = |p: &[(&str, &str)]| with_context("kms:GenerateDataKey", Some(p));
    check(
        &policy,
        vec![
            (ctx(&[("Stage", "Restricted")]), Yes),
            (ctx(&[("Stage", "Production"), ("Team", "A")]), Yes),
            (ctx(&[("Stage", "Test")]), No),
            (with_context("kms:GenerateDataKey", None), No),
        ],
    );
    let p = Policy::from_value(&policy).unwrap();
    assert_eq!(p.statements[0].effect, Effect::Deny);
}

#[test]
fn require_one_pair_and_forbid_others() {
    // kms:EncryptionContext:AppName with ForAllValues:StringEquals on
    // kms:EncryptionContextKeys: AppName=ExampleApp required, no other keys.
    let policy = json!({"Statement": {"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:user/alice"},
        "Action": "kms:GenerateDataKey", "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"},
            "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["AppName"]}}}});
    let alice = |p: Option<&[(&str, &str)]>| {
        let mut r = Request::new(
            "kms:GenerateDataKey",
            ["arn:aws:iam::111122223333:user/alice"],
        );
        r.encryption_context = p.and_then(context);
        r
    };
    check(
        &policy,
        vec![
            (alice(Some(&[("AppName", "ExampleApp")])), Yes),
            (
                alice(Some(&[("AppName", "ExampleApp"), ("Project", "Alpha")])),
                No,
            ),
            (alice(None), No),
        ],
    );
}

#[test]
fn encryption_context_keys_with_set_operators() {
    // ForAnyValue: at least one context key must be AppName (case-sensitive with
    // StringEquals); no encryption context fails.
    let any = json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": ROLE},
        "Action": ["kms:Encrypt", "kms:GenerateDataKey*"], "Resource": "*",
        "Condition": {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "AppName"}}}});
    let gen = |p: Option<&[(&str, &str)]>| with_context("kms:GenerateDataKey", p);
    check(
        &any,
        vec![
            (
                gen(Some(&[("AppName", "Helper"), ("Project", "Alpha")])),
                Yes,
            ),
            (gen(Some(&[("Project", "Alpha")])), No),
            (gen(Some(&[("appname", "Helper")])), No),
            (gen(None), No),
            (gen(Some(&[])), No),
        ],
    );
    // ForAllValues: every context key must be listed; none at all passes.
    let all = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*",
        "Condition": {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["Department", "Project"]}}}});
    check(
        &all,
        vec![
            (gen(Some(&[("Department", "IT")])), Yes),
            (
                gen(Some(&[("Department", "IT"), ("Project", "Alpha")])),
                Yes,
            ),
            (gen(Some(&[("Department", "IT"), ("Stage", "Test")])), No),
            (gen(None), Yes),
            (gen(Some(&[])), Yes),
        ],
    );
    // A negated operator under ForAllValues: every value must match none of the patterns
    // (the IAM User Guide's ForAllValues:StringNotLike example, on context keys).
    let not_like = json!({"Statement": {"Effect": "Deny", "Principal": "*", "Action": "kms:*",
        "Condition": {"ForAllValues:StringNotLike": {"kms:EncryptionContextKeys": "key1*"}}}});
    check(
        &not_like,
        vec![
            (gen(Some(&[("key1:legal", "x")])), No),
            (gen(Some(&[("key1:hr", "x"), ("key1:personnel", "y")])), No),
            (gen(Some(&[("key2:audit", "x")])), Yes),
            (gen(None), Yes),
        ],
    );
    // ForAnyValue with a negated operator: some value matches none of the patterns.
    let any_not = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*",
        "Condition": {"ForAnyValue:StringNotEquals": {"kms:EncryptionContextKeys": "AppName"}}}});
    check(
        &any_not,
        vec![
            (gen(Some(&[("AppName", "x")])), No),
            (gen(Some(&[("AppName", "x"), ("Project", "y")])), Yes),
            (gen(None), No),
        ],
    );
    // IfExists with a set operator: absent is true.
    let any_if = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*",
        "Condition": {"ForAnyValue:StringLikeIfExists": {"kms:EncryptionContextKeys": "App*"}}}});
    check(
        &any_if,
        vec![(gen(None), Yes), (gen(Some(&[("Project", "y")])), No)],
    );
    // A multivalued key without a set operator: not documented, so unevaluable.
    let plain = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*",
        "Condition": {"StringEquals": {"kms:EncryptionContextKeys": "AppName"}}}});
    check(
        &plain,
        vec![(gen(Some(&[("AppName", "x")])), Unk), (gen(None), No)],
    );
}

#[test]
fn null_on_encryption_context_keys_requires_a_context() {
    let policy = json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": ROLE},
        "Action": ["kms:Encrypt", "kms:GenerateDataKey*"], "Resource": "*",
        "Condition": {"Null": {"kms:EncryptionContextKeys": false}}}});
    let enc = |p: Option<&[(&str, &str)]>| with_context("kms:Encrypt", p);
    check(
        &policy,
        vec![
            (enc(Some(&[("AppName", "x")])), Yes),
            (enc(None), No),
            (enc(Some(&[])), No),
        ],
    );
}

#[test]
fn set_operator_on_single_valued_encryption_context_key_is_overly_permissive() {
    // The documented warning: ForAllValues with kms:EncryptionContext:Department allows
    // requests without that key, and with unspecified pairs.
    let policy = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*",
        "Condition": {"ForAllValues:StringEquals": {"kms:EncryptionContext:Department": "IT"}}}});
    let dec = |p: Option<&[(&str, &str)]>| with_context("kms:Decrypt", p);
    check(
        &policy,
        vec![
            (dec(None), Yes),
            (dec(Some(&[("Stage", "Restricted")])), Yes),
            (dec(Some(&[("Department", "IT")])), Yes),
            (dec(Some(&[("Department", "HR")])), No),
        ],
    );
    let any = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*",
        "Condition": {"ForAnyValue:StringEquals": {"kms:EncryptionContext:Department": "IT"}}}});
    check(
        &any,
        vec![(dec(None), No), (dec(Some(&[("Department", "IT")])), Yes)],
    );
}

/// The statement in the AWS managed key for Amazon EBS ("kms:CallerAccount").
fn ebs_managed_key_statement() -> Value {
    json!({"Statement": {
        "Sid": "Allow access through EBS for all principals in the account that are authorized to use EBS",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333",
            "kms:ViaService": "ec2.us-west-2.amazonaws.com"}},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
            "kms:CreateGrant", "kms:DescribeKey"],
        "Resource": "*"}})
}

#[test]
fn caller_account_with_via_service_for_all_principals_in_the_account() {
    let policy = ebs_managed_key_statement();
    let via_ec2 = |action: &str| {
        let mut r = role_request(action);
        r.via_service = via_service("ec2.amazonaws.com", "us-west-2");
        r
    };
    let mut other_account = via_ec2("kms:Decrypt");
    other_account.caller_account = Some("444455556666".into());
    let mut via_rds = via_ec2("kms:Decrypt");
    via_rds.via_service = Some("rds.us-west-2.amazonaws.com".into());
    let mut other_region = via_ec2("kms:Decrypt");
    other_region.via_service = via_service("ec2.amazonaws.com", "eu-west-1");
    check(
        &policy,
        vec![
            (via_ec2("kms:Decrypt"), Yes),
            (via_ec2("kms:ReEncryptFrom"), Yes),
            (via_ec2("kms:GenerateDataKeyWithoutPlaintext"), Yes),
            (via_ec2("kms:CreateGrant"), Yes),
            (via_ec2("kms:ScheduleKeyDeletion"), No),
            (role_request("kms:Decrypt"), No),
            (other_account, No),
            (via_rds, No),
            (other_region, No),
        ],
    );
    let p = Policy::from_value(&policy).unwrap();
    let m = p.statements[0].evaluate(&via_ec2("kms:Decrypt"));
    assert_eq!(m.principal, PrincipalMatch::Matched(PrincipalKind::Any));
    assert_eq!(m.conditions, vec![Truth::True, Truth::True]);
    assert!(p.statements[0]
        .name()
        .starts_with("Allow access through EBS"));
}

#[test]
fn via_service_allows_use_through_named_services() {
    // "kms:ViaService": use only through Amazon EC2 or Amazon RDS in us-west-2.
    let policy = json!({"Statement": {"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:user/ExampleUser"},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
            "kms:CreateGrant", "kms:ListGrants", "kms:DescribeKey"],
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService":
            ["ec2.us-west-2.amazonaws.com", "rds.us-west-2.amazonaws.com"]}}}});
    let user = |via: Option<&str>| {
        let mut r = Request::new(
            "kms:Decrypt",
            ["arn:aws:iam::111122223333:user/ExampleUser"],
        );
        r.iam_principal = true;
        r.account = Some(ACCT.into());
        r.via_service = via.map(str::to_string);
        r
    };
    check(
        &policy,
        vec![
            (user(Some("ec2.us-west-2.amazonaws.com")), Yes),
            (user(Some("rds.us-west-2.amazonaws.com")), Yes),
            (user(Some("s3.us-west-2.amazonaws.com")), No),
            (user(None), No),
        ],
    );
    // The documented Deny form: deny use except through the named service.
    let deny = json!({"Statement": {"Effect": "Deny",
        "Principal": {"AWS": "arn:aws:iam::111122223333:user/ExampleUser"},
        "Action": "kms:*", "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:ViaService": "lambda.us-east-1.amazonaws.com"}}}});
    check(
        &deny,
        vec![
            (user(Some("lambda.us-east-1.amazonaws.com")), No),
            (user(Some("ec2.us-east-1.amazonaws.com")), Yes),
            (user(None), Yes),
        ],
    );
}

#[test]
fn principal_condition_keys() {
    let role = role_request("kms:Decrypt");
    let mut service = Request::new("kms:Decrypt", ["proton.amazonaws.com"]);
    service.principal_service_name = Some("proton.amazonaws.com".into());
    let allow = |cond: Value| json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Condition": cond}});
    let cases: Vec<(Value, &Request, Outcome)> = vec![
        (
            json!({"StringEquals": {"aws:PrincipalAccount": ACCT}}),
            &role,
            Yes,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalAccount": "444455556666"}}),
            &role,
            No,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalAccount": ACCT}}),
            &service,
            No,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalType": "AssumedRole"}}),
            &role,
            Yes,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalType": "User"}}),
            &role,
            No,
        ),
        (json!({"ArnEquals": {"aws:PrincipalArn": ROLE}}), &role, Yes),
        (json!({"Null": {"aws:PrincipalArn": "true"}}), &service, Yes),
        (
            json!({"StringEquals": {"aws:PrincipalServiceName": "proton.amazonaws.com"}}),
            &service,
            Yes,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalServiceName": "proton.amazonaws.com"}}),
            &role,
            No,
        ),
        (
            json!({"StringNotEqualsIfExists": {"aws:PrincipalServiceName": "ec2.amazonaws.com"}}),
            &role,
            Yes,
        ),
        (
            json!({"StringEquals": {"kms:CallerAccount": ACCT}}),
            &role,
            Yes,
        ),
        (
            json!({"StringEquals": {"kms:CallerAccount": ACCT}}),
            &service,
            No,
        ),
    ];
    for (cond, req, want) in cases {
        assert_eq!(outcome_of(allow(cond.clone()), req), want, "{cond}");
    }
}

#[test]
fn policy_evaluate_answers_per_statement() {
    let p = Policy::from_value(&json!({"Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Allow use", "Effect": "Allow", "Principal": {"AWS": ROLE},
         "Action": ["kms:Decrypt"], "Resource": "*"},
        {"Sid": "Deny deletion", "Effect": "Deny", "Principal": "*",
         "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}
    ]}))
    .unwrap();
    let ms = p.evaluate(&role_request("kms:Decrypt"));
    let got: Vec<(Outcome, PrincipalMatch)> = ms.iter().map(|m| (m.outcome, m.principal)).collect();
    assert_eq!(
        got,
        vec![
            (Yes, PrincipalMatch::Matched(PrincipalKind::AccountRoot)),
            (Yes, PrincipalMatch::Matched(PrincipalKind::Specific)),
            (No, PrincipalMatch::Matched(PrincipalKind::Any)),
        ]
    );
    let del = p.evaluate(&role_request("kms:ScheduleKeyDeletion"));
    assert_eq!(
        del.iter().map(|m| m.outcome).collect::<Vec<_>>(),
        vec![Yes, No, Yes]
    );
}

#[test]
fn via_service_helper() {
    let cases = [
        (
            "ec2.amazonaws.com",
            "us-west-2",
            Some("ec2.us-west-2.amazonaws.com"),
        ),
        (
            "proton.amazonaws.com",
            "us-east-1",
            Some("proton.us-east-1.amazonaws.com"),
        ),
        (
            "proton.us-east-1.amazonaws.com",
            "eu-west-1",
            Some("proton.us-east-1.amazonaws.com"),
        ),
        (
            "ec2.amazonaws.com.cn",
            "cn-north-1",
            Some("ec2.cn-north-1.amazonaws.com.cn"),
        ),
        (
            " s3.amazonaws.com ",
            "ap-southeast-2",
            Some("s3.ap-southeast-2.amazonaws.com"),
        ),
        ("AWS Internal", "us-east-1", None),
        ("ec2.amazonaws.com", "", None),
        ("ec2.amazonaws.com", "not a region", None),
        ("amazonaws.com", "us-east-1", None),
        ("", "us-east-1", None),
        ("203.0.113.7", "us-east-1", None),
    ];
    for (invoked_by, region, want) in cases {
        assert_eq!(
            via_service(invoked_by, region).as_deref(),
            want,
            "{invoked_by} {region}"
        );
    }
}

#[test]
fn principal_type_helper() {
    assert_eq!(principal_type("Root"), Some("Account"));
    assert_eq!(principal_type("IAMUser"), Some("User"));
    assert_eq!(principal_type("AssumedRole"), Some("AssumedRole"));
    assert_eq!(principal_type("FederatedUser"), Some("FederatedUser"));
    assert_eq!(principal_type("AWSService"), None);
    assert_eq!(principal_type(""), None);
}
