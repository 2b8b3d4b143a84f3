-- kms_events_dedup: one row per KMS event. CloudTrail delivers some events twice, and the
-- Lambda writes each source object's rows, so kms_events may hold an eventID more than once;
-- this keeps the row from the first source file (by name, then record index). Events
-- without an eventID are kept as they are.
CREATE OR REPLACE VIEW keytrail.kms_events_dedup AS
SELECT
  event_id, shared_event_id, event_time, event_time_raw, event_name, event_type, category,
  key_arn, key_resolved, key_given,
  caller_type, caller_arn, caller_account_id, caller_role_arn, caller_invoked_by, principal, caller_identities,
  source_ip, user_agent, error_code, error_message, read_only, request_id,
  encryption_context, profile,
  proton_template, proton_template_type, proton_template_name, proton_template_version,
  proton_resource, proton_resource_type, proton_resource_name, proton_service, proton_account_id, proton_region,
  context_problem, constraint_key_present,
  destination_key_arn, destination_encryption_context, destination_proton_template,
  destination_proton_resource, destination_context_problem, destination_constraint_key_present,
  grant_id, grant_name, grantee_principal, grantee_service_principal, grantee_normalized,
  retiring_principal, retiring_service_principal, retiring_normalized,
  grant_operations, grant_constraint_kind, grant_constraint, grant_source_arn,
  key_state, key_state_class, key_usable, deletion_date, pending_window_days,
  key_material_id, import_type, custom_key_store_id,
  source_file, source_record, account_id, region, event_date
FROM (
  SELECT
    e.*,
    row_number() OVER (
      PARTITION BY coalesce(e.event_id, concat(e.source_file, '#', CAST(e.source_record AS varchar)))
      ORDER BY e.source_file, e.source_record
    ) AS copy_number
  FROM keytrail.kms_events e
) numbered
WHERE copy_number = 1
