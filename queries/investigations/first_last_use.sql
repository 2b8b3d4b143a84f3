-- First and last use of each template and resource, over all keys and accounts.
-- Parameters: none.
SELECT
  proton_template,
  proton_resource,
  min(first_seen) AS first_use,
  max(last_seen) AS last_use,
  sum(event_count) AS uses,
  count(DISTINCT key_arn) AS keys
FROM keytrail.proton_usage
WHERE outcome = 'success'
GROUP BY proton_template, proton_resource
ORDER BY proton_template, proton_resource
