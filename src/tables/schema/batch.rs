//! Building Arrow record batches from rows of [`Value`]s: one Arrow builder per column,
//! chosen by the column's [`ColType`].

use super::ColType::*;
use super::Table;
use crate::model::policy::ConditionRow;
use arrow::array::{
    Array, ArrayRef, BooleanBuilder, Int64Builder, ListBuilder, MapBuilder, MapFieldNames,
    StringBuilder, StructBuilder, TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Fields, SchemaRef};
use arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(super) fn new_list_builder() -> ListBuilder<StringBuilder> {
    ListBuilder::new(StringBuilder::new())
}

pub(super) fn new_map_builder() -> MapBuilder<StringBuilder, StringBuilder> {
    // The Parquet names for map entries, so every reader sees a standard MAP.
    MapBuilder::new(
        Some(MapFieldNames {
            entry: "key_value".into(),
            key: "key".into(),
            value: "value".into(),
        }),
        StringBuilder::new(),
        StringBuilder::new(),
    )
}

/// The fields of one condition entry: `struct<operator, key, values: array<string>>`.
fn condition_fields() -> Fields {
    let values = new_list_builder().finish().data_type().clone();
    Fields::from(vec![
        Field::new("operator", DataType::Utf8, true),
        Field::new("key", DataType::Utf8, true),
        Field::new("values", values, true),
    ])
}

pub(super) fn new_conditions_builder() -> ListBuilder<StructBuilder> {
    ListBuilder::new(StructBuilder::new(
        condition_fields(),
        vec![
            Box::new(StringBuilder::new()),
            Box::new(StringBuilder::new()),
            Box::new(new_list_builder()),
        ],
    ))
}

/// Appends one row's conditions (or a null); returns the bytes of text appended.
fn append_conditions(b: &mut ListBuilder<StructBuilder>, rows: Option<&[ConditionRow]>) -> usize {
    let Some(rows) = rows else {
        b.append(false);
        return 0;
    };
    let mut bytes = 0;
    let st = b.values();
    for r in rows {
        bytes += r.operator.len() + r.key.len() + r.values.iter().map(String::len).sum::<usize>();
        st.field_builder::<StringBuilder>(0)
            .expect("operator field")
            .append_value(&r.operator);
        st.field_builder::<StringBuilder>(1)
            .expect("key field")
            .append_value(&r.key);
        let vb = st
            .field_builder::<ListBuilder<StringBuilder>>(2)
            .expect("values field");
        for v in &r.values {
            vb.values().append_value(v);
        }
        vb.append(true);
        st.append(true);
    }
    b.append(true);
    bytes
}

/// One cell.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Str(Option<&'a str>),
    Bool(Option<bool>),
    Int(Option<i64>),
    Time(Option<i64>),
    StrList(Option<&'a [String]>),
    StrMap(Option<&'a BTreeMap<String, String>>),
    Conditions(Option<&'a [ConditionRow]>),
}

enum Builder {
    Str(StringBuilder),
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Time(TimestampMillisecondBuilder),
    StrList(ListBuilder<StringBuilder>),
    StrMap(MapBuilder<StringBuilder, StringBuilder>),
    Conditions(ListBuilder<StructBuilder>),
}

/// Accumulates rows of one table and turns them into Arrow record batches.
pub struct BatchBuilder {
    table: Table,
    schema: SchemaRef,
    builders: Vec<Builder>,
    rows: usize,
    /// Bytes of string data appended since the last batch (to bound batch size).
    bytes: usize,
}

impl BatchBuilder {
    pub fn new(table: Table) -> Self {
        let builders = table
            .columns
            .iter()
            .map(|c| match c.ty {
                Str => Builder::Str(StringBuilder::new()),
                Bool => Builder::Bool(BooleanBuilder::new()),
                Int => Builder::Int(Int64Builder::new()),
                Time => Builder::Time(TimestampMillisecondBuilder::new().with_timezone("UTC")),
                StrList => Builder::StrList(new_list_builder()),
                StrMap => Builder::StrMap(new_map_builder()),
                Conditions => Builder::Conditions(new_conditions_builder()),
            })
            .collect();
        BatchBuilder {
            table,
            schema: table.schema(),
            builders,
            rows: 0,
            bytes: 0,
        }
    }

    pub fn table(&self) -> Table {
        self.table
    }

    /// Rows appended since the last batch.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Approximate bytes of variable-length data appended since the last batch.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Appends one row; `row` holds one value per column, in column order.
    ///
    /// # Panics
    /// When a value's kind does not match its column: that is a bug in keytrail's table
    /// code (caught by tests), never a property of the input.
    pub fn append(&mut self, row: &[Value<'_>]) {
        assert_eq!(
            row.len(),
            self.builders.len(),
            "{}: row width",
            self.table.name
        );
        for (i, (b, v)) in self.builders.iter_mut().zip(row).enumerate() {
            match (b, *v) {
                (Builder::Str(b), Value::Str(s)) => {
                    self.bytes += s.map_or(0, str::len);
                    b.append_option(s)
                }
                (Builder::Bool(b), Value::Bool(x)) => b.append_option(x),
                (Builder::Int(b), Value::Int(x)) => b.append_option(x),
                (Builder::Time(b), Value::Time(x)) => b.append_option(x),
                (Builder::StrList(b), Value::StrList(x)) => match x {
                    Some(items) => {
                        for s in items {
                            self.bytes += s.len();
                            b.values().append_value(s);
                        }
                        b.append(true);
                    }
                    None => b.append(false),
                },
                (Builder::StrMap(b), Value::StrMap(x)) => {
                    match x {
                        Some(m) => {
                            for (k, v) in m {
                                self.bytes += k.len() + v.len();
                                b.keys().append_value(k);
                                b.values().append_value(v);
                            }
                            b.append(true)
                        }
                        None => b.append(false),
                    }
                    .expect("map builder keys and values stay aligned");
                }
                (Builder::Conditions(b), Value::Conditions(x)) => {
                    self.bytes += append_conditions(b, x);
                }
                _ => panic!(
                    "{}: value for column {} has the wrong kind",
                    self.table.name, self.table.columns[i].name
                ),
            }
        }
        self.rows += 1;
    }

    /// Takes the rows appended so far as one record batch.
    pub fn finish(&mut self) -> RecordBatch {
        let cols: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| match b {
                Builder::Str(b) => Arc::new(b.finish()) as ArrayRef,
                Builder::Bool(b) => Arc::new(b.finish()),
                Builder::Int(b) => Arc::new(b.finish()),
                Builder::Time(b) => Arc::new(b.finish()),
                Builder::StrList(b) => Arc::new(b.finish()),
                Builder::StrMap(b) => Arc::new(b.finish()),
                Builder::Conditions(b) => Arc::new(b.finish()),
            })
            .collect();
        self.rows = 0;
        self.bytes = 0;
        RecordBatch::try_new(self.schema.clone(), cols).expect("builders follow the table schema")
    }
}
