-- findings_recomputed: keytrail's findings rules (README.md, "Findings") recomputed in SQL
-- over all history, whatever order the files were ingested in. Same columns as
-- `keytrail findings --format json`; on the same input it returns the same rows.
--
-- GRACE: the consistency window is 300 seconds (the CLI's default --grace). To use another
-- window, change every INTERVAL '300' SECOND below.
--
-- The atoms the rules need (normalised caller identities and grantee, profile matches per
-- ReEncrypt side, key usability) are columns keytrail computes once, in Rust; this view only
-- does the timeline logic. Order is event time, then eventID.
CREATE OR REPLACE VIEW keytrail.findings_recomputed AS
WITH
ev AS (
  SELECT * FROM keytrail.kms_events_dedup WHERE event_time IS NOT NULL
),
use_sides AS (
  SELECT event_id, event_time, event_name, account_id, region, principal,
         caller_identities AS ids, error_code, key_arn,
         CASE WHEN event_name = 'ReEncrypt' THEN 'ReEncryptFrom' ELSE event_name END AS operation,
         encryption_context AS ctx, proton_template AS template, proton_resource AS resource,
         coalesce(constraint_key_present, false) AS has_ck, context_problem AS problem
  FROM ev
  WHERE category = 'key-use'
  UNION ALL
  SELECT event_id, event_time, event_name, account_id, region, principal,
         caller_identities, error_code, destination_key_arn,
         'ReEncryptTo', destination_encryption_context,
         destination_proton_template, destination_proton_resource,
         coalesce(destination_constraint_key_present, false), destination_context_problem
  FROM ev
  WHERE category = 'key-use' AND event_name = 'ReEncrypt'
),
u AS (
  SELECT use_sides.*,
         concat(operation, ' by ', coalesce(principal, 'an unknown caller'),
                CASE WHEN resource IS NULL THEN '' ELSE concat(' for ', resource) END) AS what,
         coalesce(key_arn, 'an unresolved key') AS key_txt
  FROM use_sides
),
states AS (
  SELECT key_arn, event_time, event_id, event_name, key_state AS state, key_usable AS usable,
         principal, account_id, region
  FROM ev
  WHERE category = 'key-state-change' AND error_code IS NULL AND key_usable IS NOT NULL
),
creations AS (
  SELECT grant_id, key_arn, grantee_normalized AS grantee, grant_operations AS ops,
         grant_constraint_kind AS ckind, grant_constraint AS c, event_time AS created_time,
         row_number() OVER (PARTITION BY grant_id ORDER BY event_time, event_id) AS n
  FROM ev
  WHERE event_name = 'CreateGrant' AND error_code IS NULL AND grant_id IS NOT NULL
),
removals AS (
  SELECT grant_id, key_arn, event_time AS removed_time, event_id AS removed_id,
         event_name AS removed_name, principal, account_id, region,
         row_number() OVER (PARTITION BY grant_id ORDER BY event_time, event_id) AS n
  FROM ev
  WHERE event_name IN ('RetireGrant', 'RevokeGrant') AND error_code IS NULL AND grant_id IS NOT NULL
),
grants AS (
  SELECT c.grant_id, c.key_arn, c.grantee, c.ops, c.ckind, c.c, c.created_time,
         r.removed_time, r.removed_id, r.removed_name
  FROM creations c
  LEFT JOIN removals r ON r.grant_id = c.grant_id AND r.n = 1
  WHERE c.n = 1 AND c.key_arn IS NOT NULL
),
-- Grants that would cover a successful constraint-key use, but for the end of their life.
candidates AS (
  SELECT u.event_id, u.operation, g.grant_id, g.removed_time, g.removed_id, g.removed_name,
         (g.removed_time IS NULL OR u.event_time < g.removed_time + INTERVAL '300' SECOND) AS covering
  FROM u
  JOIN grants g ON g.key_arn = u.key_arn
  WHERE u.error_code IS NULL AND u.has_ck
    AND g.ops IS NOT NULL AND contains(g.ops, u.operation)
    AND g.grantee IS NOT NULL AND contains(u.ids, g.grantee)
    AND g.created_time <= u.event_time
    AND (g.c IS NULL
         OR (cardinality(filter(map_keys(g.c), k -> u.ctx IS NULL OR element_at(u.ctx, k) IS NULL
                                                     OR element_at(u.ctx, k) <> element_at(g.c, k))) = 0
             AND (g.ckind IS NULL OR g.ckind <> 'encryptionContextEquals'
                  OR coalesce(cardinality(map_keys(u.ctx)), 0) = cardinality(map_keys(g.c)))))
),
coverage AS (
  SELECT event_id, operation, bool_or(covering) AS covered
  FROM candidates
  GROUP BY event_id, operation
),
latest_removal AS (
  SELECT event_id, operation, grant_id, removed_time, removed_id, removed_name,
         row_number() OVER (PARTITION BY event_id, operation
                            ORDER BY removed_time DESC, removed_id DESC) AS n
  FROM candidates
  WHERE NOT covering
),
state_before_grace AS (
  SELECT u.event_id, u.operation, s.event_id AS s_id, s.event_name AS s_name,
         s.event_time AS s_time, s.state AS s_state, s.usable AS s_usable,
         row_number() OVER (PARTITION BY u.event_id, u.operation
                            ORDER BY s.event_time DESC, s.event_id DESC) AS n
  FROM u
  JOIN states s ON s.key_arn = u.key_arn AND s.event_time <= u.event_time - INTERVAL '300' SECOND
  WHERE u.error_code IS NULL
),
state_at AS (
  SELECT u.event_id, u.operation, s.event_id AS s_id, s.event_name AS s_name,
         s.event_time AS s_time, s.state AS s_state, s.usable AS s_usable,
         row_number() OVER (PARTITION BY u.event_id, u.operation
                            ORDER BY s.event_time DESC, s.event_id DESC) AS n
  FROM u
  JOIN states s ON s.key_arn = u.key_arn AND s.event_time <= u.event_time
  WHERE u.error_code IN ('DisabledException', 'KMSInvalidStateException') AND u.has_ck
),
key_dependents AS (
  SELECT s.event_id AS s_id, u.template, u.resource, u.event_id AS use_id,
         row_number() OVER (PARTITION BY s.event_id, u.template, u.resource
                            ORDER BY u.event_time DESC, u.event_id DESC) AS n
  FROM states s
  JOIN u ON u.key_arn = s.key_arn
  WHERE s.event_name IN ('DisableKey', 'ScheduleKeyDeletion', 'DeleteImportedKeyMaterial')
    AND u.error_code IS NULL AND u.has_ck
    AND (u.event_time < s.event_time OR (u.event_time = s.event_time AND u.event_id < s.event_id))
),
grant_dependents AS (
  SELECT r.removed_id AS r_id, u.template, u.resource, u.event_id AS use_id,
         row_number() OVER (PARTITION BY r.removed_id, u.template, u.resource
                            ORDER BY u.event_time DESC, u.event_id DESC) AS n
  FROM removals r
  JOIN candidates c ON c.grant_id = r.grant_id AND c.covering
  JOIN u ON u.event_id = c.event_id AND u.operation = c.operation
  WHERE r.n = 1
    AND (u.event_time < r.removed_time OR (u.event_time = r.removed_time AND u.event_id < r.removed_id))
),
key_dependents_agg AS (
  SELECT s_id,
         array_sort(array_distinct(array_agg(use_id))) AS related,
         array_sort(array_distinct(filter(array_agg(template), x -> x IS NOT NULL))) AS templates,
         array_sort(array_distinct(filter(array_agg(resource), x -> x IS NOT NULL))) AS resources
  FROM key_dependents
  WHERE n = 1
  GROUP BY s_id
),
grant_dependents_agg AS (
  SELECT r_id,
         array_sort(array_distinct(array_agg(use_id))) AS related,
         array_sort(array_distinct(filter(array_agg(template), x -> x IS NOT NULL))) AS templates,
         array_sort(array_distinct(filter(array_agg(resource), x -> x IS NOT NULL))) AS resources
  FROM grant_dependents
  WHERE n = 1
  GROUP BY r_id
),
-- The dependents' counts and lists as the message shows them (at most ten names, then
-- "and N more"), formatted once for both aggregate rules.
dependents_text AS (
  SELECT s_id AS id, related, templates, resources,
         concat(CAST(cardinality(templates) AS varchar), ' template(s) (', CASE WHEN cardinality(templates) > 10
              THEN concat(array_join(slice(templates, 1, 10), ', '), ' and ',
                          CAST(cardinality(templates) - 10 AS varchar), ' more')
              ELSE array_join(templates, ', ') END,
                ') and ', CAST(cardinality(resources) AS varchar), ' resource(s) (', CASE WHEN cardinality(resources) > 10
              THEN concat(array_join(slice(resources, 1, 10), ', '), ' and ',
                          CAST(cardinality(resources) - 10 AS varchar), ' more')
              ELSE array_join(resources, ', ') END,
                ') that used it before.') AS tail
  FROM key_dependents_agg
  UNION ALL
  SELECT r_id, related, templates, resources,
         concat(CAST(cardinality(templates) AS varchar), ' template(s) (', CASE WHEN cardinality(templates) > 10
              THEN concat(array_join(slice(templates, 1, 10), ', '), ' and ',
                          CAST(cardinality(templates) - 10 AS varchar), ' more')
              ELSE array_join(templates, ', ') END,
                ') and ', CAST(cardinality(resources) AS varchar), ' resource(s) (', CASE WHEN cardinality(resources) > 10
              THEN concat(array_join(slice(resources, 1, 10), ', '), ' and ',
                          CAST(cardinality(resources) - 10 AS varchar), ' more')
              ELSE array_join(resources, ', ') END,
                ') that used it before.')
  FROM grant_dependents_agg
),
findings AS (
  -- malformed-context: any use side whose context is malformed for its profile
  SELECT 'malformed-context' AS rule, u.event_id, u.event_time, u.event_name, u.key_arn,
         u.account_id, u.region, u.principal, u.template AS proton_template,
         u.resource AS proton_resource, CAST(ARRAY[] AS array(varchar)) AS related_event_ids,
         concat(u.what, ' carries a malformed encryption context: ', u.problem, '.') AS message
  FROM u
  WHERE u.problem IS NOT NULL
  UNION ALL
  -- use-after-key-disabled: unusable for the whole grace window before the use
  SELECT 'use-after-key-disabled', u.event_id, u.event_time, u.event_name, u.key_arn,
         u.account_id, u.region, u.principal, u.template, u.resource, ARRAY[b.s_id],
         concat(u.what, ' used ', u.key_txt, ' after ', b.s_name, ' at ',
                date_format(b.s_time, '%Y-%m-%dT%H:%i:%sZ'), ' left it ', b.s_state, '.')
  FROM u
  JOIN state_before_grace b ON b.event_id = u.event_id AND b.operation = u.operation AND b.n = 1
  WHERE NOT b.s_usable
    AND NOT EXISTS (
      SELECT 1 FROM states s2
      WHERE s2.key_arn = u.key_arn AND s2.usable
        AND s2.event_time > u.event_time - INTERVAL '300' SECOND AND s2.event_time <= u.event_time)
  UNION ALL
  -- use-after-grant-retired: only grants removed at or before T - grace would have covered it
  SELECT 'use-after-grant-retired', u.event_id, u.event_time, u.event_name, u.key_arn,
         u.account_id, u.region, u.principal, u.template, u.resource, ARRAY[l.removed_id],
         concat(u.what, ' used ', u.key_txt, ' after grant ', l.grant_id, ' was removed by ',
                l.removed_name, ' at ', date_format(l.removed_time, '%Y-%m-%dT%H:%i:%sZ'),
                '; no other grant covers it.')
  FROM u
  JOIN coverage cv ON cv.event_id = u.event_id AND cv.operation = u.operation AND NOT cv.covered
  JOIN latest_removal l ON l.event_id = u.event_id AND l.operation = u.operation AND l.n = 1
  UNION ALL
  -- use-without-grant: no grant, living or removed, would have covered it
  SELECT 'use-without-grant', u.event_id, u.event_time, u.event_name, u.key_arn,
         u.account_id, u.region, u.principal, u.template, u.resource,
         CAST(ARRAY[] AS array(varchar)),
         concat(u.what, ' used ', u.key_txt, ' and no grant in the input covers it.')
  FROM u
  WHERE u.error_code IS NULL AND u.has_ck AND u.key_arn IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM candidates c WHERE c.event_id = u.event_id AND c.operation = u.operation)
  UNION ALL
  -- denied-by-key-state
  SELECT 'denied-by-key-state', u.event_id, u.event_time, u.event_name, u.key_arn,
         u.account_id, u.region, u.principal, u.template, u.resource,
         CASE WHEN a.s_id IS NULL THEN CAST(ARRAY[] AS array(varchar)) ELSE ARRAY[a.s_id] END,
         concat(u.what, ' failed with ', u.error_code, ' on ', u.key_txt,
                CASE WHEN a.s_id IS NULL THEN ''
                     ELSE concat(' after ', a.s_name, ' at ', date_format(a.s_time, '%Y-%m-%dT%H:%i:%sZ'),
                                 ' left it ', a.s_state) END,
                ': that resource can no longer read its data.')
  FROM u
  LEFT JOIN state_at a ON a.event_id = u.event_id AND a.operation = u.operation AND a.n = 1
                       AND NOT a.s_usable
  WHERE u.error_code IN ('DisabledException', 'KMSInvalidStateException') AND u.has_ck
  UNION ALL
  -- denied-access
  SELECT 'denied-access', u.event_id, u.event_time, u.event_name, u.key_arn,
         u.account_id, u.region, u.principal, u.template, u.resource,
         CAST(ARRAY[] AS array(varchar)),
         concat(u.what, ' was denied access to ', u.key_txt, ' (', u.error_code, ').')
  FROM u
  WHERE u.error_code IN ('AccessDeniedException', 'AccessDenied') AND u.has_ck
  UNION ALL
  -- key-disabled-with-dependents
  SELECT 'key-disabled-with-dependents', s.event_id, s.event_time, s.event_name, s.key_arn,
         s.account_id, s.region, s.principal,
         CASE WHEN cardinality(d.templates) = 1 THEN element_at(d.templates, 1) END,
         CASE WHEN cardinality(d.resources) = 1 THEN element_at(d.resources, 1) END,
         d.related,
         concat(s.event_name, ' of ', s.key_arn, ' by ', coalesce(s.principal, 'an unknown caller'),
                ' leaves unreadable the data of ', d.tail)
  FROM states s
  JOIN dependents_text d ON d.id = s.event_id
  UNION ALL
  -- grant-removed-with-dependents
  SELECT 'grant-removed-with-dependents', r.removed_id, r.removed_time, r.removed_name,
         coalesce(r.key_arn, g.key_arn), r.account_id, r.region, r.principal,
         CASE WHEN cardinality(d.templates) = 1 THEN element_at(d.templates, 1) END,
         CASE WHEN cardinality(d.resources) = 1 THEN element_at(d.resources, 1) END,
         d.related,
         concat(r.removed_name, ' of grant ', r.grant_id, ' by ', coalesce(r.principal, 'an unknown caller'),
                ' removes access to the data of ', d.tail)
  FROM removals r
  JOIN dependents_text d ON d.id = r.removed_id
  JOIN grants g ON g.grant_id = r.grant_id
  WHERE r.n = 1
)
SELECT rule,
       CASE WHEN rule IN ('use-without-grant', 'use-after-grant-retired', 'use-after-key-disabled',
                          'denied-by-key-state') THEN 'high'
            WHEN rule = 'malformed-context' THEN 'low'
            ELSE 'medium' END AS severity,
       event_id, event_time, event_name, key_arn, account_id, region, principal,
       proton_template, proton_resource, related_event_ids, message
FROM findings
