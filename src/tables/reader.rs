//! Reading keytrail's own `kms_events` tables back into the KMS model, so findings can be
//! recomputed over everything a deployment has written (`keytrail findings --tables`),
//! whatever order the Lambda ingested the files in.
//!
//! Pure: it takes Parquet bytes and the file's Hive path and returns events.

use crate::model::kms::{Caller, Category, GrantFacts, IdentityFacts, KeyRef, KeyUse, KmsEvent};
use crate::tables::schema::NULL_PARTITION;
use arrow::array::{
    Array, AsArray, BooleanArray, ListArray, MapArray, StringArray, StructArray,
    TimestampMillisecondArray,
};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::BTreeMap;

/// A problem reading a table file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: cannot read as a kms_events table: {reason}")]
pub struct ReadbackError {
    pub file: String,
    pub reason: String,
}

/// The Hive partition values in a path (`account_id=A/region=R/...`), unescaped.
pub fn partition_values(path: &str) -> BTreeMap<String, Option<String>> {
    path.split('/')
        .filter_map(|seg| seg.split_once('='))
        .map(|(k, v)| {
            let v = if v == NULL_PARTITION {
                None
            } else {
                Some(crate::text::percent_decode(v))
            };
            (k.to_string(), v)
        })
        .collect()
}

/// Columns the rules read that tables written by keytrail before them lack: such a file
/// reads, with those facts unknown.
pub const LATER_COLUMNS: [&str; 8] = [
    "grantee_service_principal",
    "retiring_service_principal",
    "grant_source_arn",
    "shared_event_id",
    "key_material_id",
    "import_type",
    "custom_key_store_id",
    "key_policy",
];

/// The events of one `kms_events` file, and which of [`LATER_COLUMNS`] it lacks.
#[derive(Debug, Default)]
pub struct ReadBack {
    pub events: Vec<KmsEvent>,
    pub missing_columns: Vec<&'static str>,
}

/// Reads the events of one `kms_events` Parquet file; `path` gives the partition values.
pub fn read_events(path: &str, bytes: bytes::Bytes) -> Result<ReadBack, ReadbackError> {
    let err = |reason: String| ReadbackError {
        file: path.to_string(),
        reason,
    };
    let parts = partition_values(path);
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| err(e.to_string()))?
        .with_batch_size(8192)
        .build()
        .map_err(|e| err(e.to_string()))?;
    let mut out = ReadBack::default();
    for batch in reader {
        let batch = batch.map_err(|e| err(e.to_string()))?;
        if out.missing_columns.is_empty() {
            out.missing_columns = LATER_COLUMNS
                .into_iter()
                .filter(|c| batch.column_by_name(c).is_none())
                .collect();
        }
        events_of_batch(&batch, &parts, &mut out.events).map_err(err)?;
    }
    Ok(out)
}

struct Cols<'a> {
    batch: &'a RecordBatch,
}

impl<'a> Cols<'a> {
    fn col(&self, name: &str) -> Result<&'a dyn Array, String> {
        self.batch
            .column_by_name(name)
            .map(|c| c.as_ref())
            .ok_or_else(|| format!("no column {name}"))
    }
    fn s(&self, name: &str) -> Result<&'a StringArray, String> {
        self.col(name)?
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| format!("{name} is not a string column"))
    }
    /// A string column that tables written by earlier versions may lack.
    fn s_new(&self, name: &str) -> Result<Option<&'a StringArray>, String> {
        match self.batch.column_by_name(name) {
            None => Ok(None),
            Some(_) => self.s(name).map(Some),
        }
    }
    fn b(&self, name: &str) -> Result<&'a BooleanArray, String> {
        self.col(name)?
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| format!("{name} is not a boolean column"))
    }
    fn t(&self, name: &str) -> Result<&'a TimestampMillisecondArray, String> {
        self.col(name)?
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .ok_or_else(|| format!("{name} is not a millisecond timestamp column"))
    }
    fn m(&self, name: &str) -> Result<&'a MapArray, String> {
        self.col(name)?
            .as_any()
            .downcast_ref::<MapArray>()
            .ok_or_else(|| format!("{name} is not a map column"))
    }
    fn l(&self, name: &str) -> Result<&'a ListArray, String> {
        self.col(name)?
            .as_any()
            .downcast_ref::<ListArray>()
            .ok_or_else(|| format!("{name} is not a list column"))
    }
}

fn opt_s(a: &StringArray, i: usize) -> Option<String> {
    (!a.is_null(i)).then(|| a.value(i).to_string())
}

fn opt_s_new(a: Option<&StringArray>, i: usize) -> Option<String> {
    a.and_then(|a| opt_s(a, i))
}

fn opt_map(a: &MapArray, i: usize) -> Option<BTreeMap<String, String>> {
    if a.is_null(i) {
        return None;
    }
    let entries: StructArray = a.value(i);
    let keys = entries.column(0).as_string::<i32>();
    let values = entries.column(1).as_string::<i32>();
    Some(
        (0..entries.len())
            .map(|j| {
                (
                    keys.value(j).to_string(),
                    if values.is_null(j) {
                        String::new()
                    } else {
                        values.value(j).to_string()
                    },
                )
            })
            .collect(),
    )
}

fn opt_list(a: &ListArray, i: usize) -> Option<Vec<String>> {
    if a.is_null(i) {
        return None;
    }
    let v = a.value(i);
    let s = v.as_string::<i32>();
    Some((0..s.len()).map(|j| s.value(j).to_string()).collect())
}

