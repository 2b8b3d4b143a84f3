//! Tests of the log-file reader: every framing, gzip, errors with their locations.

use super::*;
use flate2::write::GzEncoder;
use std::io::Write;

#[derive(Default)]
struct Collect {
    records: Vec<(RecordPos, String)>,
    errors: Vec<String>,
}
impl RecordSink for Collect {
    fn record(&mut self, pos: RecordPos, bytes: &[u8]) {
        self.records
            .push((pos, String::from_utf8_lossy(bytes).into_owned()));
    }
    fn record_error(&mut self, error: InputError) {
        self.errors.push(error.to_string());
    }
}

fn read(bytes: &[u8]) -> (Result<ReadSummary, InputError>, Collect) {
    let mut c = Collect::default();
    let r = read_log("src", bytes, &ReadOptions::default(), &mut c);
    (r, c)
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn wrapper_streams_each_record() {
    let (r, c) = read(br#"{"Records":[{"a":1}, {"b":"x]}"} ,{"c":[1,{"d":2}]}]}"#);
    let s = r.unwrap();
    assert_eq!(s.framing, Some(Framing::Wrapped));
    assert_eq!(s.records, 3);
    let got: Vec<&str> = c.records.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(
        got,
        vec![r#"{"a":1}"#, r#"{"b":"x]}"}"#, r#"{"c":[1,{"d":2}]}"#]
    );
    assert_eq!(c.records[1].0.column, 22);
}

#[test]
fn escapes_and_tiny_buffers_frame_the_same() {
    let doc = br#"{"Records":[{"a":"q\"}]\\","b":["x\\"]},{"c":"\u0022}"}]}"#;
    let want = vec![r#"{"a":"q\"}]\\","b":["x\\"]}"#, r#"{"c":"\u0022}"}"#];
    for cap in [1, 2, 3, 7, 64] {
        let mut c = Collect::default();
        let mut sc = Scanner::new(BufReader::with_capacity(cap, &doc[..]), "src", u64::MAX, 1);
        let mut summary = ReadSummary {
            records: 0,
            skipped: None,
            gzip: false,
            framing: None,
            bytes: 0,
        };
        frame(&mut sc, &ReadOptions::default(), &mut c, &mut summary).unwrap();
        let got: Vec<&str> = c.records.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(got, want, "buffer {cap}");
        for r in &got {
            serde_json::from_str::<serde_json::Value>(r).unwrap();
        }
    }
}

#[test]
fn multi_member_gzip_is_read_whole() {
    let doc = br#"{"Records":[{"a":1},{"b":2}]}"#;
    let mut bytes = gz(&doc[..15]);
    bytes.extend(gz(&doc[15..]));
    let (r, c) = read(&bytes);
    let s = r.unwrap();
    assert!(s.gzip);
    assert_eq!(c.records.len(), 2);
}

#[test]
fn array_single_object_lines_and_concatenation() {
    let (r, c) = read(b"[{\"a\":1},{\"a\":2}]");
    assert_eq!(r.unwrap().framing, Some(Framing::Array));
    assert_eq!(c.records.len(), 2);

    let (r, c) = read(b"{\n  \"eventID\": \"x\",\n  \"n\": [1, 2]\n}\n");
    assert_eq!(r.unwrap().framing, Some(Framing::SingleRecord));
    assert_eq!(c.records.len(), 1);
    assert!(c.records[0].1.contains("\"eventID\": \"x\""));

    let (r, c) = read(b"{\"a\":1}\n{\"a\":2\n{\"a\":3}\n\n[{\"a\":4}]\n");
    assert_eq!(r.unwrap().framing, Some(Framing::JsonLines));
    assert_eq!(c.records.len(), 3, "{:?}", c.records);
    assert_eq!(c.errors.len(), 1);
    assert!(
        c.errors[0].starts_with("src: line 2, column"),
        "{}",
        c.errors[0]
    );
    assert_eq!(c.records[1].0.line, 3);

    let (r, c) = read(b"{\n\"a\":1\n}{\"b\":2}");
    assert_eq!(r.unwrap().framing, Some(Framing::Concatenated));
    assert_eq!(c.records.len(), 2);
}

#[test]
fn digest_is_skipped_not_failed() {
    let (r, c) = read(br#"{"awsAccountId":"1","digestStartTime":"x","logFiles":[]}"#);
    assert_eq!(r.unwrap().skipped, Some(SkipReason::Digest));
    assert!(c.records.is_empty());
    assert_eq!(
        skip_reason_for_name("AWSLogs/1/CloudTrail-Digest/us-east-1/x.json.gz"),
        Some(SkipReason::Digest)
    );
    assert_eq!(
        skip_reason_for_name("AWSLogs/1/CloudTrail-Insight/us-east-1/x.json.gz"),
        Some(SkipReason::Insight)
    );
    assert_eq!(
        skip_reason_for_name("AWSLogs/1/CloudTrail/us-east-1/x.json.gz"),
        None
    );
}

#[test]
fn source_errors_name_their_causes_on_one_line() {
    #[derive(Debug)]
    struct Cause;
    impl std::fmt::Display for Cause {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("end of file before message length reached")
        }
    }
    impl std::error::Error for Cause {}
    #[derive(Debug)]
    struct Streaming(Cause);
    impl std::fmt::Display for Streaming {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("streaming\nerror")
        }
    }
    impl std::error::Error for Streaming {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other(Streaming(Cause)))
        }
    }
    let mut sink = Vec::<u64>::new();
    struct Count<'a>(&'a mut Vec<u64>);
    impl RecordSink for Count<'_> {
        fn record(&mut self, pos: RecordPos, _: &[u8]) {
            self.0.push(pos.index);
        }
        fn record_error(&mut self, _: InputError) {}
    }
    let err = read_log(
        "s3://b/k",
        Failing,
        &ReadOptions::default(),
        &mut Count(&mut sink),
    )
    .unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(
        err.to_string(),
        "s3://b/k: whole file: read failed: streaming error: end of file before message length reached"
    );
}

