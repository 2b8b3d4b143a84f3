-- Which keys were used after they were disabled (or scheduled for deletion, or lost their
-- key material), across all accounts, and by whom?
-- Parameters: none.
SELECT
  account_id,
  region,
  key_arn,
  count(*) AS uses_after_disablement,
  min(event_time) AS first_use,
  max(event_time) AS last_use,
  array_join(array_sort(array_distinct(array_agg(principal))), ', ') AS principals
FROM keytrail.findings_recomputed
WHERE rule = 'use-after-key-disabled'
GROUP BY account_id, region, key_arn
ORDER BY account_id, region, key_arn