fn events_of_batch(
    batch: &RecordBatch,
    parts: &BTreeMap<String, Option<String>>,
    out: &mut Vec<KmsEvent>,
) -> Result<(), String> {
    let c = Cols { batch };
    let (event_id, time, time_raw, name, ty) = (
        c.s("event_id")?,
        c.t("event_time")?,
        c.s("event_time_raw")?,
        c.s("event_name")?,
        c.s("event_type")?,
    );
    let (key_arn, key_given) = (c.s("key_arn")?, c.s("key_given")?);
    let (ct, carn, cacct, crole, cby, principal) = (
        c.s("caller_type")?,
        c.s("caller_arn")?,
        c.s("caller_account_id")?,
        c.s("caller_role_arn")?,
        c.s("caller_invoked_by")?,
        c.s("principal")?,
    );
    let (ip, ua, ec, em, ro, rid) = (
        c.s("source_ip")?,
        c.s("user_agent")?,
        c.s("error_code")?,
        c.s("error_message")?,
        c.b("read_only")?,
        c.s("request_id")?,
    );
    let (ctx, dkey, dctx) = (
        c.m("encryption_context")?,
        c.s("destination_key_arn")?,
        c.m("destination_encryption_context")?,
    );
    let (gid, gname, grantee, retiring, gops, gkind, gcons) = (
        c.s("grant_id")?,
        c.s("grant_name")?,
        c.s("grantee_principal")?,
        c.s("retiring_principal")?,
        c.l("grant_operations")?,
        c.s("grant_constraint_kind")?,
        c.m("grant_constraint")?,
    );
    let (kstate, ddate, pwd) = (
        c.s("key_state")?,
        c.s("deletion_date")?,
        c.s("pending_window_days")?,
    );
    let (gsp, rsp, gsrc) = (
        c.s_new("grantee_service_principal")?,
        c.s_new("retiring_service_principal")?,
        c.s_new("grant_source_arn")?,
    );
    let (shared, material, import_type, store) = (
        c.s_new("shared_event_id")?,
        c.s_new("key_material_id")?,
        c.s_new("import_type")?,
        c.s_new("custom_key_store_id")?,
    );
    let key_policy = c.s_new("key_policy")?;
    for i in 0..batch.num_rows() {
        let event_name = opt_s(name, i).unwrap_or_default();
        // Classified again: a newer keytrail may know more event names than the one that
        // wrote the row (the stored category is for readers of the table).
        let category = crate::model::kms::classify(&event_name);
        let key = KeyRef {
            arn: opt_s(key_arn, i),
            given: opt_s(key_given, i),
        };
        let context = opt_map(ctx, i);
        let uses = if category != Category::KeyUse {
            Vec::new()
        } else if event_name == "ReEncrypt" {
            vec![
                KeyUse {
                    key: key.clone(),
                    operation: "ReEncryptFrom".into(),
                    context: context.clone(),
                },
                KeyUse {
                    key: KeyRef {
                        arn: opt_s(dkey, i),
                        given: None,
                    },
                    operation: "ReEncryptTo".into(),
                    context: opt_map(dctx, i),
                },
            ]
        } else {
            vec![KeyUse {
                key: key.clone(),
                operation: event_name.clone(),
                context: context.clone(),
            }]
        };
        let arn = opt_s(carn, i);
        let role_arn = opt_s(crole, i);
        let invoked_by = opt_s(cby, i);
        let identity_type = opt_s(ct, i);
        let account_id = opt_s(cacct, i);
        let region = parts.get("region").cloned().flatten();
        let caller = Caller {
            identities: Caller::identities_of(IdentityFacts {
                identity_type: identity_type.as_deref(),
                arn: arn.as_deref(),
                role_arn: role_arn.as_deref(),
                invoked_by: invoked_by.as_deref(),
                account_id: account_id.as_deref(),
                region: region.as_deref(),
            }),
            identity_type,
            arn,
            account_id,
            role_arn,
            invoked_by,
            principal: opt_s(principal, i),
        };
        let grant = (category == Category::GrantChange).then(|| GrantFacts {
            grant_id: opt_s(gid, i),
            grant_name: opt_s(gname, i),
            grantee: opt_s(grantee, i),
            retiring_principal: opt_s(retiring, i),
            grantee_service_principal: opt_s_new(gsp, i),
            retiring_service_principal: opt_s_new(rsp, i),
            source_arn: opt_s_new(gsrc, i),
            operations: opt_list(gops, i),
            constraint_kind: opt_s(gkind, i),
            constraint: opt_map(gcons, i),
        });
        out.push(KmsEvent {
            event_id: opt_s(event_id, i),
            event_time: (!time.is_null(i)).then(|| time.value(i)),
            event_time_raw: opt_s(time_raw, i),
            event_name,
            event_type: opt_s(ty, i),
            category,
            account_id: parts.get("account_id").cloned().flatten(),
            region,
            key,
            caller,
            source_ip: opt_s(ip, i),
            user_agent: opt_s(ua, i),
            error_code: opt_s(ec, i),
            error_message: opt_s(em, i),
            read_only: (!ro.is_null(i)).then(|| ro.value(i)),
            request_id: opt_s(rid, i),
            encryption_context: context,
            uses,
            grant,
            key_state: opt_s(kstate, i),
            deletion_date: opt_s(ddate, i),
            pending_window_days: opt_s(pwd, i),
            shared_event_id: opt_s_new(shared, i),
            key_material_id: opt_s_new(material, i),
            import_type: opt_s_new(import_type, i),
            custom_key_store_id: opt_s_new(store, i),
            key_policy: opt_s_new(key_policy, i),
        });
    }
    Ok(())
}
