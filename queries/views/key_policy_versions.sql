-- key_policy_versions: every key policy version the trail logs (testdata/RULES.md, section
-- 6.1), one row per version and statement as in the key_policies table, with what the
-- verdict needs: the version's place among its key's versions (ordered by event time, then
-- eventID), when the next version was set, how messages name the version and the
-- statement, and whether it can be read. Rows of a policy event are kept once, and only for
-- the representative copy of a call (kms_calls); snapshot rows have no event and are kept
-- as they are.
CREATE OR REPLACE VIEW keytrail.key_policy_versions AS
WITH
rows_once AS (
  SELECT p.*,
         row_number() OVER (
           PARTITION BY coalesce(p.event_id, concat(p.key_arn, ' ', CAST(p.event_time AS varchar), ' ', p.source)),
                        p.statement_index
           ORDER BY p.account_id, p.region
         ) AS copy_number
  FROM keytrail.key_policies p
  WHERE p.event_time IS NOT NULL AND p.key_arn IS NOT NULL
    AND (p.event_id IS NULL OR p.event_id IN (SELECT event_id FROM keytrail.kms_calls WHERE error_code IS NULL))
),
versions AS (
  SELECT key_arn, event_time, event_id, source, event_name,
         coalesce(event_id, concat(key_arn, ' ', CAST(event_time AS varchar), ' ', source)) AS version_id,
         -- A snapshot's version (no eventID) sorts after a version of the same time.
         concat(date_format(event_time, '%Y-%m-%d %H:%i:%s.%f'), ' ', coalesce(event_id, '~')) AS version_key
  FROM rows_once
  WHERE copy_number = 1
  GROUP BY key_arn, event_time, event_id, source, event_name
),
ordered AS (
  SELECT v.*,
         row_number() OVER (PARTITION BY key_arn ORDER BY version_key) AS version_n,
         lead(event_time) OVER (PARTITION BY key_arn ORDER BY version_key) AS next_time,
         -- A snapshot's version: the table does not hold the snapshot's time, which section
         -- 6.6 puts after "taken at".
         CASE WHEN source = 'default' THEN 'the default key policy'
              WHEN source = 'snapshot' THEN 'the policy in the snapshot'
              ELSE concat('the policy set by ', coalesce(event_name, source), ' at ',
                          date_format(event_time, '%Y-%m-%dT%H:%i:%s'),
                          CASE WHEN millisecond(event_time) % 1000 = 0 THEN ''
                               ELSE concat('.', lpad(CAST(millisecond(event_time) % 1000 AS varchar), 3, '0')) END,
                          'Z') END AS version_text
  FROM versions v
)
SELECT o.version_id, o.version_n, o.version_key, o.next_time, o.version_text,
       p.event_time, p.event_id, p.event_name, p.key_arn, p.source, p.principal, p.policy_error,
       p.policy_error IS NULL AS readable, p.statement_count, p.statement_index, p.sid, p.effect,
       p.principals, p.not_principal, p.actions, p.not_actions, p.conditions,
       CASE WHEN p.statement_index IS NULL THEN NULL
            WHEN o.source = 'default' THEN 'the default key policy'
            WHEN p.sid IS NULL OR trim(p.sid) = '' THEN concat('statement ', CAST(p.statement_index AS varchar), ' of ', o.version_text)
            ELSE concat('statement "', trim(p.sid), '" of ', o.version_text) END AS statement_text,
       p.policy, p.account_id, p.region, p.event_date
FROM rows_once p
JOIN ordered o
  ON o.key_arn = p.key_arn AND o.event_time = p.event_time AND o.source = p.source
 AND coalesce(o.event_id, '') = coalesce(p.event_id, '')
WHERE p.copy_number = 1
