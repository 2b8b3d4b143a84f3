-- key_states: The key-state timeline: one row per successful change.
-- Generated from src/tables/schema.rs (`keytrail schema --format ddl`); a test keeps it in step.
-- Placeholders: ${output} = s3://bucket/prefix the tables were written under;
-- ${accounts}, ${regions} = comma-separated account ids and regions to project.
CREATE EXTERNAL TABLE IF NOT EXISTS keytrail.key_states (
  `event_time` timestamp COMMENT 'When the state changed.',
  `event_id` string COMMENT 'The state-change event.',
  `key_arn` string COMMENT 'Key.',
  `event_name` string COMMENT 'DisableKey, EnableKey, ScheduleKeyDeletion, ...',
  `state` string COMMENT 'State the event reports or implies (Disabled, Enabled, PendingDeletion, PendingImport, Deleted, Creating, Unavailable, ...; null for ConnectCustomKeyStore, which restores).',
  `usable` boolean COMMENT 'Whether the key can be used in that state.',
  `state_class` string COMMENT 'usable, unusable or transient (see kms_events.key_state_class).',
  `previous_state` string COMMENT 'State after the key\'s previous change in the input.',
  `principal` string COMMENT 'Who changed it.',
  `deletion_date` string COMMENT 'ScheduleKeyDeletion deletionDate, as written.',
  `pending_window_days` string COMMENT 'ScheduleKeyDeletion pendingWindowInDays.',
  `key_material_id` string COMMENT 'Key material the event names.',
  `material_assumed_current` boolean COMMENT 'DeleteImportedKeyMaterial naming no key material: assumed to delete the current one.',
  `custom_key_store_id` string COMMENT 'Connect/DisconnectCustomKeyStore: the store.',
  `source` string COMMENT 'trail (a change the input logs) or snapshot (the state a --baseline snapshot recorded at its time, event_name DescribeKey, no event id; not a change).'
)
PARTITIONED BY (
  `account_id` string COMMENT 'AWS account the event was recorded in (recipientAccountId).',
  `region` string COMMENT 'AWS Region of the event (awsRegion).',
  `event_date` string COMMENT 'UTC day of the event time, YYYY-MM-DD (not the delivery day).'
)
STORED AS PARQUET
LOCATION '${output}/key_states/'
TBLPROPERTIES (
  'classification' = 'parquet',
  'projection.enabled' = 'true',
  'projection.account_id.type' = 'enum',
  'projection.account_id.values' = '${accounts}',
  'projection.region.type' = 'enum',
  'projection.region.values' = '${regions}',
  'projection.event_date.type' = 'date',
  'projection.event_date.format' = 'yyyy-MM-dd',
  'projection.event_date.range' = '2019-01-01,NOW',
  'projection.event_date.interval' = '1',
  'projection.event_date.interval.unit' = 'DAYS',
  'storage.location.template' = '${output}/key_states/account_id=${account_id}/region=${region}/event_date=${event_date}'
);
