-- key_state_timeline: every successful key-state change, in order per key, with the state it
-- left and the one before.
CREATE OR REPLACE VIEW keytrail.key_state_timeline AS
SELECT
  key_arn, account_id, region, event_time, event_id, event_name, key_state AS state,
  key_usable AS usable,
  lag(key_state) OVER (PARTITION BY key_arn ORDER BY event_time, event_id) AS previous_state,
  principal, deletion_date, pending_window_days
FROM keytrail.kms_events_dedup
WHERE category = 'key-state-change' AND error_code IS NULL AND event_time IS NOT NULL
  AND key_usable IS NOT NULL
