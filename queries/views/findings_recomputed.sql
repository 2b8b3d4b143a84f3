-- findings_recomputed: keytrail's findings rules (testdata/RULES.md, sections 2 and 4;
-- README.md, "Findings") recomputed in SQL over all history, whatever order the files were
-- ingested in. Same columns as `keytrail findings --format json`, advice and authorization
-- included; on the same input it returns the same rows. The authorization verdict of a use
-- no grant covers (section 6) comes from policy_verdicts.
--
-- GRACE: the consistency window is 300 seconds (the CLI's default --grace). To use another
-- window, change every INTERVAL '300' SECOND below and the "within 300 s" of two messages.
--
-- The atoms the rules need (normalised caller identities, grantee and retiring principal,
-- profile matches per ReEncrypt side, each event's key state and its class) are columns
-- keytrail computes once, in Rust. Two views lay the ground: kms_calls (one row per call,
-- cross-account copies folded, order as sort_key) and key_state_effective (the key state
-- changes KMS applies, section 3). A finding about a call lists the call's other copies
-- after its own related events.
CREATE OR REPLACE VIEW keytrail.findings_recomputed AS
WITH
use_sides AS (
  SELECT event_id, sort_key, event_time, time_text, event_name, account_id, region, principal,
         caller_identities AS ids, error_code, error_message, key_arn,
         CASE WHEN event_name = 'ReEncrypt' THEN 'ReEncryptFrom' ELSE event_name END AS operation,
         encryption_context AS ctx, proton_template AS template, proton_resource AS resource,
         coalesce(constraint_key_present, false) AS has_ck, context_problem AS problem, copy_event_ids
  FROM keytrail.kms_calls
  WHERE category = 'key-use'
  UNION ALL
  SELECT event_id, sort_key, event_time, time_text, event_name, account_id, region, principal,
         caller_identities, error_code, error_message, destination_key_arn,
         'ReEncryptTo', destination_encryption_context,
         destination_proton_template, destination_proton_resource,
         coalesce(destination_constraint_key_present, false), destination_context_problem, copy_event_ids
  FROM keytrail.kms_calls
  WHERE category = 'key-use' AND event_name = 'ReEncrypt'
),
u AS (
  SELECT use_sides.*,
         concat(operation, ' by ', coalesce(principal, 'an unknown caller'),
                CASE WHEN resource IS NULL THEN '' ELSE concat(' for ', resource) END) AS what,
         coalesce(key_arn, 'an unresolved key') AS key_txt,
         regexp_like(lower(coalesce(error_message, '')), 'unavailable|creating|updating') AS error_transient
  FROM use_sides
),
-- Effective key-state changes, with "DisableKey at <T> left it Disabled" as messages say it.
changes AS (
  SELECT s.*,
         concat(event_name, ' at ', time_text, ' left it ', state,
                CASE WHEN material_assumed_current
                     THEN ' (the record names no key material: keytrail assumed the current one)' ELSE '' END) AS left_it
  FROM keytrail.key_state_effective s
),

-- Section 2: grants. A grant's life is its earliest creation and its first removal.
trail_creations AS (
  SELECT grant_id, key_arn, grantee_normalized AS grantee, retiring_normalized AS retiring,
         grant_operations AS ops, grant_constraint_kind AS ckind, grant_constraint AS c,
         grant_source_arn AS source_arn, event_time AS created_time, time_text AS created_txt,
         event_id AS created_id, sort_key AS created_key
  FROM keytrail.kms_calls
  WHERE event_name = 'CreateGrant' AND error_code IS NULL AND grant_id IS NOT NULL
),
-- A --baseline snapshot's grants (section 6.6) the input has no CreateGrant for: created at
-- their CreationDate, by no event; grantee and retiring principal normalised as in section 1.
snapshot_grants AS (
  SELECT g.*, split_part(key_arn, ':', 2) AS key_partition,
         row_number() OVER (PARTITION BY grant_id ORDER BY created_time) AS n
  FROM (SELECT grant_id, key_arn, operations, constraint_kind, constraint_context, source_arn, created_time,
               trim(coalesce(grantee_principal, grantee_service_principal)) AS g,
               trim(coalesce(retiring_principal, retiring_service_principal)) AS r
        FROM keytrail.grants
        WHERE source = 'snapshot' AND grant_id IS NOT NULL AND created_time IS NOT NULL
          AND grant_id NOT IN (SELECT grant_id FROM trail_creations)) g
),
-- A snapshot's CreationDate of a grant the input creates (CreateGrant is idempotent): the
-- grant exists from the earlier of the two (ties: the CreateGrant).
snapshot_dates AS (
  SELECT grant_id, min(snapshot_created_time) AS snapshot_created_time
  FROM keytrail.grants
  WHERE grant_id IS NOT NULL AND snapshot_created_time IS NOT NULL
  GROUP BY grant_id
),
creations AS (
  SELECT t.*, row_number() OVER (PARTITION BY grant_id ORDER BY created_key) AS creation_n
  FROM (
    SELECT * FROM trail_creations
    UNION ALL
    SELECT c.grant_id, c.key_arn, c.grantee, c.retiring, c.ops, c.ckind, c.c, c.source_arn, d.snapshot_created_time,
           concat(date_format(d.snapshot_created_time, '%Y-%m-%dT%H:%i:%s'),
                  CASE WHEN millisecond(d.snapshot_created_time) % 1000 = 0 THEN ''
                       ELSE concat('.', lpad(CAST(millisecond(d.snapshot_created_time) % 1000 AS varchar), 3, '0')) END, 'Z'),
           CAST(NULL AS varchar), concat(date_format(d.snapshot_created_time, '%Y-%m-%d %H:%i:%s.%f'), ' ')
    FROM trail_creations c
    JOIN snapshot_dates d ON d.grant_id = c.grant_id
    WHERE d.snapshot_created_time < c.created_time
    UNION ALL
    SELECT grant_id, key_arn,
           CASE WHEN regexp_like(g, '^[0-9]{12}$') THEN concat('arn:', key_partition, ':iam::', g, ':root')
                WHEN regexp_like(g, '^arn:[^:]*:iam::[^:]*:role/') THEN concat(regexp_extract(g, '^arn:[^:]*:iam::[^:]*:role/'), regexp_extract(g, '[^/]*$'))
                WHEN regexp_like(g, '^[^:/]+\.amazonaws\.com(\.cn)?$') THEN concat(
                  CASE WHEN regexp_like(regexp_extract(g, '^(.+)\.amazonaws\.com(\.cn)?$', 1), '^.+\.[a-z]+(-[a-z]+)+-[0-9]+$')
                         THEN regexp_extract(g, '^(.+)\.[^.]+\.amazonaws\.com(\.cn)?$', 1)
                       WHEN regexp_like(regexp_extract(g, '^(.+)\.amazonaws\.com(\.cn)?$', 1), '^[a-z]+(-[a-z]+)+-[0-9]+\..+$')
                         THEN regexp_extract(g, '^[^.]+\.(.+)\.amazonaws\.com(\.cn)?$', 1)
                       ELSE regexp_extract(g, '^(.+)\.amazonaws\.com(\.cn)?$', 1) END,
                  '.', regexp_extract(g, '(amazonaws\.com(\.cn)?)$', 1))
                ELSE g END,
           CASE WHEN regexp_like(r, '^[0-9]{12}$') THEN concat('arn:', key_partition, ':iam::', r, ':root')
                WHEN regexp_like(r, '^arn:[^:]*:iam::[^:]*:role/') THEN concat(regexp_extract(r, '^arn:[^:]*:iam::[^:]*:role/'), regexp_extract(r, '[^/]*$'))
                WHEN regexp_like(r, '^[^:/]+\.amazonaws\.com(\.cn)?$') THEN concat(
                  CASE WHEN regexp_like(regexp_extract(r, '^(.+)\.amazonaws\.com(\.cn)?$', 1), '^.+\.[a-z]+(-[a-z]+)+-[0-9]+$')
                         THEN regexp_extract(r, '^(.+)\.[^.]+\.amazonaws\.com(\.cn)?$', 1)
                       WHEN regexp_like(regexp_extract(r, '^(.+)\.amazonaws\.com(\.cn)?$', 1), '^[a-z]+(-[a-z]+)+-[0-9]+\..+$')
                         THEN regexp_extract(r, '^[^.]+\.(.+)\.amazonaws\.com(\.cn)?$', 1)
                       ELSE regexp_extract(r, '^(.+)\.amazonaws\.com(\.cn)?$', 1) END,
                  '.', regexp_extract(r, '(amazonaws\.com(\.cn)?)$', 1))
                ELSE r END,
           operations, constraint_kind, constraint_context, source_arn, created_time,
           concat(date_format(created_time, '%Y-%m-%dT%H:%i:%s'),
                  CASE WHEN millisecond(created_time) % 1000 = 0 THEN ''
                       ELSE concat('.', lpad(CAST(millisecond(created_time) % 1000 AS varchar), 3, '0')) END, 'Z'),
           CAST(NULL AS varchar), concat(date_format(created_time, '%Y-%m-%d %H:%i:%s.%f'), ' ')
    FROM snapshot_grants
    WHERE n = 1
  ) t
),
removals AS (
  SELECT grant_id, key_arn, sort_key, event_time AS removed_time, time_text AS removed_txt,
         event_id AS removed_id, event_name AS removed_name, principal, account_id, region,
         copy_event_ids, caller_identities AS ids, caller_arn,
         row_number() OVER (PARTITION BY grant_id ORDER BY sort_key) AS n
  FROM keytrail.kms_calls
  WHERE event_name IN ('RetireGrant', 'RevokeGrant') AND error_code IS NULL AND grant_id IS NOT NULL
),
grants AS (
  SELECT c.*, r.removed_time, r.removed_txt, r.removed_id, r.removed_name, r.sort_key AS removed_key,
         CASE WHEN c.source_arn IS NULL THEN ''
              ELSE concat(' Its source ARN constraint (', c.source_arn, ') was not checked: CloudTrail does not log it.') END AS note,
         -- A routine removal: a RetireGrant by the grantee or retiring principal itself (the
         -- caller's identities without the account root section 1 adds).
         coalesce(r.removed_name = 'RetireGrant'
                  AND cardinality(filter(r.ids, x -> (x = c.grantee OR x = c.retiring)
                                              AND (NOT regexp_like(x, '^arn:[^:]+:iam::[0-9]*:root$') OR x = r.caller_arn))) > 0,
                  false) AS routine
  FROM creations c
  LEFT JOIN removals r ON r.grant_id = c.grant_id AND r.n = 1
  WHERE c.creation_n = 1 AND c.key_arn IS NOT NULL
),
-- Grants that would cover a use with the constraint key (successful or not): every
-- condition but the end of the grant's life. covering: also alive at T (removal + grace);
-- live: not removed at or before T.
would_cover AS (
  SELECT u.event_id, u.operation, u.error_code, g.*,
         (g.removed_time IS NULL OR u.event_time < g.removed_time + INTERVAL '300' SECOND) AS covering,
         (g.removed_time IS NULL OR g.removed_time > u.event_time) AS live,
         g.created_time >= u.event_time - INTERVAL '300' SECOND AS fresh
  FROM u
  JOIN grants g ON g.key_arn = u.key_arn
  WHERE u.has_ck
    AND g.ops IS NOT NULL AND contains(g.ops, u.operation)
    AND g.grantee IS NOT NULL AND contains(u.ids, g.grantee)
    AND g.created_time <= u.event_time
    AND (g.c IS NULL
         OR (cardinality(filter(map_keys(g.c), k -> u.ctx IS NULL OR element_at(u.ctx, k) IS NULL
                                                     OR element_at(u.ctx, k) <> element_at(g.c, k))) = 0
             AND (g.ckind IS NULL OR g.ckind <> 'encryptionContextEquals'
                  OR coalesce(cardinality(map_keys(u.ctx)), 0) = cardinality(map_keys(g.c)))))
),
-- Per use: whether a grant covers it (successful) or is live (denied), and the grant that
-- explains the finding: the latest removal (a successful use not covered, a denial with
-- no live grant), else the latest fresh creation.
coverage AS (
  SELECT *
  FROM (
    SELECT w.*,
           row_number() OVER (PARTITION BY event_id, operation
                              ORDER BY CASE WHEN error_code IS NULL OR NOT any_live THEN removed_key END DESC NULLS LAST,
                                       CASE WHEN fresh THEN created_key END DESC NULLS LAST) AS n
    FROM (
      SELECT w.*, bool_or(covering) OVER (PARTITION BY event_id, operation) AS covered,
             bool_or(live) OVER (PARTITION BY event_id, operation) AS any_live
      FROM would_cover w
    ) w
  ) ranked
  WHERE n = 1
),

-- Dependents of the aggregate rules: the latest earlier use per template and resource of
-- a key (before an unusable-leaving change) or of a grant (covered, before its removal).
dependents AS (
  SELECT x.*, row_number() OVER (PARTITION BY key_arn, id, template, resource ORDER BY use_key DESC) AS n
  FROM (
    SELECT s.key_arn, s.event_id AS id, u.template, u.resource, u.event_id AS use_id, u.sort_key AS use_key
    FROM changes s
    JOIN u ON u.key_arn = s.key_arn AND u.sort_key < s.sort_key
    WHERE s.state_class = 'unusable' AND s.custom_key_store_id IS NULL AND u.error_code IS NULL AND u.has_ck
    UNION ALL
    SELECT NULL, g.removed_id, u.template, u.resource, u.event_id, u.sort_key
    FROM would_cover g
    JOIN u ON u.event_id = g.event_id AND u.operation = g.operation AND u.sort_key < g.removed_key
    WHERE g.covering AND g.error_code IS NULL
  ) x
),
-- Their counts and lists as messages show them: at most ten names, then "and N more".
dependents_text AS (
  SELECT key_arn, id, related, CASE WHEN cardinality(templates) = 1 THEN templates[1] END AS template,
         CASE WHEN cardinality(resources) = 1 THEN resources[1] END AS resource,
         concat(CAST(cardinality(templates) AS varchar), ' template(s) (', array_join(slice(templates, 1, 10), ', '),
                CASE WHEN cardinality(templates) > 10 THEN concat(' and ', CAST(cardinality(templates) - 10 AS varchar), ' more') ELSE '' END,
                ') and ', CAST(cardinality(resources) AS varchar), ' resource(s) (', array_join(slice(resources, 1, 10), ', '),
                CASE WHEN cardinality(resources) > 10 THEN concat(' and ', CAST(cardinality(resources) - 10 AS varchar), ' more') ELSE '' END,
                ') that used it before.') AS tail
  FROM (
    SELECT key_arn, id, array_sort(array_distinct(array_agg(use_id))) AS related,
           array_sort(array_distinct(filter(array_agg(template), x -> x IS NOT NULL))) AS templates,
           array_sort(array_distinct(filter(array_agg(resource), x -> x IS NOT NULL))) AS resources
    FROM dependents
    WHERE n = 1
    GROUP BY key_arn, id
  ) agg
),

-- Section 4: the rules over uses, one branch each, as (rule, severity, use, related,
-- message, advice); the use's columns are joined below.
use_findings AS (
  -- malformed-context (low): a use side whose context is malformed for its profile.
  SELECT 'malformed-context' AS rule, 'low' AS severity, event_id, operation,
         CAST(ARRAY[] AS array(varchar)) AS related,
         concat(what, ' carries a malformed encryption context: ', problem, '.') AS message,
         'Check the software that sends this context: both profile keys must carry matching ARNs.' AS advice
  FROM u
  WHERE problem IS NOT NULL
  UNION ALL
  -- use-after-key-disabled (high): a successful use, any context, of a key unusable at
  -- T - grace that no change in (T - grace, T] made usable.
  SELECT 'use-after-key-disabled', 'high', event_id, operation, ARRAY[s_id],
         concat(what, ' used ', key_txt, ' after ', s_left, '.'),
         'Check the key''s state now (DescribeKey): a successful use of an unusable key means the input misses a state change.'
  FROM (
    SELECT u.*, s.event_id AS s_id, s.left_it AS s_left, s.state_class AS s_class,
           row_number() OVER (PARTITION BY u.event_id, u.operation ORDER BY s.sort_key DESC) AS n
    FROM u
    JOIN changes s ON s.key_arn = u.key_arn AND s.event_time <= u.event_time - INTERVAL '300' SECOND
    WHERE u.error_code IS NULL
  ) b
  WHERE n = 1 AND s_class = 'unusable'
    AND NOT EXISTS (SELECT 1 FROM changes s2
                    WHERE s2.key_arn = b.key_arn AND s2.state_class = 'usable'
                      AND s2.event_time > b.event_time - INTERVAL '300' SECOND AND s2.event_time <= b.event_time)
  UNION ALL
  -- use-without-grant: no grant, living or removed, would have covered it; and
  -- use-after-grant-retired: only grants removed at or before T - grace would have. Their
  -- severity comes from the authorization verdict (see findings below).
  SELECT CASE WHEN c.grant_id IS NULL THEN 'use-without-grant' ELSE 'use-after-grant-retired' END, 'high',
         u.event_id, u.operation,
         CASE WHEN c.grant_id IS NULL THEN CAST(ARRAY[] AS array(varchar)) ELSE ARRAY[c.removed_id] END,
         CASE WHEN c.grant_id IS NULL THEN concat(what, ' used ', key_txt, ' and no grant in the input covers it.')
              ELSE concat(what, ' used ', key_txt, ' after grant ', c.grant_id, ' was removed by ', c.removed_name,
                          ' at ', c.removed_txt, '; no other grant covers it.', c.note) END,
         CASE WHEN c.grant_id IS NULL
              THEN concat('Feed logs from before ', time_text, ' or a grant snapshot: the grant that allowed this call may predate the input; if none did, find the key policy or IAM statement that allows it.')
              ELSE 'Recreate the grant (CreateGrant) if this caller still needs the key, or find the key policy or IAM statement that now allows the call.' END
  FROM u
  LEFT JOIN coverage c ON c.event_id = u.event_id AND c.operation = u.operation
  WHERE u.error_code IS NULL AND u.has_ck AND u.key_arn IS NOT NULL AND NOT coalesce(c.covered, false)
  UNION ALL
  -- denied-by-key-state (high / medium): a key-state failure, linked to the last effective
  -- change at or before T. High when it left the key unusable, or with none known when the
  -- error message names no transient state; medium when transient or usable.
  SELECT 'denied-by-key-state',
         CASE WHEN s_class = 'unusable' OR (s_id IS NULL AND NOT error_transient) THEN 'high' ELSE 'medium' END,
         event_id, operation, CASE WHEN s_id IS NULL THEN CAST(ARRAY[] AS array(varchar)) ELSE ARRAY[s_id] END,
         concat(what, ' failed with ', error_code, ' on ', key_txt,
                CASE WHEN s_id IS NULL AND error_transient THEN ', whose message names a temporary state: the failure is temporary.'
                     WHEN s_id IS NULL THEN ': that resource can no longer read its data.'
                     WHEN s_class = 'unusable' THEN concat(' after ', s_left, ': that resource can no longer read its data.')
                     WHEN s_class = 'transient' THEN concat(' after ', s_left, ', a temporary state: the failure is temporary.')
                     WHEN just_usable THEN concat(' within 300 s after ', s_left, ': the change had not yet taken effect.')
                     ELSE concat(' although ', s_left, ': the failure has another cause.') END),
         CASE WHEN s_class = 'transient' OR (s_id IS NULL AND error_transient)
                THEN 'Retry once the key is available again; if the failure persists, check the custom key store or the replica (DescribeKey).'
              WHEN s_id IS NULL THEN 'Check the key''s state (DescribeKey): enable it, cancel its deletion or import its material, whichever it needs.'
              WHEN just_usable THEN 'Retry: the change that made the key usable may not have taken effect yet.'
              WHEN s_class = 'usable' THEN 'Check the key''s state and this request (DescribeKey): the key was usable after its last known change.'
              WHEN s_state = 'Disabled' THEN 'Enable the key (EnableKey) to restore access.'
              WHEN s_state IN ('PendingDeletion', 'PendingReplicaDeletion')
                THEN concat('Cancel the deletion (CancelKeyDeletion) before ', coalesce(s_deletion_date, 'the end of the waiting period'),
                            ', then enable the key (EnableKey).')
              WHEN s_state = 'PendingImport' THEN 'Import the key material again (ImportKeyMaterial) to restore access.'
              ELSE 'The key is deleted: its data cannot be decrypted; restore it from another copy.' END
  FROM (
    SELECT u.*, s.event_id AS s_id, s.left_it AS s_left, s.state AS s_state, s.state_class AS s_class,
           s.deletion_date AS s_deletion_date,
           s.state_class = 'usable' AND u.event_time < s.event_time + INTERVAL '300' SECOND AS just_usable,
           row_number() OVER (PARTITION BY u.event_id, u.operation ORDER BY s.sort_key DESC) AS n
    FROM u
    LEFT JOIN changes s ON s.key_arn = u.key_arn AND s.event_time <= u.event_time
    WHERE u.error_code IN ('DisabledException', 'KMSInvalidStateException', 'NotFoundException') AND u.has_ck
  ) a
  WHERE n = 1
  UNION ALL
  -- denied-after-grant-removed (high): no grant that would cover the call is live at T, one
  -- that would have was removed at or before T. Else denied-access: low when a grant that
  -- would cover it was created in [T - grace, T] (grants take effect with a delay), medium
  -- otherwise.
  SELECT CASE WHEN NOT c.any_live THEN 'denied-after-grant-removed' ELSE 'denied-access' END,
         CASE WHEN NOT c.any_live THEN 'high' WHEN c.fresh THEN 'low' ELSE 'medium' END,
         u.event_id, u.operation,
         CASE WHEN NOT c.any_live THEN ARRAY[c.removed_id]
              WHEN c.fresh AND c.created_id IS NOT NULL THEN ARRAY[c.created_id] ELSE CAST(ARRAY[] AS array(varchar)) END,
         concat(what, ' was denied access to ', key_txt, ' (', u.error_code, ')',
                CASE WHEN NOT c.any_live
                       THEN concat(' after grant ', c.grant_id, ' was removed by ', c.removed_name, ' at ', c.removed_txt,
                                   '; no other grant covers it: that resource can no longer read its data.', c.note)
                     WHEN c.fresh
                       THEN concat(' within 300 s after grant ', c.grant_id, ' that would cover it was created at ',
                                   c.created_txt, ': grants take effect with a delay.')
                     ELSE '.' END),
         CASE WHEN NOT c.any_live THEN 'Recreate the grant (CreateGrant) for this caller to restore access.'
              WHEN c.fresh THEN concat('Retry: the grant created at ', c.created_txt, ' may not have taken effect yet.')
              ELSE 'Check the key policy, IAM policies and grants of this caller for this operation and context.' END
  FROM u
  LEFT JOIN coverage c ON c.event_id = u.event_id AND c.operation = u.operation
  WHERE u.error_code IN ('AccessDeniedException', 'AccessDenied') AND u.has_ck
),
findings AS (
  -- use-without-grant and use-after-grant-retired carry the use's authorization verdict
  -- (section 6, view policy_verdicts): its severity, one more sentence, the policy version
  -- among the related events (before the copies) and, when the key policy explains the
  -- call, their own advice.
  SELECT f.rule,
         CASE WHEN v.authorization IS NULL THEN f.severity WHEN v.authorization = 'unexplained' THEN 'high'
              WHEN v.authorization = 'unknown' THEN 'medium' ELSE 'low' END AS severity,
         v.authorization, u.event_id, u.event_time, u.event_name, u.key_arn, u.account_id, u.region,
         u.principal, u.template AS proton_template, u.resource AS proton_resource,
         concat(f.related,
                CASE WHEN v.related_event_id IS NULL THEN CAST(ARRAY[] AS array(varchar)) ELSE ARRAY[v.related_event_id] END,
                u.copy_event_ids) AS related_event_ids,
         concat(f.message, coalesce(v.sentence, '')) AS message,
         CASE v.authorization
           WHEN 'key-policy' THEN 'No grant is needed: the key policy allows this call; narrow that statement if this caller should not use the key.'
           WHEN 'iam-delegated' THEN 'Check this caller''s IAM policies: the key policy lets them allow this call, which CloudTrail does not show.'
           ELSE f.advice END AS advice
  FROM use_findings f
  JOIN u ON u.event_id = f.event_id AND u.operation = f.operation
  LEFT JOIN keytrail.policy_verdicts v
    ON v.event_id = f.event_id AND v.operation = f.operation AND f.rule IN ('use-without-grant', 'use-after-grant-retired')
  UNION ALL
  -- key-disabled-with-dependents (medium): an effective DisableKey, ScheduleKeyDeletion or
  -- material deletion leaving the key unusable, of a key earlier uses depended on; and
  -- key-deleted-with-dependents (high): its effective DeleteKey.
  SELECT CASE WHEN s.event_name = 'DeleteKey' THEN 'key-deleted-with-dependents' ELSE 'key-disabled-with-dependents' END,
         CASE WHEN s.event_name = 'DeleteKey' THEN 'high' ELSE 'medium' END, CAST(NULL AS varchar),
         s.event_id, s.event_time, s.event_name, s.key_arn, s.account_id, s.region, s.principal,
         d.template, d.resource, concat(d.related, s.copy_event_ids),
         concat(s.event_name, ' of ', s.key_arn, ' by ', coalesce(s.principal, 'an unknown caller'),
                CASE WHEN s.event_name = 'DeleteKey' THEN ' makes unrecoverable the data of '
                     WHEN s.material_assumed_current
                       THEN ' (the record names no key material: keytrail assumed the current one) leaves unreadable the data of '
                     ELSE ' leaves unreadable the data of ' END, d.tail),
         CASE s.event_name
           WHEN 'DeleteKey' THEN 'Restore these resources'' data from another copy, or recreate them under a new key.'
           WHEN 'DisableKey' THEN 'Enable the key (EnableKey) if these resources still need their data.'
           WHEN 'ScheduleKeyDeletion'
             THEN concat('Cancel the deletion (CancelKeyDeletion) before ', coalesce(s.deletion_date, 'the end of the waiting period'),
                         ' if these resources still need their data.')
           ELSE 'Import the same key material again (ImportKeyMaterial) if these resources still need their data.' END
  FROM changes s
  JOIN dependents_text d ON d.key_arn = s.key_arn AND d.id = s.event_id
  WHERE s.event_name IN ('DisableKey', 'ScheduleKeyDeletion', 'DeleteExpiredKeyMaterial', 'DeleteImportedKeyMaterial', 'DeleteKey')
  UNION ALL
  -- grant-removed-with-dependents: the first removal of a grant that covered earlier uses.
  -- Low when routine (see grants), medium otherwise, RevokeGrant included.
  SELECT 'grant-removed-with-dependents', CASE WHEN g.routine THEN 'low' ELSE 'medium' END, CAST(NULL AS varchar),
         r.removed_id, r.removed_time, r.removed_name, coalesce(r.key_arn, g.key_arn), r.account_id,
         r.region, r.principal, d.template, d.resource, concat(d.related, r.copy_event_ids),
         concat(r.removed_name, ' of grant ', r.grant_id, ' by ', coalesce(r.principal, 'an unknown caller'),
                ' removes access to the data of ', d.tail, g.note),
         CASE WHEN g.routine
              THEN 'No action if the service retired its own grant after use; recreate it (CreateGrant) if these resources still need the key.'
              ELSE 'Recreate the grant (CreateGrant) if these resources still need the key, and check who removed it.' END
  FROM removals r
  JOIN grants g ON g.grant_id = r.grant_id
  JOIN dependents_text d ON d.key_arn IS NULL AND d.id = r.removed_id
  WHERE r.n = 1
)
SELECT rule, severity, authorization, event_id, event_time, event_name, key_arn, account_id, region, principal,
       proton_template, proton_resource, related_event_ids, message, advice
FROM findings
UNION ALL
-- The reconciliation findings of a --baseline snapshot (section 6.6).
SELECT rule, severity, authorization, event_id, event_time, event_name, key_arn, account_id, region, principal,
       proton_template, proton_resource, related_event_ids, message, advice
FROM keytrail.baseline_findings
