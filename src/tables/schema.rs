//! The tables keytrail writes: one source of truth for every column.
//!
//! Each table is a static list of [`Column`]s (name, type, meaning). The Arrow schema, the
//! Parquet files, the README's column reference and the Athena DDL checks are all derived
//! from these lists, so a column cannot change in one place only. Rows are appended as
//! slices of [`Value`]s in column order and checked against the types.

mod batch;

pub use batch::{BatchBuilder, Value};

use arrow::array::Array;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use batch::{new_conditions_builder, new_list_builder, new_map_builder};
use std::sync::Arc;

/// A column's type, as keytrail uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    /// UTF-8 string.
    Str,
    Bool,
    /// 64-bit integer.
    Int,
    /// TIMESTAMP(MILLIS) in UTC (Athena engine v3 needs millisecond precision).
    Time,
    /// list<string>.
    StrList,
    /// map<string,string>.
    StrMap,
    /// A key policy statement's conditions:
    /// array<struct<operator:string,key:string,values:array<string>>>.
    Conditions,
}

impl ColType {
    /// The Athena (Hive DDL) spelling of the type.
    pub fn athena(self) -> &'static str {
        match self {
            ColType::Str => "string",
            ColType::Bool => "boolean",
            ColType::Int => "bigint",
            ColType::Time => "timestamp",
            ColType::StrList => "array<string>",
            ColType::StrMap => "map<string,string>",
            ColType::Conditions => "array<struct<operator:string,key:string,values:array<string>>>",
        }
    }

    fn arrow(self) -> DataType {
        match self {
            ColType::Str => DataType::Utf8,
            ColType::Bool => DataType::Boolean,
            ColType::Int => DataType::Int64,
            ColType::Time => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            ColType::StrList => new_list_builder().finish().data_type().clone(),
            ColType::StrMap => new_map_builder().finish().data_type().clone(),
            ColType::Conditions => new_conditions_builder().finish().data_type().clone(),
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColType,
    /// What the column holds (the README's column reference).
    pub doc: &'static str,
}

const fn col(name: &'static str, ty: ColType, doc: &'static str) -> Column {
    Column { name, ty, doc }
}

use ColType::*;

/// The Hive partition columns of every table, in path order. They are not stored in the
/// files: readers take them from the path (`account_id=.../region=.../event_date=...`).
pub const PARTITION_COLUMNS: [Column; 3] = [
    col(
        "account_id",
        Str,
        "AWS account the event was recorded in (recipientAccountId).",
    ),
    col("region", Str, "AWS Region of the event (awsRegion)."),
    col(
        "event_date",
        Str,
        "UTC day of the event time, YYYY-MM-DD (not the delivery day).",
    ),
];

/// The value keytrail writes for a missing partition value (Hive's convention).
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

pub const KMS_EVENTS: &[Column] = &[
    col(
        "event_id",
        Str,
        "CloudTrail eventID (distinct within the table).",
    ),
    col(
        "event_time",
        Time,
        "eventTime, UTC, millisecond precision; null when unusable.",
    ),
    col("event_time_raw", Str, "eventTime as written in the record."),
    col("event_name", Str, "KMS API operation (eventName)."),
    col("event_type", Str, "AwsApiCall, AwsServiceEvent, ..."),
    col(
        "category",
        Str,
        "key-use, grant-change, key-state-change or other.",
    ),
    col(
        "key_arn",
        Str,
        "Key ARN (for ReEncrypt, the source key); null when unresolved.",
    ),
    col(
        "key_resolved",
        Bool,
        "Whether key_arn could be resolved (false for alias-only calls).",
    ),
    col(
        "key_given",
        Str,
        "The key as the caller named it (key id, ARN or alias).",
    ),
    col(
        "caller_type",
        Str,
        "userIdentity.type (null on KMS service events).",
    ),
    col("caller_arn", Str, "userIdentity.arn."),
    col("caller_account_id", Str, "userIdentity.accountId."),
    col(
        "caller_role_arn",
        Str,
        "The session issuer's role ARN for assumed roles.",
    ),
    col(
        "caller_invoked_by",
        Str,
        "userIdentity.invokedBy (the service acting for the caller).",
    ),
    col(
        "principal",
        Str,
        "Normalised principal: role for sessions, service for service calls, else ARN or account.",
    ),
    col(
        "caller_identities",
        StrList,
        "Every identity a grantee may name (ARN, role ARN, invokedBy service), normalised.",
    ),
    col("source_ip", Str, "sourceIPAddress."),
    col("user_agent", Str, "userAgent."),
    col(
        "error_code",
        Str,
        "errorCode; null when the call succeeded.",
    ),
    col("error_message", Str, "errorMessage."),
    col("read_only", Bool, "readOnly (string booleans accepted)."),
    col("request_id", Str, "requestID (absent on service events)."),
    col(
        "encryption_context",
        StrMap,
        "The full encryption context (ReEncrypt: the source context).",
    ),
    col(
        "profile",
        Str,
        "Name of the context profile the context matched (proton, or a --profiles one).",
    ),
    col(
        "proton_template",
        Str,
        "The profile's template value (aws:proton:template).",
    ),
    col(
        "proton_template_type",
        Str,
        "service-template or environment-template.",
    ),
    col("proton_template_name", Str, "Template name."),
    col(
        "proton_template_version",
        Str,
        "Template version from the ARN (1 or 1.2), when given.",
    ),
    col(
        "proton_resource",
        Str,
        "The profile's resource value (aws:proton:resource).",
    ),
    col(
        "proton_resource_type",
        Str,
        "service, service-instance, pipeline, environment, component, repository, ...",
    ),
    col("proton_resource_name", Str, "Resource name or id."),
    col(
        "proton_service",
        Str,
        "Service of a service instance or pipeline.",
    ),
    col("proton_account_id", Str, "Account in the resource ARN."),
    col("proton_region", Str, "Region in the resource ARN."),
    col(
        "context_problem",
        Str,
        "Why the context is malformed for its profile; null when fine.",
    ),
    col(
        "constraint_key_present",
        Bool,
        "Whether the context holds its profile's grant-constraint key.",
    ),
    col(
        "destination_key_arn",
        Str,
        "ReEncrypt: the destination key ARN.",
    ),
    col(
        "destination_encryption_context",
        StrMap,
        "ReEncrypt: the destination context.",
    ),
    col(
        "destination_proton_template",
        Str,
        "ReEncrypt: the destination context's template value.",
    ),
    col(
        "destination_proton_resource",
        Str,
        "ReEncrypt: the destination context's resource value.",
    ),
    col(
        "destination_context_problem",
        Str,
        "ReEncrypt: why the destination context is malformed.",
    ),
    col(
        "destination_constraint_key_present",
        Bool,
        "ReEncrypt: whether the destination context holds the constraint key.",
    ),
    col(
        "grant_id",
        Str,
        "Grant id (CreateGrant response, RetireGrant/RevokeGrant request).",
    ),
    col("grant_name", Str, "CreateGrant name."),
    col("grantee_principal", Str, "CreateGrant granteePrincipal."),
    col(
        "grantee_normalized",
        Str,
        "The grantee (granteePrincipal, else granteeServicePrincipal), normalised as caller_identities are; a bare account id is its root.",
    ),
    col("retiring_principal", Str, "CreateGrant retiringPrincipal."),
    col(
        "grantee_service_principal",
        Str,
        "CreateGrant granteeServicePrincipal (a grant to an AWS service).",
    ),
    col(
        "retiring_service_principal",
        Str,
        "CreateGrant retiringServicePrincipal.",
    ),
    col(
        "retiring_normalized",
        Str,
        "The retiring principal (or retiring service principal), normalised.",
    ),
    col(
        "grant_source_arn",
        Str,
        "CreateGrant source-ARN constraint (kept, never checked: CloudTrail does not log a call's source ARN).",
    ),
    col("grant_operations", StrList, "CreateGrant operations."),
    col(
        "grant_constraint_kind",
        Str,
        "encryptionContextSubset or encryptionContextEquals.",
    ),
    col(
        "grant_constraint",
        StrMap,
        "The grant's constraint context.",
    ),
    col(
        "key_state",
        Str,
        "Key-state changes: the state the event reports or implies (responseElements.keyState wins).",
    ),
    col(
        "key_state_class",
        Str,
        "usable (Enabled), unusable (Disabled, PendingDeletion, PendingReplicaDeletion, PendingImport, Deleted) or transient (Unavailable, Creating, Updating, others).",
    ),
    col(
        "key_usable",
        Bool,
        "Key-state changes: whether that state lets the key be used.",
    ),
    col(
        "deletion_date",
        Str,
        "ScheduleKeyDeletion deletionDate, as written.",
    ),
    col(
        "pending_window_days",
        Str,
        "ScheduleKeyDeletion pendingWindowInDays.",
    ),
    col(
        "shared_event_id",
        Str,
        "sharedEventID: a cross-account call is logged in both accounts with the same one.",
    ),
    col(
        "key_material_id",
        Str,
        "ImportKeyMaterial/DeleteImportedKeyMaterial keyMaterialId (request, else response).",
    ),
    col(
        "import_type",
        Str,
        "ImportKeyMaterial importType (NEW_KEY_MATERIAL, EXISTING_KEY_MATERIAL).",
    ),
    col(
        "custom_key_store_id",
        Str,
        "Custom key store of the key (CreateKey, a use's additionalEventData) or of a Connect/DisconnectCustomKeyStore call.",
    ),
    col(
        "key_policy",
        Str,
        "CreateKey, ReplicateKey, PutKeyPolicy: requestParameters.policy as logged (null: absent; CreateKey and ReplicateKey then got the default key policy).",
    ),
    col(
        "source_file",
        Str,
        "File path or s3://bucket/key the record came from.",
    ),
    col(
        "source_record",
        Int,
        "Index of the record in that file (from 0).",
    ),
];

pub const PROTON_USAGE: &[Column] = &[
    col("key_arn", Str, "Key ARN (null when unresolved)."),
    col("profile", Str, "Context profile."),
    col("proton_template", Str, "Template value of the context."),
    col("proton_resource", Str, "Resource value of the context."),
    col(
        "operation",
        Str,
        "Grant operation the use needs (Decrypt, ..., ReEncryptFrom/ReEncryptTo).",
    ),
    col("principal", Str, "Normalised principal."),
    col("outcome", Str, "success, or the errorCode."),
    col("event_count", Int, "Number of distinct uses."),
    col("first_seen", Time, "Earliest use."),
    col("last_seen", Time, "Latest use."),
];

pub const GRANTS: &[Column] = &[
    col("grant_id", Str, "Grant id."),
    col("key_arn", Str, "Key the grant is on."),
    col("grant_name", Str, "Grant name."),
    col("grantee_principal", Str, "Grantee principal."),
    col("retiring_principal", Str, "Retiring principal."),
    col(
        "grantee_service_principal",
        Str,
        "Grantee service principal (grants to AWS services).",
    ),
    col(
        "retiring_service_principal",
        Str,
        "Retiring service principal.",
    ),
    col(
        "source_arn",
        Str,
        "Source-ARN constraint, not checked (CloudTrail does not log a call's source ARN).",
    ),
    col(
        "operations",
        StrList,
        "Operations the grant allows; null when the request listed none.",
    ),
    col(
        "constraint_kind",
        Str,
        "encryptionContextSubset, encryptionContextEquals or null.",
    ),
    col("constraint_context", StrMap, "Constraint context."),
    col(
        "created_time",
        Time,
        "When the grant was created (null: creation not in the input).",
    ),
    col("created_by", Str, "Principal that created it."),
    col("created_event_id", Str, "The CreateGrant event."),
    col(
        "removed_time",
        Time,
        "First successful RetireGrant or RevokeGrant (null: still open).",
    ),
    col("removed_by", Str, "Principal that removed it."),
    col("removed_event_id", Str, "The removal event."),
    col("removed_via", Str, "RetireGrant or RevokeGrant."),
    col(
        "removal_count",
        Int,
        "Successful removals seen (more than 1 means repeats).",
    ),
    col(
        "source",
        Str,
        "trail (a CreateGrant or removal in the input) or snapshot (a ListGrants entry of a --baseline snapshot the input has no CreateGrant for).",
    ),
    col(
        "snapshot_created_time",
        Time,
        "The CreationDate a --baseline snapshot gives the grant (the grant exists from the earlier of it and created_time: CreateGrant is idempotent).",
    ),
];

pub const KEY_STATES: &[Column] = &[
    col("event_time", Time, "When the state changed."),
    col("event_id", Str, "The state-change event."),
    col("key_arn", Str, "Key."),
    col(
        "event_name",
        Str,
        "DisableKey, EnableKey, ScheduleKeyDeletion, ...",
    ),
    col(
        "state",
        Str,
        "State the event reports or implies (Disabled, Enabled, PendingDeletion, PendingImport, Deleted, Creating, Unavailable, ...; null for ConnectCustomKeyStore, which restores).",
    ),
    col("usable", Bool, "Whether the key can be used in that state."),
    col(
        "state_class",
        Str,
        "usable, unusable or transient (see kms_events.key_state_class).",
    ),
    col(
        "previous_state",
        Str,
        "State after the key's previous change in the input.",
    ),
    col("principal", Str, "Who changed it."),
    col(
        "deletion_date",
        Str,
        "ScheduleKeyDeletion deletionDate, as written.",
    ),
    col(
        "pending_window_days",
        Str,
        "ScheduleKeyDeletion pendingWindowInDays.",
    ),
    col(
        "key_material_id",
        Str,
        "Key material the event names.",
    ),
    col(
        "material_assumed_current",
        Bool,
        "DeleteImportedKeyMaterial naming no key material: assumed to delete the current one.",
    ),
    col(
        "custom_key_store_id",
        Str,
        "Connect/DisconnectCustomKeyStore: the store.",
    ),
    col(
        "source",
        Str,
        "trail (a change the input logs) or snapshot (the state a --baseline snapshot recorded at its time, event_name DescribeKey, no event id; not a change).",
    ),
];

pub const KEY_POLICIES: &[Column] = &[
    col(
        "event_time",
        Time,
        "When the version took effect (the event's time; snapshot: inferred).",
    ),
    col(
        "event_id",
        Str,
        "The CreateKey, ReplicateKey or PutKeyPolicy event (null for a snapshot).",
    ),
    col("event_name", Str, "That event's name."),
    col("key_arn", Str, "Key."),
    col(
        "source",
        Str,
        "CreateKey, ReplicateKey, PutKeyPolicy, default (KMS's default key policy, applied when CreateKey or ReplicateKey names none) or snapshot.",
    ),
    col("principal", Str, "Who set the policy."),
    col(
        "policy_error",
        Str,
        "Why the version cannot be read (null when it can): its findings are then unknown.",
    ),
    col("statement_count", Int, "Statements in the version."),
    col(
        "statement_index",
        Int,
        "The statement's position, from 1 (null on the one row of a version with no readable statement).",
    ),
    col("sid", Str, "The statement's Sid."),
    col("effect", Str, "Allow or Deny (as written)."),
    col(
        "principals",
        StrList,
        "Principal (or NotPrincipal) values normalised as they are matched: a bare account id as its root ARN, role ARNs without path, service principals lower-case without Region; * for anyone.",
    ),
    col(
        "not_principal",
        Bool,
        "Whether the statement names NotPrincipal rather than Principal.",
    ),
    col(
        "actions",
        StrList,
        "Action values as written (null with NotAction).",
    ),
    col(
        "not_actions",
        StrList,
        "NotAction values as written (null with Action).",
    ),
    col(
        "conditions",
        Conditions,
        "One entry per condition operator and key, values as strings.",
    ),
    col(
        "policy",
        Str,
        "The version's policy text as logged (the default key policy's JSON for default).",
    ),
];

pub const FINDINGS: &[Column] = &[
    col("rule", Str, "Rule id (see Findings)."),
    col("severity", Str, "high, medium or low."),
    col(
        "authorization",
        Str,
        "use-without-grant and use-after-grant-retired: what the key policy says of the call (key-policy, iam-delegated, unknown, unexplained); null for the other rules.",
    ),
    col("event_id", Str, "The event the finding is about."),
    col("event_time", Time, "Its time."),
    col("event_name", Str, "Its KMS operation."),
    col(
        "key_arn",
        Str,
        "The key (for ReEncrypt, the side the finding is about).",
    ),
    col("principal", Str, "Normalised principal of the event."),
    col(
        "proton_template",
        Str,
        "Template of the context (aggregate rules: when only one).",
    ),
    col(
        "proton_resource",
        Str,
        "Resource of the context (aggregate rules: when only one).",
    ),
    col(
        "related_event_ids",
        StrList,
        "Events that explain the finding.",
    ),
    col("message", Str, "One sentence saying why."),
    col("advice", Str, "One sentence saying what to do."),
];

/// How a table is partitioned, and by whom its partitions are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioning {
    /// [`PARTITION_COLUMNS`] (`account_id=.../region=.../event_date=.../`), written by
    /// keytrail; Athena projects them (partition projection).
    Events,
    /// [`RUN_DATE`] alone (`run_date=YYYY-MM-DD/`), written by the scheduled Athena
    /// `INSERT INTO`, which registers each partition in Glue: no projection, because a table
    /// with projection enabled has Athena ignore the partitions registered in Glue.
    RunDate,
}

