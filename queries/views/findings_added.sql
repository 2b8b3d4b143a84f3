-- findings_added: what the recomputation over all history adds to the findings the Lambda
-- wrote at ingest: the findings of the newest scheduled run (findings_latest) with no
-- ingest-time finding of the same rule and event (table findings; an event id that is null
-- matches a null one). Ingest-time findings depend on the order logs arrived in (a use
-- judged before the log of its grant's removal arrived, a removal whose dependents' logs
-- came later); this view is what to alert on.
CREATE OR REPLACE VIEW keytrail.findings_added AS
SELECT rule, severity, authorization, event_id, event_time, event_name, key_arn, account_id, region, principal,
       proton_template, proton_resource, related_event_ids, message, advice, run_date
FROM keytrail.findings_latest l
WHERE NOT EXISTS (
  SELECT 1 FROM keytrail.findings f
  WHERE f.rule = l.rule AND f.event_id IS NOT DISTINCT FROM l.event_id
)
