//! The corpus generator (the `keytrail-corpus` crate) checked through keytrail: every
//! generated file is valid CloudTrail in the AWS key layout, the same seed gives the same
//! bytes, and the world it describes is consistent (Proton calls covered by grants made
//! before them, the keys in use enabled) when keytrail's own model reads it.

use keytrail_corpus::*;

use std::collections::HashMap;
use std::io::Read;

fn small(seed: u64, target: u64) -> CorpusConfig {
    CorpusConfig {
        seed,
        target_bytes: target,
        large_file_bytes: 0,
        ..CorpusConfig::default()
    }
}

fn write_all(cfg: &CorpusConfig) -> Vec<(PlannedFile, CorpusFile, Vec<u8>)> {
    plan(cfg)
        .into_iter()
        .map(|p| {
            let mut out = Vec::new();
            let f = write_file(cfg, &p, &mut out).unwrap();
            (p, f, out)
        })
        .collect()
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    flate2::read::MultiGzDecoder::new(gz)
        .read_to_end(&mut v)
        .unwrap();
    v
}

#[test]
fn same_seed_same_bytes() {
    let cfg = small(7, 3_000_000);
    let a = write_all(&cfg);
    let b = write_all(&cfg);
    assert!(a.len() > 1);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.0, y.0);
        assert_eq!(x.1, y.1);
        assert_eq!(x.2, y.2, "{}", x.0.key);
    }
}

#[test]
fn different_seed_differs() {
    let a = write_all(&small(1, 200_000));
    let b = write_all(&small(2, 200_000));
    assert_ne!(a[0].0.key, b[0].0.key);
    assert_ne!(gunzip(&a[0].2), gunzip(&b[0].2));
}

