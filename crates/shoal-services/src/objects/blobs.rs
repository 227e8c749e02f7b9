//! The bytes of objects and parts, through the `object_store` crate: a folder of the data folder
//! by default (written with fsync, so an acknowledged PutObject survives a crash), any store the
//! crate speaks by configuration. Blobs are named by generated ids (`ACCOUNT/REGION/UUID`), never
//! by S3 keys: keys such as `a//b`, `a/../b` or `a` beside `a/b` cannot be file paths, and an
//! overwrite writes a new blob before the record points to it.

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::WriteMultipart;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt};
use shoal_domain::error::Result;
use shoal_domain::objects::ByteRange;
use shoal_domain::{Partition, ServiceError};
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

/// Bytes handed to the backend at a time while writing (5 MiB: S3's smallest part, for an
/// S3-compatible backend).
const WRITE_CHUNK: usize = 5 * 1024 * 1024;
/// Chunks in flight to the backend per writer (the rest waits: backpressure to the client).
const WRITE_CONCURRENCY: usize = 2;
/// Bytes read from a local file per step while answering a GET.
const READ_CHUNK: usize = 256 * 1024;
/// Blobs written at once. Each holds up to `WRITE_CHUNK * (WRITE_CONCURRENCY + 1)` bytes
/// (15 MiB): 32 bound the memory uploads take to about 480 MiB, whatever the clients open.
const WRITERS: usize = 32;
/// How long a new upload waits for a writer before it is told to slow down (503 SlowDown).
const WRITER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

#[derive(Clone)]
pub struct Blobs {
    backend: Arc<dyn ObjectStore>,
    writers: Arc<tokio::sync::Semaphore>,
}

pub(crate) fn backend_error(e: object_store::Error) -> ServiceError {
    tracing::error!(error = %e, "object store failure");
    ServiceError::internal("We encountered an internal error. Please try again.")
}

impl Blobs {
    pub fn new(backend: Arc<dyn ObjectStore>) -> Blobs {
        Blobs {
            backend,
            writers: Arc::new(tokio::sync::Semaphore::new(WRITERS)),
        }
    }

    /// A folder on the local disk (made if missing), written with fsync.
    pub fn local(dir: &std::path::Path) -> std::io::Result<Blobs> {
        std::fs::create_dir_all(dir)?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(std::io::Error::other)?
            .with_fsync(true)
            .with_automatic_cleanup(true);
        Ok(Blobs::new(Arc::new(fs)))
    }

    /// A new blob of `part`, written as the client sends it; waits while `WRITERS` others are
    /// being written.
    pub async fn writer(&self, part: &Partition) -> Result<BlobWriter> {
        let permit = tokio::time::timeout(WRITER_WAIT, self.writers.clone().acquire_owned())
            .await
            .ok()
            .and_then(|p| p.ok())
            .ok_or_else(|| {
                ServiceError::new(
                    shoal_domain::ErrorKind::Throttled,
                    "Please reduce your request rate.",
                )
            })?;
        let path = Path::from_iter([
            part.account.as_str().to_string(),
            part.region.as_str().to_string(),
            uuid::Uuid::new_v4().simple().to_string(),
        ]);
        let upload = self
            .backend
            .put_multipart(&path)
            .await
            .map_err(backend_error)?;
        Ok(BlobWriter {
            name: path.to_string(),
            inner: WriteMultipart::new_with_chunk_size(upload, WRITE_CHUNK),
            _permit: permit,
        })
    }

