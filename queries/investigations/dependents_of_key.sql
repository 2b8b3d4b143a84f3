-- Which Proton templates and resources depend on key K?
-- Every template and resource whose data was encrypted or read with the key (successful
-- uses with a profile context), with first and last use, how many uses, which operations
-- and which principals.
-- Parameters: ${key_arn} (the key ARN).
SELECT
  proton_template,
  proton_resource,
  min(event_time) AS first_use,
  max(event_time) AS last_use,
  count(*) AS uses,
  array_join(array_sort(array_distinct(array_agg(event_name))), ', ') AS operations,
  array_join(array_sort(array_distinct(array_agg(principal))), ', ') AS principals
FROM keytrail.kms_events_dedup
WHERE category = 'key-use'
  AND error_code IS NULL
  AND profile IS NOT NULL
  AND key_arn = '${key_arn}'
GROUP BY proton_template, proton_resource
ORDER BY proton_template, proton_resource