/// A table in the Glue catalog: written by keytrail ([`TABLES`]) or by a scheduled Athena
/// query ([`ATHENA_TABLES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [Column],
    pub doc: &'static str,
    pub partitioning: Partitioning,
}

pub const TABLES: [Table; 6] = [
    Table {
        name: "kms_events",
        columns: KMS_EVENTS,
        doc: "One row per distinct KMS event.",
        partitioning: Partitioning::Events,
    },
    Table {
        name: "proton_usage",
        columns: PROTON_USAGE,
        doc: "Key uses with a profile context, per day, key, template, resource, operation, principal and outcome.",
        partitioning: Partitioning::Events,
    },
    Table {
        name: "grants",
        columns: GRANTS,
        doc: "One row per grant with its life as seen (partitioned by creation, else removal, time).",
        partitioning: Partitioning::Events,
    },
    Table {
        name: "key_states",
        columns: KEY_STATES,
        doc: "The key-state timeline: one row per successful change.",
        partitioning: Partitioning::Events,
    },
    Table {
        name: "key_policies",
        columns: KEY_POLICIES,
        doc: "Every key policy version the input logs (and a snapshot's), one row per statement.",
        partitioning: Partitioning::Events,
    },
    Table {
        name: "findings",
        columns: FINDINGS,
        doc: "Findings of the rules.",
        partitioning: Partitioning::Events,
    },
];

