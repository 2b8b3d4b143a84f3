//! Condition operators: each operator, the set operators, `...IfExists`, missing keys,
//! unknown operators and keys. Expectations are from the IAM User Guide ("Condition
//! operators", "Single-valued vs. multivalued context keys"), not taken from the code.

use super::tests::{outcome_of, role_request, with_condition, ACCT, ROLE};
use super::*;
use serde_json::json;

use Outcome::{DoesNotHold as No, Holds as Yes, Unevaluable as Unk};

/// (condition block, expected outcome) against `req`.
fn table(req: &Request, cases: Vec<(serde_json::Value, Outcome)>) {
    for (cond, want) in cases {
        assert_eq!(
            outcome_of(with_condition(cond.clone()), req),
            want,
            "{cond}"
        );
    }
}

#[test]
fn string_operators() {
    let mut req = role_request("kms:Decrypt");
    req.via_service = Some("ec2.us-west-2.amazonaws.com".into());
    table(
        &req,
        vec![
            (
                json!({"StringEquals": {"kms:ViaService": "ec2.us-west-2.amazonaws.com"}}),
                Yes,
            ),
            (
                json!({"StringEquals": {"kms:ViaService": "EC2.us-west-2.amazonaws.com"}}),
                No,
            ),
            (
                json!({"StringEquals": {"kms:ViaService": ["rds.us-west-2.amazonaws.com", "ec2.us-west-2.amazonaws.com"]}}),
                Yes,
            ),
            (json!({"StringEquals": {"kms:ViaService": []}}), No),
            (
                json!({"StringNotEquals": {"kms:ViaService": "rds.us-west-2.amazonaws.com"}}),
                Yes,
            ),
            (
                json!({"StringNotEquals": {"kms:ViaService": "ec2.us-west-2.amazonaws.com"}}),
                No,
            ),
            // Negated with several values: true only when the value is none of them.
            (
                json!({"StringNotEquals": {"kms:ViaService": ["rds.us-west-2.amazonaws.com", "ec2.us-west-2.amazonaws.com"]}}),
                No,
            ),
            (
                json!({"StringEqualsIgnoreCase": {"kms:ViaService": "EC2.US-WEST-2.amazonaws.com"}}),
                Yes,
            ),
            (
                json!({"StringEqualsIgnoreCase": {"kms:ViaService": "rds.us-west-2.amazonaws.com"}}),
                No,
            ),
            (
                json!({"StringNotEqualsIgnoreCase": {"kms:ViaService": "EC2.US-WEST-2.amazonaws.com"}}),
                No,
            ),
            (
                json!({"StringLike": {"kms:ViaService": "ec2.*.amazonaws.com"}}),
                Yes,
            ),
            (
                json!({"StringLike": {"kms:ViaService": "ec?.us-west-2.amazonaws.com"}}),
                Yes,
            ),
            (json!({"StringLike": {"kms:ViaService": "rds.*"}}), No),
            (json!({"StringLike": {"kms:ViaService": "EC2.*"}}), No),
            (json!({"StringNotLike": {"kms:ViaService": "rds.*"}}), Yes),
            (
                json!({"StringNotLike": {"kms:ViaService": ["rds.*", "ec2.*"]}}),
                No,
            ),
            // Keys in one block, and operators in one block, are ANDed.
            (
                json!({"StringEquals": {"kms:ViaService": "ec2.us-west-2.amazonaws.com", "kms:CallerAccount": ACCT}}),
                Yes,
            ),
            (
                json!({"StringEquals": {"kms:ViaService": "ec2.us-west-2.amazonaws.com", "kms:CallerAccount": "444455556666"}}),
                No,
            ),
            (
                json!({"StringEquals": {"kms:ViaService": "ec2.us-west-2.amazonaws.com"}, "StringLike": {"aws:PrincipalArn": "*:role/Other"}}),
                No,
            ),
            // Condition key names are not case sensitive.
            (
                json!({"StringEquals": {"KMS:VIASERVICE": "ec2.us-west-2.amazonaws.com"}}),
                Yes,
            ),
        ],
    );
}

