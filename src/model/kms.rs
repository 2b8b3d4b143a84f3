//! The KMS model: what one CloudTrail record of `kms.amazonaws.com` means.
//!
//! This module owns classification (key use, grant change, key-state change, other), key
//! identity (resolving the key ARN from `resources[]`, `keyId` or a bare id), the caller's
//! identities, and the grant and key-state facts of a record. It reads records through the
//! tolerant [`RawObject`] view and returns owned values: it never fails on a record.

mod caller;

pub use caller::{Caller, IdentityFacts};

use crate::model::arn;
use crate::read::rawjson::{self, RawObject};
use chrono::{DateTime, NaiveDateTime};
use std::collections::BTreeMap;

/// The event source of KMS records.
pub const KMS_SOURCE: &str = "kms.amazonaws.com";

/// What a KMS event does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// A cryptographic use of a key (Decrypt, Encrypt, GenerateDataKey*, ReEncrypt, ...).
    KeyUse,
    /// CreateGrant, RetireGrant, RevokeGrant.
    GrantChange,
    /// A change of the key's usability (DisableKey, ScheduleKeyDeletion, ...).
    KeyStateChange,
    /// Any other KMS call.
    #[default]
    Other,
}

impl Category {
    /// Parses the names [`Category::as_str`] gives.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "key-use" => Category::KeyUse,
            "grant-change" => Category::GrantChange,
            "key-state-change" => Category::KeyStateChange,
            "other" => Category::Other,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Category::KeyUse => "key-use",
            Category::GrantChange => "grant-change",
            Category::KeyStateChange => "key-state-change",
            Category::Other => "other",
        }
    }
}

/// Classifies a KMS event name.
pub fn classify(event_name: &str) -> Category {
    match event_name {
        "Decrypt" | "Encrypt" | "ReEncrypt" | "Sign" | "Verify" | "GenerateMac" | "VerifyMac"
        | "DeriveSharedSecret" => Category::KeyUse,
        n if n.starts_with("GenerateDataKey") => Category::KeyUse,
        "CreateGrant" | "RetireGrant" | "RevokeGrant" => Category::GrantChange,
        "DisableKey"
        | "EnableKey"
        | "ScheduleKeyDeletion"
        | "CancelKeyDeletion"
        | "DeleteKey"
        | "DeleteImportedKeyMaterial"
        | "DeleteExpiredKeyMaterial"
        | "ImportKeyMaterial"
        | "ReplicateKey"
        | "UpdatePrimaryRegion"
        | "DisconnectCustomKeyStore"
        | "ConnectCustomKeyStore" => Category::KeyStateChange,
        _ => Category::Other,
    }
}

/// The state a successful key-state event leaves when its record does not say
/// (`responseElements.keyState` wins). `None` for ConnectCustomKeyStore, which restores
/// each key's own state (see `rules::states`).
pub fn default_state(event_name: &str) -> Option<&'static str> {
    Some(match event_name {
        "DisableKey" => "Disabled",
        "EnableKey" => "Enabled",
        "ScheduleKeyDeletion" => "PendingDeletion",
        // The key comes back disabled, not enabled.
        "CancelKeyDeletion" => "Disabled",
        "DeleteKey" => "Deleted",
        "DeleteImportedKeyMaterial" | "DeleteExpiredKeyMaterial" => "PendingImport",
        "ImportKeyMaterial" => "Enabled",
        "ReplicateKey" => "Creating",
        "UpdatePrimaryRegion" => "Updating",
        "DisconnectCustomKeyStore" => "Unavailable",
        _ => return None,
    })
}

/// What a key state means for the rules ("Key states of AWS KMS keys").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateClass {
    /// Enabled.
    Usable,
    /// Disabled, PendingDeletion, PendingReplicaDeletion, PendingImport, Deleted.
    Unusable,
    /// Unavailable, Creating, Updating, and any state KMS may add: not a user's choice, and
    /// over by itself.
    Transient,
}

impl StateClass {
    pub fn of(state: &str) -> StateClass {
        match state {
            "Enabled" => StateClass::Usable,
            "Disabled"
            | "PendingDeletion"
            | "PendingReplicaDeletion"
            | "PendingImport"
            | "Deleted" => StateClass::Unusable,
            _ => StateClass::Transient,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StateClass::Usable => "usable",
            StateClass::Unusable => "unusable",
            StateClass::Transient => "transient",
        }
    }
}

