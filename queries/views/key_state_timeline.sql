-- key_state_timeline: every successful key-state event, in order per key, with the state it
-- reports or implies and the last state known before it (the key_states table). Events of a
-- key that could not be resolved, and the custom key store calls (which name no key), have
-- no previous state; ConnectCustomKeyStore has no state (it restores one). These are the
-- events as logged: key_state_effective has the changes KMS applies.
CREATE OR REPLACE VIEW keytrail.key_state_timeline AS
SELECT
  key_arn, account_id, region, event_time, event_id, event_name, key_state AS state,
  key_state_class = 'usable' AS usable, key_state_class AS state_class,
  CASE WHEN key_arn IS NOT NULL THEN
    last_value(key_state) IGNORE NULLS OVER (
      PARTITION BY key_arn ORDER BY event_time, event_id
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
  END AS previous_state,
  principal, deletion_date, pending_window_days, key_material_id,
  CASE WHEN event_name = 'DeleteImportedKeyMaterial' THEN key_material_id IS NULL END AS material_assumed_current,
  custom_key_store_id
FROM keytrail.kms_events_dedup
WHERE category = 'key-state-change' AND error_code IS NULL AND event_time IS NOT NULL
