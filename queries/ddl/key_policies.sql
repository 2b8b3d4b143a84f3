-- key_policies: Every key policy version the input logs (and a snapshot's), one row per statement.
-- Generated from src/tables/schema.rs (`keytrail schema --format ddl`); a test keeps it in step.
-- Placeholders: ${output} = s3://bucket/prefix the tables were written under;
-- ${accounts}, ${regions} = comma-separated account ids and regions to project.
CREATE EXTERNAL TABLE IF NOT EXISTS keytrail.key_policies (
  `event_time` timestamp COMMENT 'When the version took effect (the event\'s time; snapshot: inferred).',
  `event_id` string COMMENT 'The CreateKey, ReplicateKey or PutKeyPolicy event (null for a snapshot).',
  `event_name` string COMMENT 'That event\'s name.',
  `key_arn` string COMMENT 'Key.',
  `source` string COMMENT 'CreateKey, ReplicateKey, PutKeyPolicy, default (KMS\'s default key policy, applied when CreateKey or ReplicateKey names none) or snapshot.',
  `principal` string COMMENT 'Who set the policy.',
  `policy_error` string COMMENT 'Why the version cannot be read (null when it can): its findings are then unknown.',
  `statement_count` bigint COMMENT 'Statements in the version.',
  `statement_index` bigint COMMENT 'The statement\'s position, from 1 (null on the one row of a version with no readable statement).',
  `sid` string COMMENT 'The statement\'s Sid.',
  `effect` string COMMENT 'Allow or Deny (as written).',
  `principals` array<string> COMMENT 'Principal (or NotPrincipal) values normalised as they are matched: a bare account id as its root ARN, role ARNs without path, service principals lower-case without Region; * for anyone.',
  `not_principal` boolean COMMENT 'Whether the statement names NotPrincipal rather than Principal.',
  `actions` array<string> COMMENT 'Action values as written (null with NotAction).',
  `not_actions` array<string> COMMENT 'NotAction values as written (null with Action).',
  `conditions` array<struct<operator:string,key:string,values:array<string>>> COMMENT 'One entry per condition operator and key, values as strings.',
  `policy` string COMMENT 'The version\'s policy text as logged (the default key policy\'s JSON for default).'
)
PARTITIONED BY (
  `account_id` string COMMENT 'AWS account the event was recorded in (recipientAccountId).',
  `region` string COMMENT 'AWS Region of the event (awsRegion).',
  `event_date` string COMMENT 'UTC day of the event time, YYYY-MM-DD (not the delivery day).'
)
STORED AS PARQUET
LOCATION '${output}/key_policies/'
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
  'storage.location.template' = '${output}/key_policies/account_id=${account_id}/region=${region}/event_date=${event_date}'
);