/// The partition column of the tables the scheduled Athena queries write.
pub const RUN_DATE: Column = col(
    "run_date",
    Str,
    "UTC day the scheduled run wrote the row, YYYY-MM-DD.",
);

/// The columns of the `findings_recomputed` view, in its order: the findings columns with
/// `account_id` and `region` after `key_arn` (in `findings` they are partition columns).
pub const FINDINGS_RECOMPUTED: [Column; FINDINGS.len() + 2] = findings_with_place();

const fn findings_with_place() -> [Column; FINDINGS.len() + 2] {
    // `key_arn` is the 7th findings column (a unit test checks it).
    const AFTER: usize = 7;
    let mut out = [FINDINGS[0]; FINDINGS.len() + 2];
    let mut i = 0;
    while i < FINDINGS.len() {
        out[if i < AFTER { i } else { i + 2 }] = FINDINGS[i];
        i += 1;
    }
    out[AFTER] = PARTITION_COLUMNS[0];
    out[AFTER + 1] = PARTITION_COLUMNS[1];
    out
}

/// `findings_daily`: what the daily scheduled query (queries/scheduled/) writes, one copy of
/// `findings_recomputed` per run.
pub const FINDINGS_DAILY: Table = Table {
    name: "findings_daily",
    columns: &FINDINGS_RECOMPUTED,
    doc: "The findings the view findings_recomputed returned on each day's scheduled run (queries/scheduled/materialize_findings.sql): the authority over all history, one copy per run_date.",
    partitioning: Partitioning::RunDate,
};

