-- findings_daily: The findings the view findings_recomputed returned on each day's scheduled run (queries/scheduled/materialize_findings.sql): the authority over all history, one copy per run_date.
-- Generated from src/tables/schema.rs (`keytrail schema --format ddl`); a test keeps it in step.
-- Placeholder: ${output} = s3://bucket/prefix the tables were written under. Written by
-- queries/scheduled/, whose INSERT INTO registers each run_date partition (no projection).
CREATE EXTERNAL TABLE IF NOT EXISTS keytrail.findings_daily (
  `rule` string COMMENT 'Rule id (see Findings).',
  `severity` string COMMENT 'high, medium or low.',
  `authorization` string COMMENT 'use-without-grant and use-after-grant-retired: what the key policy says of the call (key-policy, iam-delegated, unknown, unexplained); null for the other rules.',
  `event_id` string COMMENT 'The event the finding is about.',
  `event_time` timestamp COMMENT 'Its time.',
  `event_name` string COMMENT 'Its KMS operation.',
  `key_arn` string COMMENT 'The key (for ReEncrypt, the side the finding is about).',
  `account_id` string COMMENT 'AWS account the event was recorded in (recipientAccountId).',
  `region` string COMMENT 'AWS Region of the event (awsRegion).',
  `principal` string COMMENT 'Normalised principal of the event.',
  `proton_template` string COMMENT 'Template of the context (aggregate rules: when only one).',
  `proton_resource` string COMMENT 'Resource of the context (aggregate rules: when only one).',
  `related_event_ids` array<string> COMMENT 'Events that explain the finding.',
  `message` string COMMENT 'One sentence saying why.',
  `advice` string COMMENT 'One sentence saying what to do.'
)
PARTITIONED BY (
  `run_date` string COMMENT 'UTC day the scheduled run wrote the row, YYYY-MM-DD.'
)
STORED AS PARQUET
LOCATION '${output}/findings_daily/'
TBLPROPERTIES (
  'classification' = 'parquet'
);
