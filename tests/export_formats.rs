//! The output of `aws cloudtrail lookup-events` and of CloudTrail Lake's `get-query-results`
//! through the whole decode path: testdata/formats/lookup-events.json and
//! lake-query-results.json give exactly the KMS events written into them by hand (eventIDs,
//! names, the inner record's time and context), their other records are counted, and broken
//! elements are record errors that name the place and leave the rest intact.

mod common;

use common::*;
use keytrail::model::kms::KmsEvent;
use keytrail::pipeline::decode::{decode_source, read_options_for, Decoded};
use keytrail::pipeline::PipelineOptions;
use keytrail::read::logfile::{Framing, ReadOptions, ReadSummary};
use std::collections::BTreeMap;

const KL: &str = "arn:aws:kms:us-east-1:111122223333:key/5d7f0c2e-8b41-4a96-b3e7-1f2a9c6d4e80";
const KQ: &str = "arn:aws:kms:eu-west-1:111122223333:key/8c3e5a17-2f9b-4d60-a4c8-7e1b0d9f3a52";

#[derive(Default)]
struct Decodes {
    kms: Vec<KmsEvent>,
    other: u64,
    errors: Vec<String>,
}

fn decode(name: &str, bytes: &[u8]) -> (Result<ReadSummary, String>, Decodes) {
    let mut d = Decodes::default();
    let opts = read_options_for(name, &ReadOptions::default());
    let r = decode_source(name, bytes, &opts, false, &mut |x| match x {
        Decoded::Kms { event, .. } => d.kms.push(*event),
        Decoded::Other { .. } => d.other += 1,
        Decoded::Invalid(e) => d.errors.push(e.to_string()),
    });
    (r.map_err(|e| e.to_string()), d)
}

fn decode_fixture(name: &str) -> (ReadSummary, Decodes) {
    let path = testdata(&format!("formats/{name}"));
    let bytes = std::fs::read(&path).unwrap();
    let (r, d) = decode(name, &bytes);
    (r.unwrap(), d)
}

fn ids_and_names(events: &[KmsEvent]) -> Vec<(&str, &str)> {
    events
        .iter()
        .map(|e| (e.event_id.as_deref().unwrap_or(""), e.event_name.as_str()))
        .collect()
}

