//! What to do about a finding: one sentence per rule and situation (testdata/RULES.md,
//! section 5). The Athena view `findings_recomputed` writes the same sentences.

use super::format_time;

pub const USE_AFTER_GRANT_RETIRED: &str = "Recreate the grant (CreateGrant) if this caller still needs the key, or find the key policy or IAM statement that now allows the call.";
pub const KEY_POLICY_ALLOWS: &str = "No grant is needed: the key policy allows this call; narrow that statement if this caller should not use the key.";
pub const IAM_DELEGATED: &str = "Check this caller's IAM policies: the key policy lets them allow this call, which CloudTrail does not show.";
pub const GRANT_MISSING: &str = "Check the trail's event selectors and delivery for that time: the input misses at least this CreateGrant.";
pub const USE_AFTER_KEY_DISABLED: &str = "Check the key's state now (DescribeKey): a successful use of an unusable key means the input misses a state change.";
pub const DENIED_AFTER_GRANT_REMOVED: &str =
    "Recreate the grant (CreateGrant) for this caller to restore access.";
pub const DENIED_ACCESS: &str =
    "Check the key policy, IAM policies and grants of this caller for this operation and context.";
pub const KEY_DELETED: &str =
    "Restore these resources' data from another copy, or recreate them under a new key.";
pub const ROUTINE_REMOVAL: &str = "No action if the service retired its own grant after use; recreate it (CreateGrant) if these resources still need the key.";
pub const OTHER_REMOVAL: &str = "Recreate the grant (CreateGrant) if these resources still need the key, and check who removed it.";
pub const MALFORMED_CONTEXT: &str =
    "Check the software that sends this context: both profile keys must carry matching ARNs.";
pub const TRANSIENT: &str = "Retry once the key is available again; if the failure persists, check the custom key store or the replica (DescribeKey).";
pub const JUST_USABLE: &str =
    "Retry: the change that made the key usable may not have taken effect yet.";
pub const LATER_USABLE: &str = "Check the key's state and this request (DescribeKey): the key was usable after its last known change.";
pub const UNKNOWN_STATE: &str = "Check the key's state (DescribeKey): enable it, cancel its deletion or import its material, whichever it needs.";

pub fn use_without_grant(t: i64) -> String {
    format!(
        "Feed logs from before {} or a grant snapshot: the grant that allowed this call may predate the input; if none did, find the key policy or IAM statement that allows it.",
        format_time(t)
    )
}

fn deletion_date(date: Option<&str>) -> &str {
    date.unwrap_or("the end of the waiting period")
}

/// Advice for a use denied in an unusable state.
pub fn restore_from(state: &str, date: Option<&str>) -> String {
    match state {
        "Disabled" => "Enable the key (EnableKey) to restore access.".into(),
        "PendingDeletion" | "PendingReplicaDeletion" => format!(
            "Cancel the deletion (CancelKeyDeletion) before {}, then enable the key (EnableKey).",
            deletion_date(date)
        ),
        "PendingImport" => {
            "Import the key material again (ImportKeyMaterial) to restore access.".into()
        }
        _ => {
            "The key is deleted: its data cannot be decrypted; restore it from another copy.".into()
        }
    }
}

pub fn denied_access_just_granted(created: i64) -> String {
    format!(
        "Retry: the grant created at {} may not have taken effect yet.",
        format_time(created)
    )
}

/// Advice for a change that leaves dependents without their data.
pub fn key_disabled(event_name: &str, date: Option<&str>) -> String {
    match event_name {
        "DisableKey" => {
            "Enable the key (EnableKey) if these resources still need their data.".into()
        }
        "ScheduleKeyDeletion" => format!(
            "Cancel the deletion (CancelKeyDeletion) before {} if these resources still need their data.",
            deletion_date(date)
        ),
        _ => "Import the same key material again (ImportKeyMaterial) if these resources still need their data.".into(),
    }
}
