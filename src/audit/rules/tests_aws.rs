//! Unit tests of the rules as AWS KMS behaves (testdata/RULES.md): who a grant serves,
//! service-principal grants, cross-account copies, key states, denials, deletions and
//! routine removals.

use super::tests::{full, grant_rec, simple, time, use_rec, KEY, OPS, SUBSET};
use super::*;

/// A record with any fields: `body` is JSON members after the common ones.
fn rec(id: &str, min: i64, name: &str, body: &str) -> String {
    format!(
        r#"{{"eventSource":"kms.amazonaws.com","eventName":"{name}","eventID":"{id}","eventTime":"{}","awsRegion":"us-east-1","recipientAccountId":"111122223333",
        "resources":[{{"type":"AWS::KMS::Key","ARN":"{KEY}"}}]{body}}}"#,
        time(min)
    )
}

const CTX: &str = r#""encryptionContext":{"aws:proton:template":"arn:aws:proton:us-east-1:111122223333:service-template/web","aws:proton:resource":"arn:aws:proton:us-east-1:111122223333:service/api/service-instance/prod"}"#;

fn role_use(id: &str, min: i64, invoked_by: &str, extra: &str) -> String {
    rec(
        id,
        min,
        "Decrypt",
        &format!(
            r#","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/App/s","accountId":"111122223333"{invoked_by}}},"requestParameters":{{{CTX}}}{extra}"#
        ),
    )
}

/// A Connect/DisconnectCustomKeyStore call of store `cks-1` (it names no key).
fn store(id: &str, min: i64, name: &str) -> String {
    format!(
        r#"{{"eventSource":"kms.amazonaws.com","eventName":"{name}","eventID":"{id}","eventTime":"{}","awsRegion":"us-east-1","recipientAccountId":"111122223333",
        "requestParameters":{{"customKeyStoreId":"cks-1"}}}}"#,
        time(min)
    )
}

fn one<'a>(f: &'a [Finding], id: &str) -> Vec<(Rule, Severity, &'a [String])> {
    f.iter()
        .filter(|x| x.event_id == id)
        .map(|x| (x.rule, x.severity, x.related_event_ids.as_slice()))
        .collect()
}

#[test]
fn an_account_grantee_serves_its_principals_but_not_forward_access_sessions() {
    let root = grant_rec("g", 0, "G1", OPS, SUBSET, "arn:aws:iam::111122223333:root");
    let f = full(&[root.clone(), role_use("u", 1, "", "")], 300);
    assert!(
        f.is_empty(),
        "the account root grant covers its role: {f:?}"
    );
    // The bare account id is the same grantee.
    let bare = grant_rec("g", 0, "G1", OPS, SUBSET, "111122223333");
    assert!(full(&[bare, role_use("u", 1, "", "")], 300).is_empty());
    // A grant to the service does not serve the role calling through it (FAS). No key
    // policy is in the input, so the verdict is unknown: medium (RULES.md section 6).
    let svc = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
    let fas = role_use("u", 1, r#","invokedBy":"proton.amazonaws.com""#, "");
    let f = full(&[svc, fas], 300);
    assert_eq!(
        one(&f, "u"),
        [(Rule::UseWithoutGrant, Severity::Medium, &[][..])]
    );
    // Another account's root does not serve it.
    let other = grant_rec("g", 0, "G1", OPS, SUBSET, "arn:aws:iam::444455556666:root");
    assert_eq!(full(&[other, role_use("u", 1, "", "")], 300).len(), 1);
}

#[test]
fn a_grant_to_a_service_principal_serves_that_service_and_names_its_source_arn() {
    let g = rec(
        "g",
        0,
        "CreateGrant",
        &format!(
            r#","requestParameters":{{"keyId":"{KEY}","granteeServicePrincipal":"proton.us-east-1.amazonaws.com","operations":["Decrypt"],
            "constraints":{{"sourceArn":"arn:aws:proton:us-east-1:111122223333:service/api"}}}},"responseElements":{{"grantId":"G1"}}"#
        ),
    );
    let retire = simple(
        "r",
        10,
        "RetireGrant",
        r#","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/admin","accountId":"111122223333"},"additionalEventData":{"grantId":"G1"}"#,
    );
    let f = full(
        &[
            g,
            use_rec("u1", 1, KEY, ""),
            retire,
            use_rec("u2", 20, KEY, ""),
        ],
        300,
    );
    assert!(one(&f, "u1").is_empty(), "{f:?}");
    let removal = f.iter().find(|x| x.event_id == "r").unwrap();
    assert_eq!(
        (removal.rule, removal.severity),
        (Rule::GrantRemovedWithDependents, Severity::Medium)
    );
    assert!(removal.message.ends_with(
        "Its source ARN constraint (arn:aws:proton:us-east-1:111122223333:service/api) was not checked: CloudTrail does not log it."
    ));
    assert_eq!(one(&f, "u2")[0].0, Rule::UseAfterGrantRetired);
}