/// Parses a CloudTrail `eventTime` into Unix milliseconds (UTC). Accepts ISO-8601 with a
/// zone (`2026-03-02T15:30:00Z`) and the zone-less forms other tools re-export
/// (`2021-10-19 00:56:05.00000`), read as UTC.
pub fn parse_event_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.fZ",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    None
}

/// A reference to a key as resolved from a record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRef {
    /// The key ARN, when it could be resolved.
    pub arn: Option<String>,
    /// What the record said (key id, ARN, alias), when it said something.
    pub given: Option<String>,
}

impl KeyRef {
    pub fn resolved(&self) -> bool {
        self.arn.is_some()
    }
}

/// One use of one key by a key-use event. ReEncrypt has two: its source and destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    pub key: KeyRef,
    /// The grant operation this use needs (`ReEncryptFrom`/`ReEncryptTo` for ReEncrypt).
    pub operation: String,
    pub context: Option<BTreeMap<String, String>>,
}

/// The grant facts of a grant-change event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantFacts {
    pub grant_id: Option<String>,
    pub grant_name: Option<String>,
    /// `granteePrincipal` as written.
    pub grantee: Option<String>,
    pub retiring_principal: Option<String>,
    /// `granteeServicePrincipal`: a grant to an AWS service, named instead of `grantee`.
    pub grantee_service_principal: Option<String>,
    pub retiring_service_principal: Option<String>,
    /// The grant's source-ARN constraint (`constraints.sourceArn`, else
    /// `requestParameters.sourceArn`): CloudTrail does not log a call's source ARN, so it
    /// is kept but never checked.
    pub source_arn: Option<String>,
    /// `None` when the request listed no operations (such a grant covers nothing).
    pub operations: Option<Vec<String>>,
    /// `encryptionContextSubset` or `encryptionContextEquals`.
    pub constraint_kind: Option<String>,
    pub constraint: Option<BTreeMap<String, String>>,
}

impl GrantFacts {
    /// Whom the grant serves, normalised: the grantee principal, else the grantee service
    /// principal (a bare account id is that account's root, in the key's partition).
    pub fn grantee_normalized(&self, key_arn: Option<&str>) -> Option<String> {
        self.grantee
            .as_deref()
            .or(self.grantee_service_principal.as_deref())
            .map(|p| arn::normalize_grantee(p, key_arn))
    }

    /// Who may retire the grant, normalised like the grantee.
    pub fn retiring_normalized(&self, key_arn: Option<&str>) -> Option<String> {
        self.retiring_principal
            .as_deref()
            .or(self.retiring_service_principal.as_deref())
            .map(|p| arn::normalize_grantee(p, key_arn))
    }
}

/// One distinct KMS event, as keytrail models it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KmsEvent {
    pub event_id: Option<String>,
    /// Unix milliseconds, UTC; `None` when the record has no usable time.
    pub event_time: Option<i64>,
    pub event_time_raw: Option<String>,
    pub event_name: String,
    pub event_type: Option<String>,
    pub category: Category,
    pub account_id: Option<String>,
    pub region: Option<String>,
    /// The primary key (for ReEncrypt, the source key).
    pub key: KeyRef,
    pub caller: Caller,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub read_only: Option<bool>,
    pub request_id: Option<String>,
    /// The primary encryption context (for ReEncrypt, the source context).
    pub encryption_context: Option<BTreeMap<String, String>>,
    /// Key uses (empty unless the category is key use).
    pub uses: Vec<KeyUse>,
    pub grant: Option<GrantFacts>,
    /// For a key-state change: the state the key is left in (also when the call failed,
    /// in which case nothing changed; see `error_code`).
    pub key_state: Option<String>,
    /// ScheduleKeyDeletion's `deletionDate`, as written (not always ISO).
    pub deletion_date: Option<String>,
    pub pending_window_days: Option<String>,
    /// `sharedEventID`: the same call logged in another account has the same one.
    pub shared_event_id: Option<String>,
    /// The key material an ImportKeyMaterial or DeleteImportedKeyMaterial names
    /// (`keyMaterialId` in the request, else the response).
    pub key_material_id: Option<String>,
    /// ImportKeyMaterial's `importType` (`NEW_KEY_MATERIAL`, `EXISTING_KEY_MATERIAL`).
    pub import_type: Option<String>,
    /// The custom key store of the key (CreateKey, a use's `additionalEventData`) or of a
    /// ConnectCustomKeyStore/DisconnectCustomKeyStore call.
    pub custom_key_store_id: Option<String>,
    /// CreateKey, ReplicateKey and PutKeyPolicy: `requestParameters.policy` as logged (the
    /// text of a JSON string, the raw JSON of an object); `None` when absent, null or empty
    /// (for CreateKey and ReplicateKey, KMS then applied its default key policy).
    pub key_policy: Option<String>,
}

