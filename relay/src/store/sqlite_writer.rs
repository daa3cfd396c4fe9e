//! The SQLite write path of the frequent writes (deposits, acknowledgements, request
//! nonces, bearer tokens): one thread
//! owns a write connection and commits every write waiting at the moment in one
//! transaction, so they share one fsync, and answers each only after that commit.
//!
//! Why a thread with rusqlite rather than a task with sqlx: sqlx runs each SQLite
//! statement on its connection's worker thread and hands every statement and its
//! result across threads; with a handful of statements per write that hand-off (futex
//! wake-ups and context switches) cost more than SQLite itself, and a batch's
//! statements ran one hand-off after the other. Here a batch is one wake-up of this
//! thread, plain function calls, and one wake-up per answer. Both libraries link the
//! same `libsqlite3-sys`, so there is one SQLite in the binary.

use std::path::Path;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use axum::body::Bytes;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use sealpost_core::UserId;

use super::shared;
use super::{BlobId, Deposit, Mailbox, Quota, Result, StoreError};
use crate::push::{HandOff, Mark};

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 512;

/// Longest pause for a write on the other connection ([`Writer::turn`]). Only a turn
/// whose end was never signalled lasts that long; the writer then goes on, and SQLite's
/// own locking still keeps the two writers apart.
const MAX_TURN: Duration = Duration::from_secs(5);

/// What the writer thread is given: a write, or a pause while the other connection
/// writes.
#[derive(Debug)]
enum Work {
    Write(Job),
    Pause {
        go: oneshot::Sender<()>,
        done: std::sync::mpsc::Receiver<()>,
    },
}

/// A write waiting for the group commit, with where to send its outcome.
#[derive(Debug)]
pub(super) enum Job {
    /// [`super::Store::deposit_many`]: every mailbox of one request in the same
    /// commit.
    Deposit {
        to: Vec<(Mailbox, BlobId)>,
        received_at: i64,
        data: Bytes,
        quota: Quota,
        hand_off: HandOff,
        reply: oneshot::Sender<Result<Vec<Deposit>>>,
    },
    /// [`super::Store::ack`].
    Ack {
        mailbox: Mailbox,
        ids: Vec<BlobId>,
        reply: oneshot::Sender<Result<u64>>,
    },
    /// [`super::Store::use_nonce`].
    Nonce {
        user: UserId,
        nonce: String,
        expires_at: i64,
        reply: oneshot::Sender<Result<bool>>,
    },
    /// [`super::Store::put_token`].
    Token {
        hash: [u8; 32],
        mailbox: Mailbox,
        expires_at: i64,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// What a job produced inside the batch, sent once the batch is committed.
enum Outcome {
    /// Each deposit with the mark of its early hand-off.
    Deposit(Vec<(Deposit, Option<Mark>)>),
    Ack(u64),
    Nonce(bool),
    Token,
}

/// The handle to the writer thread. Dropping every handle ends the thread once it has
/// committed what it was given.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Work>,
}

/// The other write connection's turn: while it lives, the writer thread waits. Without
/// turns, that connection would hardly ever find the database unlocked under load
/// (the writer starts its next transaction microseconds after a commit) and its writes
/// would fail after the busy timeout.
#[derive(Debug)]
pub(super) struct Turn {
    /// Dropping it disconnects the writer's `done` receiver.
    _end: Option<std::sync::mpsc::Sender<()>>,
}

impl Writer {
    /// Opens a write connection to the database at `path` (schema already created)
    /// and starts its thread.
    pub(super) fn start(path: &Path) -> Result<Self> {
        Self::spawn(open(path)?)
    }

    /// Starts the thread that owns `conn`.
    fn spawn(conn: Connection) -> Result<Self> {
        let (jobs, rx) = mpsc::channel(2 * MAX_BATCH);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, rx))
            .map_err(|e| StoreError::from(Box::new(e) as Box<_>))?;
        Ok(Self { jobs })
    }

    /// Queues `job`; its reply comes after the commit that includes it.
    pub(super) async fn submit(&self, job: Job) -> Result<()> {
        self.jobs.send(Work::Write(job)).await.map_err(|_| closed())
    }

    /// Waits until the writer thread has committed what was queued before and paused;
    /// it resumes when the returned turn is dropped. No turn if the thread is gone.
    pub(super) async fn turn(&self) -> Turn {
        let (go, started) = oneshot::channel();
        let (end, done) = std::sync::mpsc::channel();
        if self.jobs.send(Work::Pause { go, done }).await.is_err() || started.await.is_err() {
            return Turn { _end: None };
        }
        Turn { _end: Some(end) }
    }
}

