-- grant_lifecycle: every grant's life over all history: its creation (the earliest successful
-- CreateGrant with that grant id; KMS returns the same id for repeats), its first successful
-- RetireGrant or RevokeGrant, who did each, and how many removals were seen.
CREATE OR REPLACE VIEW keytrail.grant_lifecycle AS
WITH created AS (
  SELECT grant_id, key_arn, account_id, region, grant_name, grantee_principal, grantee_normalized,
         retiring_principal, grant_operations, grant_constraint_kind, grant_constraint,
         event_time AS created_time, principal AS created_by, event_id AS created_event_id,
         row_number() OVER (PARTITION BY grant_id ORDER BY event_time, event_id) AS n
  FROM keytrail.kms_events_dedup
  WHERE event_name = 'CreateGrant' AND error_code IS NULL AND grant_id IS NOT NULL AND event_time IS NOT NULL
),
removed AS (
  SELECT grant_id, key_arn, account_id, region, event_time AS removed_time, principal AS removed_by,
         event_id AS removed_event_id, event_name AS removed_via,
         row_number() OVER (PARTITION BY grant_id ORDER BY event_time, event_id) AS n,
         count(*) OVER (PARTITION BY grant_id) AS removal_count
  FROM keytrail.kms_events_dedup
  WHERE event_name IN ('RetireGrant', 'RevokeGrant') AND error_code IS NULL AND grant_id IS NOT NULL
    AND event_time IS NOT NULL
)
SELECT
  coalesce(c.grant_id, r.grant_id) AS grant_id,
  coalesce(c.key_arn, r.key_arn) AS key_arn,
  coalesce(c.account_id, r.account_id) AS account_id,
  coalesce(c.region, r.region) AS region,
  c.grant_name, c.grantee_principal, c.grantee_normalized, c.retiring_principal,
  c.grant_operations AS operations, c.grant_constraint_kind AS constraint_kind,
  c.grant_constraint AS constraint_context,
  c.created_time, c.created_by, c.created_event_id,
  r.removed_time, r.removed_by, r.removed_event_id, r.removed_via,
  coalesce(r.removal_count, 0) AS removal_count
FROM (SELECT * FROM created WHERE n = 1) c
FULL OUTER JOIN (SELECT * FROM removed WHERE n = 1) r ON c.grant_id = r.grant_id
