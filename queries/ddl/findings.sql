-- findings: Findings of the rules.
-- Generated from src/tables/schema.rs (`keytrail schema --format ddl`); a test keeps it in step.
-- Placeholders: ${output} = s3://bucket/prefix the tables were written under;
-- ${accounts}, ${regions} = comma-separated account ids and regions to project.
CREATE EXTERNAL TABLE IF NOT EXISTS keytrail.findings (
  `rule` string COMMENT 'Rule id (see Findings).',
  `severity` string COMMENT 'high, medium or low.',
  `authorization` string COMMENT 'use-without-grant and use-after-grant-retired: what the key policy says of the call (key-policy, iam-delegated, unknown, unexplained); null for the other rules.',
  `event_id` string COMMENT 'The event the finding is about.',
  `event_time` timestamp COMMENT 'Its time.',
  `event_name` string COMMENT 'Its KMS operation.',
  `key_arn` string COMMENT 'The key (for ReEncrypt, the side the finding is about).',
  `principal` string COMMENT 'Normalised principal of the event.',
  `proton_template` string COMMENT 'Template of the context (aggregate rules: when only one).',
  `proton_resource` string COMMENT 'Resource of the context (aggregate rules: when only one).',
  `related_event_ids` array<string> COMMENT 'Events that explain the finding.',
  `message` string COMMENT 'One sentence saying why.',
  `advice` string COMMENT 'One sentence saying what to do.'
)
PARTITIONED BY (
  `account_id` string COMMENT 'AWS account the event was recorded in (recipientAccountId).',
  `region` string COMMENT 'AWS Region of the event (awsRegion).',
  `event_date` string COMMENT 'UTC day of the event time, YYYY-MM-DD (not the delivery day).'
)
STORED AS PARQUET
LOCATION '${output}/findings/'
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
  'storage.location.template' = '${output}/findings/account_id=${account_id}/region=${region}/event_date=${event_date}'
);