/// The writer's connection to the database at `path`.
fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    // Same durability as every other connection: WAL, and an fsync at each commit.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Like every connection of the store: acknowledged blobs are overwritten, not
    // only marked free (the pragma is per connection, and this one deletes most).
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}

fn closed() -> StoreError {
    StoreError::from(sqlx::Error::PoolClosed)
}

/// Commits waiting jobs in batches until every [`Writer`] is dropped.
fn run(mut conn: Connection, mut work: mpsc::Receiver<Work>) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while work.blocking_recv_many(&mut waiting, MAX_BATCH) > 0 {
        for w in waiting.drain(..) {
            match w {
                Work::Write(job) => batch.push(job),
                Work::Pause { go, done } => {
                    commit_and_answer(&mut conn, &mut batch);
                    // Ends when the turn is dropped (the sender disconnects).
                    if go.send(()).is_ok()
                        && let Err(RecvTimeoutError::Timeout) = done.recv_timeout(MAX_TURN)
                    {
                        tracing::warn!(
                            "a write on the other SQLite connection kept its turn too long"
                        );
                    }
                }
            }
        }
        commit_and_answer(&mut conn, &mut batch);
    }
}

/// Commits `batch` in one transaction and answers every job of it.
fn commit_and_answer(conn: &mut Connection, batch: &mut Vec<Job>) {
    if batch.is_empty() {
        return;
    }
    match commit(conn, batch) {
        Ok(outcomes) => {
            for (job, outcome) in batch.drain(..).zip(outcomes) {
                match (job, outcome) {
                    (
                        Job::Deposit {
                            to,
                            hand_off,
                            reply,
                            ..
                        },
                        Outcome::Deposit(stored),
                    ) => {
                        for ((mailbox, _), (deposit, early)) in to.iter().zip(&stored) {
                            if let Deposit::Stored(seq) = deposit {
                                hand_off.committed(mailbox, *seq, *early);
                            }
                        }
                        let _ = reply.send(Ok(stored.into_iter().map(|(d, _)| d).collect()));
                    }
                    (Job::Ack { reply, .. }, Outcome::Ack(n)) => {
                        let _ = reply.send(Ok(n));
                    }
                    (Job::Nonce { reply, .. }, Outcome::Nonce(fresh)) => {
                        let _ = reply.send(Ok(fresh));
                    }
                    (Job::Token { reply, .. }, Outcome::Token) => {
                        let _ = reply.send(Ok(()));
                    }
                    // `commit` returns one outcome per job, of the job's kind.
                    (job, _) => fail(job, "internal: outcome of another kind"),
                }
            }
        }
        Err(Failed { error, handed_off }) => {
            // Nothing of the batch was committed; every job gets the error, and the
            // subscribers handed a blob of it start over.
            let message = error.to_string();
            for job in batch.drain(..) {
                if let (true, Job::Deposit { to, hand_off, .. }) = (handed_off, &job) {
                    for (mailbox, _) in to {
                        hand_off.withdrawn(mailbox);
                    }
                }
                fail(job, &message);
            }
        }
    }
}

fn fail(job: Job, message: &str) {
    let error = || StoreError::from(sqlx::Error::Protocol(message.to_owned()));
    match job {
        Job::Deposit { reply, .. } => {
            let _ = reply.send(Err(error()));
        }
        Job::Ack { reply, .. } => {
            let _ = reply.send(Err(error()));
        }
        Job::Nonce { reply, .. } => {
            let _ = reply.send(Err(error()));
        }
        Job::Token { reply, .. } => {
            let _ = reply.send(Err(error()));
        }
    }
}

/// A batch that was not committed; `handed_off` once some of its blobs were pushed.
struct Failed {
    error: rusqlite::Error,
    handed_off: bool,
}

