//! Reading keytrail's own `kms_events` tables back into the KMS model, so findings can be
//! recomputed over everything a deployment has written (`keytrail findings --tables`),
//! whatever order the Lambda ingested the files in.
//!
//! Pure: it takes Parquet bytes and the file's Hive path and returns events. The columns
//! are read through [`KmsEventColumns`], generated from the same declaration as the row
//! that wrote them, so each is found by its declared name and type.

use crate::model::kms::{Caller, Category, GrantFacts, IdentityFacts, KeyRef, KeyUse, KmsEvent};
use crate::tables::schema::{KmsEventColumns, NULL_PARTITION};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::file::reader::ChunkReader;
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

/// Columns without which a file is not a `kms_events` table at all. Any other column a
/// file lacks reads as null (every column but [`LATER_COLUMNS`] has been written since the
/// first release; those are reported).
const IDENTITY_COLUMNS: [&str; 3] = ["event_id", "event_time", "event_name"];

/// The events of one `kms_events` file, a record batch (at most [`BATCH_ROWS`] rows) at a
/// time, so memory holds one batch however large the file.
pub struct EventBatches {
    path: String,
    parts: BTreeMap<String, Option<String>>,
    reader: ParquetRecordBatchReader,
    /// Which of [`LATER_COLUMNS`] the file lacks (known once a batch has been read).
    pub missing_columns: Vec<&'static str>,
    failed: bool,
}

/// Rows per batch read back.
pub const BATCH_ROWS: usize = 8192;

/// Opens one `kms_events` Parquet file (bytes or a local file); `path` names it in errors
/// and gives the partition values.
pub fn open_events<R: ChunkReader + 'static>(
    path: &str,
    input: R,
) -> Result<EventBatches, ReadbackError> {
    let err = |reason: String| ReadbackError {
        file: path.to_string(),
        reason,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(input)
        .map_err(|e| err(e.to_string()))?
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| err(e.to_string()))?;
    Ok(EventBatches {
        path: path.to_string(),
        parts: partition_values(path),
        reader,
        missing_columns: Vec::new(),
        failed: false,
    })
}

impl Iterator for EventBatches {
    type Item = Result<Vec<KmsEvent>, ReadbackError>;

    /// The next batch's events; after an error, nothing more.
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let err = |reason: String| ReadbackError {
            file: self.path.clone(),
            reason,
        };
        let result = match self.reader.next()? {
            Err(e) => Err(err(e.to_string())),
            Ok(batch) => {
                let mut events = Vec::with_capacity(batch.num_rows());
                match events_of_batch(&batch, &self.parts, &mut events) {
                    Err(reason) => Err(err(reason)),
                    Ok(missing) => {
                        if self.missing_columns.is_empty() {
                            self.missing_columns = missing
                                .into_iter()
                                .filter(|c| LATER_COLUMNS.contains(c))
                                .collect();
                        }
                        Ok(events)
                    }
                }
            }
        };
        self.failed = result.is_err();
        Some(result)
    }
}

fn events_of_batch(
    batch: &RecordBatch,
    parts: &BTreeMap<String, Option<String>>,
    out: &mut Vec<KmsEvent>,
) -> Result<Vec<&'static str>, String> {
    let c = KmsEventColumns::of(batch)?;
    if let Some(lacking) = c.missing.iter().find(|m| IDENTITY_COLUMNS.contains(m)) {
        return Err(format!("no column {lacking}"));
    }
    for i in 0..batch.num_rows() {
        let event_name = c.event_name.owned(i).unwrap_or_default();
        // Classified again: a newer keytrail may know more event names than the one that
        // wrote the row (the stored category is for readers of the table).
        let category = crate::model::kms::classify(&event_name);
        let key = KeyRef {
            arn: c.key_arn.owned(i),
            given: c.key_given.owned(i),
        };
        let context = c.encryption_context.get(i);
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
                        arn: c.destination_key_arn.owned(i),
                        given: None,
                    },
                    operation: "ReEncryptTo".into(),
                    context: c.destination_encryption_context.get(i),
                },
            ]
        } else {
            vec![KeyUse {
                key: key.clone(),
                operation: event_name.clone(),
                context: context.clone(),
            }]
        };
        let arn = c.caller_arn.owned(i);
        let role_arn = c.caller_role_arn.owned(i);
        let invoked_by = c.caller_invoked_by.owned(i);
        let identity_type = c.caller_type.owned(i);
        let account_id = c.caller_account_id.owned(i);
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
            principal: c.principal.owned(i),
        };
        let grant = (category == Category::GrantChange).then(|| GrantFacts {
            grant_id: c.grant_id.owned(i),
            grant_name: c.grant_name.owned(i),
            grantee: c.grantee_principal.owned(i),
            retiring_principal: c.retiring_principal.owned(i),
            grantee_service_principal: c.grantee_service_principal.owned(i),
            retiring_service_principal: c.retiring_service_principal.owned(i),
            source_arn: c.grant_source_arn.owned(i),
            operations: c.grant_operations.get(i),
            constraint_kind: c.grant_constraint_kind.owned(i),
            constraint: c.grant_constraint.get(i),
        });
        out.push(KmsEvent {
            event_id: c.event_id.owned(i),
            event_time: c.event_time.get(i),
            event_time_raw: c.event_time_raw.owned(i),
            event_name,
            event_type: c.event_type.owned(i),
            category,
            account_id: parts.get("account_id").cloned().flatten(),
            region,
            key,
            caller,
            source_ip: c.source_ip.owned(i),
            user_agent: c.user_agent.owned(i),
            error_code: c.error_code.owned(i),
            error_message: c.error_message.owned(i),
            read_only: c.read_only.get(i),
            request_id: c.request_id.owned(i),
            encryption_context: context,
            uses,
            grant,
            key_state: c.key_state.owned(i),
            deletion_date: c.deletion_date.owned(i),
            pending_window_days: c.pending_window_days.owned(i),
            shared_event_id: c.shared_event_id.owned(i),
            key_material_id: c.key_material_id.owned(i),
            import_type: c.import_type.owned(i),
            custom_key_store_id: c.custom_key_store_id.owned(i),
            key_policy: c.key_policy.owned(i),
        });
    }
    Ok(c.missing)
}
