//! Unit tests of the authorization verdict (testdata/RULES.md, section 6): which policy
//! versions are in force, the verdict order, and what the finding says. Expectations are
//! written from the rules text, one case per sentence of it.

use super::tests::{full, grant_rec, simple, time, use_rec, KEY, OPS, SUBSET};
use super::*;

const ROLE_UI: &str = r#""userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/App/s","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/App"}}}"#;
const TEMPLATE: &str = "arn:aws:proton:us-east-1:111122223333:service-template/web";

/// A Decrypt of KEY by the App role, with the Proton context of `use_rec`.
fn role_use(id: &str, min: i64, invoked_by: Option<&str>) -> String {
    let ui = match invoked_by {
        Some(by) => ROLE_UI.replace(
            r#""accountId":"111122223333""#,
            &format!(r#""accountId":"111122223333","invokedBy":"{by}""#),
        ),
        None => ROLE_UI.to_string(),
    };
    use_rec(id, min, KEY, "").replace(
        r#""userIdentity":{"type":"AWSService","invokedBy":"proton.us-east-1.amazonaws.com"}"#,
        &ui,
    )
}

/// A CreateKey of KEY; `policy` is the request's `policy` member as JSON (None: absent).
fn create_key(id: &str, min: i64, policy: Option<&str>) -> String {
    let policy = policy.map_or(String::new(), |p| format!(r#","policy":{p}"#));
    format!(
        r#"{{"eventSource":"kms.amazonaws.com","eventName":"CreateKey","eventID":"{id}","eventTime":"{}","awsRegion":"us-east-1","recipientAccountId":"111122223333",
        "userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/admin","accountId":"111122223333"}},
        "requestParameters":{{"keyUsage":"ENCRYPT_DECRYPT"{policy}}},"responseElements":{{"keyMetadata":{{"arn":"{KEY}","keyId":"k1"}}}}}}"#,
        time(min)
    )
}

fn put_policy(id: &str, min: i64, policy: &str) -> String {
    simple(
        id,
        min,
        "PutKeyPolicy",
        &format!(
            r#","requestParameters":{{"keyId":"{KEY}","policyName":"default","policy":{policy}}}"#
        ),
    )
}

/// A policy as a JSON string member value.
fn text(statements: &str) -> String {
    serde_json::to_string(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#
    ))
    .unwrap()
}

const ALLOW_APP: &str = r#"{"Sid":"AllowApp","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/App"},"Action":"kms:Decrypt","Resource":"*"}"#;
const ADMIN_ONLY: &str = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:*","Resource":"*"}"#;

/// (rule, severity, authorization, related) of the findings on event `id`.
fn on(f: &[Finding], id: &str) -> Vec<(Rule, Severity, Option<Verdict>, Vec<String>)> {
    f.iter()
        .filter(|x| x.event_id == id)
        .map(|x| {
            (
                x.rule,
                x.severity,
                x.authorization,
                x.related_event_ids.clone(),
            )
        })
        .collect()
}

/// The one finding on the App role's Decrypt 5 minutes after a CreateKey whose policy holds
/// `statements`: its severity, verdict and message.
fn under(statements: &str) -> (Severity, Option<Verdict>, String) {
    let f = full(
        &[
            create_key("ck", 0, Some(&text(statements))),
            role_use("u", 5, None),
        ],
        300,
    );
    assert_eq!(f.len(), 1, "{f:?}");
    (f[0].severity, f[0].authorization, f[0].message.clone())
}

fn message(f: &[Finding], id: &str) -> String {
    f.iter()
        .find(|x| x.event_id == id)
        .map(|x| x.message.clone())
        .unwrap_or_default()
}

#[test]
fn no_policy_in_the_input_is_unknown_and_medium() {
    let f = full(&[role_use("u", 5, None)], 300);
    assert_eq!(
        on(&f, "u"),
        vec![(
            Rule::UseWithoutGrant,
            Severity::Medium,
            Some(Verdict::Unknown),
            vec![]
        )]
    );
    assert!(message(&f, "u").ends_with(" Key policy: no policy of this key is in the input."));
}

