//! The KMS SDK's types as JSON, field by field, with the names the KMS API gives them
//! (`KeyMetadata`, `GrantListEntry`, `AliasListEntry`), the SDK types having no serde
//! support. A field the response did not carry is left out, as the AWS CLI leaves it out;
//! dates are epoch seconds, fractional when they have a fraction, as the AWS CLI writes them.

use aws_sdk_kms::primitives::DateTime;
use aws_sdk_kms::types::{AliasListEntry, GrantListEntry, KeyMetadata, MultiRegionKey};
use serde_json::{Map, Value};

/// A JSON object that leaves out absent fields.
#[derive(Default)]
struct Obj(Map<String, Value>);

impl Obj {
    fn put(&mut self, name: &str, v: Option<Value>) -> &mut Self {
        if let Some(v) = v {
            self.0.insert(name.to_string(), v);
        }
        self
    }

    fn text(&mut self, name: &str, v: &Option<String>) -> &mut Self {
        self.put(name, v.clone().map(Value::String))
    }

    fn date(&mut self, name: &str, v: &Option<DateTime>) -> &mut Self {
        self.put(name, v.as_ref().map(date))
    }

    fn done(&mut self) -> Value {
        Value::Object(std::mem::take(&mut self.0))
    }
}

/// Epoch seconds: an integer, or a fraction to the microsecond (`1700000000.123`).
pub fn date(t: &DateTime) -> Value {
    let (secs, nanos) = (t.secs(), t.subsec_nanos());
    if nanos == 0 {
        return Value::from(secs);
    }
    let f = if secs >= 0 {
        let frac = format!("{:06}", nanos / 1000);
        format!("{secs}.{}", frac.trim_end_matches('0'))
            .parse::<f64>()
            .unwrap_or(secs as f64)
    } else {
        secs as f64 + f64::from(nanos) / 1e9
    };
    serde_json::Number::from_f64(f).map_or(Value::from(secs), Value::Number)
}

fn names<T>(v: &Option<Vec<T>>, name: impl Fn(&T) -> &str) -> Option<Value> {
    v.as_ref().map(|items| {
        Value::Array(
            items
                .iter()
                .map(|i| Value::String(name(i).to_string()))
                .collect(),
        )
    })
}

fn enum_name<T>(v: &Option<T>, name: impl Fn(&T) -> &str) -> Option<Value> {
    v.as_ref().map(|e| Value::String(name(e).to_string()))
}

fn region_key(k: &MultiRegionKey) -> Value {
    Obj::default()
        .text("Arn", &k.arn)
        .text("Region", &k.region)
        .done()
}

/// `KeyMetadata`, as DescribeKey returns it (the deprecated `CustomerMasterKeySpec` too:
/// the API still returns it).
#[allow(deprecated)]
pub fn key_metadata(m: &KeyMetadata) -> Value {
    let mut o = Obj::default();
    o.text("AWSAccountId", &m.aws_account_id)
        .put("KeyId", Some(Value::String(m.key_id.clone())))
        .text("Arn", &m.arn)
        .date("CreationDate", &m.creation_date)
        .put("Enabled", Some(Value::Bool(m.enabled)))
        .text("Description", &m.description)
        .put("KeyUsage", enum_name(&m.key_usage, |e| e.as_str()))
        .put("KeyState", enum_name(&m.key_state, |e| e.as_str()))
        .date("DeletionDate", &m.deletion_date)
        .date("ValidTo", &m.valid_to)
        .put("Origin", enum_name(&m.origin, |e| e.as_str()))
        .text("CustomKeyStoreId", &m.custom_key_store_id)
        .text("CloudHsmClusterId", &m.cloud_hsm_cluster_id)
        .put(
            "ExpirationModel",
            enum_name(&m.expiration_model, |e| e.as_str()),
        )
        .put("KeyManager", enum_name(&m.key_manager, |e| e.as_str()))
        .put(
            "CustomerMasterKeySpec",
            enum_name(&m.customer_master_key_spec, |e| e.as_str()),
        )
        .put("KeySpec", enum_name(&m.key_spec, |e| e.as_str()))
        .put(
            "EncryptionAlgorithms",
            names(&m.encryption_algorithms, |e| e.as_str()),
        )
        .put(
            "SigningAlgorithms",
            names(&m.signing_algorithms, |e| e.as_str()),
        )
        .put(
            "KeyAgreementAlgorithms",
            names(&m.key_agreement_algorithms, |e| e.as_str()),
        )
        .put(
            "EncapsulationAlgorithms",
            names(&m.encapsulation_algorithms, |e| e.as_str()),
        )
        .put("MultiRegion", m.multi_region.map(Value::Bool));
    if let Some(c) = &m.multi_region_configuration {
        let conf = Obj::default()
            .put(
                "MultiRegionKeyType",
                enum_name(&c.multi_region_key_type, |e| e.as_str()),
            )
            .put("PrimaryKey", c.primary_key.as_ref().map(region_key))
            .put(
                "ReplicaKeys",
                c.replica_keys
                    .as_ref()
                    .map(|r| Value::Array(r.iter().map(region_key).collect())),
            )
            .done();
        o.put("MultiRegionConfiguration", Some(conf));
    }
    o.put(
        "PendingDeletionWindowInDays",
        m.pending_deletion_window_in_days.map(Value::from),
    )
    .put("MacAlgorithms", names(&m.mac_algorithms, |e| e.as_str()))
    .put(
        "XksKeyConfiguration",
        m.xks_key_configuration
            .as_ref()
            .map(|x| Obj::default().text("Id", &x.id).done()),
    )
    .text("CurrentKeyMaterialId", &m.current_key_material_id)
    .done()
}