/// The tables Athena writes (scheduled `INSERT INTO`), never keytrail: they are in the Glue
/// catalog, the DDL and the README, not in what `keytrail analyze` or the Lambda write.
pub const ATHENA_TABLES: [Table; 1] = [FINDINGS_DAILY];

/// Every table of the Glue catalog: keytrail's, then Athena's.
pub fn catalog() -> impl Iterator<Item = Table> {
    TABLES.into_iter().chain(ATHENA_TABLES)
}

/// Looks a table up by name.
pub fn table(name: &str) -> Option<Table> {
    TABLES.iter().copied().find(|t| t.name == name)
}

impl Table {
    /// The partition columns, in path order (not stored in the files).
    pub fn partition_columns(&self) -> &'static [Column] {
        match self.partitioning {
            Partitioning::Events => &PARTITION_COLUMNS,
            Partitioning::RunDate => std::slice::from_ref(&RUN_DATE),
        }
    }

    /// The Arrow schema of the files (partition columns excluded).
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(c.name, c.ty.arrow(), true))
                .collect::<Vec<_>>(),
        ))
    }
}

/// The tables as Markdown (the README's column reference is this text).
pub fn markdown() -> String {
    let mut s = String::new();
    s.push_str("Every table keytrail writes is partitioned by ");
    s.push_str(
        &PARTITION_COLUMNS
            .iter()
            .map(|c| format!("`{}`", c.name))
            .collect::<Vec<_>>()
            .join(", "),
    );
    s.push_str(
        " (Hive folders `account_id=.../region=.../event_date=YYYY-MM-DD/`; a missing value is `",
    );
    s.push_str(NULL_PARTITION);
    s.push_str("`):\n\n| partition column | type | meaning |\n|---|---|---|\n");
    for c in PARTITION_COLUMNS {
        s.push_str(&format!(
            "| `{}` | {} | {} |\n",
            c.name,
            c.ty.athena(),
            c.doc
        ));
    }
    let columns = |s: &mut String, t: &Table| {
        s.push_str(&format!(
            "\n#### `{}`\n\n{}\n\n| column | type | meaning |\n|---|---|---|\n",
            t.name, t.doc
        ));
        for c in t.columns {
            s.push_str(&format!(
                "| `{}` | {} | {} |\n",
                c.name,
                c.ty.athena(),
                c.doc
            ));
        }
    };
    for t in TABLES {
        columns(&mut s, &t);
    }
    s.push_str(&format!(
        "\nAthena writes the next table{}, not keytrail (the stack's daily schedule, `queries/scheduled/`); it is partitioned by `{}` (Hive folders `{}=YYYY-MM-DD/`, each registered in Glue by the run's `INSERT INTO`, no projection):\n\n| partition column | type | meaning |\n|---|---|---|\n| `{}` | {} | {} |\n",
        if ATHENA_TABLES.len() == 1 { "" } else { "s" },
        RUN_DATE.name,
        RUN_DATE.name,
        RUN_DATE.name,
        RUN_DATE.ty.athena(),
        RUN_DATE.doc
    ));
    for t in ATHENA_TABLES {
        columns(&mut s, &t);
    }
    s
}

