-- proton_usage: Key uses with a profile context, per day, key, template, resource, operation, principal and outcome.
-- Generated from src/tables/schema.rs (`keytrail schema --format ddl`); a test keeps it in step.
-- Placeholders: ${output} = s3://bucket/prefix the tables were written under;
-- ${accounts}, ${regions} = comma-separated account ids and regions to project.
CREATE EXTERNAL TABLE IF NOT EXISTS keytrail.proton_usage (
  `key_arn` string COMMENT 'Key ARN (null when unresolved).',
  `profile` string COMMENT 'Context profile.',
  `proton_template` string COMMENT 'Template value of the context.',
  `proton_resource` string COMMENT 'Resource value of the context.',
  `operation` string COMMENT 'Grant operation the use needs (Decrypt, ..., ReEncryptFrom/ReEncryptTo).',
  `principal` string COMMENT 'Normalised principal.',
  `outcome` string COMMENT 'success, or the errorCode.',
  `event_count` bigint COMMENT 'Number of distinct uses.',
  `first_seen` timestamp COMMENT 'Earliest use.',
  `last_seen` timestamp COMMENT 'Latest use.'
)
PARTITIONED BY (
  `account_id` string COMMENT 'AWS account the event was recorded in (recipientAccountId).',
  `region` string COMMENT 'AWS Region of the event (awsRegion).',
  `event_date` string COMMENT 'UTC day of the event time, YYYY-MM-DD (not the delivery day).'
)
STORED AS PARQUET
LOCATION '${output}/proton_usage/'
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
  'storage.location.template' = '${output}/proton_usage/account_id=${account_id}/region=${region}/event_date=${event_date}'
);
