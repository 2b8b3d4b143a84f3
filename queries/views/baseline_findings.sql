-- baseline_findings: the reconciliation findings of a --baseline snapshot (testdata/RULES.md,
-- section 6.6), with the columns of findings_recomputed (which includes them). No event of
-- the trail is theirs: event_id is empty; principal, template, resource and authorization
-- are null; account and region are the key ARN's.
--   grant-missing-from-trail (low): a snapshot grant (grants rows with source snapshot, the
--     ones the input has no CreateGrant for) created within the time the input's KMS events
--     of the key's account and region cover.
--   state-disagrees-with-snapshot (medium): the key's effective state at the snapshot time
--     (key_state_effective, its last change at or before) is not the state the snapshot
--     recorded (key_states rows with source snapshot); none when no change precedes it.
CREATE OR REPLACE VIEW keytrail.baseline_findings AS
WITH
observed AS (
  SELECT key_arn, event_time, state,
         concat(date_format(event_time, '%Y-%m-%dT%H:%i:%s'),
                CASE WHEN millisecond(event_time) % 1000 = 0 THEN ''
                     ELSE concat('.', lpad(CAST(millisecond(event_time) % 1000 AS varchar), 3, '0')) END, 'Z') AS time_text,
         row_number() OVER (PARTITION BY key_arn, event_time ORDER BY state) AS n
  FROM keytrail.key_states
  WHERE source = 'snapshot' AND key_arn IS NOT NULL AND event_time IS NOT NULL
),
-- The time the input's KMS events cover, per account and region.
spans AS (
  SELECT s.*,
         concat(date_format(first_time, '%Y-%m-%dT%H:%i:%s'),
                CASE WHEN millisecond(first_time) % 1000 = 0 THEN ''
                     ELSE concat('.', lpad(CAST(millisecond(first_time) % 1000 AS varchar), 3, '0')) END, 'Z') AS first_text,
         concat(date_format(last_time, '%Y-%m-%dT%H:%i:%s'),
                CASE WHEN millisecond(last_time) % 1000 = 0 THEN ''
                     ELSE concat('.', lpad(CAST(millisecond(last_time) % 1000 AS varchar), 3, '0')) END, 'Z') AS last_text
  FROM (SELECT account_id, region, min(event_time) AS first_time, max(event_time) AS last_time
        FROM keytrail.kms_events_dedup
        WHERE event_time IS NOT NULL
        GROUP BY account_id, region) s
),
missing AS (
  SELECT g.*, split_part(g.key_arn, ':', 5) AS key_account, split_part(g.key_arn, ':', 4) AS key_region,
         concat(date_format(g.created_time, '%Y-%m-%dT%H:%i:%s'),
                CASE WHEN millisecond(g.created_time) % 1000 = 0 THEN ''
                     ELSE concat('.', lpad(CAST(millisecond(g.created_time) % 1000 AS varchar), 3, '0')) END, 'Z') AS created_text,
         row_number() OVER (PARTITION BY g.grant_id ORDER BY g.created_time) AS n
  FROM keytrail.grants g
  WHERE g.source = 'snapshot' AND g.grant_id IS NOT NULL AND g.key_arn IS NOT NULL AND g.created_time IS NOT NULL
),
last_change AS (
  SELECT o.key_arn, o.event_time, o.state AS observed_state, o.time_text, c.event_id, c.event_name, c.state,
         c.time_text AS change_text, c.copy_event_ids,
         row_number() OVER (PARTITION BY o.key_arn, o.event_time ORDER BY c.sort_key DESC) AS n
  FROM observed o
  JOIN keytrail.key_state_effective c ON c.key_arn = o.key_arn AND c.event_time <= o.event_time
  WHERE o.n = 1
)
SELECT 'grant-missing-from-trail' AS rule, 'low' AS severity, CAST(NULL AS varchar) AS authorization, '' AS event_id,
       m.created_time AS event_time, 'CreateGrant' AS event_name, m.key_arn, m.key_account AS account_id,
       m.key_region AS region, CAST(NULL AS varchar) AS principal, CAST(NULL AS varchar) AS proton_template,
       CAST(NULL AS varchar) AS proton_resource, CAST(ARRAY[] AS array(varchar)) AS related_event_ids,
       concat('Grant ', m.grant_id, ' on ', m.key_arn, ', which the snapshot taken at ', o.time_text, ' lists as created at ',
              m.created_text, ', has no CreateGrant in the input, which covers ', m.key_account, ' ', m.key_region, ' from ',
              s.first_text, ' to ', s.last_text,
              ': events were not logged, filtered out or lost.') AS message,
       'Check the trail''s event selectors and delivery for that time: the input misses at least this CreateGrant.' AS advice
FROM missing m
JOIN spans s ON s.account_id = m.key_account AND s.region = m.key_region
JOIN (SELECT key_arn, max(time_text) AS time_text FROM observed GROUP BY key_arn) o ON o.key_arn = m.key_arn
WHERE m.n = 1 AND m.created_time >= s.first_time AND m.created_time <= s.last_time
UNION ALL
SELECT 'state-disagrees-with-snapshot', 'medium', CAST(NULL AS varchar), '', l.event_time, 'DescribeKey', l.key_arn,
       split_part(l.key_arn, ':', 5), split_part(l.key_arn, ':', 4), NULL, NULL, NULL,
       concat(ARRAY[l.event_id], l.copy_event_ids),
       concat('The snapshot taken at ', l.time_text, ' says ', l.key_arn, ' is ', l.observed_state, ', but the input leaves it ',
              l.state, ' (', l.event_name, ' at ', l.change_text, '): the input misses a key-state change.'),
       concat('Feed the logs from ', l.change_text, ' to ', l.time_text, ' to find the change the input misses.')
FROM last_change l
WHERE l.n = 1 AND l.state <> l.observed_state
