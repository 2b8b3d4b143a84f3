//! `table_row!`: declares a table's typed row and its column list from one list of
//! `name: Type => "meaning"` entries. The row is a struct with one borrowed field per
//! column; its `cells()` are the [`Value`](super::Value)s in column order, and the column
//! list (name, [`ColType`](super::ColType), meaning) is a `const` beside it, so the name,
//! type, position and meaning of a column are written once. A table that is read back
//! also names a reader struct (`pub struct R<'b> from batches;`): one typed column reader
//! per field ([`super::read`]), found in a record batch by the same names and types.

/// See the module doc. `Type` is a [`ColType`](super::ColType) variant; the field's Rust
/// type is the matching [`Value`](super::Value) variant's payload.
macro_rules! table_row {
    (
        $(#[$row_meta:meta])*
        pub struct $row:ident<'a>;
        $(#[$cols_meta:meta])*
        pub const $cols:ident;
        $(#[$reader_meta:meta])*
        pub struct $reader:ident<'b> from batches;
        $( $field:ident : $ty:ident => $doc:literal, )+
    ) => {
        $crate::tables::schema::table_row! {
            $(#[$row_meta])*
            pub struct $row<'a>;
            $(#[$cols_meta])*
            pub const $cols;
            $( $field : $ty => $doc, )+
        }

        $(#[$reader_meta])*
        #[derive(Debug, Clone)]
        pub struct $reader<'b> {
            $(
                #[doc = $doc]
                pub $field: $crate::tables::schema::table_row!(@reader $ty),
            )+
            /// The columns the batch lacks (they read as null), in column order.
            pub missing: Vec<&'static str>,
        }

        impl<'b> $reader<'b> {
            /// Finds every column in `batch` by its name and declared type.
            pub fn of(batch: &'b arrow::record_batch::RecordBatch) -> Result<Self, String> {
                let mut missing = Vec::new();
                $(
                    let $field = $crate::tables::schema::table_row!(@read $ty)(
                        $crate::tables::schema::read::column(
                            batch,
                            stringify!($field),
                            $crate::tables::schema::ColType::$ty,
                            &mut missing,
                        )?,
                    );
                )+
                Ok($reader { $( $field, )+ missing })
            }
        }
    };
    (
        $(#[$row_meta:meta])*
        pub struct $row:ident<'a>;
        $(#[$cols_meta:meta])*
        pub const $cols:ident;
        $( $field:ident : $ty:ident => $doc:literal, )+
    ) => {
        $(#[$row_meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq)]
        pub struct $row<'a> {
            $(
                #[doc = $doc]
                pub $field: $crate::tables::schema::table_row!(@type $ty),
            )+
        }

        $(#[$cols_meta])*
        pub const $cols: &[$crate::tables::schema::Column] = &[
            $(
                $crate::tables::schema::Column {
                    name: stringify!($field),
                    ty: $crate::tables::schema::ColType::$ty,
                    doc: $doc,
                },
            )+
        ];

        impl<'a> $row<'a> {
            /// The row's cells, in column order.
            pub fn cells(&self) -> [$crate::tables::schema::Value<'a>; $cols.len()] {
                [ $( $crate::tables::schema::Value::$ty(self.$field), )+ ]
            }
        }

    };
    (@reader Str) => { $crate::tables::schema::read::StrColumn<'b> };
    (@reader Bool) => { $crate::tables::schema::read::BoolColumn<'b> };
    (@reader Int) => { $crate::tables::schema::read::IntColumn<'b> };
    (@reader Time) => { $crate::tables::schema::read::TimeColumn<'b> };
    (@reader StrList) => { $crate::tables::schema::read::StrListColumn<'b> };
    (@reader StrMap) => { $crate::tables::schema::read::StrMapColumn<'b> };
    (@read Str) => { $crate::tables::schema::read::StrColumn };
    (@read Bool) => { $crate::tables::schema::read::BoolColumn };
    (@read Int) => { $crate::tables::schema::read::IntColumn };
    (@read Time) => { $crate::tables::schema::read::TimeColumn };
    (@read StrList) => { $crate::tables::schema::read::StrListColumn };
    (@read StrMap) => { $crate::tables::schema::read::StrMapColumn };
    (@type Str) => { Option<&'a str> };
    (@type Bool) => { Option<bool> };
    (@type Int) => { Option<i64> };
    (@type Time) => { Option<i64> };
    (@type StrList) => { Option<&'a [String]> };
    (@type StrMap) => { Option<&'a std::collections::BTreeMap<String, String>> };
    (@type Conditions) => { Option<&'a [$crate::model::policy::ConditionRow]> };
}

pub(crate) use table_row;
