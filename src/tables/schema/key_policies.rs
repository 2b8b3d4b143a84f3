//! The `key_policies` table: every key policy version, one row per statement. [`KeyPolicyRow`] is its typed row, declared
//! once with each column's type and meaning; [`KEY_POLICIES`] and the row's cells come from
//! the same declaration (see `table_row!`).

super::table_row! {
    /// One `key_policies` row.
    pub struct KeyPolicyRow<'a>;
    /// The columns of `key_policies`, in file order.
    pub const KEY_POLICIES;
        event_time: Time => "When the version took effect (the event's time; snapshot: inferred).",
        event_id: Str => "The CreateKey, ReplicateKey or PutKeyPolicy event (null for a snapshot).",
        event_name: Str => "That event's name.",
        key_arn: Str => "Key.",
        source: Str => "CreateKey, ReplicateKey, PutKeyPolicy, default (KMS's default key policy, applied when CreateKey or ReplicateKey names none) or snapshot.",
        principal: Str => "Who set the policy.",
        policy_error: Str => "Why the version cannot be read (null when it can): its findings are then unknown.",
        statement_count: Int => "Statements in the version.",
        statement_index: Int => "The statement's position, from 1 (null on the one row of a version with no readable statement).",
        sid: Str => "The statement's Sid.",
        effect: Str => "Allow or Deny (as written).",
        principals: StrList => "Principal (or NotPrincipal) values normalised as they are matched: a bare account id as its root ARN, role ARNs without path, service principals lower-case without Region; * for anyone.",
        not_principal: Bool => "Whether the statement names NotPrincipal rather than Principal.",
        actions: StrList => "Action values as written (null with NotAction).",
        not_actions: StrList => "NotAction values as written (null with Action).",
        conditions: Conditions => "One entry per condition operator and key, values as strings.",
        policy: Str => "The version's policy text as logged (the default key policy's JSON for default).",
}
