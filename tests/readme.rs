//! The README's column reference is the schema in the code, word for word.

#[test]
fn readme_schema_section_matches_the_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- schema:start")
        .expect("schema start marker");
    let body_start = start + readme[start..].find("-->\n").unwrap() + 4;
    let end = readme
        .find("<!-- schema:end -->")
        .expect("schema end marker");
    assert_eq!(
        &readme[body_start..end],
        keytrail::tables::schema::markdown(),
        "README.md is out of date: paste `keytrail schema` between the markers"
    );
}

#[test]
fn template_glue_tables_match_the_code() {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap();
    let want = keytrail::tables::schema::glue_tables_yaml();
    assert!(
        template.contains(&want),
        "template.yaml's Glue tables are out of date: replace the generated block with `keytrail schema --format glue`"
    );
}

#[test]
fn queries_ddl_matches_the_code() {
    // Every table of the catalog: keytrail's and the one the scheduled Athena query writes.
    for t in keytrail::tables::schema::catalog() {
        let path = format!("{}/queries/ddl/{}.sql", env!("CARGO_MANIFEST_DIR"), t.name);
        let ddl = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            ddl.trim_end(),
            keytrail::tables::schema::athena_ddl(&t).trim_end(),
            "{path} is out of date: regenerate it with `keytrail schema --format ddl`"
        );
    }
}
