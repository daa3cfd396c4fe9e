//! Chunk bytes as files beside the SQLite database: `chunks/<first byte in hex>/<address
//! in hex>`, one file per chunk, the metadata in SQLite (`chunks.rs`).
//!
//! A chunk is received into `chunks/tmp/`, then `fsync`ed, renamed into place and its
//! directory `fsync`ed, and only then recorded in the database: a recorded chunk always
//! has its file, so a `201` survives `kill -9` and power loss. A crash between the rename
//! and the record leaves a file nobody recorded; the purge deletes rows first and files
//! after, so a crash there leaves one too. Such orphans (and `tmp/`) are deleted when
//! the store opens, before the relay serves anything. Commits and purges take turns
//! (one lock), so a purge never unlinks the file of a chunk stored again meanwhile.
//!
//! Files carry no name, type or size beyond the chunk's own length; their modification
//! time is set to the upload time rounded to 5 minutes, like the database's times (the
//! inode's change time cannot be set and stays exact: use a file system mounted with
//! care, see docs/API.md).

use std::collections::HashSet;
use std::io::{self, ErrorKind, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use axum::body::Body;
use sqlx::Row;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio::sync::Mutex;
use tokio_util::io::ReaderStream;

use super::chunks::{Address, ChunkBytes, ChunkRecords, StagedChunk};
use super::sqlite::SqliteStore;
use super::{Result, StoreError, coarse_time, create_private_dir};

/// Bytes gathered before each write to the file (tokio's file writes are blocking calls
/// on another thread: fewer, larger ones).
const WRITE_BUFFER: usize = 256 * 1024;

/// Bytes read per piece of a download.
const READ_PIECE: usize = 64 * 1024;

/// The chunk directory.
#[derive(Debug)]
pub(super) struct FsChunks {
    dir: PathBuf,
    /// Held by commits and purges, so they never interleave.
    turns: Mutex<()>,
}

impl FsChunks {
    /// Opens (creating, mode 0700) `dir` and empties its `tmp/`.
    pub(super) fn open(dir: &Path) -> io::Result<Arc<Self>> {
        create_private_dir(&dir.join("tmp"))?;
        for entry in std::fs::read_dir(dir.join("tmp"))? {
            std::fs::remove_file(entry?.path())?;
        }
        Ok(Arc::new(Self {
            dir: dir.to_owned(),
            turns: Mutex::new(()),
        }))
    }

    fn shard(&self, address: &Address) -> PathBuf {
        self.dir.join(hex::encode([address[0]]))
    }

    fn path(&self, address: &Address) -> PathBuf {
        self.shard(address).join(hex::encode(address))
    }

    async fn stage(&self) -> io::Result<FsStaged> {
        let tmp = self
            .dir
            .join("tmp")
            .join(hex::encode(crate::random_bytes::<16>()));
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let file = options.open(&tmp).await?;
        Ok(FsStaged {
            file: Some(BufWriter::with_capacity(WRITE_BUFFER, file)),
            tmp,
        })
    }

    /// Makes a received file durable under `address`: fsync, coarse times, rename,
    /// fsync of the directory (and of the chunk directory when the shard is new).
    async fn place(&self, mut staged: FsStaged, address: &Address, time: i64) -> io::Result<()> {
        let mut file = staged
            .file
            .take()
            .ok_or_else(|| io::Error::other("chunk placed twice"))?;
        file.flush().await?;
        let file = file.into_inner().into_std().await;
        let (tmp, shard, path, dir) = (
            staged.tmp.clone(),
            self.shard(address),
            self.path(address),
            self.dir.clone(),
        );
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            let time = UNIX_EPOCH + Duration::from_secs(u64::try_from(time).unwrap_or(0));
            file.set_times(
                std::fs::FileTimes::new()
                    .set_accessed(time)
                    .set_modified(time),
            )?;
            file.sync_all()?;
            drop(file);
            if !shard.is_dir() {
                create_private_dir(&shard)?;
                std::fs::File::open(&dir)?.sync_all()?;
            }
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&shard)?.sync_all()
        })
        .await
        .map_err(io::Error::other)??;
        staged.tmp = PathBuf::new();
        Ok(())
    }

    async fn read(&self, address: &Address, start: u64, len: u64) -> io::Result<Option<Body>> {
        let mut file = match tokio::fs::File::open(self.path(address)).await {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        file.seek(SeekFrom::Start(start)).await?;
        let stream = ReaderStream::with_capacity(file.take(len), READ_PIECE);
        Ok(Some(Body::from_stream(stream)))
    }

    async fn remove(&self, addresses: &[Address]) -> io::Result<()> {
        for address in addresses {
            match tokio::fs::remove_file(self.path(address)).await {
                Err(e) if e.kind() != ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// The shard directories and, in each, the chunk files (names of 64 hex digits).
    fn files(&self) -> io::Result<Vec<(u8, Vec<Address>)>> {
        let mut shards = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let mut byte = [0u8; 1];
            let name = entry.file_name();
            if hex::decode_to_slice(name.to_string_lossy().as_bytes(), &mut byte).is_err() {
                continue;
            }
            let mut files = Vec::new();
            for file in std::fs::read_dir(entry.path())? {
                let mut address = [0u8; 32];
                let name = file?.file_name();
                if hex::decode_to_slice(name.to_string_lossy().as_bytes(), &mut address).is_ok() {
                    files.push(address);
                }
            }
            shards.push((byte[0], files));
        }
        Ok(shards)
    }
}

/// A chunk being written to `tmp/`; the file is deleted if it is dropped unplaced.
#[derive(Debug)]
struct FsStaged {
    file: Option<BufWriter<tokio::fs::File>>,
    tmp: PathBuf,
}

impl Drop for FsStaged {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A chunk on its way into a [`SqliteStore`].
struct SqliteStaged {
    staged: FsStaged,
    len: i64,
    store: SqliteStore,
}

#[async_trait]
impl StagedChunk for SqliteStaged {
    async fn write(&mut self, piece: &[u8]) -> Result<()> {
        let file = self
            .staged
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("chunk already placed"))?;
        Ok(file.write_all(piece).await?)
    }

    async fn commit(self: Box<Self>, address: &Address, expires_at: i64, now: i64) -> Result<bool> {
        let Self { staged, len, store } = *self;
        let chunks = store.chunks();
        let _turn = chunks.turns.lock().await;
        chunks.place(staged, address, coarse_time(now)).await?;
        store
            .record_chunk(address, len, expires_at, now, None)
            .await
    }
}

#[async_trait]
impl ChunkBytes for SqliteStore {
    async fn stage(&self, len: usize) -> Result<Box<dyn StagedChunk>> {
        Ok(Box::new(SqliteStaged {
            staged: self.chunks().stage().await?,
            len: i64::try_from(len).unwrap_or(i64::MAX),
            store: self.clone(),
        }))
    }

    async fn read_chunk(&self, address: &Address, start: u64, len: u64) -> Result<Option<Body>> {
        Ok(self.chunks().read(address, start, len).await?)
    }

    async fn purge_chunks(&self, now: i64, tombstone_until: i64) -> Result<u64> {
        let chunks = self.chunks();
        let _turn = chunks.turns.lock().await;
        let gone = self.purge_chunk_rows(now, tombstone_until).await?;
        chunks.remove(&gone).await?;
        Ok(gone.len() as u64)
    }
}

impl SqliteStore {
    /// Deletes chunk files the database does not record (a crash between a file's
    /// rename and its record, or between a purge's commit and its unlinks). Run when
    /// the store opens, before anything is served.
    pub(super) async fn sweep_chunk_files(&self) -> Result<()> {
        let chunks = Arc::clone(self.chunks());
        let listing = Arc::clone(&chunks);
        let shards = tokio::task::spawn_blocking(move || listing.files())
            .await
            .map_err(io::Error::other)??;
        for (byte, files) in shards {
            let (mut low, mut high) = ([0u8; 32], [0xffu8; 32]);
            (low[0], high[0]) = (byte, byte);
            let recorded: HashSet<Vec<u8>> =
                sqlx::query("SELECT address FROM chunks WHERE address BETWEEN $1 AND $2")
                    .bind(low.as_slice())
                    .bind(high.as_slice())
                    .fetch_all(crate::store::shared::Pools::reader(self))
                    .await?
                    .iter()
                    .map(|r| r.try_get::<Vec<u8>, _>("address"))
                    .collect::<std::result::Result<_, _>>()?;
            let orphans: Vec<Address> = files
                .into_iter()
                .filter(|a| !recorded.contains(a.as_slice()))
                .collect();
            chunks.remove(&orphans).await?;
        }
        Ok(())
    }
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        Self(Box::new(e))
    }
}