#[test]
fn the_default_policy_delegates_iam_principals_but_not_services() {
    let ck = create_key("ck", 0, None);
    let f = full(&[ck.clone(), role_use("u", 5, None)], 300);
    assert_eq!(
        on(&f, "u"),
        vec![(
            Rule::UseWithoutGrant,
            Severity::Low,
            Some(Verdict::IamDelegated),
            vec!["ck".to_string()]
        )]
    );
    assert!(message(&f, "u").ends_with(
        " Key policy: the default key policy delegates it to the IAM policies of account 111122223333."
    ));
    assert!(f[0].advice.starts_with("Check this caller's IAM policies"));
    // Root delegation does not reach AWS services: proton.amazonaws.com itself is unexplained.
    let f = full(&[ck, use_rec("s", 5, KEY, "")], 300);
    assert_eq!(
        on(&f, "s"),
        vec![(
            Rule::UseWithoutGrant,
            Severity::High,
            Some(Verdict::Unexplained),
            vec!["ck".to_string()]
        )]
    );
    assert!(message(&f, "s")
        .ends_with(" Key policy: no statement of the default key policy allows it."));
}

#[test]
fn an_encryption_context_condition_decides_between_key_policy_and_unexplained() {
    let stmt = format!(
        r#"{{"Sid":"ProtonWeb","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:role/App"}},"Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*","Condition":{{"StringEquals":{{"kms:EncryptionContext:aws:proton:template":"{TEMPLATE}"}}}}}},{ADMIN_ONLY}"#
    );
    let ck = create_key("ck", 0, Some(&text(&stmt)));
    let f = full(&[ck.clone(), role_use("u", 5, None)], 300);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].severity, f[0].authorization),
        (Severity::Low, Some(Verdict::KeyPolicy))
    );
    assert!(f[0].message.ends_with(&format!(
        " Key policy: statement \"ProtonWeb\" of the policy set by CreateKey at {} allows it.",
        time(0)
    )));
    assert!(f[0].advice.starts_with("No grant is needed"));
    // Another template: the condition is false, the admin statement names someone else.
    let other = role_use("o", 5, None).replace("service-template/web", "service-template/batch");
    let f = full(&[ck, other], 300);
    assert_eq!(
        (f[0].severity, f[0].authorization),
        (Severity::High, Some(Verdict::Unexplained))
    );
    assert!(f[0].message.ends_with(&format!(
        " Key policy: no statement of the policy set by CreateKey at {} allows it.",
        time(0)
    )));
}

#[test]
fn after_a_put_key_policy_both_versions_count_for_grace_inclusive() {
    let ck = create_key("ck", 0, Some(&text(ALLOW_APP)));
    let put = put_policy("put", 10, &text(ADMIN_ONLY));
    // Exactly grace (300 s) after the PutKeyPolicy: the old version may still be in force,
    // and it is the more permissive.
    let at = role_use("at", 10, None).replace(
        &time(10),
        &format_time(1_767_225_600_000 + 10 * 60_000 + 300_000),
    );
    let after = role_use("after", 16, None);
    let f = full(&[ck, put, at, after], 300);
    assert_eq!(
        on(&f, "at"),
        vec![(
            Rule::UseWithoutGrant,
            Severity::Low,
            Some(Verdict::KeyPolicy),
            vec!["ck".to_string()]
        )]
    );
    assert_eq!(
        on(&f, "after"),
        vec![(
            Rule::UseWithoutGrant,
            Severity::High,
            Some(Verdict::Unexplained),
            vec!["put".to_string()]
        )]
    );
    assert!(message(&f, "at").ends_with(&format!(
        " Key policy: statement \"AllowApp\" of the policy set by CreateKey at {} allows it.",
        time(0)
    )));
    assert!(message(&f, "after").ends_with(&format!(
        " Key policy: no statement of the policy set by PutKeyPolicy at {} allows it.",
        time(10)
    )));
}