#[test]
fn missing_keys_and_if_exists() {
    // No kms:ViaService in the request (a direct call).
    let req = role_request("kms:Decrypt");
    table(
        &req,
        vec![
            (
                json!({"StringEquals": {"kms:ViaService": "ec2.us-west-2.amazonaws.com"}}),
                No,
            ),
            (json!({"StringLike": {"kms:ViaService": "*"}}), No),
            (
                json!({"StringEqualsIgnoreCase": {"kms:ViaService": "x"}}),
                No,
            ),
            (json!({"ArnLike": {"kms:ViaService": "arn:*:*:*:*:*"}}), No),
            (json!({"Bool": {"kms:ViaService": "true"}}), No),
            // Negated operators are true when the key is missing.
            (
                json!({"StringNotEquals": {"kms:ViaService": "ec2.us-west-2.amazonaws.com"}}),
                Yes,
            ),
            (json!({"StringNotLike": {"kms:ViaService": "*"}}), Yes),
            (
                json!({"StringNotEqualsIgnoreCase": {"kms:ViaService": "x"}}),
                Yes,
            ),
            (
                json!({"ArnNotEquals": {"kms:ViaService": "arn:aws:iam::1:role/x"}}),
                Yes,
            ),
            (
                json!({"ArnNotLike": {"kms:ViaService": "arn:*:*:*:*:*"}}),
                Yes,
            ),
            // ...IfExists is true when the key is missing.
            (
                json!({"StringEqualsIfExists": {"kms:ViaService": "ec2.us-west-2.amazonaws.com"}}),
                Yes,
            ),
            (
                json!({"StringLikeIfExists": {"kms:ViaService": "ec2.*"}}),
                Yes,
            ),
            (
                json!({"ArnEqualsIfExists": {"kms:ViaService": "arn:aws:iam::1:role/x"}}),
                Yes,
            ),
            (json!({"BoolIfExists": {"kms:ViaService": "true"}}), Yes),
            (
                json!({"StringNotEqualsIfExists": {"kms:ViaService": "x"}}),
                Yes,
            ),
            // Null: true holds when absent, false when present.
            (json!({"Null": {"kms:ViaService": "true"}}), Yes),
            (json!({"Null": {"kms:ViaService": true}}), Yes),
            (json!({"Null": {"kms:ViaService": "false"}}), No),
            (json!({"Null": {"kms:CallerAccount": "false"}}), Yes),
            (json!({"Null": {"kms:CallerAccount": "true"}}), No),
            (json!({"Null": {"kms:CallerAccount": "maybe"}}), Unk),
        ],
    );
    // ...IfExists still checks a key that is present.
    let mut via = role_request("kms:Decrypt");
    via.via_service = Some("rds.us-west-2.amazonaws.com".into());
    table(
        &via,
        vec![
            (
                json!({"StringEqualsIfExists": {"kms:ViaService": "ec2.us-west-2.amazonaws.com"}}),
                No,
            ),
            (
                json!({"StringEqualsIfExists": {"kms:ViaService": "rds.us-west-2.amazonaws.com"}}),
                Yes,
            ),
            (
                json!({"StringNotEqualsIfExists": {"kms:ViaService": "rds.us-west-2.amazonaws.com"}}),
                No,
            ),
        ],
    );
}