fn context(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[test]
fn lookup_events_output_gives_its_kms_events() {
    let (s, d) = decode_fixture("lookup-events.json");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    // Page 1 (newest first, as the CLI prints): Decrypt, CreateGrant, and the Proton call
    // CreateEnvironmentTemplate; page 2: CreateKey.
    assert_eq!(
        ids_and_names(&d.kms),
        vec![
            ("91000003-2f6d-4a8e-b3c9-7e1a4d0b5c28", "Decrypt"),
            ("91000002-b4c7-4e9a-a1f0-5d3e8c2b7a61", "CreateGrant"),
            ("91000001-6a2e-4c1b-8f3d-2b7e9c0a4d15", "CreateKey"),
        ]
    );
    assert_eq!(
        d.other, 1,
        "CreateEnvironmentTemplate (proton.amazonaws.com)"
    );
    assert_eq!(s.records, 4);
    assert_eq!(
        s.framing,
        Some(Framing::LookupEvents {
            pages: 2,
            events: 4
        })
    );
    // The record inside is the record: its own time, key and context.
    let decrypt = &d.kms[0];
    assert_eq!(
        decrypt.event_time_raw.as_deref(),
        Some("2026-01-14T10:20:31Z")
    );
    assert_eq!(decrypt.key.arn.as_deref(), Some(KL));
    assert_eq!(
        decrypt.encryption_context,
        context(&[
            (
                "aws:proton:template",
                "arn:aws:proton:us-east-1:111122223333:environment-template/t1"
            ),
            (
                "aws:proton:resource",
                "arn:aws:proton:us-east-1:111122223333:environment/e1"
            ),
        ])
    );
    assert_eq!(decrypt.read_only, Some(true));
    // EventTime of the page 2 element is a number (epoch seconds): not used.
    assert_eq!(
        d.kms[2].event_time_raw.as_deref(),
        Some("2026-01-14T09:58:12Z")
    );
    let grant = d.kms[1].grant.as_ref().expect("grant facts");
    assert_eq!(grant.grantee.as_deref(), Some("proton.amazonaws.com"));
}

#[test]
fn lake_query_results_give_their_kms_events() {
    let (s, d) = decode_fixture("lake-query-results.json");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    // Page 1: three `eventjson` rows (CreateGrant, GenerateDataKey, the Proton call
    // CreateService); page 2: two rows of flat columns (two Decrypts).
    assert_eq!(
        ids_and_names(&d.kms),
        vec![
            ("92000001-8e3b-4f1a-a6d2-9c0b5e7f1a43", "CreateGrant"),
            ("92000002-5c1f-4b7e-9d3a-0e8c6b2f4a19", "GenerateDataKey"),
            ("92000003-0b6e-4d2f-8a7c-5e1d9f3b6a80", "Decrypt"),
            ("92000004-d3a1-4c8f-b2e6-7f0a5c9d1e36", "Decrypt"),
        ]
    );
    assert_eq!(d.other, 1, "CreateService (proton.amazonaws.com)");
    assert_eq!(s.records, 5);
    assert_eq!(s.framing, Some(Framing::LakeResults { pages: 2, rows: 5 }));
    let template = "arn:aws:proton:eu-west-1:111122223333:service-template/lake-svc";
    assert_eq!(d.kms[1].key.arn.as_deref(), Some(KQ));
    assert_eq!(
        d.kms[1].encryption_context,
        context(&[
            ("aws:proton:template", template),
            ("aws:proton:resource", template)
        ])
    );
    // Flat columns, Lake's own rendering of structs: the scalar columns are read (time,
    // region, account, readonly), the `{key=value}` texts stay strings, so the key and the
    // context are unknown.
    let trino = &d.kms[2];
    assert_eq!(
        trino.event_time_raw.as_deref(),
        Some("2026-02-03 09:40:12.000")
    );
    assert!(trino.event_time.is_some());
    assert_eq!(trino.region.as_deref(), Some("eu-west-1"));
    assert_eq!(trino.account_id.as_deref(), Some("111122223333"));
    assert_eq!(trino.read_only, Some(true));
    assert_eq!(trino.key.arn, None);
    assert_eq!(trino.encryption_context, None);
    // Flat columns holding JSON text: parsed, so key, context and caller are known.
    let json = &d.kms[3];
    assert_eq!(json.key.arn.as_deref(), Some(KQ));
    assert_eq!(
        json.encryption_context,
        context(&[
            ("aws:proton:template", template),
            (
                "aws:proton:resource",
                "arn:aws:proton:eu-west-1:111122223333:service/lake-api"
            ),
        ])
    );
    assert_eq!(
        json.caller.invoked_by.as_deref(),
        Some("proton.amazonaws.com")
    );
}

#[test]
fn the_pipeline_counts_them_and_finds_nothing_wrong() {
    let r = run_paths(
        &[
            testdata("formats/lookup-events.json"),
            testdata("formats/lake-query-results.json"),
        ],
        PipelineOptions::default(),
    );
    let s = &r.stats;
    assert_eq!((s.files_read, s.files_failed), (2, 0));
    assert_eq!(s.records, 9);
    assert_eq!(s.records_invalid, 0);
    assert_eq!(s.other_service_records, 2);
    assert_eq!(s.kms_events, 7);
    // Uses: the Decrypt (lookup), the GenerateDataKey and two Decrypts (Lake); grants: the
    // two CreateGrants; other: CreateKey.
    assert_eq!(
        (s.key_use_events, s.grant_events, s.other_kms_events),
        (4, 2, 1)
    );
    // Every Proton use is covered by its CreateGrant; the Lake row in Lake's own rendering
    // has no key.
    assert!(r.findings.is_empty(), "{:?}", findings_json(&r));
    assert_eq!(r.timeline.unresolved_key_uses, 1);
}

/// A lookup-events page with the given elements, one per line.
fn page(elements: &[String]) -> String {
    format!(
        "{{\"Events\": [\n{}\n], \"NextToken\": \"x\"}}\n",
        elements.join(",\n")
    )
}

fn element(event_id: &str, record: Option<&str>) -> String {
    let mut el = format!(
        r#"{{"EventId": "{event_id}", "EventName": "Decrypt", "ReadOnly": "true", "EventTime": 1768385000, "EventSource": "kms.amazonaws.com""#
    );
    if let Some(r) = record {
        el.push_str(&format!(
            r#", "CloudTrailEvent": {}"#,
            serde_json::Value::from(r)
        ));
    }
    el.push('}');
    el
}

fn kms_record(event_id: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.11","eventTime":"2026-01-14T10:20:31Z","eventSource":"kms.amazonaws.com","eventName":"Decrypt","awsRegion":"us-east-1","eventID":"{event_id}","resources":[{{"ARN":"{KL}","type":"AWS::KMS::Key"}}]}}"#
    )
}

