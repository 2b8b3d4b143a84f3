//! The texts generated from the schema: the README's column reference (Markdown), the
//! JSON description, the Glue tables of template.yaml and the Athena DDL. Checked against
//! the committed files by the tests, so none of them can drift from the Rust schema.

use super::*;

/// The tables as Markdown (the README's column reference is this text).
pub fn markdown() -> String {
    let mut s = String::new();
    s.push_str("Every table keytrail writes is partitioned by ");
    s.push_str(
        &PARTITION_COLUMNS
            .iter()
            .map(|c| format!("`{}`", c.name))
            .collect::<Vec<_>>()
            .join(", "),
    );
    s.push_str(
        " (Hive folders `account_id=.../region=.../event_date=YYYY-MM-DD/`; a missing value is `",
    );
    s.push_str(NULL_PARTITION);
    s.push_str("`):\n\n| partition column | type | meaning |\n|---|---|---|\n");
    for c in PARTITION_COLUMNS {
        s.push_str(&format!(
            "| `{}` | {} | {} |\n",
            c.name,
            c.ty.athena(),
            c.doc
        ));
    }
    let columns = |s: &mut String, t: &Table| {
        s.push_str(&format!(
            "\n#### `{}`\n\n{}\n\n| column | type | meaning |\n|---|---|---|\n",
            t.name, t.doc
        ));
        for c in t.columns {
            s.push_str(&format!(
                "| `{}` | {} | {} |\n",
                c.name,
                c.ty.athena(),
                c.doc
            ));
        }
    };
    for t in TABLES {
        columns(&mut s, &t);
    }
    s.push_str(&format!(
        "\nAthena writes the next table{}, not keytrail (the stack's daily schedule, `queries/scheduled/`); it is partitioned by `{}` (Hive folders `{}=YYYY-MM-DD/`, each registered in Glue by the run's `INSERT INTO`, no projection):\n\n| partition column | type | meaning |\n|---|---|---|\n| `{}` | {} | {} |\n",
        if ATHENA_TABLES.len() == 1 { "" } else { "s" },
        RUN_DATE.name,
        RUN_DATE.name,
        RUN_DATE.name,
        RUN_DATE.ty.athena(),
        RUN_DATE.doc
    ));
    for t in ATHENA_TABLES {
        columns(&mut s, &t);
    }
    s
}

/// The tables as JSON: `{"partition_columns": [...], "tables": {name: [{name, type}]},
/// "athena_tables": {name: {"columns": [...], "partition_columns": [...]}}}`, types in Athena
/// spelling. Test tools compare written files against `tables` (what keytrail writes);
/// `athena_tables` are written by Athena.
pub fn json() -> serde_json::Value {
    let cols = |cs: &[Column]| {
        cs.iter()
            .map(|c| serde_json::json!({"name": c.name, "type": c.ty.athena()}))
            .collect::<Vec<_>>()
    };
    serde_json::json!({
        "partition_columns": cols(&PARTITION_COLUMNS),
        "tables": TABLES
            .iter()
            .map(|t| (t.name.to_string(), serde_json::Value::Array(cols(t.columns))))
            .collect::<serde_json::Map<_, _>>(),
        "athena_tables": ATHENA_TABLES
            .iter()
            .map(|t| {
                (
                    t.name.to_string(),
                    serde_json::json!({
                        "columns": cols(t.columns),
                        "partition_columns": cols(t.partition_columns()),
                    }),
                )
            })
            .collect::<serde_json::Map<_, _>>(),
    })
}

/// The CamelCase resource name of a table in template.yaml (`kms_events`: `KmsEventsTable`).
fn resource_name(table: &str) -> String {
    let mut s: String = table
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    s.push_str("Table");
    s
}

