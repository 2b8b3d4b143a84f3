//! Tests of the schema: the column lists, the derived Arrow schemas and generated texts.

use super::*;
use std::collections::BTreeMap;

#[test]
fn every_table_builds_a_batch_of_its_schema() {
    for t in TABLES {
        let mut b = BatchBuilder::new(t);
        let map: BTreeMap<String, String> = [("k".to_string(), "v".to_string())].into();
        let list = vec!["a".to_string()];
        let conds = vec![crate::model::policy::ConditionRow {
            operator: "StringEquals".into(),
            key: "kms:CallerAccount".into(),
            values: list.clone(),
        }];
        let row: Vec<Value> = t
            .columns
            .iter()
            .map(|c| match c.ty {
                Str => Value::Str(Some("x")),
                Bool => Value::Bool(Some(true)),
                Int => Value::Int(Some(1)),
                Time => Value::Time(Some(1_700_000_000_000)),
                StrList => Value::StrList(Some(&list)),
                StrMap => Value::StrMap(Some(&map)),
                Conditions => Value::Conditions(Some(&conds)),
            })
            .collect();
        b.append(&row);
        let nulls: Vec<Value> = t
            .columns
            .iter()
            .map(|c| match c.ty {
                Str => Value::Str(None),
                Bool => Value::Bool(None),
                Int => Value::Int(None),
                Time => Value::Time(None),
                StrList => Value::StrList(None),
                StrMap => Value::StrMap(None),
                Conditions => Value::Conditions(None),
            })
            .collect();
        b.append(&nulls);
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 2, "{}", t.name);
        assert_eq!(batch.schema(), t.schema());
        for p in PARTITION_COLUMNS {
            assert!(t.columns.iter().all(|c| c.name != p.name), "{}", t.name);
        }
    }
}

#[test]
fn findings_daily_is_the_view_s_columns_then_run_date() {
    // The view findings_recomputed: the findings columns, account_id and region after
    // key_arn (tests/python/check_queries.py compares the view itself with this).
    let names: Vec<&str> = FINDINGS_DAILY.columns.iter().map(|c| c.name).collect();
    let mut want: Vec<&str> = FINDINGS.iter().map(|c| c.name).collect();
    let at = want.iter().position(|n| *n == "key_arn").unwrap() + 1;
    want.splice(at..at, ["account_id", "region"]);
    assert_eq!(names, want);
    for c in FINDINGS_DAILY.columns {
        let orig = FINDINGS
            .iter()
            .chain(&PARTITION_COLUMNS)
            .find(|o| o.name == c.name)
            .unwrap();
        assert_eq!(c, orig, "{}", c.name);
    }
    assert_eq!(FINDINGS_DAILY.partition_columns(), [RUN_DATE]);
    assert!(FINDINGS_DAILY
        .columns
        .iter()
        .all(|c| c.name != RUN_DATE.name));
    // Athena writes it: never among the tables keytrail writes (the local publisher
    // replaces the folder of each of those).
    assert!(TABLES.iter().all(|t| t.name != FINDINGS_DAILY.name));
    assert!(table(FINDINGS_DAILY.name).is_none());
    let all: Vec<&str> = catalog().map(|t| t.name).collect();
    assert_eq!(all.len(), TABLES.len() + ATHENA_TABLES.len());
    assert_eq!(all.last(), Some(&"findings_daily"));
}

#[test]
fn findings_daily_is_generated_without_projection() {
    let ddl = athena_ddl(&FINDINGS_DAILY);
    assert!(ddl.contains("PARTITIONED BY (\n  `run_date` string"));
    assert!(!ddl.contains("projection."));
    assert!(ddl.contains("LOCATION '${output}/findings_daily/'"));
    let glue = glue_tables_yaml();
    let block = &glue[glue.find("  FindingsDailyTable:").unwrap()..];
    assert!(block.contains("- {Name: run_date, Type: string}"));
    assert!(!block.contains("projection."));
    assert!(markdown().contains("#### `findings_daily`"));
    assert!(
        json()["athena_tables"]["findings_daily"]["partition_columns"][0]["name"] == "run_date"
    );
    assert!(json()["tables"].get("findings_daily").is_none());
}
