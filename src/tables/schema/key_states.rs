//! The `key_states` table: the key-state timeline: one row per successful change. [`KeyStateRow`] is its typed row, declared
//! once with each column's type and meaning; [`KEY_STATES`] and the row's cells come from
//! the same declaration (see `table_row!`).

super::table_row! {
    /// One `key_states` row.
    pub struct KeyStateRow<'a>;
    /// The columns of `key_states`, in file order.
    pub const KEY_STATES;
        event_time: Time => "When the state changed.",
        event_id: Str => "The state-change event.",
        key_arn: Str => "Key.",
        event_name: Str => "DisableKey, EnableKey, ScheduleKeyDeletion, ...",
        state: Str => "State the event reports or implies (Disabled, Enabled, PendingDeletion, PendingImport, Deleted, Creating, Unavailable, ...; null for ConnectCustomKeyStore, which restores).",
        usable: Bool => "Whether the key can be used in that state.",
        state_class: Str => "usable, unusable or transient (see kms_events.key_state_class).",
        previous_state: Str => "State after the key's previous change in the input.",
        principal: Str => "Who changed it.",
        deletion_date: Str => "ScheduleKeyDeletion deletionDate, as written.",
        pending_window_days: Str => "ScheduleKeyDeletion pendingWindowInDays.",
        key_material_id: Str => "Key material the event names.",
        material_assumed_current: Bool => "DeleteImportedKeyMaterial naming no key material: assumed to delete the current one.",
        custom_key_store_id: Str => "Connect/DisconnectCustomKeyStore: the store.",
        source: Str => "trail (a change the input logs) or snapshot (the state a --baseline snapshot recorded at its time, event_name DescribeKey, no event id; not a change).",
}
