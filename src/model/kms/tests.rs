//! Tests of the KMS event model: classification, times, key references and decoding records.

use super::*;

fn ev(json: &str) -> KmsEvent {
    from_record(&RawObject::parse(json.as_bytes()).unwrap())
}

#[test]
fn times_in_every_shape() {
    assert_eq!(
        parse_event_time("2026-03-02T15:30:00Z"),
        Some(1772465400000)
    );
    assert_eq!(parse_event_time("2026-03-02 15:30:00"), Some(1772465400000));
    assert_eq!(
        parse_event_time("2026-03-02 15:30:00.00000"),
        Some(1772465400000)
    );
    assert_eq!(
        parse_event_time("2026-03-02T16:30:00+01:00"),
        Some(1772465400000)
    );
    assert_eq!(parse_event_time("Apr 12, 2021 18:58:30 PM"), None);
}

#[test]
fn retire_grant_by_token_finds_key_and_grant() {
    let e = ev(
        r#"{"eventSource":"kms.amazonaws.com","eventName":"RetireGrant","eventTime":"2022-09-01T19:39:33Z",
        "awsRegion":"us-west-2","requestParameters":null,"responseElements":null,
        "additionalEventData":{"grantId":"abc"},"eventID":"e1","readOnly":false,
        "resources":[{"accountId":"1","type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-west-2:1:key/k"}],
        "recipientAccountId":"1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/Alice"}}"#,
    );
    assert_eq!(e.category, Category::GrantChange);
    assert_eq!(e.key.arn.as_deref(), Some("arn:aws:kms:us-west-2:1:key/k"));
    assert_eq!(e.grant.unwrap().grant_id.as_deref(), Some("abc"));
    assert_eq!(
        e.caller.principal.as_deref(),
        Some("arn:aws:iam::1:user/Alice")
    );
}

#[test]
fn reencrypt_uses_both_keys() {
    let e = ev(
        r#"{"eventSource":"kms.amazonaws.com","eventName":"ReEncrypt","awsRegion":"us-west-2","recipientAccountId":"1",
        "requestParameters":{"sourceEncryptionContext":{"a":"1"},"destinationKeyId":"0987dcba-09fe-87dc-65ba-ab0987654321",
          "destinationEncryptionContext":{"b":"2"}},
        "resources":[{"type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-west-2:1:key/src"}]}"#,
    );
    assert_eq!(e.uses.len(), 2);
    assert_eq!(e.uses[0].operation, "ReEncryptFrom");
    assert_eq!(
        e.uses[0].key.arn.as_deref(),
        Some("arn:aws:kms:us-west-2:1:key/src")
    );
    assert_eq!(e.uses[1].operation, "ReEncryptTo");
    assert_eq!(
        e.uses[1].key.arn.as_deref(),
        Some("arn:aws:kms:us-west-2:1:key/0987dcba-09fe-87dc-65ba-ab0987654321")
    );
    assert_eq!(e.uses[1].context.as_ref().unwrap()["b"], "2");
}

#[test]
fn aliases_stay_unresolved_and_odd_identities_are_kept() {
    let e = ev(
        r#"{"eventSource":"kms.amazonaws.com","eventName":"Encrypt","awsRegion":"us-east-1",
        "requestParameters":{"keyId":"alias/proton-key","encryptionContext":{"k":"v"}},
        "readOnly":"true","errorCode":"",
        "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/Deploy/s","invokedBy":"proton.us-east-1.amazonaws.com",
           "sessionContext":{"sessionIssuer":{}}}}"#,
    );
    assert!(!e.key.resolved());
    assert_eq!(e.key.given.as_deref(), Some("alias/proton-key"));
    assert_eq!(e.read_only, Some(true));
    assert!(e.succeeded());
    assert_eq!(
        e.caller.role_arn.as_deref(),
        Some("arn:aws:iam::1:role/Deploy")
    );
    // A forward access session: the service is not one of the caller's identities;
    // the account root is.
    assert_eq!(
        e.caller.identities,
        vec![
            "arn:aws:iam::1:role/Deploy",
            "arn:aws:iam::1:root",
            "arn:aws:sts::1:assumed-role/Deploy/s",
        ]
    );
    let e = ev(
        r#"{"eventSource":"kms.amazonaws.com","eventName":"DeleteKey","awsRegion":"us-east-1",
        "userIdentity":{"accountId":"1","invokedBy":"AWS Internal"},
        "resources":[{"ARN":"arn:aws:kms:us-east-1:1:key/k","accountId":"1"}]}"#,
    );
    assert_eq!(e.category, Category::KeyStateChange);
    assert_eq!(e.key_state.as_deref(), Some("Deleted"));
    assert_eq!(e.caller.principal.as_deref(), Some("AWS Internal"));
    assert_eq!(e.account_id.as_deref(), Some("1"));
}

#[test]
fn bare_key_id_builds_an_arn() {
    let e = ev(
        r#"{"eventSource":"kms.amazonaws.com","eventName":"DisableKey","awsRegion":"eu-west-1","recipientAccountId":"2",
        "requestParameters":{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}}"#,
    );
    assert_eq!(
        e.key.arn.as_deref(),
        Some("arn:aws:kms:eu-west-1:2:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    );
    assert_eq!(e.key_state.as_deref(), Some("Disabled"));
}
