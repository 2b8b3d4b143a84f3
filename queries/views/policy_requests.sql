-- policy_requests: the request each successful key use makes, as a key policy sees it
-- (testdata/RULES.md, section 6.3), with the policy versions in force at its time (6.2).
-- One row per use side (ReEncrypt: ReEncryptFrom on the source key with the source context,
-- ReEncryptTo on the destination key with the destination context) and version in force;
-- a use with none has one row with no version. Condition keys come as a state (absent,
-- single or unknown) and a value: kms:ViaService, kms:CallerAccount/aws:PrincipalAccount,
-- aws:PrincipalArn, aws:PrincipalType, aws:PrincipalServiceName. The encryption context
-- is ctx. ids are the identities principals are compared with (section 1: the account
-- root only for a typed caller other than AWSService).
--
-- GRACE: 300 seconds, as in findings_recomputed (change both INTERVAL '300' SECOND).
CREATE OR REPLACE VIEW keytrail.policy_requests AS
WITH
sides AS (
  SELECT event_id, event_time, key_arn, CASE WHEN event_name = 'ReEncrypt' THEN 'ReEncryptFrom' ELSE event_name END AS operation,
         encryption_context AS ctx, caller_type, caller_arn, caller_account_id, caller_role_arn, caller_invoked_by,
         caller_identities, region
  FROM keytrail.kms_calls
  WHERE category = 'key-use' AND error_code IS NULL
  UNION ALL
  SELECT event_id, event_time, destination_key_arn, 'ReEncryptTo', destination_encryption_context, caller_type, caller_arn,
         caller_account_id, caller_role_arn, caller_invoked_by, caller_identities, region
  FROM keytrail.kms_calls
  WHERE category = 'key-use' AND error_code IS NULL AND event_name = 'ReEncrypt'
),
-- kms:ViaService: invokedBy as it is when it names a region, else <svc>.<awsRegion>.<suffix>.
hosts AS (
  SELECT s.*, coalesce(caller_type = 'AWSService', false) AS is_service,
         coalesce(nullif(caller_account_id, ''), nullif(split_part(caller_arn, ':', 5), '')) AS account,
         trim(caller_invoked_by) AS host,
         nullif(regexp_extract(trim(caller_invoked_by), '^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*)\.(amazonaws\.com(\.cn)?)$', 1), '') AS svc,
         nullif(regexp_extract(trim(caller_invoked_by), '^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*)\.(amazonaws\.com(\.cn)?)$', 3), '') AS suffix
  FROM sides s
  WHERE key_arn IS NOT NULL
),
req AS (
  SELECT h.*, lower(concat('kms:', operation)) AS action,
         coalesce(caller_identities, CAST(ARRAY[] AS array(varchar))) AS ids,
         CASE WHEN is_service OR coalesce(caller_invoked_by, '') = '' THEN 'absent'
              WHEN svc IS NULL THEN 'unknown'
              WHEN strpos(svc, '.') > 0 AND regexp_like(regexp_extract(svc, '[^.]*$'), '^[a-z]+(-[a-z]+)+-[0-9]+$') THEN 'single'
              WHEN regexp_like(trim(coalesce(region, '')), '^[a-z]+(-[a-z]+)+-[0-9]+$') THEN 'single'
              ELSE 'unknown' END AS via_state,
         CASE WHEN strpos(svc, '.') > 0 AND regexp_like(regexp_extract(svc, '[^.]*$'), '^[a-z]+(-[a-z]+)+-[0-9]+$') THEN host
              ELSE concat(svc, '.', trim(region), '.', suffix) END AS via,
         CASE WHEN is_service OR account IS NULL THEN 'absent' ELSE 'single' END AS account_state,
         CASE WHEN is_service THEN NULL WHEN caller_type = 'AssumedRole' THEN coalesce(caller_role_arn, caller_arn) ELSE caller_arn END AS principal_arn,
         CASE WHEN is_service THEN 'absent'
              WHEN caller_type IN ('Root', 'IAMUser', 'AssumedRole', 'FederatedUser') THEN 'single'
              ELSE 'unknown' END AS principal_type_state,
         CASE caller_type WHEN 'Root' THEN 'Account' WHEN 'IAMUser' THEN 'User' ELSE caller_type END AS principal_type,
         -- The service principal as section 1 normalises it, else invokedBy as it is.
         CASE WHEN is_service THEN coalesce(element_at(filter(coalesce(caller_identities, CAST(ARRAY[] AS array(varchar))),
                                                              x -> NOT regexp_like(x, '^arn:')), 1),
                                            nullif(trim(caller_invoked_by), '')) END AS service_name
  FROM hosts h
)
SELECT r.event_id, r.operation, r.event_time, r.key_arn, r.action, r.ctx, r.ids, r.caller_type, r.account,
       r.via_state, r.via, r.account_state, r.principal_arn, r.principal_type_state, r.principal_type, r.service_name,
       v.version_id, v.version_n, v.version_key, v.version_text, v.event_id AS version_event_id, v.event_time AS version_time,
       v.source, v.readable
FROM req r
LEFT JOIN keytrail.key_policy_versions v
  ON v.key_arn = r.key_arn AND coalesce(v.statement_index, 1) = 1
 AND (v.event_time IS NULL OR v.event_time <= r.event_time)
 AND (v.next_time IS NULL OR v.next_time + INTERVAL '300' SECOND >= r.event_time)
