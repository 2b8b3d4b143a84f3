//! The `grants` table: one row per grant with its life as seen. [`GrantRow`] is its typed row, declared
//! once with each column's type and meaning; [`GRANTS`] and the row's cells come from
//! the same declaration (see `table_row!`).

super::table_row! {
    /// One `grants` row.
    pub struct GrantRow<'a>;
    /// The columns of `grants`, in file order.
    pub const GRANTS;
        grant_id: Str => "Grant id.",
        key_arn: Str => "Key the grant is on.",
        grant_name: Str => "Grant name.",
        grantee_principal: Str => "Grantee principal.",
        retiring_principal: Str => "Retiring principal.",
        grantee_service_principal: Str => "Grantee service principal (grants to AWS services).",
        retiring_service_principal: Str => "Retiring service principal.",
        source_arn: Str => "Source-ARN constraint, not checked (CloudTrail does not log a call's source ARN).",
        operations: StrList => "Operations the grant allows; null when the request listed none.",
        constraint_kind: Str => "encryptionContextSubset, encryptionContextEquals or null.",
        constraint_context: StrMap => "Constraint context.",
        created_time: Time => "When the grant was created (null: creation not in the input).",
        created_by: Str => "Principal that created it.",
        created_event_id: Str => "The CreateGrant event.",
        removed_time: Time => "First successful RetireGrant or RevokeGrant (null: still open).",
        removed_by: Str => "Principal that removed it.",
        removed_event_id: Str => "The removal event.",
        removed_via: Str => "RetireGrant or RevokeGrant.",
        removal_count: Int => "Successful removals seen (more than 1 means repeats).",
        source: Str => "trail (a CreateGrant or removal in the input) or snapshot (a ListGrants entry of a --baseline snapshot the input has no CreateGrant for).",
        snapshot_created_time: Time => "The CreationDate a --baseline snapshot gives the grant (the grant exists from the earlier of it and created_time: CreateGrant is idempotent).",
}
