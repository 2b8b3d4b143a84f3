//! One `kms_events` row from a decoded event: each column filled by name
//! ([`KmsEventRow`]), so no column can be written in another's place.

use crate::error::OutputError;
use crate::model::kms::{self, KmsEvent};
use crate::model::profile::{EventMatches, Profiles};
use crate::tables::schema::KmsEventRow;
use crate::tables::writer::{Partition, PartitionedWriter, TableStore};

pub(super) fn write_event_row<S: TableStore>(
    w: &mut PartitionedWriter<S>,
    store: &mut S,
    profiles: &Profiles,
    ev: &KmsEvent,
    matches: &EventMatches,
    source: &str,
    record_index: u64,
) -> Result<(), OutputError> {
    let own = matches.event();
    let (template, resource, problem, profile) = match own {
        Some(m) => (
            m.template.as_deref(),
            m.resource.as_deref(),
            m.malformed.as_deref(),
            Some(profiles.all()[m.profile].name.as_str()),
        ),
        None => (None, None, None, None),
    };
    let t = own.and_then(|m| m.arns.template.as_ref());
    let r = own.and_then(|m| m.arns.resource.as_ref());
    let dest = ev.uses.get(1);
    let dm = matches.uses.get(1).and_then(Option::as_ref);
    let g = ev.grant.as_ref();
    let grantee_norm = g.and_then(|g| g.grantee_normalized(ev.key.arn.as_deref()));
    let retiring_norm = g.and_then(|g| g.retiring_normalized(ev.key.arn.as_deref()));
    let class = ev.key_state.as_deref().map(kms::StateClass::of);
    let row = KmsEventRow {
        event_id: ev.event_id.as_deref(),
        event_time: ev.event_time,
        event_time_raw: ev.event_time_raw.as_deref(),
        event_name: Some(&ev.event_name),
        event_type: ev.event_type.as_deref(),
        category: Some(ev.category.as_str()),
        key_arn: ev.key.arn.as_deref(),
        key_resolved: Some(ev.key.resolved()),
        key_given: ev.key.given.as_deref(),
        caller_type: ev.caller.identity_type.as_deref(),
        caller_arn: ev.caller.arn.as_deref(),
        caller_account_id: ev.caller.account_id.as_deref(),
        caller_role_arn: ev.caller.role_arn.as_deref(),
        caller_invoked_by: ev.caller.invoked_by.as_deref(),
        principal: ev.caller.principal.as_deref(),
        caller_identities: Some(ev.caller.identities.as_slice()),
        source_ip: ev.source_ip.as_deref(),
        user_agent: ev.user_agent.as_deref(),
        error_code: ev.error_code.as_deref(),
        error_message: ev.error_message.as_deref(),
        read_only: ev.read_only,
        request_id: ev.request_id.as_deref(),
        encryption_context: ev.encryption_context.as_ref(),
        profile,
        proton_template: template,
        proton_template_type: t.as_ref().map(|t| t.resource_type.as_str()),
        proton_template_name: t.as_ref().map(|t| t.name.as_str()),
        proton_template_version: t.as_ref().and_then(|t| t.version.as_deref()),
        proton_resource: resource,
        proton_resource_type: r.as_ref().map(|r| r.resource_type.as_str()),
        proton_resource_name: r.as_ref().map(|r| r.name.as_str()),
        proton_service: r.as_ref().and_then(|r| r.service.as_deref()),
        proton_account_id: r.as_ref().map(|r| r.account.as_str()),
        proton_region: r.as_ref().map(|r| r.region.as_str()),
        context_problem: problem,
        constraint_key_present: Some(own.is_some_and(|m| m.has_constraint_key)),
        destination_key_arn: dest.and_then(|d| d.key.arn.as_deref()),
        destination_encryption_context: dest.and_then(|d| d.context.as_ref()),
        destination_proton_template: dm.as_ref().and_then(|m| m.template.as_deref()),
        destination_proton_resource: dm.as_ref().and_then(|m| m.resource.as_deref()),
        destination_context_problem: dm.as_ref().and_then(|m| m.malformed.as_deref()),
        destination_constraint_key_present: dest
            .map(|_| dm.as_ref().is_some_and(|m| m.has_constraint_key)),
        grant_id: g.and_then(|g| g.grant_id.as_deref()),
        grant_name: g.and_then(|g| g.grant_name.as_deref()),
        grantee_principal: g.and_then(|g| g.grantee.as_deref()),
        grantee_normalized: grantee_norm.as_deref(),
        retiring_principal: g.and_then(|g| g.retiring_principal.as_deref()),
        grantee_service_principal: g.and_then(|g| g.grantee_service_principal.as_deref()),
        retiring_service_principal: g.and_then(|g| g.retiring_service_principal.as_deref()),
        retiring_normalized: retiring_norm.as_deref(),
        grant_source_arn: g.and_then(|g| g.source_arn.as_deref()),
        grant_operations: g.and_then(|g| g.operations.as_deref()),
        grant_constraint_kind: g.and_then(|g| g.constraint_kind.as_deref()),
        grant_constraint: g.and_then(|g| g.constraint.as_ref()),
        key_state: ev.key_state.as_deref(),
        key_state_class: class.map(kms::StateClass::as_str),
        key_usable: class.map(|c| c == kms::StateClass::Usable),
        deletion_date: ev.deletion_date.as_deref(),
        pending_window_days: ev.pending_window_days.as_deref(),
        shared_event_id: ev.shared_event_id.as_deref(),
        key_material_id: ev.key_material_id.as_deref(),
        import_type: ev.import_type.as_deref(),
        custom_key_store_id: ev.custom_key_store_id.as_deref(),
        key_policy: ev.key_policy.as_deref(),
        source_file: Some(source),
        source_record: Some(record_index as i64),
    };
    w.append(
        store,
        &Partition {
            account_id: ev.account_id.as_deref(),
            region: ev.region.as_deref(),
            time: ev.event_time,
        },
        &row.cells(),
    )
}
