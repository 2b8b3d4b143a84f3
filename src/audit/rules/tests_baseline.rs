//! Unit tests of a snapshot as a baseline (testdata/RULES.md, section 6.6): its grants
//! cover, its policy decides, and what the input contradicts becomes a finding.

use super::tests::{grant_rec, simple, time, use_rec, KEY, OPS, SUBSET};
use super::*;
use crate::audit::timeline::Timeline;
use crate::model::kms;
use crate::model::profile::Profiles;
use crate::model::snapshot::{ConstraintKind, Snapshot, SnapshotGrant, SnapshotKey};
use crate::read::rawjson::RawObject;

const T0: i64 = 1_767_225_600_000;
const TEMPLATE: &str = "arn:aws:proton:us-east-1:111122223333:service-template/web";

fn ms(min: i64) -> i64 {
    T0 + min * 60_000
}

/// The findings over the records with the snapshots as baselines.
fn with(records: &[String], snaps: &[Snapshot]) -> Vec<Finding> {
    let mut tl = Timeline::new(Profiles::default());
    for r in records {
        tl.push(&kms::from_record(&RawObject::parse(r.as_bytes()).unwrap()));
    }
    for s in snaps {
        tl.add_baseline(s);
    }
    evaluate(&tl, 300)
}

fn proton_grant(id: &str, created_min: i64) -> SnapshotGrant {
    SnapshotGrant {
        key_arn: KEY.to_string(),
        grant_id: id.to_string(),
        creation_date: Some(ms(created_min)),
        grantee_principal: Some("proton.amazonaws.com".to_string()),
        operations: vec!["Decrypt".to_string(), "Encrypt".to_string()],
        constraint_kind: ConstraintKind::Subset,
        constraint: [("aws:proton:template".to_string(), TEMPLATE.to_string())].into(),
        ..SnapshotGrant::default()
    }
}

fn snapshot(at_min: i64, key: SnapshotKey) -> Snapshot {
    Snapshot {
        snapshot_time: Some(ms(at_min)),
        account_id: Some("111122223333".to_string()),
        region: Some("us-east-1".to_string()),
        keys: vec![key],
        ..Snapshot::default()
    }
}

fn key(state: &str, grants: Vec<SnapshotGrant>, policy: Option<&str>) -> SnapshotKey {
    SnapshotKey {
        key_arn: KEY.to_string(),
        key_state: Some(state.to_string()),
        grants_known: true,
        grants,
        policy: policy.map(str::to_string),
        ..SnapshotKey::default()
    }
}

#[test]
fn a_snapshot_grant_created_before_the_input_covers_its_uses() {
    let uses = [use_rec("u1", 10, KEY, ""), use_rec("u2", 20, KEY, "")];
    let without = with(&uses, &[]);
    assert_eq!(without.len(), 2, "{without:?}");
    assert!(without
        .iter()
        .all(|f| f.rule == Rule::UseWithoutGrant && f.severity == Severity::Medium));
    let snap = snapshot(60, key("Enabled", vec![proton_grant("G0", -600)], None));
    let f = with(&uses, &[snap]);
    assert!(f.is_empty(), "the snapshot's grant covers both: {f:?}");
}

