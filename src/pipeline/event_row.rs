//! One `kms_events` row, cell by cell in the order of `schema::KMS_EVENTS`.

use crate::error::OutputError;
use crate::model::kms::{self, KmsEvent};
use crate::model::profile::{proton_parts, Profiles};
use crate::tables::schema::Value;
use crate::tables::writer::{Partition, PartitionedWriter, TableStore};

fn s(x: &Option<String>) -> Value<'_> {
    Value::Str(x.as_deref())
}

pub(super) fn write_event_row<S: TableStore>(
    w: &mut PartitionedWriter<S>,
    store: &mut S,
    profiles: &Profiles,
    ev: &KmsEvent,
    source: &str,
    record_index: u64,
) -> Result<(), OutputError> {
    let m = ev
        .encryption_context
        .as_ref()
        .and_then(|c| profiles.match_context(c));
    let (template, resource, problem, profile) = match &m {
        Some(m) => (
            m.template.as_deref(),
            m.resource.as_deref(),
            m.malformed.as_deref(),
            Some(profiles.all()[m.profile].name.as_str()),
        ),
        None => (None, None, None, None),
    };
    let t = proton_parts(template);
    let r = proton_parts(resource);
    let dest = ev.uses.get(1);
    let dm = dest
        .and_then(|d| d.context.as_ref())
        .and_then(|c| profiles.match_context(c));
    let g = ev.grant.as_ref();
    let grantee_norm = g.and_then(|g| g.grantee_normalized(ev.key.arn.as_deref()));
    let retiring_norm = g.and_then(|g| g.retiring_normalized(ev.key.arn.as_deref()));
    let class = ev.key_state.as_deref().map(kms::StateClass::of);
    let row = [
        s(&ev.event_id),
        Value::Time(ev.event_time),
        s(&ev.event_time_raw),
        Value::Str(Some(&ev.event_name)),
        s(&ev.event_type),
        Value::Str(Some(ev.category.as_str())),
        s(&ev.key.arn),
        Value::Bool(Some(ev.key.resolved())),
        s(&ev.key.given),
        s(&ev.caller.identity_type),
        s(&ev.caller.arn),
        s(&ev.caller.account_id),
        s(&ev.caller.role_arn),
        s(&ev.caller.invoked_by),
        s(&ev.caller.principal),
        Value::StrList(Some(&ev.caller.identities)),
        s(&ev.source_ip),
        s(&ev.user_agent),
        s(&ev.error_code),
        s(&ev.error_message),
        Value::Bool(ev.read_only),
        s(&ev.request_id),
        Value::StrMap(ev.encryption_context.as_ref()),
        Value::Str(profile),
        Value::Str(template),
        Value::Str(t.as_ref().map(|t| t.resource_type.as_str())),
        Value::Str(t.as_ref().map(|t| t.name.as_str())),
        Value::Str(t.as_ref().and_then(|t| t.version.as_deref())),
        Value::Str(resource),
        Value::Str(r.as_ref().map(|r| r.resource_type.as_str())),
        Value::Str(r.as_ref().map(|r| r.name.as_str())),
        Value::Str(r.as_ref().and_then(|r| r.service.as_deref())),
        Value::Str(r.as_ref().map(|r| r.account.as_str())),
        Value::Str(r.as_ref().map(|r| r.region.as_str())),
        Value::Str(problem),
        Value::Bool(Some(m.as_ref().is_some_and(|m| m.has_constraint_key))),
        Value::Str(dest.and_then(|d| d.key.arn.as_deref())),
        Value::StrMap(dest.and_then(|d| d.context.as_ref())),
        Value::Str(dm.as_ref().and_then(|m| m.template.as_deref())),
        Value::Str(dm.as_ref().and_then(|m| m.resource.as_deref())),
        Value::Str(dm.as_ref().and_then(|m| m.malformed.as_deref())),
        Value::Bool(dest.map(|_| dm.as_ref().is_some_and(|m| m.has_constraint_key))),
        Value::Str(g.and_then(|g| g.grant_id.as_deref())),
        Value::Str(g.and_then(|g| g.grant_name.as_deref())),
        Value::Str(g.and_then(|g| g.grantee.as_deref())),
        Value::Str(grantee_norm.as_deref()),
        Value::Str(g.and_then(|g| g.retiring_principal.as_deref())),
        Value::Str(g.and_then(|g| g.grantee_service_principal.as_deref())),
        Value::Str(g.and_then(|g| g.retiring_service_principal.as_deref())),
        Value::Str(retiring_norm.as_deref()),
        Value::Str(g.and_then(|g| g.source_arn.as_deref())),
        Value::StrList(g.and_then(|g| g.operations.as_deref())),
        Value::Str(g.and_then(|g| g.constraint_kind.as_deref())),
        Value::StrMap(g.and_then(|g| g.constraint.as_ref())),
        s(&ev.key_state),
        Value::Str(class.map(kms::StateClass::as_str)),
        Value::Bool(class.map(|c| c == kms::StateClass::Usable)),
        s(&ev.deletion_date),
        s(&ev.pending_window_days),
        s(&ev.shared_event_id),
        s(&ev.key_material_id),
        s(&ev.import_type),
        s(&ev.custom_key_store_id),
        s(&ev.key_policy),
        Value::Str(Some(source)),
        Value::Int(Some(record_index as i64)),
    ];
    w.append(
        store,
        &Partition {
            account_id: ev.account_id.as_deref(),
            region: ev.region.as_deref(),
            time: ev.event_time,
        },
        &row,
    )
}