/// The tables as JSON: `{"partition_columns": [...], "tables": {name: [{name, type}]},
/// "athena_tables": {name: {"columns": [...], "partition_columns": [...]}}}`, types in Athena
/// spelling. Test tools compare written files against `tables` (what keytrail writes);
/// `athena_tables` are written by Athena.
pub fn json() -> serde_json::Value {
    let cols = |cs: &[Column]| {
        cs.iter()
            .map(|c| serde_json::json!({"name": c.name, "type": c.ty.athena()}))
            .collect::<Vec<_>>()
    };
    serde_json::json!({
        "partition_columns": cols(&PARTITION_COLUMNS),
        "tables": TABLES
            .iter()
            .map(|t| (t.name.to_string(), serde_json::Value::Array(cols(t.columns))))
            .collect::<serde_json::Map<_, _>>(),
        "athena_tables": ATHENA_TABLES
            .iter()
            .map(|t| {
                (
                    t.name.to_string(),
                    serde_json::json!({
                        "columns": cols(t.columns),
                        "partition_columns": cols(t.partition_columns()),
                    }),
                )
            })
            .collect::<serde_json::Map<_, _>>(),
    })
}

/// The CamelCase resource name of a table in template.yaml (`kms_events`: `KmsEventsTable`).
fn resource_name(table: &str) -> String {
    let mut s: String = table
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    s.push_str("Table");
    s
}

