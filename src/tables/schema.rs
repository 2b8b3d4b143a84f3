//! The tables keytrail writes: one source of truth for every column.
//!
//! Each table is a static list of [`Column`]s (name, type, meaning). The Arrow schema, the
//! Parquet files, the README's column reference and the Athena DDL checks are all derived
//! from these lists, so a column cannot change in one place only. Rows are appended as
//! slices of [`Value`]s in column order and checked against the types.

mod batch;
mod docs;
mod findings;
mod grants;
mod key_policies;
mod key_states;
mod kms_events;
mod proton_usage;
pub mod read;
mod row;

pub use batch::{BatchBuilder, Value};
pub use docs::{athena_ddl, glue_tables_yaml, json, markdown};
pub use findings::{FindingRow, FINDINGS};
pub use grants::{GrantRow, GRANTS};
pub use key_policies::{KeyPolicyRow, KEY_POLICIES};
pub use key_states::{KeyStateRow, KEY_STATES};
pub use kms_events::{KmsEventColumns, KmsEventRow, KMS_EVENTS};
pub use proton_usage::{ProtonUsageRow, PROTON_USAGE};
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
