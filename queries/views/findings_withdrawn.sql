-- findings_withdrawn: the reverse of findings_added: ingest-time findings (table findings,
-- duplicates removed) that the newest scheduled run does not confirm, no finding of the same
-- rule and event in findings_latest (for instance a use judged without a grant because the
-- log of the grant's creation arrived later). Empty until the first run.
CREATE OR REPLACE VIEW keytrail.findings_withdrawn AS
SELECT DISTINCT rule, severity, authorization, event_id, event_time, event_name, key_arn, account_id, region, principal,
       proton_template, proton_resource, related_event_ids, message, advice
FROM keytrail.findings f
WHERE EXISTS (SELECT 1 FROM keytrail.findings_daily)
  AND NOT EXISTS (
    SELECT 1 FROM keytrail.findings_latest l
    WHERE l.rule = f.rule AND l.event_id IS NOT DISTINCT FROM f.event_id
  )