/// Runs `batch` in one transaction and commits it. Between the two, the stored blobs
/// are handed to their subscribers ([`HandOff::early`]): the push goes out while the
/// commit waits for its fsync. An acknowledgement of such a blob is a job sent after
/// the push, so it is taken into a later batch, after this commit: it cannot run
/// before the insert (and delete nothing) nor be lost if this commit fails (the blob
/// is then gone too).
fn commit(conn: &mut Connection, batch: &[Job]) -> std::result::Result<Vec<Outcome>, Failed> {
    let before = |error| Failed {
        error,
        handed_off: false,
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(before)?;
    let mut outcomes = run_jobs(&tx, batch).map_err(before)?;
    for (job, outcome) in batch.iter().zip(&mut outcomes) {
        if let (Job::Deposit { to, hand_off, .. }, Outcome::Deposit(stored)) = (job, outcome) {
            for ((mailbox, _), (deposit, early)) in to.iter().zip(stored.iter_mut()) {
                if let Deposit::Stored(seq) = deposit {
                    *early = hand_off.early(mailbox, *seq);
                }
            }
        }
    }
    tx.commit().map_err(|error| Failed {
        error,
        handed_off: true,
    })?;
    Ok(outcomes)
}

/// Every job's statements, in order, inside `tx`.
fn run_jobs(tx: &Transaction<'_>, batch: &[Job]) -> rusqlite::Result<Vec<Outcome>> {
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        outcomes.push(match job {
            Job::Deposit {
                to,
                received_at,
                data,
                quota,
                ..
            } => Outcome::Deposit(
                to.iter()
                    .map(|(mailbox, id)| {
                        deposit(tx, mailbox, id, *received_at, data, *quota).map(|d| (d, None))
                    })
                    .collect::<rusqlite::Result<_>>()?,
            ),
            Job::Ack { mailbox, ids, .. } => Outcome::Ack(ack(tx, mailbox, ids)?),
            Job::Nonce {
                user,
                nonce,
                expires_at,
                ..
            } => Outcome::Nonce(
                tx.prepare_cached(shared::USE_NONCE)?.execute(params![
                    user.as_bytes().as_slice(),
                    nonce,
                    expires_at
                ])? == 1,
            ),
            Job::Token {
                hash,
                mailbox,
                expires_at,
                ..
            } => {
                tx.prepare_cached(shared::PUT_TOKEN)?.execute(params![
                    hash.as_slice(),
                    mailbox.key(),
                    expires_at
                ])?;
                Outcome::Token
            }
        });
    }
    Ok(outcomes)
}

/// One mailbox's deposit. The counters row is the quota check, the existence check and the
/// mailbox's sequence number in one step; a refusal changes nothing.
fn deposit(
    tx: &Transaction<'_>,
    mailbox: &Mailbox,
    id: &BlobId,
    received_at: i64,
    data: &[u8],
    quota: Quota,
) -> rusqlite::Result<Deposit> {
    let size = super::stored_size(data);
    let key = mailbox.key();
    let seq: Option<i64> = tx
        .prepare_cached(
            "UPDATE devices SET blob_count = blob_count + 1, blob_bytes = blob_bytes + ?2,
                    last_seq = last_seq + 1
             WHERE id = ?1 AND blob_count < ?3 AND blob_bytes + ?2 <= ?4
             RETURNING last_seq",
        )?
        .query_row(params![key, size, quota.max_blobs, quota.max_bytes], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(seq) = seq else {
        let exists = tx
            .prepare_cached("SELECT 1 FROM devices WHERE id = ?1")?
            .exists(params![key])?;
        return Ok(Deposit::refused(exists));
    };
    tx.prepare_cached(
        "INSERT INTO blobs (mailbox, seq, id, received_at, size, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![key, seq, id.as_slice(), received_at, size, data])?;
    Ok(Deposit::Stored(seq))
}

/// One acknowledgement: deletes the blobs and releases their quota.
fn ack(tx: &Transaction<'_>, mailbox: &Mailbox, ids: &[BlobId]) -> rusqlite::Result<u64> {
    let key = mailbox.key();
    let (mut count, mut bytes) = (0i64, 0i64);
    let mut delete =
        tx.prepare_cached("DELETE FROM blobs WHERE mailbox = ?1 AND id = ?2 RETURNING size")?;
    for id in ids {
        if let Some(size) = delete
            .query_row(params![key, id.as_slice()], |r| r.get::<_, i64>(0))
            .optional()?
        {
            count += 1;
            bytes += size;
        }
    }
    if count > 0 {
        tx.prepare_cached(
            "UPDATE devices SET blob_count = blob_count - ?2, blob_bytes = blob_bytes - ?3 WHERE id = ?1",
        )?
        .execute(params![key, count, bytes])?;
    }
    Ok(u64::try_from(count).unwrap_or(0))
}

#[cfg(test)]
#[path = "early_push_tests.rs"]
mod tests;
