-- findings_latest: the findings of the newest scheduled run (the newest run_date of
-- findings_daily, queries/scheduled/materialize_findings.sql): what findings_recomputed
-- returned that day, one row per finding. Rows are made distinct: two runs of one day that
-- started together would both have inserted (the statement's header says why that is the
-- only way a day gets its rows twice). Empty until the first run.
CREATE OR REPLACE VIEW keytrail.findings_latest AS
SELECT DISTINCT rule, severity, authorization, event_id, event_time, event_name, key_arn, account_id, region, principal,
       proton_template, proton_resource, related_event_ids, message, advice, run_date
FROM keytrail.findings_daily
WHERE run_date = (SELECT max(run_date) FROM keytrail.findings_daily)