impl KmsEvent {
    /// Whether the call succeeded (no `errorCode`).
    pub fn succeeded(&self) -> bool {
        self.error_code.is_none()
    }
}

/// Whether the record is a KMS record.
pub fn is_kms(rec: &RawObject<'_>) -> bool {
    rec.text("eventSource").as_deref() == Some(KMS_SOURCE)
}

/// Builds the KMS model of a record (call only for KMS records).
pub fn from_record(rec: &RawObject<'_>) -> KmsEvent {
    let owned = |k: &str| rec.text(k).map(|s| s.into_owned());
    let event_name = owned("eventName").unwrap_or_default();
    let category = classify(&event_name);
    let event_time_raw = owned("eventTime");
    let event_time = event_time_raw.as_deref().and_then(parse_event_time);
    let region = owned("awsRegion");
    let caller = Caller::from_record(rec, region.as_deref());
    let account_id = owned("recipientAccountId").or_else(|| caller.account_id.clone());
    let req = rec.object("requestParameters").unwrap_or_default();
    let resp = rec.object("responseElements").unwrap_or_default();
    let extra = rec.object("additionalEventData").unwrap_or_default();
    let resources: Vec<String> = rec
        .get("resources")
        .and_then(rawjson::array)
        .unwrap_or_default()
        .into_iter()
        .filter_map(RawObject::of)
        .filter(|r| r.text("type").map(|t| t == "AWS::KMS::Key").unwrap_or(true))
        .filter_map(|r| r.text("ARN").map(|s| s.into_owned()))
        .filter(|a| arn::is_key_arn(a))
        .collect();
    let resolve = |resource: Option<&String>, candidates: &[Option<String>]| -> KeyRef {
        let given = candidates.iter().flatten().next().cloned();
        if let Some(a) = resource {
            return KeyRef {
                arn: Some(a.clone()),
                given,
            };
        }
        if let Some(a) = candidates.iter().flatten().find(|c| arn::is_key_arn(c)) {
            return KeyRef {
                arn: Some(a.clone()),
                given,
            };
        }
        if let (Some(id), Some(r), Some(acct)) = (
            candidates.iter().flatten().find(|c| arn::is_bare_key_id(c)),
            region.as_deref(),
            account_id.as_deref(),
        ) {
            return KeyRef {
                arn: Some(arn::key_arn_from_id(id, r, acct)),
                given,
            };
        }
        KeyRef { arn: None, given }
    };
    let text_of =
        |o: Option<&RawObject<'_>>, k: &str| o.and_then(|o| o.text(k).map(|s| s.into_owned()));
    // ReplicateKey changes the state of the replica it creates; CreateKey names its key
    // in the response.
    let replica = resp.object("replicaKeyMetadata");
    let key = match text_of(replica.as_ref(), "arn").filter(|_| event_name == "ReplicateKey") {
        Some(a) => KeyRef {
            given: req.text("keyId").map(|s| s.into_owned()),
            arn: Some(a),
        },
        None => resolve(
            resources.first(),
            &[
                req.text("keyId").map(|s| s.into_owned()),
                resp.text("keyId").map(|s| s.into_owned()),
                req.text("sourceKeyId").map(|s| s.into_owned()),
                text_of(resp.object("keyMetadata").as_ref(), "arn"),
            ],
        ),
    };
    let ctx_of = |o: &RawObject<'_>, k: &str| o.get(k).and_then(rawjson::string_map);

    let mut uses = Vec::new();
    let mut encryption_context = ctx_of(&req, "encryptionContext");
    if category == Category::KeyUse {
        if event_name == "ReEncrypt" {
            let src_ctx = ctx_of(&req, "sourceEncryptionContext");
            encryption_context = src_ctx.clone();
            uses.push(KeyUse {
                key: key.clone(),
                operation: "ReEncryptFrom".into(),
                context: src_ctx,
            });
            let dest = resolve(
                resources.get(1),
                &[req.text("destinationKeyId").map(|s| s.into_owned())],
            );
            uses.push(KeyUse {
                key: dest,
                operation: "ReEncryptTo".into(),
                context: ctx_of(&req, "destinationEncryptionContext"),
            });
        } else {
            uses.push(KeyUse {
                key: key.clone(),
                operation: event_name.clone(),
                context: encryption_context.clone(),
            });
        }
    }

    let grant = (category == Category::GrantChange).then(|| {
        let constraints = req.object("constraints");
        let (constraint_kind, constraint) = constraints
            .as_ref()
            .and_then(|c| {
                ["encryptionContextEquals", "encryptionContextSubset"]
                    .into_iter()
                    .find_map(|k| c.get(k).and_then(rawjson::string_map).map(|m| (k, m)))
            })
            .map(|(k, m)| (Some(k.to_string()), Some(m)))
            .unwrap_or((None, None));
        let source_arn = constraints
            .as_ref()
            .and_then(|c| first_text(c, "sourceArn"))
            .or_else(|| first_text(&req, "sourceArn"));
        GrantFacts {
            grantee_service_principal: req.text("granteeServicePrincipal").map(|s| s.into_owned()),
            retiring_service_principal: req
                .text("retiringServicePrincipal")
                .map(|s| s.into_owned()),
            source_arn,
            grant_id: resp
                .text("grantId")
                .or_else(|| extra.text("grantId"))
                .or_else(|| req.text("grantId"))
                .map(|s| s.into_owned()),
            grant_name: req.text("name").map(|s| s.into_owned()),
            grantee: req.text("granteePrincipal").map(|s| s.into_owned()),
            retiring_principal: req.text("retiringPrincipal").map(|s| s.into_owned()),
            operations: req.get("operations").and_then(rawjson::string_list),
            constraint_kind,
            constraint,
        }
    });

    let key_state = (category == Category::KeyStateChange)
        .then(|| {
            replica
                .as_ref()
                .filter(|_| event_name == "ReplicateKey")
                .and_then(|r| r.text("keyState"))
                .or_else(|| resp.text("keyState"))
                .map(|s| s.into_owned())
                .or_else(|| default_state(&event_name).map(str::to_string))
        })
        .flatten();
    let custom_key_store_id = req
        .text("customKeyStoreId")
        .or_else(|| extra.text("customKeyStoreId"))
        .map(|s| s.into_owned())
        .or_else(|| text_of(resp.object("keyMetadata").as_ref(), "customKeyStoreId"))
        .filter(|s| !s.is_empty());

    KmsEvent {
        event_id: owned("eventID"),
        event_time,
        event_time_raw,
        event_type: owned("eventType"),
        category,
        account_id,
        region,
        key,
        caller,
        source_ip: owned("sourceIPAddress"),
        user_agent: owned("userAgent"),
        error_code: owned("errorCode").filter(|s| !s.is_empty()),
        error_message: owned("errorMessage"),
        read_only: rec.boolean("readOnly"),
        request_id: owned("requestID"),
        encryption_context,
        uses,
        grant,
        key_state,
        deletion_date: resp.text("deletionDate").map(|s| s.into_owned()),
        pending_window_days: req.text("pendingWindowInDays").map(|s| s.into_owned()),
        shared_event_id: owned("sharedEventID").filter(|s| !s.is_empty()),
        key_material_id: req
            .text("keyMaterialId")
            .or_else(|| resp.text("keyMaterialId"))
            .map(|s| s.into_owned())
            .filter(|s| !s.is_empty()),
        import_type: req.text("importType").map(|s| s.into_owned()),
        custom_key_store_id,
        key_policy: POLICY_EVENTS
            .contains(&event_name.as_str())
            .then(|| policy_text(&req))
            .flatten(),
        event_name,
    }
}

/// The events that set a key policy (RULES.md section 6.1).
pub const POLICY_EVENTS: [&str; 3] = ["CreateKey", "ReplicateKey", "PutKeyPolicy"];

/// `requestParameters.policy`: a string as its text, an object (some re-exported records)
/// as its raw JSON; absent, null, blank or any other JSON type gives `None`.
fn policy_text(req: &RawObject<'_>) -> Option<String> {
    let raw = req.get("policy")?;
    let t = raw.get().trim_start();
    if t.starts_with('{') {
        return Some(raw.get().to_string());
    }
    if !t.starts_with('"') {
        return None;
    }
    rawjson::text(raw)
        .map(|s| s.into_owned())
        .filter(|s| !s.trim().is_empty())
}

/// A string field, or the first string of a list field.
fn first_text(o: &RawObject<'_>, k: &str) -> Option<String> {
    o.text(k).map(|s| s.into_owned()).or_else(|| {
        o.get(k)
            .and_then(rawjson::string_list)
            .and_then(|v| v.into_iter().next())
    })
}

#[cfg(test)]
mod tests;
