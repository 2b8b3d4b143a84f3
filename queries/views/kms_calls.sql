-- kms_calls: one row per KMS call with a usable event time, as the findings rules see them
-- (testdata/RULES.md, section 0). A call made across accounts is logged in each account
-- with the same sharedEventID: the copy with the smallest eventID stands for the call and
-- lists the other copies' eventIDs in copy_event_ids (ascending); the copies themselves
-- are left out. sort_key is text that sorts as the rules order events: event time, then
-- eventID. time_text is the event time as keytrail writes it in messages (milliseconds
-- only when not zero).
CREATE OR REPLACE VIEW keytrail.kms_calls AS
WITH
copies AS (
  SELECT shared_event_id, min(event_id) AS call_event_id, array_sort(array_agg(event_id)) AS event_ids
  FROM keytrail.kms_events_dedup
  WHERE event_time IS NOT NULL AND shared_event_id IS NOT NULL
  GROUP BY shared_event_id
)
SELECT
  e.*,
  concat(date_format(e.event_time, '%Y-%m-%d %H:%i:%s.%f'), ' ', coalesce(e.event_id, '')) AS sort_key,
  concat(date_format(e.event_time, '%Y-%m-%dT%H:%i:%s'),
         CASE WHEN millisecond(e.event_time) % 1000 = 0 THEN ''
              ELSE concat('.', lpad(CAST(millisecond(e.event_time) % 1000 AS varchar), 3, '0')) END,
         'Z') AS time_text,
  coalesce(filter(c.event_ids, x -> x <> e.event_id), CAST(ARRAY[] AS array(varchar))) AS copy_event_ids
FROM keytrail.kms_events_dedup e
LEFT JOIN copies c ON c.shared_event_id = e.shared_event_id
WHERE e.event_time IS NOT NULL AND (c.call_event_id IS NULL OR c.call_event_id = e.event_id)
