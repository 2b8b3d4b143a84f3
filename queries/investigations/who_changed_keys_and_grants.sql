-- Who disabled a key, scheduled its deletion, or retired or revoked a grant, and when?
-- Successful calls only (a failed call changes nothing), newest first.
-- Parameters: none.
SELECT
  event_time,
  account_id,
  region,
  event_name,
  key_arn,
  grant_id,
  principal,
  caller_arn,
  source_ip,
  deletion_date,
  event_id
FROM keytrail.kms_events_dedup
WHERE error_code IS NULL
  AND event_name IN ('DisableKey', 'ScheduleKeyDeletion', 'DeleteImportedKeyMaterial',
                     'RetireGrant', 'RevokeGrant')
ORDER BY event_time DESC, event_id