#[test]
fn truncated_gzip_is_a_gzip_error_after_the_good_records() {
    let mut doc = String::from("{\"Records\":[");
    for i in 0..2000 {
        if i > 0 {
            doc.push(',');
        }
        doc.push_str(&format!(
            "{{\"eventID\":\"{i}\",\"pad\":\"{}\"}}",
            "x".repeat(i % 50)
        ));
    }
    doc.push_str("]}");
    let bytes = gz(doc.as_bytes());
    let (r, c) = read(&bytes[..bytes.len() / 2]);
    let e = r.unwrap_err();
    assert!(matches!(e.kind, InputErrorKind::Gzip(_)), "{e}");
    assert!(e.to_string().starts_with("src: line 1, column "), "{e}");
    assert!(!c.records.is_empty());
}

#[test]
fn broken_shapes_fail_with_a_position() {
    let (r, _) = read(b"");
    assert_eq!(
        r.unwrap_err().to_string(),
        "src: line 1, column 1: not a CloudTrail log: no JSON value (empty input)"
    );
    let (r, _) = read(b"   \n  ");
    assert!(r.unwrap_err().to_string().contains("empty input"));
    let (r, _) = read(br#"{"Records": 5}"#);
    assert_eq!(
        r.unwrap_err().to_string(),
        "src: line 1, column 13: not a CloudTrail log: \"Records\" is a number, not an array"
    );
    // The error points at the value, wherever it is in the wrapper.
    let (r, _) = read(b"{\"x\": 1,\n  \"Records\":\n    {\"a\": [1]}}");
    assert_eq!(
        r.unwrap_err().to_string(),
        "src: line 3, column 5: not a CloudTrail log: \"Records\" is an object, not an array"
    );
    let (r, c) = read(br#"{"Records":[{"a":1},{"b":"#);
    assert!(r
        .unwrap_err()
        .to_string()
        .contains("unexpected end of input"));
    assert_eq!(c.records.len(), 1);
    let (r, _) = read(b"hello");
    assert!(r.unwrap_err().to_string().contains("found 'h'"));
}

#[test]
fn deep_nesting_does_not_recurse() {
    let mut doc = String::from("[");
    doc.push_str(&"[".repeat(100_000));
    doc.push_str(&"]".repeat(100_000));
    doc.push(']');
    let (r, c) = read(doc.as_bytes());
    assert!(r.is_ok());
    assert_eq!(c.records.len(), 1);
}

#[test]
fn decompressed_size_is_capped() {
    let doc = format!("[{}]", vec!["{\"a\":1}"; 100_000].join(","));
    let mut c = Collect::default();
    let opts = ReadOptions {
        max_source_bytes: 10_000,
        ..ReadOptions::default()
    };
    let e = read_log("bomb.gz", &gz(doc.as_bytes())[..], &opts, &mut c).unwrap_err();
    assert!(matches!(
        e.kind,
        InputErrorKind::TooMuchData { limit: 10_000 }
    ));
}

#[test]
fn a_source_inflating_past_the_ratio_is_stopped_once_it_is_large() {
    // 16 MiB of whitespace inside a wrapper: about 16 KB of gzip at the best level, 1000:1.
    let mut doc = b"{\"Records\":[{\"a\":1},".to_vec();
    doc.resize(doc.len() + (16 << 20), b' ');
    doc.extend_from_slice(b"{\"a\":2}]}");
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&doc).unwrap();
    let bomb = e.finish().unwrap();
    let from = 4 << 20;
    let opts = |max_inflation| ReadOptions {
        max_inflation,
        inflation_check_from: from,
        ..ReadOptions::default()
    };
    let mut c = Collect::default();
    let e = read_log(
        "bomb.json.gz",
        &bomb[..],
        &opts(DEFAULT_MAX_INFLATION),
        &mut c,
    )
    .unwrap_err();
    let InputErrorKind::Inflation {
        limit,
        decompressed,
        compressed,
    } = e.kind
    else {
        panic!("{e}");
    };
    assert_eq!(limit, DEFAULT_MAX_INFLATION);
    // Judged at the first check, not after reading it all.
    assert!((from..from + (1 << 20)).contains(&decompressed), "{e}");
    assert!(compressed <= bomb.len() as u64 && decompressed > 250 * compressed);
    assert_eq!(
        c.records.len(),
        1,
        "the record before the whitespace was kept"
    );
    assert!(e.to_string().contains("times its size"), "{e}");
    // The same bytes plain (no gzip) are not judged by ratio; nor with the guard off.
    for (bytes, max_inflation) in [(&doc[..], DEFAULT_MAX_INFLATION), (&bomb[..], 0)] {
        let mut c = Collect::default();
        read_log("x.json.gz", bytes, &opts(max_inflation), &mut c).unwrap();
        assert_eq!(c.records.len(), 2);
    }
}

/// A lookup-events element as the CLI prints it: the record is a JSON string.
fn lookup_element(record: &str) -> String {
    format!(
        r#"{{"EventId":"x","EventName":"Decrypt","ReadOnly":"true","EventTime":1768385000.0,"EventSource":"kms.amazonaws.com","Resources":[],"CloudTrailEvent":{}}}"#,
        serde_json::Value::from(record)
    )
}

#[test]
fn lookup_events_pages_yield_each_cloudtrail_event() {
    let doc = format!(
        "{{\n  \"Events\": [\n    {},\n    {}\n  ],\n  \"NextToken\": \"t\"\n}}\n{{\n  \"Events\": [\n    {}\n  ]\n}}\n",
        lookup_element(r#"{"eventID":"a","eventSource":"kms.amazonaws.com"}"#),
        lookup_element(r#"{"eventID":"b","eventTime":"2026-01-14T10:20:31Z"}"#),
        lookup_element(r#"{"eventID":"c","s":"q\"}]"}"#),
    );
    for cap in [1, 3, 64, 256 * 1024] {
        let mut c = Collect::default();
        let mut sc = Scanner::new(
            BufReader::with_capacity(cap, doc.as_bytes()),
            "src",
            u64::MAX,
            1,
        );
        let mut summary = ReadSummary {
            records: 0,
            skipped: None,
            gzip: false,
            framing: None,
            bytes: 0,
        };
        frame(&mut sc, &ReadOptions::default(), &mut c, &mut summary).unwrap();
        let got: Vec<&str> = c.records.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(
            got,
            vec![
                r#"{"eventID":"a","eventSource":"kms.amazonaws.com"}"#,
                r#"{"eventID":"b","eventTime":"2026-01-14T10:20:31Z"}"#,
                r#"{"eventID":"c","s":"q\"}]"}"#,
            ],
            "buffer {cap}"
        );
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert_eq!(summary.records, 3);
        assert_eq!(
            summary.framing,
            Some(Framing::LookupEvents {
                pages: 2,
                events: 3
            })
        );
        // Each record is placed at its element: lines 3, 4 and 10, column 5.
        let places: Vec<(u64, u64, u64)> = c
            .records
            .iter()
            .map(|(p, _)| (p.index, p.line, p.column))
            .collect();
        assert_eq!(places, vec![(0, 3, 5), (1, 4, 5), (2, 10, 5)]);
    }
}

#[test]
fn lookup_events_pages_one_per_line_and_as_objects() {
    let page = |rec: &str| {
        format!(
            "{{\"Events\":[{}],\"NextToken\":null}}",
            lookup_element(rec)
        )
    };
    let doc = format!(
        "{}\n{}\n{{\"Events\":[{{\"EventId\":\"o\",\"CloudTrailEvent\":{{\"eventID\":\"o\"}}}}]}}\n",
        page(r#"{"eventID":"l1"}"#),
        page(r#"{"eventID":"l2"}"#)
    );
    let (r, c) = read(doc.as_bytes());
    let s = r.unwrap();
    assert_eq!(
        s.framing,
        Some(Framing::LookupEvents {
            pages: 3,
            events: 3
        })
    );
    let got: Vec<&str> = c.records.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(
        got,
        vec![
            r#"{"eventID":"l1"}"#,
            r#"{"eventID":"l2"}"#,
            r#"{"eventID":"o"}"#
        ]
    );
    // The object form is placed where the record object starts: line 3, column 45.
    let p = c.records[2].0;
    assert_eq!((p.index, p.line, p.column), (2, 3, 45));
    // The same pages as a `.jsonl` source.
    let mut c = Collect::default();
    let opts = ReadOptions {
        json_lines_hint: true,
        ..ReadOptions::default()
    };
    let s = read_log("src.jsonl", doc.as_bytes(), &opts, &mut c).unwrap();
    assert_eq!(c.records.len(), 3);
    assert!(matches!(s.framing, Some(Framing::LookupEvents { .. })));
}

#[test]
fn a_lookup_element_without_a_record_is_a_record_error_and_the_rest_is_kept() {
    let doc = format!(
        "{{\"Events\": [\n{},\n  {{\"EventId\": \"y\", \"EventName\": \"Decrypt\"}},\n  {},\n{}]}}",
        lookup_element(r#"{"eventID":"first"}"#),
        lookup_element(r#"{"eventID":"broken",}"#),
        lookup_element(r#"{"eventID":"last"}"#),
    );
    let (r, c) = read(doc.as_bytes());
    let s = r.unwrap();
    assert_eq!(s.records, 4);
    assert_eq!(
        s.framing,
        Some(Framing::LookupEvents {
            pages: 1,
            events: 4
        })
    );
    let got: Vec<(u64, &str)> = c
        .records
        .iter()
        .map(|(p, r)| (p.index, r.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(0, r#"{"eventID":"first"}"#), (3, r#"{"eventID":"last"}"#)]
    );
    assert_eq!(
        c.errors,
        vec![
            "src: record 1, line 3, column 3: not a CloudTrail log: lookup-events element without CloudTrailEvent",
            "src: record 2, line 4, column 3: invalid JSON: CloudTrailEvent is not a JSON record: key must be a string at line 1, column 21 of its text",
        ]
    );
}

#[test]
fn a_file_cut_inside_the_events_array_fails_after_the_records_before() {
    let doc = format!(
        "{{\"Events\":[{},{}]}}",
        lookup_element(r#"{"eventID":"kept"}"#),
        lookup_element(r#"{"eventID":"cut"}"#),
    );
    let cut = doc.find("cut").unwrap();
    let (r, c) = read(&doc.as_bytes()[..cut]);
    let e = r.unwrap_err();
    assert!(matches!(e.kind, InputErrorKind::Json(_)), "{e}");
    assert!(
        e.to_string()
            .ends_with("invalid JSON: unexpected end of input"),
        "{e}"
    );
    assert_eq!(c.records.len(), 1);
    assert_eq!(c.records[0].1, r#"{"eventID":"kept"}"#);
}

#[test]
fn events_and_rows_that_are_not_arrays_leave_a_record_a_record() {
    // A record with an `Events` member that is not an array, and a CloudTrail record.
    for doc in [
        r#"{"eventID":"r1","Events":{"n":1},"QueryResultRows":"x"}"#,
        r#"{"eventID":"r2","Events":null}"#,
        r#"{"eventVersion":"1.11","eventSource":"kms.amazonaws.com","eventID":"r3"}"#,
    ] {
        let (r, c) = read(doc.as_bytes());
        assert_eq!(r.unwrap().framing, Some(Framing::SingleRecord), "{doc}");
        assert_eq!(c.records.len(), 1);
        assert_eq!(c.records[0].1, doc);
    }
    // Both `Records` and `Events` arrays: each streamed as what it is.
    let doc = format!(
        r#"{{"Records":[{{"eventID":"w"}}],"Events":[{}]}}"#,
        lookup_element(r#"{"eventID":"e"}"#)
    );
    let (r, c) = read(doc.as_bytes());
    assert_eq!(
        r.unwrap().framing,
        Some(Framing::LookupEvents {
            pages: 1,
            events: 1
        })
    );
    let got: Vec<&str> = c.records.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(got, vec![r#"{"eventID":"w"}"#, r#"{"eventID":"e"}"#]);
    // A `Records` that is not an array next to a streamed array is said, not dropped.
    let (r, c) = read(br#"{"Events":[],"Records":7}"#);
    assert!(r.is_ok());
    assert_eq!(
        c.errors,
        vec!["src: line 1, column 24: not a CloudTrail log: \"Records\" is a number, not an array"]
    );
}

#[test]
fn lake_pages_yield_each_row() {
    let doc = r#"{"QueryStatus":"FINISHED","QueryStatistics":{"ResultsCount":2},"QueryResultRows":[
  [{"eventjson":"{\"eventID\":\"j1\"}"}],
  [{"eventID":"f1"},{"eventsource":"kms.amazonaws.com"},{"resources":"[{\"ARN\":\"k\"}]"}]
]}
{"QueryStatus":"FINISHED","QueryResultRows":[[{"eventJson":{"eventID":"j2"}}], "bad"],"NextToken":"n"}"#;
    let (r, c) = read(doc.as_bytes());
    let s = r.unwrap();
    assert_eq!(s.framing, Some(Framing::LakeResults { pages: 2, rows: 4 }));
    assert_eq!(s.records, 4);
    let got: Vec<&str> = c.records.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(
        got,
        vec![
            r#"{"eventID":"j1"}"#,
            r#"{"eventID":"f1","eventSource":"kms.amazonaws.com","resources":[{"ARN":"k"}]}"#,
            r#"{"eventID":"j2"}"#,
        ]
    );
    assert_eq!(
        c.errors,
        vec!["src: record 3, line 5, column 80: not a CloudTrail log: CloudTrail Lake row is a string, not an array of {column: value} objects"]
    );
}

#[test]
fn lake_pages_without_rows_are_pages_and_unfinished_queries_are_said() {
    let (r, c) = read(
        br#"{"QueryStatus":"FINISHED","QueryStatistics":{"ResultsCount":0},"QueryResultRows":[]}"#,
    );
    assert_eq!(
        r.unwrap().framing,
        Some(Framing::LakeResults { pages: 1, rows: 0 })
    );
    assert!(c.records.is_empty() && c.errors.is_empty());
    let (r, c) = read(
        b"\n {\"QueryStatus\":\"FAILED\",\"ErrorMessage\":\"Query failed:\\nno such column\"}",
    );
    assert_eq!(
        r.unwrap().framing,
        Some(Framing::LakeResults { pages: 1, rows: 0 })
    );
    assert!(c.records.is_empty());
    assert_eq!(
        c.errors,
        vec!["src: line 2, column 2: not a CloudTrail log: CloudTrail Lake query is FAILED, not FINISHED: Query failed: no such column"]
    );
    let (r, _) = read(br#"{"QueryStatus":"RUNNING","QueryStatistics":{},"QueryResultRows":5}"#);
    assert_eq!(
        r.unwrap_err().to_string(),
        "src: line 1, column 65: not a CloudTrail log: \"QueryResultRows\" is a number, not an array"
    );
    // A record with a `QueryStatus` member alone is still a record.
    let (r, c) = read(br#"{"eventID":"q","QueryStatus":"x"}"#);
    assert_eq!(r.unwrap().framing, Some(Framing::SingleRecord));
    assert_eq!(c.records.len(), 1);
}
