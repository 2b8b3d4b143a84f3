//! Tests of the snapshot model against the hand-written fixtures in testdata/snapshot/
//! (expectations written by hand from those files).

use super::fields::date_millis;
use super::*;
use serde_json::json;

const KEY_A: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const KEY_B: &str = "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
const KEY_MRK: &str = "arn:aws:kms:us-east-1:111122223333:key/mrk-1a2b3c4d5e6f";

fn fixture(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/snapshot")
        .join(rel)
}

fn lines(s: &Snapshot) -> Vec<String> {
    s.problems.iter().map(|p| p.to_string()).collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn dates_are_epoch_seconds_or_rfc3339() {
    let cases = [
        (json!(1700000000), Some(1_700_000_000_000)),
        (json!(1700000000.123), Some(1_700_000_000_123)),
        (json!(1700000000.1234567), Some(1_700_000_000_123)),
        (json!("1700000000"), Some(1_700_000_000_000)),
        (json!("1700000600.5"), Some(1_700_000_600_500)),
        (json!(" 1700000600.5 "), Some(1_700_000_600_500)),
        (json!("2023-11-14T22:13:20Z"), Some(1_700_000_000_000)),
        (
            json!("2023-11-14T22:13:20.123000+00:00"),
            Some(1_700_000_000_123),
        ),
        (json!("2023-11-15T00:13:20+02:00"), Some(1_700_000_000_000)),
        (json!(-1), Some(-1000)),
        (json!(0), Some(0)),
        (json!("yesterday"), None),
        (json!("2023-11-14"), None),
        (json!(""), None),
        (json!("1.2.3"), None),
        (json!(true), None),
        (json!([1700000000]), None),
        (json!(1e300), None),
        (json!(i64::MAX), None),
    ];
    for (v, want) in cases {
        assert_eq!(date_millis(&v), want, "{v}");
    }
}

#[test]
fn the_snapshot_file_is_read_field_by_field() {
    let s = load(&fixture("snapshot.json")).unwrap();
    assert_eq!(s.problems, vec![], "{:?}", lines(&s));
    assert_eq!(s.snapshot_time, Some(1_709_640_000_000));
    assert_eq!(s.account_id.as_deref(), Some("111122223333"));
    assert_eq!(s.region.as_deref(), Some("us-east-1"));
    assert_eq!(s.keys.len(), 3);

    let a = &s.keys[0];
    assert_eq!(a.key_arn, KEY_A);
    assert_eq!(
        a.key_id.as_deref(),
        Some("1234abcd-12ab-34cd-56ef-1234567890ab")
    );
    assert_eq!(a.key_state.as_deref(), Some("Enabled"));
    assert_eq!(a.enabled, Some(true));
    assert_eq!(a.creation_date, Some(1_700_000_000_123));
    assert_eq!(a.deletion_date, None);
    assert_eq!(a.key_manager.as_deref(), Some("CUSTOMER"));
    assert_eq!(a.origin.as_deref(), Some("AWS_KMS"));
    assert!(a
        .policy
        .as_deref()
        .unwrap()
        .contains("Enable IAM User Permissions"));
    assert!(a.grants_known);
    assert_eq!(a.aliases, vec!["alias/data", "alias/proton"]);
    assert!(a.errors.is_empty());
    assert_eq!(a.grants.len(), 3);
    let g = &a.grants[0];
    assert_eq!(
        g,
        &SnapshotGrant {
            key_arn: KEY_A.into(),
            grant_id: "0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60".into(),
            name: Some("proton-web".into()),
            creation_date: Some(1_700_000_500_000),
            grantee_principal: Some("proton.amazonaws.com".into()),
            retiring_principal: Some("proton.amazonaws.com".into()),
            issuing_account: Some("arn:aws:iam::111122223333:root".into()),
            operations: vec!["Decrypt".into(), "Encrypt".into(), "GenerateDataKey".into()],
            constraint_kind: ConstraintKind::Subset,
            constraint: map(&[
                (
                    "aws:proton:template",
                    "arn:aws:proton:us-east-1:111122223333:service-template/web"
                ),
                (
                    "aws:proton:resource",
                    "arn:aws:proton:us-east-1:111122223333:service/web"
                ),
            ]),
        }
    );
    let g = &a.grants[1];
    assert_eq!(g.creation_date, Some(1_700_000_600_500));
    assert_eq!(g.name, None);
    assert_eq!(g.retiring_principal, None);
    assert_eq!(g.constraint_kind, ConstraintKind::Equals);
    assert_eq!(g.constraint, map(&[("app", "billing")]));
    let g = &a.grants[2];
    assert_eq!(g.creation_date, Some(1_700_000_400_250));
    assert_eq!(g.grantee_principal.as_deref(), Some("111122223333"));
    assert_eq!(g.constraint_kind, ConstraintKind::None);
    assert!(g.constraint.is_empty());

    let b = &s.keys[1];
    assert_eq!(b.key_arn, KEY_B);
    assert_eq!(b.key_state.as_deref(), Some("PendingDeletion"));
    assert_eq!(b.enabled, Some(false));
    assert_eq!(b.creation_date, Some(1_690_000_000_000));
    assert_eq!(b.deletion_date, Some(1_710_201_600_000));
    assert_eq!(b.policy, None);
    assert!(b.grants_known && b.grants.is_empty());
    assert_eq!(b.errors.len(), 1);
    assert!(b.errors[0].starts_with("GetKeyPolicy: AccessDeniedException: "));

    let m = &s.keys[2];
    assert_eq!(m.key_arn, KEY_MRK);
    assert_eq!(m.key_id.as_deref(), Some("mrk-1a2b3c4d5e6f"));
    assert_eq!(m.key_state.as_deref(), Some("Disabled"));
    assert_eq!(m.creation_date, Some(1_685_608_200_000));
    assert_eq!(m.origin.as_deref(), Some("EXTERNAL"));
    // ListGrants was denied: no grant list, and the error says why.
    assert!(!m.grants_known);
    assert!(m.errors[0].starts_with("ListGrants: AccessDeniedException"));

    assert_eq!(
        s.key("mrk-1a2b3c4d5e6f").map(|k| &k.key_arn[..]),
        Some(KEY_MRK)
    );
    assert_eq!(
        s.key(KEY_B).map(|k| k.key_state.as_deref()),
        Some(Some("PendingDeletion"))
    );
    assert!(s.key("alias/proton").is_none());
}

#[test]
fn the_cli_output_folder_is_read_like_the_file() {
    let s = load(&fixture("cli-outputs")).unwrap();
    assert_eq!(s.problems, vec![], "{:?}", lines(&s));
    assert_eq!(s.snapshot_time, Some(1_709_640_000_000));
    assert_eq!(s.account_id.as_deref(), Some("111122223333"));
    assert_eq!(s.region.as_deref(), Some("us-east-1"));
    // Name order: 0987... before 1234....
    let arns: Vec<&str> = s.keys.iter().map(|k| k.key_arn.as_str()).collect();
    assert_eq!(arns, vec![KEY_B, KEY_A]);

    let b = &s.keys[0];
    assert_eq!(b.key_state.as_deref(), Some("Disabled"));
    assert_eq!(b.enabled, Some(false));
    assert_eq!(b.creation_date, Some(1_690_000_000_500));
    assert_eq!(
        b.policy.as_deref(),
        Some(r#"{"Version":"2012-10-17","Statement":[]}"#)
    );
    // From the account's list-aliases.json: only the alias that targets this key.
    assert_eq!(b.aliases, vec!["alias/billing"]);
    assert_eq!(b.grants.len(), 1);
    let g = &b.grants[0];
    assert_eq!(g.key_arn, KEY_B);
    assert_eq!(g.creation_date, Some(1_690_000_100_000));
    assert_eq!(g.operations, vec!["Decrypt", "RetireGrant"]);
    assert_eq!(g.constraint_kind, ConstraintKind::Equals);
    assert_eq!(g.constraint, map(&[("app", "billing"), ("stage", "prod")]));

    let a = &s.keys[1];
    assert_eq!(
        a.key_id.as_deref(),
        Some("1234abcd-12ab-34cd-56ef-1234567890ab")
    );
    assert_eq!(a.creation_date, Some(1_700_000_000_123));
    assert_eq!(a.key_manager.as_deref(), Some("CUSTOMER"));
    assert!(a
        .policy
        .as_deref()
        .unwrap()
        .contains("\"Sid\" : \"Enable IAM User Permissions\""));
    // Its own list-aliases.json wins over the account's.
    assert_eq!(a.aliases, vec!["alias/proton"]);
    let g = &a.grants[0];
    assert_eq!(g.name.as_deref(), Some("proton-web"));
    assert_eq!(g.creation_date, Some(1_700_000_500_000));
    assert_eq!(g.grantee_principal.as_deref(), Some("proton.amazonaws.com"));
    assert_eq!(g.constraint_kind, ConstraintKind::Subset);
    assert!(a.grants_known && a.errors.is_empty());
}

#[test]
fn a_malformed_file_costs_only_what_is_bad_each_said_in_one_line() {
    let path = fixture("malformed.json");
    let s = load(&path).unwrap();
    let f = path.display().to_string();
    let want = [
        format!("{f}: snapshot_time: expected a date (epoch seconds or RFC 3339), found a string (\"yesterday\"); left unknown"),
        format!("{f}: key 0: skipped: expected an object, found a string (\"arn:aws:kms:us-east-1:111122223333:key…)"),
        format!("{f}: key 1: skipped: neither a key ARN nor a key id with the account and region"),
        format!("{f}: key 2 ({KEY_A}): describe_key.KeyState: expected a string, found a number (3); left unknown"),
        format!("{f}: key 2 ({KEY_A}): describe_key.Enabled: expected true or false, found a string (\"yes\"); left unknown"),
        format!("{f}: key 2 ({KEY_A}): describe_key.CreationDate: expected a date (epoch seconds or RFC 3339), found a boolean (true); left unknown"),
        format!("{f}: key 2 ({KEY_A}): key_policy: expected the policy text, found a number (42); left unknown"),
        format!("{f}: key 2 ({KEY_A}): grant 0: GrantId: skipped: the grant has no GrantId"),
        format!("{f}: key 2 ({KEY_A}): grant 1: Constraints.EncryptionContextSubset.app: expected a string, found a number (1); left out"),
        format!("{f}: key 2 ({KEY_A}): grant 1: CreationDate: expected a date (epoch seconds or RFC 3339), found a string (\"last week\"); left unknown"),
        format!("{f}: key 2 ({KEY_A}): grant 1: Operations[1]: expected a string, found a number (7); left out"),
        format!("{f}: key 2 ({KEY_A}): grant 2: skipped: expected a grant object, found a number (17)"),
        format!("{f}: key 2 ({KEY_A}): aliases: expected an array of aliases, found a string (\"alias/not-a-list\")"),
        format!("{f}: key 3 ({KEY_B}): grants: expected an array of grants, found an object"),
    ];
    assert_eq!(lines(&s), want);
    // The keys that could be kept are, with what could be read of them.
    assert_eq!(s.snapshot_time, None);
    assert_eq!(s.account_id.as_deref(), Some("111122223333"));
    assert_eq!(s.keys.len(), 2);
    let a = &s.keys[0];
    assert_eq!(
        (a.key_state.as_deref(), a.enabled, a.creation_date),
        (None, None, None)
    );
    assert_eq!(a.policy, None);
    assert_eq!(a.grants.len(), 1);
    assert_eq!(a.grants[0].grant_id, "g-2");
    assert_eq!(a.grants[0].operations, vec!["Decrypt"]);
    assert_eq!(a.grants[0].constraint, map(&[("team", "data")]));
    assert_eq!(a.grants[0].key_arn, KEY_A);
    let b = &s.keys[1];
    assert_eq!(
        (b.key_state.as_deref(), b.enabled),
        (Some("Enabled"), Some(true))
    );
    assert!(!b.grants_known);
}

#[test]
fn an_unreadable_file_is_one_error_naming_it() {
    let cases: [(&[u8], &str); 5] = [
        (
            b"",
            "snap.json: not a snapshot: invalid JSON: EOF while parsing a value at line 1 column 0",
        ),
        (
            b"{\"keys\": [",
            "snap.json: not a snapshot: invalid JSON: EOF while parsing a list at line 1 column 10",
        ),
        (
            b"[1, 2]",
            "snap.json: not a snapshot: expected a JSON object, found an array of 2",
        ),
        (
            b"{\"keys\": {\"a\": 1}}",
            "snap.json: keys: expected an array, found an object",
        ),
        (
            b"{\"keys\": \"x\\ny\"}",
            "snap.json: keys: expected an array, found a string (\"x\\ny\")",
        ),
    ];
    for (bytes, want) in cases {
        let e = parse("snap.json", bytes).unwrap_err().to_string();
        assert_eq!(e, want);
        assert!(!e.contains('\n'));
    }
    let e = load(&fixture("no-such-file.json")).unwrap_err().to_string();
    assert!(e.contains("no-such-file.json: cannot read: "), "{e}");
    // An empty object is an empty snapshot, not an error.
    assert_eq!(parse("s", b"{}").unwrap(), Snapshot::default());
}

#[test]
fn fields_are_read_as_aws_spells_them() {
    // camelCase (CloudTrail's spelling) is not KeyMetadata's: those fields stay unknown.
    let doc = json!({"keys": [{"describe_key": {
        "arn": KEY_A, "Arn": KEY_A, "keyState": "Enabled", "KeyState": "Disabled",
        "enabled": true, "creationDate": 1
    }, "grants": [{"grantId": "x", "GrantId": "g", "operations": ["Decrypt"],
        "Constraints": {"encryptionContextSubset": {"a": "b"}}}]}]});
    let s = parse("s", doc.to_string().as_bytes()).unwrap();
    let k = &s.keys[0];
    assert_eq!(k.key_state.as_deref(), Some("Disabled"));
    assert_eq!((k.enabled, k.creation_date), (None, None));
    assert_eq!(k.grants[0].grant_id, "g");
    assert!(k.grants[0].operations.is_empty());
    assert_eq!(k.grants[0].constraint_kind, ConstraintKind::None);
    assert!(s.problems.is_empty());
}

#[test]
fn whole_cli_outputs_inside_the_file_are_unwrapped() {
    let doc = json!({"keys": [{
        "describe_key": {"KeyMetadata": {"Arn": KEY_A, "KeyState": "Enabled"}},
        "key_policy": {"Policy": "{}", "PolicyName": "default"},
        "grants": {"Grants": [{"GrantId": "g", "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}]},
        "aliases": {"Aliases": [{"AliasName": "alias/a", "TargetKeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"},
                                {"AliasName": "alias/other", "TargetKeyId": "ffff"}, "alias/b"]},
        "errors": "ListAliases: ThrottlingException: slow down"
    }]});
    let s = parse("s", doc.to_string().as_bytes()).unwrap();
    assert!(s.problems.is_empty(), "{:?}", lines(&s));
    let k = &s.keys[0];
    assert_eq!(
        k.key_id.as_deref(),
        Some("1234abcd-12ab-34cd-56ef-1234567890ab")
    );
    assert_eq!(k.key_state.as_deref(), Some("Enabled"));
    assert_eq!(k.policy.as_deref(), Some("{}"));
    // A bare KeyId (as some servers write it) is the listing key.
    assert_eq!(k.grants[0].key_arn, KEY_A);
    assert_eq!(k.aliases, vec!["alias/a", "alias/b"]);
    assert_eq!(
        k.errors,
        vec!["ListAliases: ThrottlingException: slow down"]
    );
    assert_eq!(s.account_id.as_deref(), Some("111122223333"));
    assert_eq!(s.region.as_deref(), Some("us-east-1"));
}

#[test]
fn a_key_arn_that_disagrees_with_its_metadata_is_said() {
    let doc = json!({"keys": [{"key_arn": KEY_A, "describe_key": {"Arn": KEY_B}}]});
    let s = parse("s", doc.to_string().as_bytes()).unwrap();
    assert_eq!(s.keys[0].key_arn, KEY_A);
    assert_eq!(
        lines(&s),
        vec![format!(
            "s: key 0 ({KEY_A}): key_arn: differs from KeyMetadata.Arn ({KEY_B}); {KEY_A} is kept"
        )]
    );
    // Both constraints at once: Equals, the stricter, is kept.
    let doc = json!({"keys": [{"key_arn": KEY_A, "grants": [{"GrantId": "g", "Constraints": {
        "EncryptionContextSubset": {"a": "1"}, "EncryptionContextEquals": {"b": "2"}}}]}]});
    let s = parse("s", doc.to_string().as_bytes()).unwrap();
    assert_eq!(s.keys[0].grants[0].constraint_kind, ConstraintKind::Equals);
    assert_eq!(s.keys[0].grants[0].constraint, map(&[("b", "2")]));
    assert_eq!(s.problems.len(), 1);
    assert!(lines(&s)[0].ends_with("grant 0: Constraints: both EncryptionContextEquals and EncryptionContextSubset; Equals is kept"));
}

#[test]
fn a_folder_says_what_is_missing_or_unreadable() {
    let key = |name: &str, describe: Option<&str>, policy: Option<&str>, grants: Option<&str>| {
        CliKeyOutputs {
            name: name.into(),
            describe_key: describe.map(|s| s.as_bytes().to_vec()),
            get_key_policy: policy.map(|s| s.as_bytes().to_vec()),
            list_grants: grants.map(|s| s.as_bytes().to_vec()),
            list_aliases: None,
        }
    };
    let described = format!(r#"{{"KeyMetadata": {{"Arn": "{KEY_A}", "KeyState": "Enabled"}}}}"#);
    let keys = [
        key(
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            Some(&described),
            Some(""),
            None,
        ),
        key(
            "0987dcba-09fe-87dc-65ba-ab0987654321",
            None,
            Some("{\"Policy\": \"{}\""),
            Some("{\"Grants\": []}"),
        ),
    ];
    let s = from_cli_outputs("snap/", Some("not a time"), None, &keys);
    let a = "snap/1234abcd-12ab-34cd-56ef-1234567890ab";
    let b = "snap/0987dcba-09fe-87dc-65ba-ab0987654321";
    assert_eq!(
        lines(&s),
        vec![
            "snap/snapshot-time: not an RFC 3339 time (2025-03-04T10:20:00Z); the snapshot time is unknown".to_string(),
            format!("{a}/get-key-policy.json: key 1234abcd-12ab-34cd-56ef-1234567890ab: empty (did the aws command fail?); left unknown"),
            format!("{a}/list-grants.json: key 1234abcd-12ab-34cd-56ef-1234567890ab: missing; the grants are unknown"),
            format!("{b}/describe-key.json: key 0987dcba-09fe-87dc-65ba-ab0987654321: missing; the key's state is unknown"),
            format!("{b}/get-key-policy.json: key 0987dcba-09fe-87dc-65ba-ab0987654321: invalid JSON: EOF while parsing an object at line 1 column 15; left unknown"),
        ]
    );
    assert_eq!(s.snapshot_time, None);
    // The key without describe-key.json is still known, by its folder's name, in the
    // account and region of the others.
    assert_eq!(s.keys.len(), 2);
    assert_eq!(s.keys[0].key_state.as_deref(), Some("Enabled"));
    assert!(!s.keys[0].grants_known);
    assert_eq!(s.keys[1].key_arn, KEY_B);
    assert_eq!(s.keys[1].key_state, None);
    assert!(s.keys[1].grants_known);
    // No snapshot-time file at all.
    let s = from_cli_outputs("snap", None, None, &[]);
    assert_eq!(
        lines(&s),
        vec!["snap/snapshot-time: missing; the snapshot time is unknown"]
    );
    // Epoch seconds are a time too.
    let s = from_cli_outputs("snap", Some("1709640000\n"), None, &[]);
    assert_eq!(s.snapshot_time, Some(1_709_640_000_000));
}

#[test]
fn problems_are_one_line_and_the_model_serializes_with_the_documented_names() {
    let p = Problem {
        source: "f".into(),
        key: Some("k".into()),
        reason: "a\nb\u{1b}[31m".into(),
        ..Problem::default()
    };
    let line = p.to_string();
    assert!(!line.contains('\n') && !line.contains('\u{1b}'), "{line}");
    assert!(line.starts_with("f: key k: a b"));
    assert_eq!(ConstraintKind::Subset.as_str(), "encryptionContextSubset");
    assert_eq!(
        ConstraintKind::Equals.cloudtrail_name(),
        Some("encryptionContextEquals")
    );
    assert_eq!(ConstraintKind::None.cloudtrail_name(), None);
    let g = serde_json::to_value(SnapshotGrant::default()).unwrap();
    assert_eq!(g["constraint_kind"], "none");
}
