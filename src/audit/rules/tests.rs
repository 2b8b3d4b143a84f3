//! Unit tests of the rules over small hand-written timelines.

use super::*;
use crate::audit::timeline::Timeline;
use crate::model::kms;
use crate::model::profile::Profiles;
use crate::read::rawjson::RawObject;

pub(super) const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";
const KEY2: &str = "arn:aws:kms:us-east-1:111122223333:key/k2";
const T: &str = "arn:aws:proton:us-east-1:111122223333:service-template/web";
const R: &str = "arn:aws:proton:us-east-1:111122223333:service/api/service-instance/prod";

pub(super) fn time(min: i64) -> String {
    format_time(1_767_225_600_000 + min * 60_000)
}

pub(super) fn use_rec(id: &str, min: i64, key: &str, extra: &str) -> String {
    format!(
        r#"{{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventID":"{id}","eventTime":"{}","awsRegion":"us-east-1","recipientAccountId":"111122223333",
        "resources":[{{"type":"AWS::KMS::Key","ARN":"{key}"}}],"userIdentity":{{"type":"AWSService","invokedBy":"proton.us-east-1.amazonaws.com"}},
        "requestParameters":{{"encryptionContext":{{"aws:proton:template":"{T}","aws:proton:resource":"{R}"}}}}{extra}}}"#,
        time(min)
    )
}

pub(super) fn grant_rec(
    id: &str,
    min: i64,
    grant: &str,
    ops: &str,
    constraints: &str,
    grantee: &str,
) -> String {
    format!(
        r#"{{"eventSource":"kms.amazonaws.com","eventName":"CreateGrant","eventID":"{id}","eventTime":"{}","awsRegion":"us-east-1","recipientAccountId":"111122223333",
        "resources":[{{"type":"AWS::KMS::Key","ARN":"{KEY}"}}],"userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Admin/x"}},
        "requestParameters":{{"keyId":"{KEY}","granteePrincipal":"{grantee}"{ops}{constraints}}},"responseElements":{{"grantId":"{grant}"}}}}"#,
        time(min)
    )
}

pub(super) fn simple(id: &str, min: i64, name: &str, extra: &str) -> String {
    format!(
        r#"{{"eventSource":"kms.amazonaws.com","eventName":"{name}","eventID":"{id}","eventTime":"{}","awsRegion":"us-east-1","recipientAccountId":"111122223333",
        "resources":[{{"type":"AWS::KMS::Key","ARN":"{KEY}"}}]{extra}}}"#,
        time(min)
    )
}

pub(super) const OPS: &str = r#","operations":["Decrypt","Encrypt"]"#;
pub(super) const SUBSET: &str = r#","constraints":{"encryptionContextSubset":{"aws:proton:template":"arn:aws:proton:us-east-1:111122223333:service-template/web"}}"#;

/// The findings over the records, in any order.
pub(super) fn full(records: &[String], grace: i64) -> Vec<Finding> {
    let mut tl = Timeline::new(Profiles::default());
    for r in records {
        tl.push(&kms::from_record(&RawObject::parse(r.as_bytes()).unwrap()));
    }
    evaluate(&tl, grace)
}

fn run(records: &[String], grace: i64) -> Vec<(Rule, String, Vec<String>)> {
    full(records, grace)
        .into_iter()
        .map(|f| (f.rule, f.event_id, f.related_event_ids))
        .collect()
}

fn rules_of(f: &[(Rule, String, Vec<String>)], id: &str) -> Vec<Rule> {
    f.iter().filter(|x| x.1 == id).map(|x| x.0).collect()
}

#[test]
fn coverage_needs_operation_grantee_constraint_and_life() {
    let g = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
    let f = run(&[g.clone(), use_rec("u1", 1, KEY, "")], 300);
    assert!(f.is_empty(), "{f:?}");
    // No operations list: covers nothing.
    let f = run(
        &[
            grant_rec("g", 0, "G1", "", SUBSET, "proton.amazonaws.com"),
            use_rec("u1", 1, KEY, ""),
        ],
        300,
    );
    assert_eq!(rules_of(&f, "u1"), [Rule::UseWithoutGrant]);
    // Another grantee.
    let f = run(
        &[
            grant_rec(
                "g",
                0,
                "G1",
                OPS,
                SUBSET,
                "arn:aws:iam::111122223333:role/Other",
            ),
            use_rec("u1", 1, KEY, ""),
        ],
        300,
    );
    assert_eq!(rules_of(&f, "u1"), [Rule::UseWithoutGrant]);
    // encryptionContextEquals with a subset of the context does not hold.
    let eq = SUBSET.replace("Subset", "Equals");
    let f = run(
        &[
            grant_rec("g", 0, "G1", OPS, &eq, "proton.amazonaws.com"),
            use_rec("u1", 1, KEY, ""),
        ],
        300,
    );
    assert_eq!(rules_of(&f, "u1"), [Rule::UseWithoutGrant]);
    // Created after the use: not covering yet.
    let f = run(
        &[
            use_rec("u1", 1, KEY, ""),
            grant_rec("g", 2, "G1", OPS, SUBSET, "proton.amazonaws.com"),
        ],
        300,
    );
    assert_eq!(rules_of(&f, "u1"), [Rule::UseWithoutGrant]);
    // Another key.
    let f = run(&[g, use_rec("u1", 1, KEY2, "")], 300);
    assert_eq!(rules_of(&f, "u1"), [Rule::UseWithoutGrant]);
}

