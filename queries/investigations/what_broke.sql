-- What broke, and for which resources, when key K was disabled or deleted or one of its
-- grants was retired or revoked? The state changes and removals with the data they left
-- unreadable, then every use that failed or ran without cover afterwards.
-- Parameters: ${key_arn} (the key ARN).
SELECT
  f.event_time,
  f.rule,
  f.severity,
  f.event_name,
  f.event_id,
  f.proton_template,
  f.proton_resource,
  f.related_event_ids,
  f.message
FROM keytrail.findings_recomputed f
WHERE f.key_arn = '${key_arn}'
  AND f.rule IN ('key-disabled-with-dependents', 'key-deleted-with-dependents',
                 'grant-removed-with-dependents', 'denied-by-key-state', 'denied-after-grant-removed',
                 'use-after-key-disabled', 'use-after-grant-retired')
ORDER BY f.event_time, f.event_id, f.rule
