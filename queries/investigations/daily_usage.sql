-- Daily key use per key and principal, with failures broken out.
-- Parameters: none (add a WHERE on event_date to narrow the days read).
SELECT
  event_date,
  account_id,
  region,
  key_arn,
  principal,
  count(*) AS uses,
  count(*) FILTER (WHERE error_code IS NOT NULL) AS failed
FROM keytrail.kms_events_dedup
WHERE category = 'key-use'
GROUP BY event_date, account_id, region, key_arn, principal
ORDER BY event_date, account_id, region, key_arn, principal
