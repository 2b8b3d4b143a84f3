//! Typed column readers: the read side of [`table_row!`](super::table_row). A table
//! declared with a `reader` gets a struct with one field per column, each a reader of that
//! column's declared [`ColType`] over a [`RecordBatch`], so reading a column by a name or a
//! type it does not have is a compile error, not a runtime one. A column the batch lacks
//! (a file written before the column existed) reads as null and is listed in `missing`; a
//! column of another type is an error naming it.

use super::ColType;
use arrow::array::{
    Array, AsArray, BooleanArray, Int64Array, ListArray, MapArray, StringArray, StructArray,
    TimestampMillisecondArray,
};
use arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;

/// Finds `name` in `batch` as a `T`: `Ok(None)` (and `name` added to `missing`) when the
/// batch lacks it, an error when it has another type.
pub(crate) fn column<'b, T: Array + 'static>(
    batch: &'b RecordBatch,
    name: &'static str,
    ty: ColType,
    missing: &mut Vec<&'static str>,
) -> Result<Option<&'b T>, String> {
    match batch.column_by_name(name) {
        None => {
            missing.push(name);
            Ok(None)
        }
        Some(c) => c
            .as_any()
            .downcast_ref::<T>()
            .map(Some)
            .ok_or_else(|| format!("column {name} is not of type {}", ty.athena())),
    }
}

/// A `Str` column.
#[derive(Debug, Clone, Copy)]
pub struct StrColumn<'b>(pub(crate) Option<&'b StringArray>);

impl<'b> StrColumn<'b> {
    pub fn get(&self, i: usize) -> Option<&'b str> {
        self.0.filter(|a| !a.is_null(i)).map(|a| a.value(i))
    }
    pub fn owned(&self, i: usize) -> Option<String> {
        self.get(i).map(str::to_string)
    }
}

/// Columns of one primitive value per row.
macro_rules! scalar_column {
    ($( $(#[$meta:meta])* $name:ident($array:ty) -> $value:ty; )+) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<'b>(pub(crate) Option<&'b $array>);

        impl $name<'_> {
            pub fn get(&self, i: usize) -> Option<$value> {
                self.0.filter(|a| !a.is_null(i)).map(|a| a.value(i))
            }
        }
    )+};
}

scalar_column! {
    /// A `Bool` column.
    BoolColumn(BooleanArray) -> bool;
    /// An `Int` column.
    IntColumn(Int64Array) -> i64;
    /// A `Time` column (milliseconds since the epoch, UTC).
    TimeColumn(TimestampMillisecondArray) -> i64;
}

/// A `StrList` column.
#[derive(Debug, Clone, Copy)]
pub struct StrListColumn<'b>(pub(crate) Option<&'b ListArray>);

impl StrListColumn<'_> {
    pub fn get(&self, i: usize) -> Option<Vec<String>> {
        let a = self.0.filter(|a| !a.is_null(i))?;
        let v = a.value(i);
        let s = v.as_string::<i32>();
        Some((0..s.len()).map(|j| s.value(j).to_string()).collect())
    }
}

/// A `StrMap` column (a null value reads as the empty string, as it was written).
#[derive(Debug, Clone, Copy)]
pub struct StrMapColumn<'b>(pub(crate) Option<&'b MapArray>);

impl StrMapColumn<'_> {
    pub fn get(&self, i: usize) -> Option<BTreeMap<String, String>> {
        let a = self.0.filter(|a| !a.is_null(i))?;
        let entries: StructArray = a.value(i);
        let keys = entries.column(0).as_string::<i32>();
        let values = entries.column(1).as_string::<i32>();
        Some(
            (0..entries.len())
                .map(|j| {
                    let v = if values.is_null(j) {
                        ""
                    } else {
                        values.value(j)
                    };
                    (keys.value(j).to_string(), v.to_string())
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::ArrayRef;
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        let s: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None]));
        let b: ArrayRef = Arc::new(BooleanArray::from(vec![None, Some(true)]));
        let schema = Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("b", DataType::Boolean, true),
        ]);
        RecordBatch::try_new(Arc::new(schema), vec![s, b]).unwrap()
    }

    #[test]
    fn columns_read_by_type_with_missing_ones_null_and_wrong_types_named() {
        let batch = batch();
        let mut missing = Vec::new();
        let s = StrColumn(column(&batch, "s", ColType::Str, &mut missing).unwrap());
        let b = BoolColumn(column(&batch, "b", ColType::Bool, &mut missing).unwrap());
        let gone = IntColumn(column(&batch, "n", ColType::Int, &mut missing).unwrap());
        assert_eq!((s.get(0), s.get(1)), (Some("a"), None));
        assert_eq!((b.get(0), b.get(1)), (None, Some(true)));
        assert_eq!((gone.get(0), gone.get(1)), (None, None));
        assert_eq!(missing, ["n"]);
        let wrong = column::<BooleanArray>(&batch, "s", ColType::Bool, &mut missing);
        assert_eq!(wrong.unwrap_err(), "column s is not of type boolean");
    }
}