#[test]
fn a_first_put_key_policy_leaves_the_unknown_policy_before_it_in_force_for_grace() {
    let put = put_policy("put", 10, &text(ADMIN_ONLY));
    let f = full(
        &[
            put.clone(),
            role_use("in", 12, None),
            role_use("out", 16, None),
        ],
        300,
    );
    assert_eq!(
        on(&f, "in"),
        vec![(
            Rule::UseWithoutGrant,
            Severity::Medium,
            Some(Verdict::Unknown),
            vec![]
        )]
    );
    assert_eq!(
        on(&f, "out"),
        vec![(
            Rule::UseWithoutGrant,
            Severity::High,
            Some(Verdict::Unexplained),
            vec!["put".to_string()]
        )]
    );
    // A use before the first version knows no policy.
    let f = full(&[put, role_use("before", 5, None)], 300);
    assert_eq!(f[0].authorization, Some(Verdict::Unknown));
}

#[test]
fn an_explicit_deny_wins_and_an_unevaluable_one_is_unknown() {
    let deny = r#"{"Sid":"NoApp","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:role/App"},"Action":"kms:Decrypt","Resource":"*"}"#;
    let all = r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}"#;
    let (severity, verdict, message) = under(&format!("{all},{deny}"));
    assert_eq!(
        (severity, verdict),
        (Severity::High, Some(Verdict::Unexplained))
    );
    assert!(message.ends_with(&format!(
        " Key policy: statement \"NoApp\" of the policy set by CreateKey at {} denies it.",
        time(0)
    )));
    let maybe = r#"{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#;
    let (severity, verdict, message) = under(&format!("{all},{maybe}"));
    assert_eq!(
        (severity, verdict),
        (Severity::Medium, Some(Verdict::Unknown))
    );
    assert!(message.ends_with(&format!(
        " Key policy: statement 2 of the policy set by CreateKey at {} cannot be evaluated from the log.",
        time(0)
    )));
}