#[test]
fn a_service_retiring_its_own_grant_is_routine() {
    let g = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
    let by_service = simple(
        "r",
        10,
        "RetireGrant",
        r#","userIdentity":{"type":"AWSService","invokedBy":"proton.amazonaws.com"},"additionalEventData":{"grantId":"G1"}"#,
    );
    let f = full(&[g.clone(), use_rec("u1", 1, KEY, ""), by_service], 300);
    assert_eq!(one(&f, "r")[0].1, Severity::Low);
    // Revoked by the same service: still not routine.
    let revoke = simple(
        "r",
        10,
        "RevokeGrant",
        r#","userIdentity":{"type":"AWSService","invokedBy":"proton.amazonaws.com"},"requestParameters":{"grantId":"G1"}"#,
    );
    let f = full(&[g, use_rec("u1", 1, KEY, ""), revoke], 300);
    assert_eq!(one(&f, "r")[0].1, Severity::Medium);
}

#[test]
fn cross_account_copies_are_one_call() {
    let copy = |id: &str, acct: &str| {
        use_rec(id, 1, KEY, r#","sharedEventID":"shared-1""#).replace(
            r#""recipientAccountId":"111122223333""#,
            &format!(r#""recipientAccountId":"{acct}""#),
        )
    };
    let f = full(
        &[
            copy("b-copy", "444455556666"),
            copy("a-copy", "111122223333"),
        ],
        300,
    );
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        f[0].event_id, "a-copy",
        "the smallest eventID stands for the call"
    );
    assert_eq!(f[0].related_event_ids, ["b-copy"]);
}

