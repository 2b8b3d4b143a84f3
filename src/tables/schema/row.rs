//! `table_row!`: declares a table's typed row and its column list from one list of
//! `name: Type => "meaning"` entries. The row is a struct with one borrowed field per
//! column; its `cells()` are the [`Value`](super::Value)s in column order, and the column
//! list (name, [`ColType`](super::ColType), meaning) is a `const` beside it, so the name,
//! type, position and meaning of a column are written once.

/// See the module doc. `Type` is a [`ColType`](super::ColType) variant; the field's Rust
/// type is the matching [`Value`](super::Value) variant's payload.
macro_rules! table_row {
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
    (@type Str) => { Option<&'a str> };
    (@type Bool) => { Option<bool> };
    (@type Int) => { Option<i64> };
    (@type Time) => { Option<i64> };
    (@type StrList) => { Option<&'a [String]> };
    (@type StrMap) => { Option<&'a std::collections::BTreeMap<String, String>> };
    (@type Conditions) => { Option<&'a [$crate::model::policy::ConditionRow]> };
}

pub(crate) use table_row;
