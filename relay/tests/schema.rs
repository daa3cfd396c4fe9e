//! A database the relay did not create in its current form is refused at start-up, with
//! a message saying what to do, and left as it was; its own database reopens.

use sealpost_relay::store::SqliteStore;

#[tokio::test]
async fn an_older_sqlite_database_is_refused_untouched_and_its_own_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    // An older relay's database: the tables exist, but no version is recorded.
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch("CREATE TABLE blobs (id BLOB PRIMARY KEY, body BLOB); INSERT INTO blobs VALUES (x'01', x'02');")
        .unwrap();
    drop(old);
    let Err(refused) = SqliteStore::open(&path).await else {
        panic!("an older database was opened");
    };
    let message = refused.to_string();
    assert!(
        message.contains("another version of the relay"),
        "{message}"
    );
    assert!(message.contains("move the data directory"), "{message}");
    // Its data and schema are as they were (opening only switched the journal to WAL).
    let old = rusqlite::Connection::open(&path).unwrap();
    let tables: Vec<String> = old
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables, ["blobs"], "no table created or dropped");
    let body: Vec<u8> = old
        .query_row("SELECT body FROM blobs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(body, [2]);
    let version: i64 = old
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 0, "no version recorded");

    // A fresh database gets the schema and its version, and opens again.
    let fresh = dir.path().join("fresh.db");
    drop(SqliteStore::open(&fresh).await.unwrap());
    drop(SqliteStore::open(&fresh).await.unwrap());
}
