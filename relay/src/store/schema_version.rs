//! Which schema a database holds, so a relay never runs on tables it did not create.
//!
//! The schema is created with `CREATE TABLE IF NOT EXISTS`, which leaves an older table as
//! it is: a data directory from an older relay used to start and then answer `500` on
//! every deposit (a missing column). There are no migrations before the first deployment,
//! so a database of another version is refused at start-up with a message that says what
//! to do, and nothing in it is touched.

use super::{Result, StoreError};

/// Bump whenever a table or index changes.
pub const SCHEMA_VERSION: i64 = 2;

/// Checks what an existing database says about itself, before the schema is created:
/// `found` is its recorded version (none if it has no record), `has_tables` whether it
/// already holds the relay's tables.
pub fn check(found: Option<i64>, has_tables: bool) -> Result<()> {
    match found {
        Some(SCHEMA_VERSION) => Ok(()),
        None if !has_tables => Ok(()),
        other => {
            let was = other.map_or_else(
                || "an unversioned schema".to_owned(),
                |v| format!("schema {v}"),
            );
            Err(StoreError::from(
                Box::<dyn std::error::Error + Send + Sync>::from(format!(
                    "the database was created by another version of the relay ({was}; this relay \
                 needs schema {SCHEMA_VERSION}). There are no migrations before the first \
                 deployment: move the data directory away (or drop the PostgreSQL database) \
                 and start again. Its tables were left as they were."
                )),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_or_same_version_starts_anything_else_is_refused() {
        assert!(check(None, false).is_ok());
        assert!(check(Some(SCHEMA_VERSION), true).is_ok());
        let old = check(None, true).unwrap_err().to_string();
        assert!(old.contains("unversioned") && old.contains("move the data directory"));
        let other = check(Some(SCHEMA_VERSION + 1), true)
            .unwrap_err()
            .to_string();
        assert!(other.contains(&format!("schema {}", SCHEMA_VERSION + 1)));
    }
}
