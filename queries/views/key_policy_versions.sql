-- key_policy_versions: every key policy version the trail logs (testdata/RULES.md, section
-- 6.1), one row per version and statement as in the key_policies table, with what the
-- verdict needs: the version's place among its key's versions (ordered by event time, then
-- eventID), when the next version was set, how messages name the version and the
-- statement, and whether it can be read. Rows of a policy event are kept once, and only for
-- the representative copy of a call (kms_calls); snapshot rows have no event and are kept
-- as they are; a snapshot's version is named with the time its snapshot recorded the key's
-- state (key_states), and without one when the snapshot recorded none.
CREATE OR REPLACE VIEW keytrail.key_policy_versions AS
WITH
rows_once AS (
  SELECT r.*,
         row_number() OVER (PARTITION BY version_id, statement_index ORDER BY account_id, region) AS copy_number
  FROM (
    SELECT p.*,
           coalesce(p.event_id, concat(p.key_arn, ' ', coalesce(CAST(p.event_time AS varchar), ''), ' ', p.source)) AS version_id
    FROM keytrail.key_policies p
    -- A snapshot's policy assumed in force throughout the input has no time.
    WHERE (p.event_time IS NOT NULL OR p.source = 'snapshot') AND p.key_arn IS NOT NULL
      AND (p.event_id IS NULL OR p.event_id IN (SELECT event_id FROM keytrail.kms_calls WHERE error_code IS NULL))
  ) r
),
versions AS (
  SELECT key_arn, event_time, event_id, source, event_name, version_id,
         -- A snapshot's version (no eventID) sorts after a version of the same time, and
         -- first without one.
         CASE WHEN event_time IS NULL THEN '0'
              ELSE concat(date_format(event_time, '%Y-%m-%d %H:%i:%s.%f'), ' ', coalesce(event_id, '~')) END AS version_key,
         CASE WHEN event_time IS NULL THEN NULL
              ELSE concat(date_format(event_time, '%Y-%m-%dT%H:%i:%s'),
                          CASE WHEN millisecond(event_time) % 1000 = 0 THEN ''
                               ELSE concat('.', lpad(CAST(millisecond(event_time) % 1000 AS varchar), 3, '0')) END,
                          'Z') END AS time_text
  FROM rows_once
  WHERE copy_number = 1
  GROUP BY key_arn, event_time, event_id, source, event_name, version_id
),
-- When a snapshot's version was taken: the key's state its snapshot recorded (key_states
-- rows with source snapshot), the first at or after the version's time.
taken AS (
  SELECT v.version_id, min(k.event_time) AS taken_time
  FROM versions v
  JOIN keytrail.key_states k
    ON k.key_arn = v.key_arn AND k.source = 'snapshot' AND k.event_time IS NOT NULL
   AND (v.event_time IS NULL OR k.event_time >= v.event_time)
  WHERE v.source = 'snapshot'
  GROUP BY v.version_id
),
ordered AS (
  SELECT v.*,
         CASE WHEN t.taken_time IS NULL THEN ''
              ELSE concat(' taken at ', date_format(t.taken_time, '%Y-%m-%dT%H:%i:%s'),
                          CASE WHEN millisecond(t.taken_time) % 1000 = 0 THEN ''
                               ELSE concat('.', lpad(CAST(millisecond(t.taken_time) % 1000 AS varchar), 3, '0')) END,
                          'Z') END AS taken_text,
         row_number() OVER (PARTITION BY key_arn ORDER BY version_key) AS version_n,
         lead(event_time) OVER (PARTITION BY key_arn ORDER BY version_key) AS next_time,
         -- A snapshot's version is in force since the key's latest policy version at or
         -- before the snapshot (one of the same time), else since the key's creation, else
         -- throughout.
         CASE WHEN source = 'default' THEN 'the default key policy'
              WHEN source = 'snapshot' AND event_time IS NULL
                THEN concat('the policy in the snapshot', taken_text, ' (assumed in force throughout the input)')
              WHEN source = 'snapshot'
                THEN concat('the policy in the snapshot', taken_text, ' (assumed in force since ',
                            CASE WHEN count(*) OVER (PARTITION BY key_arn, event_time) > 1 THEN ''
                                 ELSE 'the key''s creation at ' END, time_text, ')')
              ELSE concat('the policy set by ', coalesce(event_name, source), ' at ', time_text) END AS version_text
  FROM versions v
  LEFT JOIN taken t ON t.version_id = v.version_id
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
JOIN ordered o ON o.version_id = p.version_id
WHERE p.copy_number = 1