#[test]
fn a_grant_created_inside_the_input_without_a_create_grant_is_missing_from_the_trail() {
    let uses = [use_rec("u1", 10, KEY, ""), use_rec("u2", 40, KEY, "")];
    let snap = snapshot(60, key("Enabled", vec![proton_grant("G5", 20)], None));
    let f = with(&uses, &[snap]);
    // u2 comes after the grant's creation: covered; u1 before it is not. The grant was
    // created inside the input's time, and the input has no CreateGrant for it.
    assert_eq!(f.len(), 2, "{f:?}");
    assert_eq!(
        (f[0].rule, f[0].event_id.as_str()),
        (Rule::UseWithoutGrant, "u1")
    );
    let m = &f[1];
    assert_eq!(
        (
            m.rule,
            m.severity,
            m.event_id.as_str(),
            m.event_time,
            m.event_name.as_str()
        ),
        (
            Rule::GrantMissingFromTrail,
            Severity::Low,
            "",
            ms(20),
            "CreateGrant"
        )
    );
    assert_eq!(m.key_arn.as_deref(), Some(KEY));
    assert_eq!(
        m.message,
        format!(
            "Grant G5 on {KEY}, which the snapshot taken at {} lists as created at {}, has no CreateGrant in the input, which covers 111122223333 us-east-1 from {} to {}: events were not logged, filtered out or lost.",
            time(60),
            time(20),
            time(10),
            time(40)
        )
    );
    // Created outside the input's time: not a gap of the trail.
    let snap = snapshot(60, key("Enabled", vec![proton_grant("G5", 5)], None));
    let f = with(&uses, &[snap]);
    assert!(
        f.iter().all(|x| x.rule != Rule::GrantMissingFromTrail),
        "{f:?}"
    );
    // A CreationDate earlier than the input's CreateGrant: the grant exists since then
    // (CreateGrant is idempotent), covers u1, and is not missing from the trail.
    let late = grant_rec("cg", 30, "G5", OPS, SUBSET, "proton.amazonaws.com");
    let snap = snapshot(60, key("Enabled", vec![proton_grant("G5", 5)], None));
    let f = with(&[late, uses[0].clone(), uses[1].clone()], &[snap]);
    assert!(f.is_empty(), "{f:?}");
    // With the CreateGrant in the input, the trail's creation counts and nothing is missing.
    let g = grant_rec("cg", 5, "G5", OPS, SUBSET, "proton.amazonaws.com");
    let snap = snapshot(60, key("Enabled", vec![proton_grant("G5", 20)], None));
    let f = with(&[g, uses[0].clone(), uses[1].clone()], &[snap]);
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn a_snapshot_state_the_trail_contradicts_is_a_medium_finding() {
    let recs = [
        simple("d", 0, "DisableKey", ""),
        simple("e", 5, "EnableKey", ""),
    ];
    let f = with(&recs, &[snapshot(60, key("Disabled", vec![], None))]);
    assert_eq!(f.len(), 1, "{f:?}");
    let m = &f[0];
    assert_eq!(
        (
            m.rule,
            m.severity,
            m.event_id.as_str(),
            m.event_time,
            m.event_name.as_str()
        ),
        (
            Rule::StateDisagreesWithSnapshot,
            Severity::Medium,
            "",
            ms(60),
            "DescribeKey"
        )
    );
    assert_eq!(m.related_event_ids, vec!["e".to_string()]);
    assert_eq!(
        m.message,
        format!("The snapshot taken at {} says {KEY} is Disabled, but the input leaves it Enabled (EnableKey at {}): the input misses a key-state change.", time(60), time(5))
    );
    // Agreeing states, and keys the trail never changed, give nothing.
    assert!(with(&recs, &[snapshot(60, key("Enabled", vec![], None))]).is_empty());
    assert!(with(&[], &[snapshot(60, key("Disabled", vec![], None))]).is_empty());
    // The state the trail leaves at the snapshot's time, not at its end.
    let later = [
        recs[0].clone(),
        recs[1].clone(),
        simple("d2", 90, "DisableKey", ""),
    ];
    let f = with(&later, &[snapshot(60, key("Disabled", vec![], None))]);
    assert!(f.iter().any(|x| x.rule == Rule::StateDisagreesWithSnapshot));
}

#[test]
fn the_snapshot_policy_decides_uses_no_policy_event_explains() {
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Proton","Effect":"Allow","Principal":{"Service":"proton.amazonaws.com"},"Action":"kms:Decrypt","Resource":"*"}]}"#;
    let f = with(
        &[use_rec("u", 10, KEY, "")],
        &[snapshot(60, key("Enabled", vec![], Some(policy)))],
    );
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].severity, f[0].authorization),
        (Severity::Low, Some(Verdict::KeyPolicy))
    );
    assert!(f[0].related_event_ids.is_empty(), "{f:?}");
    assert!(f[0].message.ends_with(&format!(
        " Key policy: statement \"Proton\" of the policy in the snapshot taken at {} (assumed in force throughout the input) allows it.",
        time(60)
    )));
}
