-- Which key uses did no grant cover, in a time range?
-- Parameters: ${start} and ${end} (UTC timestamps, 'YYYY-MM-DD HH:MM:SS'; start inclusive,
-- end exclusive).
SELECT
  f.event_time,
  f.account_id,
  f.region,
  f.key_arn,
  f.event_name,
  f.principal,
  f.proton_template,
  f.proton_resource,
  f.event_id
FROM keytrail.findings_recomputed f
WHERE f.rule = 'use-without-grant'
  AND f.event_time >= CAST('${start}' AS timestamp)
  AND f.event_time < CAST('${end}' AS timestamp)
ORDER BY f.event_time, f.event_id
