-- key_state_effective: every key's effective state changes, the ones KMS applies
-- (testdata/RULES.md, section 3), over calls (kms_calls). Of a key's successful state
-- events:
--   1. nothing after its first DeleteKey counts (the key is Deleted for good);
--   2. a DeleteImportedKeyMaterial naming material still pending rotation changes nothing;
--   3. an ImportKeyMaterial counts only when the previous counted change left the key
--      PendingImport, or there is none;
--   4. a DisconnectCustomKeyStore is a change to Unavailable of every key of that store, a
--      ConnectCustomKeyStore a change back to the key's last own counted state (Enabled
--      when none is known); a key's store is known from its CreateKey or its uses.
-- custom_key_store_id is set on the changes a store call made; material_assumed_current on a
-- material deletion that named no material. The state of a key at t is the state of its
-- last change at or before t (order: sort_key).
CREATE OR REPLACE VIEW keytrail.key_state_effective AS
WITH
state_events AS (
  SELECT key_arn, sort_key, event_id, event_time, time_text, event_name, key_state AS state,
         key_state_class AS state_class, key_material_id, deletion_date, principal,
         account_id, region, copy_event_ids
  FROM keytrail.kms_calls
  WHERE category = 'key-state-change' AND error_code IS NULL AND key_arn IS NOT NULL
    AND key_state IS NOT NULL
),
-- 1: the first DeleteKey of each key.
first_delete AS (
  SELECT key_arn, min(sort_key) AS sort_key
  FROM state_events
  WHERE event_name = 'DeleteKey'
  GROUP BY key_arn
),
-- 2: material is pending when imported as NEW_KEY_MATERIAL while the key already had
-- material (an earlier import or successful use), with no RotateKeyOnDemand since.
pending_material_deletions AS (
  SELECT DISTINCT d.key_arn, d.event_id
  FROM state_events d
  JOIN keytrail.kms_calls i ON i.key_arn = d.key_arn AND i.event_name = 'ImportKeyMaterial'
                           AND i.error_code IS NULL AND i.import_type = 'NEW_KEY_MATERIAL'
                           AND i.key_material_id = d.key_material_id AND i.sort_key < d.sort_key
  WHERE d.event_name = 'DeleteImportedKeyMaterial'
    AND EXISTS (SELECT 1 FROM keytrail.kms_calls p
                WHERE p.error_code IS NULL AND p.sort_key < i.sort_key
                  AND ((p.key_arn = i.key_arn AND p.event_name = 'ImportKeyMaterial')
                       OR (p.category = 'key-use' AND (p.key_arn = i.key_arn OR p.destination_key_arn = i.key_arn))))
    AND NOT EXISTS (SELECT 1 FROM keytrail.kms_calls r
                    WHERE r.key_arn = d.key_arn AND r.event_name = 'RotateKeyOnDemand'
                      AND r.error_code IS NULL AND r.sort_key > i.sort_key AND r.sort_key < d.sort_key)
),
-- 4: the keys of each custom key store.
key_stores AS (
  SELECT DISTINCT key_arn, custom_key_store_id
  FROM keytrail.kms_calls
  WHERE key_arn IS NOT NULL AND custom_key_store_id IS NOT NULL AND error_code IS NULL
    AND category <> 'key-state-change'
),
-- Every candidate change per key. kind: 'own' (the key's own event, imports aside),
-- 'import', or 'disconnect' / 'connect' (one row per key of the store).
candidates AS (
  SELECT s.*, CAST(NULL AS varchar) AS custom_key_store_id,
         CASE WHEN s.event_name = 'ImportKeyMaterial' THEN 'import' ELSE 'own' END AS kind
  FROM state_events s
  LEFT JOIN first_delete f ON f.key_arn = s.key_arn
  WHERE (f.sort_key IS NULL OR s.sort_key <= f.sort_key)
    AND NOT EXISTS (SELECT 1 FROM pending_material_deletions p
                    WHERE p.key_arn = s.key_arn AND p.event_id = s.event_id)
  UNION ALL
  SELECT k.key_arn, e.sort_key, e.event_id, e.event_time, e.time_text, e.event_name, e.key_state,
         e.key_state_class, e.key_material_id, e.deletion_date, e.principal, e.account_id,
         e.region, e.copy_event_ids, e.custom_key_store_id,
         CASE WHEN e.event_name = 'DisconnectCustomKeyStore' THEN 'disconnect' ELSE 'connect' END
  FROM keytrail.kms_calls e
  JOIN key_stores k ON k.custom_key_store_id = e.custom_key_store_id
  LEFT JOIN first_delete f ON f.key_arn = k.key_arn
  WHERE e.event_name IN ('DisconnectCustomKeyStore', 'ConnectCustomKeyStore') AND e.error_code IS NULL
    AND e.key_arn IS NULL AND (f.sort_key IS NULL OR e.sort_key < f.sort_key)
),
-- 3 and 4 need the state before each import and connect. Own changes cut a key's history
-- into segments (seg); within one, the state is the own change's (none in segment 0) until
-- a disconnect, then Unavailable until a connect, which restores the own state.
segments AS (
  SELECT c.*,
         count(CASE WHEN kind = 'own' THEN 1 END)
           OVER (PARTITION BY key_arn ORDER BY sort_key ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS seg
  FROM candidates c
),
segment_states AS (
  SELECT s.*,
         max(CASE WHEN kind = 'own' THEN state END) OVER (PARTITION BY key_arn, seg) AS seg_state,
         max(CASE WHEN kind = 'own' THEN state_class END) OVER (PARTITION BY key_arn, seg) AS seg_class,
         max(CASE WHEN kind = 'disconnect' THEN sort_key END)
           OVER (PARTITION BY key_arn, seg ORDER BY sort_key ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS last_disconnect,
         max(CASE WHEN kind = 'connect' THEN sort_key END)
           OVER (PARTITION BY key_arn, seg ORDER BY sort_key ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS last_connect
  FROM segments s
),
-- 3: the first import of a segment made while the key was PendingImport (or, in segment
-- 0, before any store call) counts; after it the key has material again.
counted_imports AS (
  SELECT *
  FROM (
    SELECT s.*, row_number() OVER (PARTITION BY key_arn, seg ORDER BY sort_key) AS n
    FROM segment_states s
    WHERE kind = 'import'
      AND ((seg_state = 'PendingImport' AND (last_disconnect IS NULL OR last_connect > last_disconnect))
           OR (seg = 0 AND last_disconnect IS NULL AND last_connect IS NULL))
  ) numbered
  WHERE n = 1
)
SELECT key_arn, event_time, event_id, event_name, state, state_class, custom_key_store_id,
       deletion_date, event_name = 'DeleteImportedKeyMaterial' AND key_material_id IS NULL AS material_assumed_current,
       principal, account_id, region, sort_key, time_text, copy_event_ids
FROM segment_states
WHERE kind IN ('own', 'disconnect')
UNION ALL
SELECT key_arn, event_time, event_id, event_name, state, state_class, custom_key_store_id,
       deletion_date, false, principal, account_id, region, sort_key, time_text, copy_event_ids
FROM counted_imports
UNION ALL
-- 4: a connect restores the last own counted state: the segment's import, else its own change.
SELECT c.key_arn, c.event_time, c.event_id, c.event_name,
       CASE WHEN i.sort_key < c.sort_key THEN i.state ELSE coalesce(c.seg_state, 'Enabled') END,
       CASE WHEN i.sort_key < c.sort_key THEN i.state_class ELSE coalesce(c.seg_class, 'usable') END,
       c.custom_key_store_id, c.deletion_date, false, c.principal, c.account_id, c.region,
       c.sort_key, c.time_text, c.copy_event_ids
FROM segment_states c
LEFT JOIN counted_imports i ON i.key_arn = c.key_arn AND i.seg = c.seg
WHERE c.kind = 'connect'
