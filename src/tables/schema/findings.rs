//! The `findings` table: findings of the rules. [`FindingRow`] is its typed row, declared
//! once with each column's type and meaning; [`FINDINGS`] and the row's cells come from
//! the same declaration (see `table_row!`).

super::table_row! {
    /// One `findings` row.
    pub struct FindingRow<'a>;
    /// The columns of `findings`, in file order.
    pub const FINDINGS;
        rule: Str => "Rule id (see Findings).",
        severity: Str => "high, medium or low.",
        authorization: Str => "use-without-grant and use-after-grant-retired: what the key policy says of the call (key-policy, iam-delegated, unknown, unexplained); null for the other rules.",
        event_id: Str => "The event the finding is about.",
        event_time: Time => "Its time.",
        event_name: Str => "Its KMS operation.",
        key_arn: Str => "The key (for ReEncrypt, the side the finding is about).",
        principal: Str => "Normalised principal of the event.",
        proton_template: Str => "Template of the context (aggregate rules: when only one).",
        proton_resource: Str => "Resource of the context (aggregate rules: when only one).",
        related_event_ids: StrList => "Events that explain the finding.",
        message: Str => "One sentence saying why.",
        advice: Str => "One sentence saying what to do.",
}