fn context(c: &Option<std::collections::HashMap<String, String>>) -> Option<Value> {
    c.as_ref().map(|m| {
        // Sorted, so the same grant is written the same way every time.
        let sorted: std::collections::BTreeMap<_, _> = m.iter().collect();
        Value::Object(
            sorted
                .into_iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    })
}

/// `GrantListEntry`, as ListGrants returns it.
pub fn grant(g: &GrantListEntry) -> Value {
    Obj::default()
        .text("KeyId", &g.key_id)
        .text("GrantId", &g.grant_id)
        .text("Name", &g.name)
        .date("CreationDate", &g.creation_date)
        .text("GranteePrincipal", &g.grantee_principal)
        .text("RetiringPrincipal", &g.retiring_principal)
        .text("IssuingAccount", &g.issuing_account)
        .put("Operations", names(&g.operations, |o| o.as_str()))
        .put(
            "Constraints",
            g.constraints.as_ref().map(|c| {
                Obj::default()
                    .put(
                        "EncryptionContextSubset",
                        context(&c.encryption_context_subset),
                    )
                    .put(
                        "EncryptionContextEquals",
                        context(&c.encryption_context_equals),
                    )
                    .text("SourceArn", &c.source_arn)
                    .done()
            }),
        )
        .text("GranteeServicePrincipal", &g.grantee_service_principal)
        .text("RetiringServicePrincipal", &g.retiring_service_principal)
        .done()
}

/// `AliasListEntry`, as ListAliases returns it.
pub fn alias(a: &AliasListEntry) -> Value {
    Obj::default()
        .text("AliasName", &a.alias_name)
        .text("AliasArn", &a.alias_arn)
        .text("TargetKeyId", &a.target_key_id)
        .date("CreationDate", &a.creation_date)
        .date("LastUpdatedDate", &a.last_updated_date)
        .done()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kms::types::{GrantConstraints, GrantOperation, KeyState};

    #[test]
    fn dates_are_written_as_the_aws_cli_writes_them() {
        assert_eq!(
            date(&DateTime::from_secs(1_700_000_000)),
            Value::from(1_700_000_000)
        );
        let t = DateTime::from_secs_and_nanos(1_700_000_000, 123_000_000);
        assert_eq!(date(&t).to_string(), "1700000000.123");
        let t = DateTime::from_secs_and_nanos(1_700_000_000, 292_684_000);
        assert_eq!(date(&t).to_string(), "1700000000.292684");
    }

    #[test]
    fn fields_are_named_as_the_api_names_them_and_absent_ones_left_out() {
        let m = KeyMetadata::builder()
            .key_id("k")
            .arn("arn:aws:kms:us-east-1:111122223333:key/k")
            .enabled(false)
            .key_state(KeyState::PendingDeletion)
            .deletion_date(DateTime::from_secs(1_710_000_000))
            .build()
            .unwrap();
        assert_eq!(
            key_metadata(&m),
            serde_json::json!({"KeyId": "k", "Arn": "arn:aws:kms:us-east-1:111122223333:key/k",
                "Enabled": false, "KeyState": "PendingDeletion", "DeletionDate": 1710000000})
        );
        let g = GrantListEntry::builder()
            .grant_id("g")
            .operations(GrantOperation::Decrypt)
            .constraints(
                GrantConstraints::builder()
                    .encryption_context_equals("b", "2")
                    .encryption_context_equals("a", "1")
                    .build(),
            )
            .build();
        assert_eq!(
            grant(&g).to_string(),
            r#"{"Constraints":{"EncryptionContextEquals":{"a":"1","b":"2"}},"GrantId":"g","Operations":["Decrypt"]}"#
        );
    }
}