#[test]
fn broken_lookup_elements_are_record_errors_naming_their_place() {
    let doc = page(&[
        element("k1", Some(&kms_record("k1"))),
        element("k2", None),
        element(
            "k3",
            Some(&kms_record("k3").replace("\"Decrypt\",", "\"Decrypt\" ")),
        ),
        element("k4", Some(&kms_record("k4"))),
    ]);
    let (r, d) = decode("lookup.json", doc.as_bytes());
    let s = r.unwrap();
    assert_eq!(s.records, 4);
    assert_eq!(
        ids_and_names(&d.kms),
        vec![("k1", "Decrypt"), ("k4", "Decrypt")]
    );
    // Record 1 (k2) is on line 3, record 2 (k3) on line 4, both at column 1. In k3's record
    // text, `"awsRegion"` (after the comma taken out) starts at column 115.
    assert_eq!(
        d.errors,
        vec![
            "lookup.json: record 1, line 3, column 1: not a CloudTrail log: lookup-events element without CloudTrailEvent",
            "lookup.json: record 2, line 4, column 1: invalid JSON: CloudTrailEvent is not a JSON record: expected `,` or `}` at line 1, column 115 of its text",
        ]
    );
}

#[test]
fn a_lookup_file_cut_mid_array_keeps_the_events_before_the_cut() {
    let doc = page(&[
        element("c1", Some(&kms_record("c1"))),
        element("c2", Some(&kms_record("c2"))),
        element("c3", Some(&kms_record("c3"))),
    ]);
    let cut = doc.find("\"c3\"").unwrap() + 10;
    for (name, bytes) in [
        ("cut.json", doc.as_bytes()[..cut].to_vec()),
        ("cut.json.gz", gzip(&doc.as_bytes()[..cut])),
    ] {
        let (r, d) = decode(name, &bytes);
        let e = r.unwrap_err();
        assert!(
            e.starts_with(&format!("{name}: line 4, column "))
                && e.ends_with("unexpected end of input"),
            "{e}"
        );
        assert_eq!(
            ids_and_names(&d.kms),
            vec![("c1", "Decrypt"), ("c2", "Decrypt")],
            "{name}"
        );
        assert!(d.errors.is_empty());
    }
    // Through the pipeline: the source failed, its two events were kept.
    let r = run_sources_allowing_failure("cut.json", doc.as_bytes()[..cut].to_vec());
    assert_eq!((r.stats.files_failed, r.stats.kms_events), (1, 2));
}

#[test]
fn lake_rows_that_carry_no_record_are_record_errors() {
    let doc = format!(
        "{{\"QueryStatus\": \"FINISHED\", \"QueryResultRows\": [\n[{{\"eventjson\": {}}}],\n[{{\"eventjson\": \"{{\\\"eventID\\\": \"}}],\n\"row\"\n]}}",
        serde_json::Value::from(kms_record("r1"))
    );
    let (r, d) = decode("lake.json", doc.as_bytes());
    assert_eq!(
        r.unwrap().framing,
        Some(Framing::LakeResults { pages: 1, rows: 3 })
    );
    assert_eq!(ids_and_names(&d.kms), vec![("r1", "Decrypt")]);
    assert_eq!(
        d.errors,
        vec![
            "lake.json: record 1, line 3, column 1: invalid JSON: eventJson is not a JSON record: EOF while parsing a value at line 1, column 12 of its text",
            "lake.json: record 2, line 4, column 1: not a CloudTrail log: CloudTrail Lake row is a string, not an array of {column: value} objects",
        ]
    );
}

#[test]
fn compacted_pages_one_per_line_read_the_same() {
    // The fixture's pages, compacted one per line (what `jq -c .` makes of the CLI output).
    let text = std::fs::read_to_string(testdata("formats/lookup-events.json")).unwrap();
    let mut lines = String::new();
    for page in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
        lines.push_str(&page.unwrap().to_string());
        lines.push('\n');
    }
    for name in ["pages.json", "pages.jsonl"] {
        let (s, d) = decode(name, lines.as_bytes());
        let s = s.unwrap();
        assert_eq!(d.kms.len(), 3, "{name}");
        assert_eq!(d.other, 1, "{name}");
        assert!(
            matches!(
                s.framing,
                Some(Framing::LookupEvents {
                    pages: 2,
                    events: 4
                })
            ),
            "{name}: {:?}",
            s.framing
        );
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn run_sources_allowing_failure(name: &str, bytes: Vec<u8>) -> keytrail::pipeline::RunReport {
    use keytrail::pipeline::Pipeline;
    use keytrail::tables::writer::NoStore;
    let mut p: Pipeline<NoStore> = Pipeline::new(PipelineOptions::default(), false);
    let o = p.ingest(&mut NoStore, name, &bytes[..]).unwrap();
    assert!(o.failure.is_some());
    p.finish(&mut NoStore).unwrap()
}
