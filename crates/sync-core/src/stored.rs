//! How the replica reads back what it stores as text, in one place: a table's name comes back
//! as a [`SyncTable`], a row or mutation id as a [`Uuid`]. A value that does not read is a
//! decoding error of the query that read it, not a check repeated at each use.

use domain::dto::SyncTable;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{Sqlite, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Type};
use uuid::Uuid;

/// A `table_name` column.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Table(pub SyncTable);

impl Type<Sqlite> for Table {
    fn type_info() -> SqliteTypeInfo {
        <&str as Type<Sqlite>>::type_info()
    }
}

impl<'r> Decode<'r, Sqlite> for Table {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(<&str as Decode<Sqlite>>::decode(value)?.parse()?))
    }
}

/// A row or mutation id column (hyphenated text).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Id(pub Uuid);

impl Type<Sqlite> for Id {
    fn type_info() -> SqliteTypeInfo {
        <&str as Type<Sqlite>>::type_info()
    }
}

impl<'r> Decode<'r, Sqlite> for Id {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(<&str as Decode<Sqlite>>::decode(value)?.parse()?))
    }
}
