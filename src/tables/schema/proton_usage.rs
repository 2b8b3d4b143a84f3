//! The `proton_usage` table: key uses with a profile context, per day, key, template, resource, operation, principal and outcome. [`ProtonUsageRow`] is its typed row, declared
//! once with each column's type and meaning; [`PROTON_USAGE`] and the row's cells come from
//! the same declaration (see `table_row!`).

super::table_row! {
    /// One `proton_usage` row.
    pub struct ProtonUsageRow<'a>;
    /// The columns of `proton_usage`, in file order.
    pub const PROTON_USAGE;
        key_arn: Str => "Key ARN (null when unresolved).",
        profile: Str => "Context profile.",
        proton_template: Str => "Template value of the context.",
        proton_resource: Str => "Resource value of the context.",
        operation: Str => "Grant operation the use needs (Decrypt, ..., ReEncryptFrom/ReEncryptTo).",
        principal: Str => "Normalised principal.",
        outcome: Str => "success, or the errorCode.",
        event_count: Int => "Number of distinct uses.",
        first_seen: Time => "Earliest use.",
        last_seen: Time => "Latest use.",
}
