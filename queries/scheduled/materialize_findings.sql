-- materialize_findings: the daily scheduled statement (template.yaml, MaterializeSchedule,
-- through Athena's StartQueryExecution in the stack's workgroup). It writes what the view
-- findings_recomputed returns today (every finding over all history, the authority over the
-- findings the Lambda writes at ingest) into findings_daily, partition run_date = today
-- (UTC, yyyy-mm-dd), so that users read one table instead of a view over years; the views
-- findings_latest, findings_added and findings_withdrawn read its newest run_date.
--
-- Idempotent per day. Athena's INSERT INTO only adds files, so a second run on the same day
-- would double the day's rows; three things keep it from doing so:
--   1. the NOT EXISTS below: a run on a day that already has rows inserts none (a manual
--      rerun, or a retried schedule after the first run finished);
--   2. the schedule passes a ClientRequestToken made of its scheduled time, the same on
--      every retry of one day's invocation: Athena starts one query for that token and
--      answers the retries with it;
--   3. findings_latest reads the newest run_date with duplicate rows removed, for the one
--      case left, two runs of the same day started together (both find the day empty).
-- A run that fails may leave files under run_date=<day>/: Athena does not always delete
-- what a failed INSERT INTO wrote. Before running a failed day again by hand, remove that
-- prefix, and drop the partition if the failed run registered it (ALTER TABLE
-- keytrail.findings_daily DROP PARTITION (run_date = '<day>')).
-- Needs the views of queries/views/ created in the database first (findings_recomputed and
-- the views it reads).
INSERT INTO keytrail.findings_daily
SELECT rule, severity, authorization, event_id, event_time, event_name, key_arn, account_id, region, principal,
       proton_template, proton_resource, related_event_ids, message, advice,
       date_format(current_timestamp AT TIME ZONE 'UTC', '%Y-%m-%d') AS run_date
FROM keytrail.findings_recomputed
WHERE NOT EXISTS (
  SELECT 1 FROM keytrail.findings_daily d
  WHERE d.run_date = date_format(current_timestamp AT TIME ZONE 'UTC', '%Y-%m-%d')
)