/// Checks a key against the AWS layout; returns (account, region, delivery ms).
fn parse_key(key: &str) -> (String, String, i64) {
    let parts: Vec<&str> = key.split('/').collect();
    assert_eq!(parts.len(), 8, "{key}");
    assert_eq!(parts[0], "AWSLogs");
    assert_eq!(parts[2], "CloudTrail");
    let (account, region) = (parts[1], parts[3]);
    assert_eq!(account.len(), 12);
    assert!(account.bytes().all(|c| c.is_ascii_digit()));
    let name = parts[7];
    let prefix = format!("{account}_CloudTrail_{region}_");
    assert!(name.starts_with(&prefix), "{key}");
    let rest = name[prefix.len()..].strip_suffix(".json.gz").unwrap();
    let (stamp, suffix) = rest.split_once('_').unwrap();
    assert_eq!(suffix.len(), 16);
    assert!(suffix.bytes().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(stamp.len(), 14);
    assert_eq!(&stamp[..4], parts[4]);
    assert_eq!(&stamp[4..6], parts[5]);
    assert_eq!(&stamp[6..8], parts[6]);
    let t = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%MZ").unwrap();
    (
        account.to_string(),
        region.to_string(),
        t.and_utc().timestamp_millis(),
    )
}

#[test]
fn small_corpus_is_valid_cloudtrail() {
    let cfg = CorpusConfig {
        seed: 42,
        target_bytes: 2_000_000,
        large_file_bytes: 400_000,
        ..CorpusConfig::default()
    };
    let files = write_all(&cfg);
    assert!(files.iter().any(|f| f.0.large));
    let mut ids: HashMap<String, u64> = HashMap::new();
    let (mut records, mut kms, mut bytes, mut proton, mut grants) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut planned_dups = 0u64;
    let mut keys = std::collections::HashSet::new();
    for (p, f, gz) in &files {
        let (account, region, delivery) = parse_key(&f.key);
        assert!(keys.insert(f.key.clone()), "duplicate key {}", f.key);
        assert_eq!(delivery, p.delivery_ms);
        let json = gunzip(gz);
        assert_eq!(json.len() as u64, f.uncompressed_bytes);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let recs = v["Records"].as_array().expect("Records is an array");
        assert_eq!(recs.len() as u64, f.records);
        // Output positions of the duplicates.
        let dup_pos: std::collections::HashSet<u64> = p
            .duplicates
            .iter()
            .enumerate()
            .map(|(k, d)| d.before + k as u64)
            .collect();
        planned_dups += p.duplicates.len() as u64;
        let mut file_kms = 0;
        for (i, r) in recs.iter().enumerate() {
            for field in [
                "eventVersion",
                "userIdentity",
                "eventTime",
                "eventSource",
                "eventName",
                "awsRegion",
                "sourceIPAddress",
                "userAgent",
                "requestParameters",
                "responseElements",
                "requestID",
                "eventID",
                "readOnly",
                "eventType",
                "managementEvent",
                "recipientAccountId",
                "eventCategory",
            ] {
                assert!(r.get(field).is_some(), "{field} missing in {r}");
            }
            assert_eq!(r["awsRegion"], region.as_str());
            assert_eq!(r["recipientAccountId"], account.as_str());
            let id = r["eventID"].as_str().unwrap();
            assert_eq!(id.len(), 36);
            *ids.entry(id.to_string()).or_default() += 1;
            let t =
                keytrail::model::kms::parse_event_time(r["eventTime"].as_str().unwrap()).unwrap();
            assert!(t < delivery, "{r}");
            if !dup_pos.contains(&(i as u64)) {
                assert!(t >= delivery - 3_600_000, "{r}");
            }
            if r["eventSource"] == "kms.amazonaws.com" {
                file_kms += 1;
                let res = r["resources"].as_array();
                if r["eventName"] != "ListAliases" {
                    let res = res.expect("KMS record with resources");
                    assert_eq!(res[0]["type"], "AWS::KMS::Key");
                    assert!(res[0]["ARN"].as_str().unwrap().contains(":key/"));
                }
                let ctx = &r["requestParameters"]["encryptionContext"];
                if ctx.get("aws:proton:template").is_some() {
                    proton += 1;
                    assert!(ctx["aws:proton:resource"]
                        .as_str()
                        .unwrap()
                        .starts_with("arn:aws:proton:"));
                    assert_eq!(r["userIdentity"]["type"], "AWSService");
                }
                if r["eventName"] == "CreateGrant" {
                    grants += 1;
                    let g = r["responseElements"]["grantId"].as_str().unwrap();
                    assert_eq!(g.len(), 64);
                    assert!(g.bytes().all(|c| c.is_ascii_hexdigit()));
                }
            }
        }
        assert_eq!(file_kms, f.kms_records);
        records += f.records;
        kms += f.kms_records;
        bytes += f.uncompressed_bytes;
    }
    let share = kms as f64 / records as f64;
    assert!((share - cfg.kms_share).abs() <= 0.05, "kms share {share}");
    assert!(proton as f64 > kms as f64 * 0.12 && (proton as f64) < kms as f64 * 0.28);
    assert!(grants > 0);
    // eventIDs are unique apart from the planned duplicates.
    assert_eq!(ids.len() as u64, records - planned_dups);
    assert!(ids.values().all(|&c| c <= 2));
    let avg = bytes / records;
    assert!((800..=1500).contains(&avg), "average record {avg} bytes");
    let t = cfg.target_bytes as f64;
    assert!(
        (bytes as f64 - t).abs() < t * 0.1,
        "{bytes} bytes for a target of {t}"
    );
}

#[test]
fn proton_calls_are_covered_and_used_keys_stay_enabled() {
    let cfg = small(9, 1_500_000);
    let mut setup_grants = std::collections::HashSet::new();
    let mut setup_end = i64::MIN;
    let mut state_keys = std::collections::HashSet::new();
    let mut used_keys = std::collections::HashSet::new();
    let mut proton_uses = Vec::new();
    let mut setup_files = 0;
    for (p, _, gz) in write_all(&cfg) {
        let v: serde_json::Value = serde_json::from_slice(&gunzip(&gz)).unwrap();
        setup_files += usize::from(p.setup);
        for r in v["Records"].as_array().unwrap() {
            let t =
                keytrail::model::kms::parse_event_time(r["eventTime"].as_str().unwrap()).unwrap();
            let name = r["eventName"].as_str().unwrap();
            let key = r["resources"][0]["ARN"].as_str().unwrap_or("").to_string();
            let params = &r["requestParameters"];
            if p.setup {
                assert_eq!(name, "CreateGrant");
                assert_eq!(params["granteePrincipal"], "proton.amazonaws.com");
                let tmpl = params["constraints"]["encryptionContextSubset"]["aws:proton:template"]
                    .as_str()
                    .unwrap();
                setup_grants.insert((key, tmpl.to_string()));
                setup_end = setup_end.max(t);
                continue;
            }
            assert!(t > setup_end);
            match name {
                "DisableKey" | "EnableKey" => {
                    state_keys.insert(key);
                }
                _ if r.get("errorCode").is_none()
                    && keytrail::model::kms::classify(name)
                        == keytrail::model::kms::Category::KeyUse =>
                {
                    if let Some(tmpl) = params["encryptionContext"]["aws:proton:template"].as_str()
                    {
                        proton_uses.push((key.clone(), tmpl.to_string()));
                    }
                    used_keys.insert(key);
                }
                _ => {}
            }
        }
    }
    assert_eq!(setup_files, 4);
    // Each setup file grants Proton each of the 4 templates on each of its 2 Proton keys.
    assert_eq!(setup_grants.len(), 4 * 2 * 4);
    assert!(!proton_uses.is_empty());
    for u in &proton_uses {
        assert!(setup_grants.contains(u), "{u:?} has no setup grant");
    }
    assert!(!state_keys.is_empty());
    assert!(state_keys.is_disjoint(&used_keys));
}

#[test]
fn plan_shape_and_duplicates() {
    let cfg = CorpusConfig {
        target_bytes: 64 << 20,
        large_file_bytes: 8 << 20,
        ..CorpusConfig::default()
    };
    let files = plan(&cfg);
    let large: Vec<_> = files.iter().filter(|f| f.large).collect();
    assert_eq!(large.len(), 1);
    let mut total_dups = 0;
    let mut next = 0;
    let mut by_start = HashMap::new();
    for (i, f) in files.iter().enumerate() {
        assert_eq!(f.first_record, next);
        next += f.new_records;
        by_start.insert(f.first_record, i);
        if i > 0 {
            assert!(files[i - 1].delivery_ms <= f.delivery_ms);
        }
        if !f.large {
            assert!(
                f.new_records >= 5 && f.new_records <= 2500,
                "{}",
                f.new_records
            );
        }
        for d in &f.duplicates {
            assert!(d.record < f.first_record);
            assert!(d.origin_delivery_ms <= f.delivery_ms);
            assert!(d.before <= f.new_records);
        }
        assert!(f.duplicates.windows(2).all(|w| w[0].before <= w[1].before));
        total_dups += f.duplicates.len() as u64;
    }
    let rate = total_dups as f64 / next as f64;
    assert!(rate > 0.0005 && rate < 0.0015, "duplicate rate {rate}");
    let default_files = plan(&CorpusConfig::default());
    assert_eq!(default_files.iter().filter(|f| f.large).count(), 3);
}

#[test]
fn odd_region_names_stay_valid_json() {
    let cfg = CorpusConfig {
        regions: vec!["ap-\"odd\\region\t".to_string()],
        ..small(5, 300_000)
    };
    for (_, f, gz) in write_all(&cfg) {
        let v: serde_json::Value = serde_json::from_slice(&gunzip(&gz)).unwrap();
        let recs = v["Records"].as_array().unwrap();
        assert_eq!(recs.len() as u64, f.records);
        assert!(recs
            .iter()
            .all(|r| r["awsRegion"] == cfg.regions[0].as_str()));
    }
}

#[test]
fn write_corpus_writes_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small(3, 300_000);
    let st = write_corpus(&cfg, dir.path()).unwrap();
    let files = plan(&cfg);
    assert_eq!(st.files, files.len() as u64);
    let mut compressed = 0;
    for f in &files {
        compressed += std::fs::metadata(dir.path().join(&f.key)).unwrap().len();
    }
    assert_eq!(compressed, st.compressed_bytes);
    assert!(st.kms_records > 0 && st.kms_records < st.records);
}