#[test]
fn deleted_is_for_good_and_not_found_is_a_loss() {
    let g = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
    let delete = simple(
        "del",
        10,
        "DeleteKey",
        r#","userIdentity":{"accountId":"111122223333","invokedBy":"AWS Internal"}"#,
    );
    let enable = simple("en", 20, "EnableKey", "");
    let f = full(
        &[
            g,
            use_rec("u1", 1, KEY, ""),
            delete,
            enable,
            use_rec("nf", 30, KEY, r#","errorCode":"NotFoundException""#),
            use_rec("ok", 40, KEY, ""),
        ],
        300,
    );
    assert_eq!(
        one(&f, "del"),
        [(
            Rule::KeyDeletedWithDependents,
            Severity::High,
            &["u1".to_string()][..]
        )]
    );
    assert_eq!(
        one(&f, "nf"),
        [(
            Rule::DeniedByKeyState,
            Severity::High,
            &["del".to_string()][..]
        )]
    );
    // The EnableKey after DeleteKey changes nothing.
    assert_eq!(one(&f, "ok")[0].0, Rule::UseAfterKeyDisabled);
    assert_eq!(one(&f, "ok")[0].2, ["del"]);
}

#[test]
fn pending_material_and_imports_follow_kms() {
    let import = |id: &str, min: i64, ty: &str, mat: &str| {
        simple(
            id,
            min,
            "ImportKeyMaterial",
            &format!(
                r#","requestParameters":{{"keyId":"{KEY}","importType":"{ty}"}},"responseElements":{{"keyMaterialId":"{mat}"}}"#
            ),
        )
    };
    let delete = |id: &str, min: i64, mat: &str| {
        simple(
            id,
            min,
            "DeleteImportedKeyMaterial",
            &format!(r#","requestParameters":{{"keyId":"{KEY}"{mat}}}"#),
        )
    };
    let recs = [
        grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com"),
        import("i1", 0, "NEW_KEY_MATERIAL", "m1"),
        use_rec("u1", 1, KEY, ""),
        import("i2", 2, "NEW_KEY_MATERIAL", "m2"),
        // m2 is pending rotation: deleting it changes nothing.
        delete("d2", 3, r#","keyMaterialId":"m2""#),
        use_rec("u-ok", 20, KEY, ""),
        // No material named: assumed current.
        delete("d", 30, ""),
        use_rec("u-after", 40, KEY, ""),
        // A second import of the current material while PendingImport restores it.
        import("i3", 50, "EXISTING_KEY_MATERIAL", "m1"),
        use_rec("u-restored", 60, KEY, ""),
    ];
    let f = full(&recs, 300);
    assert!(
        one(&f, "d2").is_empty() && one(&f, "u-ok").is_empty(),
        "{f:?}"
    );
    let d = f.iter().find(|x| x.event_id == "d").unwrap();
    assert_eq!(d.rule, Rule::KeyDisabledWithDependents);
    assert!(
        d.message.contains("keytrail assumed the current one"),
        "{}",
        d.message
    );
    assert_eq!(one(&f, "u-after")[0].0, Rule::UseAfterKeyDisabled);
    assert!(one(&f, "u-restored").is_empty());
    // An import into a disabled key does not enable it.
    let f = full(
        &[
            grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com"),
            simple("dis", 0, "DisableKey", ""),
            import("i", 1, "EXISTING_KEY_MATERIAL", "m1"),
            use_rec("u", 20, KEY, ""),
        ],
        300,
    );
    assert_eq!(one(&f, "u")[0].2, ["dis"]);
}

#[test]
fn a_disconnected_store_is_temporary() {
    let create = rec(
        "ck",
        0,
        "CreateKey",
        &format!(
            r#","requestParameters":{{"customKeyStoreId":"cks-1"}},"responseElements":{{"keyMetadata":{{"arn":"{KEY}"}}}}"#
        ),
    );
    let g = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
    let f = full(
        &[
            create,
            g,
            store("disc", 10, "DisconnectCustomKeyStore"),
            use_rec("den", 11, KEY, r#","errorCode":"KMSInvalidStateException""#),
            store("conn", 20, "ConnectCustomKeyStore"),
            use_rec("ok", 21, KEY, ""),
        ],
        300,
    );
    assert_eq!(
        one(&f, "den"),
        [(
            Rule::DeniedByKeyState,
            Severity::Medium,
            &["disc".to_string()][..]
        )]
    );
    assert!(one(&f, "ok").is_empty(), "{f:?}");
    assert!(
        one(&f, "disc").is_empty(),
        "a disconnection is no user's disable"
    );
}

#[test]
fn denials_are_linked_to_their_cause() {
    let g = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
    let denied =
        |id: &str, min: i64| use_rec(id, min, KEY, r#","errorCode":"AccessDeniedException""#);
    let revoke = simple(
        "rv",
        30,
        "RevokeGrant",
        r#","requestParameters":{"grantId":"G1"}"#,
    );
    let f = full(
        &[
            g,
            denied("fresh", 2),
            denied("mid", 20),
            revoke,
            denied("gone", 31),
        ],
        300,
    );
    assert_eq!(
        one(&f, "fresh"),
        [(Rule::DeniedAccess, Severity::Low, &["g".to_string()][..])]
    );
    assert_eq!(
        one(&f, "mid"),
        [(Rule::DeniedAccess, Severity::Medium, &[][..])]
    );
    assert_eq!(
        one(&f, "gone"),
        [(
            Rule::DeniedAfterGrantRemoved,
            Severity::High,
            &["rv".to_string()][..]
        )]
    );
    // A state-error denial within grace after a re-enable: medium, not yet in effect.
    let f = full(
        &[
            simple("d", 0, "DisableKey", ""),
            simple("e", 10, "EnableKey", ""),
            use_rec("x", 11, KEY, r#","errorCode":"DisabledException""#),
            use_rec("y", 30, KEY, r#","errorCode":"DisabledException""#),
        ],
        300,
    );
    assert_eq!(one(&f, "x")[0].1, Severity::Medium);
    assert!(f
        .iter()
        .find(|x| x.event_id == "x")
        .unwrap()
        .message
        .contains("had not yet taken effect"));
    assert!(f
        .iter()
        .find(|x| x.event_id == "y")
        .unwrap()
        .message
        .contains("another cause"));
    // No known change and a transient errorMessage: medium.
    let f = full(
        &[use_rec(
            "z",
            0,
            KEY,
            r#","errorCode":"KMSInvalidStateException","errorMessage":"arn:aws:kms:us-east-1:111122223333:key/k1 is unavailable.""#,
        )],
        300,
    );
    assert_eq!(one(&f, "z")[0].1, Severity::Medium);
}

#[test]
fn derive_shared_secret_is_a_use_and_every_disable_counts() {
    let derive = simple(
        "dss",
        20,
        "DeriveSharedSecret",
        r#","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","accountId":"111122223333"}"#,
    );
    let g = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
    let f = full(
        &[
            g,
            use_rec("u1", 1, KEY, ""),
            simple("d1", 5, "DisableKey", ""),
            simple("d2", 6, "ScheduleKeyDeletion", ""),
            derive,
        ],
        300,
    );
    assert_eq!(one(&f, "dss")[0].0, Rule::UseAfterKeyDisabled);
    assert_eq!(one(&f, "d1")[0].0, Rule::KeyDisabledWithDependents);
    assert_eq!(
        one(&f, "d2")[0].0,
        Rule::KeyDisabledWithDependents,
        "already disabled: still raises the stakes"
    );
}

#[test]
fn an_import_while_the_store_is_disconnected_changes_nothing() {
    // (Keys with imported material live outside custom key stores in AWS; the order of
    // counted changes still decides, own and store alike.)
    let create = rec(
        "ck",
        0,
        "CreateKey",
        r#","requestParameters":{"customKeyStoreId":"cks-1"}"#,
    );
    let g = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
    let f = full(
        &[
            create,
            g,
            simple("del", 1, "DeleteImportedKeyMaterial", ""),
            store("disc", 2, "DisconnectCustomKeyStore"),
            simple("imp", 3, "ImportKeyMaterial", ""),
            store("conn", 4, "ConnectCustomKeyStore"),
            use_rec("u", 20, KEY, ""),
        ],
        300,
    );
    // The reconnect restores PendingImport: the import did not count.
    assert_eq!(one(&f, "u")[0].0, Rule::UseAfterKeyDisabled);
    assert_eq!(one(&f, "u")[0].2, ["conn"]);
}

#[test]
fn an_aggregate_lists_the_other_copy_of_its_own_call() {
    let g = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
    let revoke = |id: &str| {
        simple(
            id,
            10,
            "RevokeGrant",
            r#","requestParameters":{"grantId":"G1"},"sharedEventID":"s-1""#,
        )
    };
    let f = full(
        &[g, use_rec("u1", 1, KEY, ""), revoke("r-b"), revoke("r-a")],
        300,
    );
    assert_eq!(
        one(&f, "r-a"),
        [(
            Rule::GrantRemovedWithDependents,
            Severity::Medium,
            &["u1".to_string(), "r-b".to_string()][..]
        )]
    );
    assert!(one(&f, "r-b").is_empty());
}