#[test]
fn retirement_counts_after_the_grace_window_only() {
    let g = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
    let retire = simple(
        "r",
        10,
        "RetireGrant",
        r#","additionalEventData":{"grantId":"G1"}"#,
    );
    let f = run(
        &[
            g,
            retire,
            use_rec("u-before", 5, KEY, ""),
            use_rec("u-in-grace", 14, KEY, ""),
            use_rec("u-at-grace", 15, KEY, ""),
        ],
        300,
    );
    assert!(rules_of(&f, "u-in-grace").is_empty());
    assert_eq!(rules_of(&f, "u-at-grace"), [Rule::UseAfterGrantRetired]);
    let related = &f.iter().find(|x| x.1 == "u-at-grace").unwrap().2;
    assert_eq!(related, &vec!["r".to_string()]);
    // The retirement names what the grant covered before it.
    assert_eq!(rules_of(&f, "r"), [Rule::GrantRemovedWithDependents]);
    assert_eq!(
        f.iter().find(|x| x.1 == "r").unwrap().2,
        vec!["u-before".to_string()]
    );
}

#[test]
fn failed_calls_change_nothing_and_get_no_coverage_findings() {
    let g = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
    let failed_retire = simple(
        "r",
        1,
        "RetireGrant",
        r#","additionalEventData":{"grantId":"G1"},"errorCode":"AccessDeniedException""#,
    );
    let failed_disable = simple(
        "d",
        1,
        "DisableKey",
        r#","errorCode":"AccessDeniedException""#,
    );
    let failed_use = use_rec("u0", 0, KEY2, r#","errorCode":"ValidationException""#);
    let f = run(
        &[
            g,
            failed_retire,
            failed_disable,
            failed_use,
            use_rec("u1", 30, KEY, ""),
        ],
        300,
    );
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn key_state_rules_follow_the_timeline() {
    let g = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
    let recs = [
        g,
        use_rec("u1", 1, KEY, ""),
        simple("d", 10, "DisableKey", ""),
        use_rec("u-lag", 12, KEY, ""),
        use_rec("u-after", 20, KEY, ""),
        use_rec("u-denied", 21, KEY, r#","errorCode":"DisabledException""#),
        simple("e", 30, "EnableKey", ""),
        use_rec("u-reenabled", 31, KEY, ""),
        simple("s", 40, "ScheduleKeyDeletion", ""),
        simple("c", 41, "CancelKeyDeletion", ""),
        use_rec("u-cancelled", 50, KEY, ""),
    ];
    let f = run(&recs, 300);
    assert!(rules_of(&f, "u-lag").is_empty(), "inside the grace window");
    assert_eq!(rules_of(&f, "u-after"), [Rule::UseAfterKeyDisabled]);
    assert_eq!(rules_of(&f, "u-denied"), [Rule::DeniedByKeyState]);
    assert_eq!(
        f.iter().find(|x| x.1 == "u-denied").unwrap().2,
        vec!["d".to_string()]
    );
    assert!(
        rules_of(&f, "u-reenabled").is_empty(),
        "re-enabled 60 s before: usable"
    );
    assert_eq!(
        rules_of(&f, "u-cancelled"),
        [Rule::UseAfterKeyDisabled],
        "CancelKeyDeletion leaves it disabled"
    );
    assert_eq!(
        f.iter().find(|x| x.1 == "u-cancelled").unwrap().2,
        vec!["c".to_string()]
    );
    assert_eq!(rules_of(&f, "d"), [Rule::KeyDisabledWithDependents]);
    assert_eq!(rules_of(&f, "s"), [Rule::KeyDisabledWithDependents]);
    assert!(rules_of(&f, "c").is_empty());
    assert!(rules_of(&f, "e").is_empty());
}

#[test]
fn reencrypt_is_judged_per_side() {
    let g = grant_rec(
        "g",
        0,
        "G1",
        r#","operations":["ReEncryptFrom","ReEncryptTo"]"#,
        SUBSET,
        "proton.amazonaws.com",
    );
    let re = format!(
        r#"{{"eventSource":"kms.amazonaws.com","eventName":"ReEncrypt","eventID":"re","eventTime":"{}","awsRegion":"us-east-1","recipientAccountId":"111122223333",
        "resources":[{{"type":"AWS::KMS::Key","ARN":"{KEY}"}},{{"type":"AWS::KMS::Key","ARN":"{KEY2}"}}],"userIdentity":{{"type":"AWSService","invokedBy":"proton.amazonaws.com"}},
        "requestParameters":{{"sourceEncryptionContext":{{"aws:proton:template":"{T}","aws:proton:resource":"{R}"}},"destinationEncryptionContext":{{"aws:proton:template":"{T}","aws:proton:resource":"{R}"}}}}}}"#,
        time(1)
    );
    let mut tl = Timeline::new(Profiles::default());
    for r in [g, re] {
        tl.push(&kms::from_record(&RawObject::parse(r.as_bytes()).unwrap()));
    }
    let f = evaluate(&tl, 300);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule, Rule::UseWithoutGrant);
    assert_eq!(
        f[0].key_arn.as_deref(),
        Some(KEY2),
        "only the destination side lacks a grant"
    );
}