/// The Glue tables of template.yaml (under `Resources:`), generated from the schema so the
/// template and the code cannot disagree (a test compares them).
pub fn glue_tables_yaml() -> String {
    let mut y = String::new();
    y.push_str(
        "  # BEGIN generated Glue tables (src/tables/schema.rs, `keytrail schema --format glue`)\n",
    );
    for t in catalog() {
        y.push_str(&format!(
            "  {}:\n    Type: AWS::Glue::Table\n    Properties:\n      CatalogId: !Ref AWS::AccountId\n      DatabaseName: !Ref GlueDatabase\n      TableInput:\n        Name: {}\n        Description: \"{}\"\n        TableType: EXTERNAL_TABLE\n        Parameters:\n          classification: parquet\n",
            resource_name(t.name),
            t.name,
            t.doc.replace('"', "'"),
        ));
        if t.partitioning == Partitioning::Events {
            y.push_str(&format!(
                "          projection.enabled: \"true\"\n          projection.account_id.type: enum\n          projection.account_id.values: !Join [\",\", !Ref ProjectedAccounts]\n          projection.region.type: enum\n          projection.region.values: !Join [\",\", !Ref ProjectedRegions]\n          projection.event_date.type: date\n          projection.event_date.format: yyyy-MM-dd\n          projection.event_date.range: !Sub \"${{ProjectedStartDate}},NOW\"\n          projection.event_date.interval: \"1\"\n          projection.event_date.interval.unit: DAYS\n          storage.location.template: !Sub \"s3://${{OutputBucket}}/${{OutputPrefix}}/{}/account_id=${{!account_id}}/region=${{!region}}/event_date=${{!event_date}}\"\n",
                t.name
            ));
        }
        y.push_str("        PartitionKeys:\n");
        for p in t.partition_columns() {
            y.push_str(&format!(
                "          - {{Name: {}, Type: {}}}\n",
                p.name,
                p.ty.athena()
            ));
        }
        y.push_str(&format!(
            "        StorageDescriptor:\n          Location: !Sub \"s3://${{OutputBucket}}/${{OutputPrefix}}/{}/\"\n          InputFormat: org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat\n          OutputFormat: org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat\n          SerdeInfo:\n            SerializationLibrary: org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe\n          Columns:\n",
            t.name
        ));
        for c in t.columns {
            y.push_str(&format!(
                "            - {{Name: {}, Type: \"{}\"}}\n",
                c.name,
                c.ty.athena()
            ));
        }
    }
    y.push_str("  # END generated Glue tables\n");
    y
}