#[test]
fn unknown_condition_keys_and_unreadable_policies_are_unknown() {
    let cond = r#"{"Sid":"Grantable","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/App"},"Action":"kms:Decrypt","Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}"#;
    let (severity, verdict, _) = under(cond);
    assert_eq!(
        (severity, verdict),
        (Severity::Medium, Some(Verdict::Unknown))
    );
    let bad = put_policy("put", 1, r#""{not json""#);
    let f = full(&[bad, role_use("u", 10, None)], 300);
    assert_eq!(
        on(&f, "u"),
        vec![(
            Rule::UseWithoutGrant,
            Severity::Medium,
            Some(Verdict::Unknown),
            vec!["put".to_string()]
        )]
    );
    assert!(message(&f, "u").ends_with(&format!(
        " Key policy: the policy set by PutKeyPolicy at {} cannot be read.",
        time(1)
    )));
}

#[test]
fn a_policy_logged_as_an_object_with_not_action_reads_the_same() {
    let obj = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/App"},"NotAction":["kms:ScheduleKeyDeletion","kms:PutKeyPolicy"],"Resource":"*"}]}"#;
    let f = full(&[put_policy("put", 0, obj), role_use("u", 10, None)], 300);
    assert_eq!(
        (f[0].severity, f[0].authorization),
        (Severity::Low, Some(Verdict::KeyPolicy))
    );
    assert!(f[0].message.ends_with(&format!(
        " Key policy: statement 1 of the policy set by PutKeyPolicy at {} allows it.",
        time(0)
    )));
    // NotAction listing Decrypt: nothing allows it.
    let no = obj.replace("kms:ScheduleKeyDeletion", "kms:Decrypt");
    let f = full(&[put_policy("put", 0, &no), role_use("u", 10, None)], 300);
    assert_eq!(f[0].authorization, Some(Verdict::Unexplained));
}

#[test]
fn via_service_matches_a_forward_access_session_and_an_internal_caller_is_unknown() {
    let via = r#"{"Sid":"ViaProton","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"proton.us-east-1.amazonaws.com","kms:CallerAccount":"111122223333"}}}"#;
    let ck = create_key("ck", 0, Some(&text(via)));
    let f = full(
        &[ck.clone(), role_use("u", 5, Some("proton.amazonaws.com"))],
        300,
    );
    assert_eq!(
        (f[0].severity, f[0].authorization),
        (Severity::Low, Some(Verdict::KeyPolicy))
    );
    // Not through Proton: the condition is false.
    let f = full(&[ck.clone(), role_use("u", 5, None)], 300);
    assert_eq!(f[0].authorization, Some(Verdict::Unexplained));
    // invokedBy that is not a service host: kms:ViaService cannot be told.
    let f = full(&[ck, role_use("u", 5, Some("AWS Internal"))], 300);
    assert_eq!(f[0].authorization, Some(Verdict::Unknown));
}

#[test]
fn a_retired_grant_with_a_key_policy_behind_it_is_low_and_names_both_events() {
    let ck = create_key("ck", 0, Some(&text(ALLOW_APP)));
    let g = grant_rec(
        "g",
        1,
        "G1",
        OPS,
        SUBSET,
        "arn:aws:iam::111122223333:role/App",
    );
    let retire = simple(
        "r",
        2,
        "RetireGrant",
        r#","additionalEventData":{"grantId":"G1"},"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/App/s"}"#,
    );
    let f = full(&[ck, g, retire, role_use("u", 20, None)], 300);
    assert_eq!(
        on(&f, "u"),
        vec![(
            Rule::UseAfterGrantRetired,
            Severity::Low,
            Some(Verdict::KeyPolicy),
            vec!["r".to_string(), "ck".to_string()]
        )]
    );
}

#[test]
fn covered_uses_and_other_rules_carry_no_authorization() {
    let g = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
    let f = full(&[g, use_rec("u", 1, KEY, "")], 300);
    assert!(f.is_empty(), "{f:?}");
    let f = full(
        &[simple("d", 0, "DisableKey", ""), use_rec("u", 10, KEY, "")],
        300,
    );
    assert!(f
        .iter()
        .any(|x| x.rule == Rule::UseAfterKeyDisabled && x.authorization.is_none()));
    assert!(f
        .iter()
        .all(|x| x.rule == Rule::UseWithoutGrant || x.authorization.is_none()));
}

#[test]
fn re_encrypt_asks_each_key_for_its_own_side() {
    let from_only = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/App"},"Action":"kms:ReEncryptFrom","Resource":"*"}"#;
    let ck = create_key("ck", 0, Some(&text(from_only)));
    let re = role_use("re", 5, None)
        .replace(r#""eventName":"Decrypt""#, r#""eventName":"ReEncrypt""#)
        .replace(r#""encryptionContext""#, r#""destinationKeyId":"arn:aws:kms:us-east-1:111122223333:key/k2","destinationEncryptionContext":{"aws:proton:template":"arn:aws:proton:us-east-1:111122223333:service-template/web","aws:proton:resource":"arn:aws:proton:us-east-1:111122223333:service/api"},"sourceEncryptionContext""#);
    let f = full(&[ck, re], 300);
    let on_key: Vec<_> = f
        .iter()
        .map(|x| (x.key_arn.as_deref().unwrap_or(""), x.authorization))
        .collect();
    assert!(
        on_key.contains(&(KEY, Some(Verdict::KeyPolicy))),
        "{on_key:?}"
    );
    assert!(
        on_key.contains(&(
            "arn:aws:kms:us-east-1:111122223333:key/k2",
            Some(Verdict::Unknown)
        )),
        "{on_key:?}"
    );
}