    /// The bytes of a blob (a range of them), or None when the blob is gone (an overwrite
    /// replaced it between the caller's read of the record and now).
    pub async fn read(
        &self,
        name: &str,
        range: Option<ByteRange>,
        size: u64,
    ) -> Result<Option<ByteStream>> {
        let path = Path::parse(name).map_err(|e| ServiceError::internal(e.to_string()))?;
        let (first, len) = range.map_or((0, size), |r| (r.first, r.len()));
        let opts = GetOptions {
            range: (len > 0).then_some(GetRange::Bounded(first..first + len)),
            ..Default::default()
        };
        let got = match self.backend.get_opts(&path, opts).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(backend_error(e)),
        };
        Ok(Some(match got.payload {
            // The crate reads local files 8 KiB per blocking call; larger steps keep a 100 MB
            // GET near the speed of a file copy.
            GetResultPayload::File(file, _) => file_stream(file, first, len),
            GetResultPayload::Stream(s) => s.map(|r| r.map_err(std::io::Error::other)).boxed(),
        }))
    }

    /// Removes a blob; one already gone is fine.
    pub async fn delete(&self, name: &str) {
        let Ok(path) = Path::parse(name) else { return };
        match self.backend.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => tracing::warn!(error = %e, blob = name, "could not delete a blob"),
        }
    }

    /// The accounts and regions that have blobs.
    pub async fn partitions(&self) -> Result<Vec<Partition>> {
        let mut out = Vec::new();
        let top = self
            .backend
            .list_with_delimiter(None)
            .await
            .map_err(backend_error)?;
        for account in top.common_prefixes {
            let regions = self
                .backend
                .list_with_delimiter(Some(&account))
                .await
                .map_err(backend_error)?;
            for region in regions.common_prefixes {
                let parts: Vec<_> = region.parts().map(|p| p.as_ref().to_string()).collect();
                if let [a, r] = parts.as_slice() {
                    if let Some(p) = Partition::from_key(&format!("{a}/{r}")) {
                        out.push(p);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Blobs of an account and region with the time they were last written (for the sweep of
    /// blobs no record points to).
    pub fn list(&self, part: &Partition) -> BoxStream<'static, (String, i64)> {
        let prefix = Path::from_iter([
            part.account.as_str().to_string(),
            part.region.as_str().to_string(),
        ]);
        self.backend
            .list(Some(&prefix))
            .filter_map(|m| async move {
                m.ok()
                    .map(|m| (m.location.to_string(), m.last_modified.timestamp_millis()))
            })
            .boxed()
    }
}

/// A local file, `len` bytes from `first`, read in `READ_CHUNK` steps on the blocking pool.
fn file_stream(file: std::fs::File, first: u64, len: u64) -> ByteStream {
    let state = (Some(file), first, len);
    futures_util::stream::unfold(state, |(file, pos, left)| async move {
        let mut file = file?;
        if left == 0 {
            return None;
        }
        let step = left.min(READ_CHUNK as u64) as usize;
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; step];
            file.seek(SeekFrom::Start(pos))?;
            file.read_exact(&mut buf)?;
            Ok::<_, std::io::Error>((file, buf))
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        match read {
            Ok((file, buf)) => Some((
                Ok(Bytes::from(buf)),
                (Some(file), pos + step as u64, left - step as u64),
            )),
            Err(e) => Some((Err(e), (None, pos, 0))),
        }
    })
    .boxed()
}

/// A blob being written. Dropped without `finish`, it leaves nothing behind that a record
/// points to (the sweep removes its bytes).
pub struct BlobWriter {
    name: String,
    inner: WriteMultipart,
    /// One of the `WRITERS`, given back when the writer ends.
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl BlobWriter {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends bytes, waiting while the backend is behind.
    pub async fn write(&mut self, data: Bytes) -> Result<()> {
        self.inner
            .wait_for_capacity(WRITE_CONCURRENCY)
            .await
            .map_err(backend_error)?;
        self.inner.put(data);
        Ok(())
    }

    /// Makes the blob durable; returns its name.
    pub async fn finish(self) -> Result<String> {
        self.inner.finish().await.map_err(backend_error)?;
        Ok(self.name)
    }

    pub async fn abort(self) {
        if let Err(e) = self.inner.abort().await {
            tracing::debug!(error = %e, "abort of a blob write");
        }
    }
}
