-- policy_verdicts: the authorization verdict of each successful key use (testdata/RULES.md,
-- sections 6.2-6.5), one row per use side: key-policy, iam-delegated, unknown or
-- unexplained, the sentence findings add to their message, and the policy version's eventID
-- findings list among their related events (null when the verdict comes from no version or
-- a snapshot). A version's verdict is its first statement, in document order, at the first
-- step that applies: a Deny that holds (unexplained), a Deny that cannot be evaluated
-- (unknown), an Allow that holds for the caller itself or anyone (key-policy), such an Allow
-- that cannot be evaluated (unknown), an Allow that holds for the account root only
-- (iam-delegated), such an Allow that cannot be evaluated (unknown); else unexplained. The
-- use's verdict is the most permissive over the versions in force, newest first among
-- equals; within grace after a key's first PutKeyPolicy the unknown policy before it counts.
--
-- GRACE: 300 seconds, as in findings_recomputed (change every INTERVAL '300' SECOND).
CREATE OR REPLACE VIEW keytrail.policy_verdicts AS
WITH
steps AS (
  SELECT event_id, operation, version_id, statement_index, statement_text,
         CASE WHEN effect = 'Deny' AND outcome = 'holds' THEN 2
              WHEN effect = 'Deny' THEN 3
              WHEN outcome = 'holds' AND principal_match IN ('specific', 'any') THEN 4
              WHEN principal_match IN ('specific', 'any', 'uncertain') THEN 5
              WHEN outcome = 'holds' THEN 6
              ELSE 7 END AS step
  FROM keytrail.policy_statements
  WHERE outcome <> 'no' AND effect IN ('Allow', 'Deny')
),
first_step AS (
  SELECT *
  FROM (SELECT s.*, row_number() OVER (PARTITION BY event_id, operation, version_id ORDER BY step, statement_index) AS n
        FROM steps s) ranked
  WHERE n = 1
),
-- Each candidate of a use: a version in force with its verdict, or the unknown policy before
-- a first PutKeyPolicy, or (no version known at all) nothing.
candidates AS (
  SELECT r.event_id, r.operation, r.key_arn, r.account, r.version_key, r.version_event_id, r.version_text,
         CASE WHEN r.version_id IS NULL THEN 0 WHEN NOT r.readable THEN 1 ELSE coalesce(f.step, 8) END AS step,
         f.statement_text
  FROM keytrail.policy_requests r
  LEFT JOIN first_step f ON f.event_id = r.event_id AND f.operation = r.operation AND f.version_id = r.version_id
  UNION ALL
  SELECT event_id, operation, key_arn, account, NULL, NULL, NULL, 0, NULL
  FROM keytrail.policy_requests
  WHERE version_n = 1 AND source = 'PutKeyPolicy' AND event_time <= version_time + INTERVAL '300' SECOND
),
judged AS (
  SELECT c.*,
         CASE WHEN step = 4 THEN 'key-policy' WHEN step = 6 THEN 'iam-delegated'
              WHEN step IN (2, 8) THEN 'unexplained' ELSE 'unknown' END AS authorization
  FROM candidates c
),
ranked AS (
  SELECT j.*,
         row_number() OVER (
           PARTITION BY event_id, operation
           ORDER BY CASE authorization WHEN 'key-policy' THEN 1 WHEN 'iam-delegated' THEN 2 WHEN 'unknown' THEN 3 ELSE 4 END,
                    version_key DESC NULLS LAST
         ) AS n
  FROM judged j
)
SELECT event_id, operation, key_arn, authorization, version_event_id AS related_event_id, statement_text, version_text,
       CASE step
         WHEN 0 THEN ' Key policy: no policy of this key is in the input.'
         WHEN 1 THEN concat(' Key policy: ', version_text, ' cannot be read.')
         WHEN 2 THEN concat(' Key policy: ', statement_text, ' denies it.')
         WHEN 4 THEN concat(' Key policy: ', statement_text, ' allows it.')
         WHEN 6 THEN concat(' Key policy: ', statement_text, ' delegates it to the IAM policies of account ',
                            coalesce(account, 'of the caller'), '.')
         WHEN 8 THEN concat(' Key policy: no statement of ', version_text, ' allows it.')
         ELSE concat(' Key policy: ', statement_text, ' cannot be evaluated from the log.') END AS sentence
FROM ranked
WHERE n = 1
