//! Which schema a database holds, so a relay never runs on tables it did not create.
//!
//! The schema is created with `CREATE TABLE IF NOT EXISTS`, which leaves an older table as
//! it is: a data directory from an older relay used to start and then answer `500` on
//! every deposit (a missing column). So each backend records its schema's version, and a
//! database of a version it does not know how to migrate is refused at start-up with a
//! message that says what to do, and nothing in it is touched.

use super::{Result, StoreError};

/// A backend's schema: the version it creates, and the older versions it migrates.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// What a database holds once opened by this relay.
    pub current: i64,
    /// Older versions this relay converts at start-up.
    pub migrates: &'static [i64],
}

/// SQLite's schema. 3: the envelopes live in a rowid table with a random row id, where a
/// 1 KiB envelope stays in its B-tree page (sqlite.rs, `migrate_from_2`); 2 had them in
/// a `WITHOUT ROWID` table, whose rows overflow above 1,002 bytes.
pub const SQLITE: Schema = Schema {
    current: 3,
    migrates: &[2],
};

/// PostgreSQL's schema (its tables did not change with SQLite's 3).
pub const POSTGRES: Schema = Schema {
    current: 2,
    migrates: &[],
};

/// What opening a database has to do to its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Create what is missing (a fresh database, or one of the current version).
    Create,
    /// Convert it from this older version first.
    Migrate(i64),
}

/// Checks what an existing database says about itself, before the schema is created:
/// `found` is its recorded version (none if it has no record), `has_tables` whether it
/// already holds the relay's tables.
pub fn check(schema: Schema, found: Option<i64>, has_tables: bool) -> Result<Start> {
    match found {
        Some(v) if v == schema.current => Ok(Start::Create),
        Some(v) if has_tables && schema.migrates.contains(&v) => Ok(Start::Migrate(v)),
        None if !has_tables => Ok(Start::Create),
        other => {
            let was = other.map_or_else(
                || "an unversioned schema".to_owned(),
                |v| format!("schema {v}"),
            );
            let from = match schema.migrates {
                [] => String::new(),
                versions => format!(
                    " and converts schema {}",
                    versions
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            Err(StoreError::from(
                Box::<dyn std::error::Error + Send + Sync>::from(format!(
                    "the database was created by another version of the relay ({was}; this relay \
                 needs schema {}{from}): move the data directory away (or drop the PostgreSQL \
                 database) and start again. Its tables were left as they were.",
                    schema.current
                )),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_or_same_version_starts_a_known_older_one_migrates_anything_else_is_refused() {
        for schema in [SQLITE, POSTGRES] {
            assert_eq!(check(schema, None, false).unwrap(), Start::Create);
            assert_eq!(
                check(schema, Some(schema.current), true).unwrap(),
                Start::Create
            );
            let old = check(schema, None, true).unwrap_err().to_string();
            assert!(old.contains("unversioned") && old.contains("move the data directory"));
            let other = check(schema, Some(schema.current + 1), true)
                .unwrap_err()
                .to_string();
            assert!(other.contains(&format!("schema {}", schema.current + 1)));
        }
        assert_eq!(check(SQLITE, Some(2), true).unwrap(), Start::Migrate(2));
        let pg_one = check(POSTGRES, Some(1), true).unwrap_err().to_string();
        assert!(pg_one.contains("schema 1") && !pg_one.contains("converts"));
        let sqlite_one = check(SQLITE, Some(1), true).unwrap_err().to_string();
        assert!(sqlite_one.contains("converts schema 2"), "{sqlite_one}");
    }
}