/// The Glue tables of template.yaml (under `Resources:`), generated from the schema so the
/// template and the code cannot disagree (a test compares them).
pub fn glue_tables_yaml() -> String {
    let mut y = String::new();
    y.push_str(
        "  # BEGIN generated Glue tables (src/tables/schema.rs, `keytrail schema --format glue`)\n",
    );
    for t in catalog() {
        y.push_str(&format!(
            "  {}:\n    Type: AWS::Glue::Table\n    Properties:\n      CatalogId: !Ref AWS::AccountId\n      DatabaseName: !Ref GlueDatabase\n      TableInput:\n        Name: {}\n        Description: \"{}\"\n        TableType: EXTERNAL_TABLE\n        Parameters:\n          classification: parquet\n",
            resource_name(t.name),
            t.name,
            t.doc.replace('"', "'"),
        ));
        if t.partitioning == Partitioning::Events {
            y.push_str(&format!(
                "          projection.enabled: \"true\"\n          projection.account_id.type: enum\n          projection.account_id.values: !Join [\",\", !Ref ProjectedAccounts]\n          projection.region.type: enum\n          projection.region.values: !Join [\",\", !Ref ProjectedRegions]\n          projection.event_date.type: date\n          projection.event_date.format: yyyy-MM-dd\n          projection.event_date.range: !Sub \"${{ProjectedStartDate}},NOW\"\n          projection.event_date.interval: \"1\"\n          projection.event_date.interval.unit: DAYS\n          storage.location.template: !Sub \"s3://${{OutputBucket}}/${{OutputPrefix}}/{}/account_id=${{!account_id}}/region=${{!region}}/event_date=${{!event_date}}\"\n",
                t.name
            ));
        }
        y.push_str("        PartitionKeys:\n");
        for p in t.partition_columns() {
            y.push_str(&format!(
                "          - {{Name: {}, Type: {}}}\n",
                p.name,
                p.ty.athena()
            ));
        }
        y.push_str(&format!(
            "        StorageDescriptor:\n          Location: !Sub \"s3://${{OutputBucket}}/${{OutputPrefix}}/{}/\"\n          InputFormat: org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat\n          OutputFormat: org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat\n          SerdeInfo:\n            SerializationLibrary: org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe\n          Columns:\n",
            t.name
        ));
        for c in t.columns {
            y.push_str(&format!(
                "            - {{Name: {}, Type: \"{}\"}}\n",
                c.name,
                c.ty.athena()
            ));
        }
    }
    y.push_str("  # END generated Glue tables\n");
    y
}

/// The Athena DDL of a table: Hive-style `CREATE EXTERNAL TABLE` over the Parquet files.
/// keytrail's tables have partition projection matching the layout keytrail writes; an
/// Athena-written table's partitions are registered by the `INSERT INTO` that writes them.
/// `${output}`, `${accounts}` and `${regions}` are placeholders (see queries/README.md).
pub fn athena_ddl(t: &Table) -> String {
    // Hive DDL escapes quotes with a backslash.
    let esc = |s: &str| s.replace('\'', "\\'");
    let placeholders = match t.partitioning {
        Partitioning::Events => "-- Placeholders: ${output} = s3://bucket/prefix the tables were written under;\n-- ${accounts}, ${regions} = comma-separated account ids and regions to project.\n",
        Partitioning::RunDate => "-- Placeholder: ${output} = s3://bucket/prefix the tables were written under. Written by\n-- queries/scheduled/, whose INSERT INTO registers each run_date partition (no projection).\n",
    };
    let mut d = format!(
        "-- {}: {}\n-- Generated from src/tables/schema.rs (`keytrail schema --format ddl`); a test keeps it in step.\n{}CREATE EXTERNAL TABLE IF NOT EXISTS keytrail.{} (\n",
        t.name, t.doc, placeholders, t.name
    );
    let cols: Vec<String> = t
        .columns
        .iter()
        .map(|c| format!("  `{}` {} COMMENT '{}'", c.name, c.ty.athena(), esc(c.doc)))
        .collect();
    d.push_str(&cols.join(",\n"));
    d.push_str("\n)\nPARTITIONED BY (\n");
    let parts: Vec<String> = t
        .partition_columns()
        .iter()
        .map(|c| format!("  `{}` {} COMMENT '{}'", c.name, c.ty.athena(), esc(c.doc)))
        .collect();
    d.push_str(&parts.join(",\n"));
    match t.partitioning {
        Partitioning::Events => d.push_str(&format!(
            "\n)\nSTORED AS PARQUET\nLOCATION '${{output}}/{name}/'\nTBLPROPERTIES (\n  'classification' = 'parquet',\n  'projection.enabled' = 'true',\n  'projection.account_id.type' = 'enum',\n  'projection.account_id.values' = '${{accounts}}',\n  'projection.region.type' = 'enum',\n  'projection.region.values' = '${{regions}}',\n  'projection.event_date.type' = 'date',\n  'projection.event_date.format' = 'yyyy-MM-dd',\n  'projection.event_date.range' = '2019-01-01,NOW',\n  'projection.event_date.interval' = '1',\n  'projection.event_date.interval.unit' = 'DAYS',\n  'storage.location.template' = '${{output}}/{name}/account_id=${{account_id}}/region=${{region}}/event_date=${{event_date}}'\n);\n",
            name = t.name
        )),
        Partitioning::RunDate => d.push_str(&format!(
            "\n)\nSTORED AS PARQUET\nLOCATION '${{output}}/{name}/'\nTBLPROPERTIES (\n  'classification' = 'parquet'\n);\n",
            name = t.name
        )),
    }
    d
}