#[test]
fn arn_operators() {
    let req = role_request("kms:Decrypt");
    table(
        &req,
        vec![
            (json!({"ArnEquals": {"aws:PrincipalArn": ROLE}}), Yes),
            (
                json!({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/Other"}}),
                No,
            ),
            (
                json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/RoleFor*"}}),
                Yes,
            ),
            (
                json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/?oleForExampleApp"}}),
                Yes,
            ),
            (
                json!({"ArnLike": {"aws:PrincipalArn": "arn:*:*:*:*:*"}}),
                Yes,
            ),
            // A pattern without the six ARN parts is not an ARN pattern: unevaluable.
            (
                json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam:*:role/RoleForExampleApp"}}),
                Unk,
            ),
            (
                json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:*:role/RoleForExampleApp"}}),
                Unk,
            ),
            (
                json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:sts::*:*"}}),
                No,
            ),
            // Case-sensitive.
            (
                json!({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/roleforexampleapp"}}),
                No,
            ),
            (json!({"ArnNotEquals": {"aws:PrincipalArn": ROLE}}), No),
            (
                json!({"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/Other"}}),
                Yes,
            ),
            (
                json!({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/RoleFor*"}}),
                No,
            ),
            (
                json!({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}}),
                Yes,
            ),
            // StringLike also works on the ARN as one string.
            (
                json!({"StringLike": {"aws:PrincipalArn": "*:role/RoleForExampleApp"}}),
                Yes,
            ),
        ],
    );
}

#[test]
fn bool_operator() {
    let mut req = role_request("kms:Decrypt");
    req.principal_service_name = Some("true".into());
    table(
        &req,
        vec![
            (json!({"Bool": {"aws:PrincipalServiceName": "true"}}), Yes),
            (json!({"Bool": {"aws:PrincipalServiceName": true}}), Yes),
            (json!({"Bool": {"aws:PrincipalServiceName": "TRUE"}}), Yes),
            (json!({"Bool": {"aws:PrincipalServiceName": "false"}}), No),
            (json!({"Bool": {"aws:PrincipalServiceName": "yes"}}), Unk),
            // A boolean key this module does not evaluate.
            (json!({"Bool": {"kms:GrantIsForAWSResource": true}}), Unk),
            (json!({"Bool": {"aws:SecureTransport": "true"}}), Unk),
        ],
    );
}

#[test]
fn unknown_operators_keys_and_policy_variables_are_unevaluable_never_false() {
    let req = role_request("kms:Decrypt");
    table(
        &req,
        vec![
            (json!({"NumericLessThan": {"kms:ValidTo": 1700000000}}), Unk),
            (
                json!({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}),
                Unk,
            ),
            (
                json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
                Unk,
            ),
            (json!({"stringequals": {"kms:CallerAccount": ACCT}}), Unk),
            (json!({"NullIfExists": {"kms:CallerAccount": "true"}}), Unk),
            (
                json!({"ForAnyValue:Null": {"kms:CallerAccount": "true"}}),
                Unk,
            ),
            (json!({"StringEquals": {"aws:SourceVpce": "vpce-1"}}), Unk),
            (
                json!({"StringEquals": {"kms:GrantOperations": "Decrypt"}}),
                Unk,
            ),
            (
                json!({"StringEquals": {"kms:EncryptionContext:user": "${aws:username}"}}),
                Unk,
            ),
            (
                json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:role/*"}}),
                Unk,
            ),
            // An unevaluable condition next to a false one: the statement does not hold.
            (
                json!({"StringEquals": {"aws:SourceVpce": "vpce-1", "kms:CallerAccount": "444455556666"}}),
                No,
            ),
            // Next to a true one: unevaluable.
            (
                json!({"StringEquals": {"aws:SourceVpce": "vpce-1", "kms:CallerAccount": ACCT}}),
                Unk,
            ),
        ],
    );
    let p = Policy::from_value(&with_condition(
        json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
    ))
    .unwrap();
    let m = p.statements[0].evaluate(&req);
    assert_eq!(
        m.unevaluable_reasons(),
        vec!["condition operator IpAddress is not evaluated".to_string()]
    );
}

#[test]
fn values_the_log_does_not_tell_are_unevaluable() {
    let mut req = role_request("kms:Decrypt");
    req.unknown_keys = vec!["kms:ViaService".into(), "kms:EncryptionContext:*".into()];
    table(
        &req,
        vec![
            (
                json!({"StringEquals": {"kms:viaservice": "ec2.us-west-2.amazonaws.com"}}),
                Unk,
            ),
            (json!({"Null": {"kms:ViaService": "true"}}), Unk),
            (
                json!({"StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"}}),
                Unk,
            ),
            (json!({"StringEquals": {"kms:CallerAccount": ACCT}}), Yes),
        ],
    );
}
