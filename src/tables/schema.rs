//! The tables keytrail writes: one source of truth for every column.
//!
//! Each table is a static list of [`Column`]s (name, type, meaning). The Arrow schema, the
//! Parquet files, the README's column reference and the Athena DDL checks are all derived
//! from these lists, so a column cannot change in one place only. Rows are appended as
//! slices of [`Value`]s in column order and checked against the types.

mod batch;
mod docs;
mod kms_events;
mod row;

pub use batch::{BatchBuilder, Value};
pub use docs::{athena_ddl, glue_tables_yaml, json, markdown};
pub use kms_events::{KmsEventRow, KMS_EVENTS};
pub(crate) use row::table_row;

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

#[cfg(test)]
mod tests;