/// The Athena DDL of a table: Hive-style `CREATE EXTERNAL TABLE` over the Parquet files.
/// keytrail's tables have partition projection matching the layout keytrail writes; an
/// Athena-written table's partitions are registered by the `INSERT INTO` that writes them.
/// `${output}`, `${accounts}` and `${regions}` are placeholders (see queries/README.md).
pub fn athena_ddl(t: &Table) -> String {
    // Hive DDL escapes quotes with a backslash.
    let esc = |s: &str| s.replace('\'', "\\'");
    let placeholders = match t.partitioning {
        Partitioning::Events => "-- Placeholders: ${output} = s3://bucket/prefix the tables were written under;\n-- ${accounts}, ${regions} = comma-separated account ids and regions to project.\n",
        Partitioning::RunDate => "-- Placeholder: ${output} = s3://bucket/prefix the tables were written under. Written by\n-- queries/scheduled/, whose INSERT INTO registers each run_date partition (no projection).\n",
    };
    let mut d = format!(
        "-- {}: {}\n-- Generated from src/tables/schema.rs (`keytrail schema --format ddl`); a test keeps it in step.\n{}CREATE EXTERNAL TABLE IF NOT EXISTS keytrail.{} (\n",
        t.name, t.doc, placeholders, t.name
    );
    let cols: Vec<String> = t
        .columns
        .iter()
        .map(|c| format!("  `{}` {} COMMENT '{}'", c.name, c.ty.athena(), esc(c.doc)))
        .collect();
    d.push_str(&cols.join(",\n"));
    d.push_str("\n)\nPARTITIONED BY (\n");
    let parts: Vec<String> = t
        .partition_columns()
        .iter()
        .map(|c| format!("  `{}` {} COMMENT '{}'", c.name, c.ty.athena(), esc(c.doc)))
        .collect();
    d.push_str(&parts.join(",\n"));
    match t.partitioning {
        Partitioning::Events => d.push_str(&format!(
            "\n)\nSTORED AS PARQUET\nLOCATION '${{output}}/{name}/'\nTBLPROPERTIES (\n  'classification' = 'parquet',\n  'projection.enabled' = 'true',\n  'projection.account_id.type' = 'enum',\n  'projection.account_id.values' = '${{accounts}}',\n  'projection.region.type' = 'enum',\n  'projection.region.values' = '${{regions}}',\n  'projection.event_date.type' = 'date',\n  'projection.event_date.format' = 'yyyy-MM-dd',\n  'projection.event_date.range' = '2019-01-01,NOW',\n  'projection.event_date.interval' = '1',\n  'projection.event_date.interval.unit' = 'DAYS',\n  'storage.location.template' = '${{output}}/{name}/account_id=${{account_id}}/region=${{region}}/event_date=${{event_date}}'\n);\n",
            name = t.name
        )),
        Partitioning::RunDate => d.push_str(&format!(
            "\n)\nSTORED AS PARQUET\nLOCATION '${{output}}/{name}/'\nTBLPROPERTIES (\n  'classification' = 'parquet'\n);\n",
            name = t.name
        )),
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn every_table_builds_a_batch_of_its_schema() {
        for t in TABLES {
            let mut b = BatchBuilder::new(t);
            let map: BTreeMap<String, String> = [("k".to_string(), "v".to_string())].into();
            let list = vec!["a".to_string()];
            let conds = vec![crate::model::policy::ConditionRow {
                operator: "StringEquals".into(),
                key: "kms:CallerAccount".into(),
                values: list.clone(),
            }];
            let row: Vec<Value> = t
                .columns
                .iter()
                .map(|c| match c.ty {
                    Str => Value::Str(Some("x")),
                    Bool => Value::Bool(Some(true)),
                    Int => Value::Int(Some(1)),
                    Time => Value::Time(Some(1_700_000_000_000)),
                    StrList => Value::StrList(Some(&list)),
                    StrMap => Value::StrMap(Some(&map)),
                    Conditions => Value::Conditions(Some(&conds)),
                })
                .collect();
            b.append(&row);
            let nulls: Vec<Value> = t
                .columns
                .iter()
                .map(|c| match c.ty {
                    Str => Value::Str(None),
                    Bool => Value::Bool(None),
                    Int => Value::Int(None),
                    Time => Value::Time(None),
                    StrList => Value::StrList(None),
                    StrMap => Value::StrMap(None),
                    Conditions => Value::Conditions(None),
                })
                .collect();
            b.append(&nulls);
            let batch = b.finish();
            assert_eq!(batch.num_rows(), 2, "{}", t.name);
            assert_eq!(batch.schema(), t.schema());
            for p in PARTITION_COLUMNS {
                assert!(t.columns.iter().all(|c| c.name != p.name), "{}", t.name);
            }
        }
    }

    #[test]
    fn findings_daily_is_the_view_s_columns_then_run_date() {
        // The view findings_recomputed: the findings columns, account_id and region after
        // key_arn (tests/python/check_queries.py compares the view itself with this).
        let names: Vec<&str> = FINDINGS_DAILY.columns.iter().map(|c| c.name).collect();
        let mut want: Vec<&str> = FINDINGS.iter().map(|c| c.name).collect();
        let at = want.iter().position(|n| *n == "key_arn").unwrap() + 1;
        want.splice(at..at, ["account_id", "region"]);
        assert_eq!(names, want);
        for c in FINDINGS_DAILY.columns {
            let orig = FINDINGS
                .iter()
                .chain(&PARTITION_COLUMNS)
                .find(|o| o.name == c.name)
                .unwrap();
            assert_eq!(c, orig, "{}", c.name);
        }
        assert_eq!(FINDINGS_DAILY.partition_columns(), [RUN_DATE]);
        assert!(FINDINGS_DAILY
            .columns
            .iter()
            .all(|c| c.name != RUN_DATE.name));
        // Athena writes it: never among the tables keytrail writes (the local publisher
        // replaces the folder of each of those).
        assert!(TABLES.iter().all(|t| t.name != FINDINGS_DAILY.name));
        assert!(table(FINDINGS_DAILY.name).is_none());
        let all: Vec<&str> = catalog().map(|t| t.name).collect();
        assert_eq!(all.len(), TABLES.len() + ATHENA_TABLES.len());
        assert_eq!(all.last(), Some(&"findings_daily"));
    }

    #[test]
    fn findings_daily_is_generated_without_projection() {
        let ddl = athena_ddl(&FINDINGS_DAILY);
        assert!(ddl.contains("PARTITIONED BY (\n  `run_date` string"));
        assert!(!ddl.contains("projection."));
        assert!(ddl.contains("LOCATION '${output}/findings_daily/'"));
        let glue = glue_tables_yaml();
        let block = &glue[glue.find("  FindingsDailyTable:").unwrap()..];
        assert!(block.contains("- {Name: run_date, Type: string}"));
        assert!(!block.contains("projection."));
        assert!(markdown().contains("#### `findings_daily`"));
        assert!(
            json()["athena_tables"]["findings_daily"]["partition_columns"][0]["name"] == "run_date"
        );
        assert!(json()["tables"].get("findings_daily").is_none());
    }
}
