-- grants: One row per grant with its life as seen (partitioned by creation, else removal, time).
-- Generated from src/tables/schema.rs (`keytrail schema --format ddl`); a test keeps it in step.
-- Placeholders: ${output} = s3://bucket/prefix the tables were written under;
-- ${accounts}, ${regions} = comma-separated account ids and regions to project.
CREATE EXTERNAL TABLE IF NOT EXISTS keytrail.grants (
  `grant_id` string COMMENT 'Grant id.',
  `key_arn` string COMMENT 'Key the grant is on.',
  `grant_name` string COMMENT 'Grant name.',
  `grantee_principal` string COMMENT 'Grantee principal.',
  `retiring_principal` string COMMENT 'Retiring principal.',
  `grantee_service_principal` string COMMENT 'Grantee service principal (grants to AWS services).',
  `retiring_service_principal` string COMMENT 'Retiring service principal.',
  `source_arn` string COMMENT 'Source-ARN constraint, not checked (CloudTrail does not log a call\'s source ARN).',
  `operations` array<string> COMMENT 'Operations the grant allows; null when the request listed none.',
  `constraint_kind` string COMMENT 'encryptionContextSubset, encryptionContextEquals or null.',
  `constraint_context` map<string,string> COMMENT 'Constraint context.',
  `created_time` timestamp COMMENT 'When the grant was created (null: creation not in the input).',
  `created_by` string COMMENT 'Principal that created it.',
  `created_event_id` string COMMENT 'The CreateGrant event.',
  `removed_time` timestamp COMMENT 'First successful RetireGrant or RevokeGrant (null: still open).',
  `removed_by` string COMMENT 'Principal that removed it.',
  `removed_event_id` string COMMENT 'The removal event.',
  `removed_via` string COMMENT 'RetireGrant or RevokeGrant.',
  `removal_count` bigint COMMENT 'Successful removals seen (more than 1 means repeats).',
  `source` string COMMENT 'trail (a CreateGrant or removal in the input) or snapshot (a ListGrants entry of a --baseline snapshot the input has no CreateGrant for).',
  `snapshot_created_time` timestamp COMMENT 'The CreationDate a --baseline snapshot gives the grant (the grant exists from the earlier of it and created_time: CreateGrant is idempotent).'
)
PARTITIONED BY (
  `account_id` string COMMENT 'AWS account the event was recorded in (recipientAccountId).',
  `region` string COMMENT 'AWS Region of the event (awsRegion).',
  `event_date` string COMMENT 'UTC day of the event time, YYYY-MM-DD (not the delivery day).'
)
STORED AS PARQUET
LOCATION '${output}/grants/'
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
  'storage.location.template' = '${output}/grants/account_id=${account_id}/region=${region}/event_date=${event_date}'
);
