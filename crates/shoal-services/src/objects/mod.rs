//! Object storage: buckets, objects and multipart uploads of each account and region, for the S3
//! subset on the API port and for the services that read artifacts (job documents). Records in
//! the store say what exists (bucket `s3-bucket` NAME; object `s3-object` BUCKET/KEY in S3's
//! byte order, so ListObjectsV2 is a range scan; upload `s3-upload` BUCKET/ID; part `s3-part`
//! BUCKET/ID/NNNNN); the bytes are blobs (`blobs.rs`) named by generated ids. A write puts the
//! blob first and then commits the record under a condition, so a crash leaves at worst a blob
//! no record names, never a record without its bytes; the sweep removes such blobs.

mod blobs;
mod list;
mod multipart;
#[cfg(test)]
mod tests;

pub use blobs::{BlobWriter, Blobs, ByteStream};
pub use list::{after_common_prefix, ListItem, ListPage, ListRequest};
pub use multipart::{PartInfo, Upload};

use crate::records::{decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use shoal_domain::error::Result;
use shoal_domain::objects::{bare_etag, BucketName, ByteRange, ObjectKey, StorageError};
use shoal_domain::{Clock, Partition, Timestamp};
use shoal_store::{Batch, Expect, Store, Term};
use std::collections::BTreeMap;
use std::sync::Arc;

const BUCKET: &str = "s3-bucket";
const OBJECT: &str = "s3-object";
/// Blobs younger than this are never swept: another node may still be writing them.
const SWEEP_AGE_MS: i64 = 3_600_000;

/// A bucket's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bucket {
    pub created: Timestamp,
    /// The `LocationConstraint` it was made with ("" for us-east-1's default).
    #[serde(default)]
    pub location: String,
}

/// What is stored of an object besides its bytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// The blob holding the bytes.
    pub blob: String,
    pub size: u64,
    /// Without quotes: the hex MD5, or `<hex>-<parts>` for a multipart object.
    pub etag: String,
    pub modified: Timestamp,
    /// Content-Type, Content-Encoding, Cache-Control, Content-Disposition, Content-Language,
    /// Expires as the client sent them (lowercase names).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `x-amz-meta-*` without the prefix, lowercase names.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// A verified full-object checksum: (algorithm lowercase, base64 value).
    #[serde(default)]
    pub checksum: Option<(String, String)>,
}

/// A write's precondition (`If-None-Match: *`, `If-Match: "etag"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WriteCondition {
    #[default]
    None,
    Absent,
    Matches(String),
}

impl WriteCondition {
    /// Whether the current object (if any) allows the write.
    fn check(&self, current: Option<&ObjectInfo>) -> Result<()> {
        let failed = || {
            StorageError::PreconditionFailed
                .error("At least one of the pre-conditions you specified did not hold")
        };
        match (self, current) {
            (WriteCondition::None, _) => Ok(()),
            (WriteCondition::Absent, None) => Ok(()),
            (WriteCondition::Absent, Some(_)) => Err(failed()),
            (WriteCondition::Matches(_), None) => {
                Err(StorageError::NoSuchKey.error("The specified key does not exist."))
            }
            (WriteCondition::Matches(e), Some(o)) if e == "*" || bare_etag(e) == o.etag => Ok(()),
            (WriteCondition::Matches(_), Some(_)) => Err(failed()),
        }
    }
}

pub struct Objects {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    blobs: Blobs,
    /// Signs presigned GETs (job documents' `${aws:iot:s3-presigned-url:...}`) with a key of
    /// the account, for the API endpoint devices reach (set once the listener is bound).
    presign: std::sync::OnceLock<(Arc<crate::Accounts>, String)>,
    /// The key each account's URLs were last signed with, so a device's document does not
    /// list every key of every account: checked against the accounts service (a deactivated
    /// or deleted key is replaced) before each use.
    signers: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// A key as it goes in a URL path: every byte but the unreserved ones and `/` encoded (S3
/// signs the path as sent, encoded once).
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn object_key(bucket: &BucketName, key: &ObjectKey) -> String {
    format!("{bucket}/{key}")
}

fn no_bucket() -> shoal_domain::ServiceError {
    StorageError::NoSuchBucket.error("The specified bucket does not exist")
}

fn no_key() -> shoal_domain::ServiceError {
    StorageError::NoSuchKey.error("The specified key does not exist.")
}

impl Objects {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, blobs: Blobs) -> Objects {
        Objects {
            store,
            clock,
            blobs,
            presign: std::sync::OnceLock::new(),
            signers: Default::default(),
        }
    }

    /// Lets `presign_get` sign URLs for `endpoint` (`http://HOST:PORT`).
    pub fn set_presigning(&self, accounts: Arc<crate::Accounts>, endpoint: String) {
        let _ = self.presign.set((accounts, endpoint));
    }

    /// A presigned SigV4 GET of an object, valid `expires_secs` from now, signed with an active
    /// access key of the account (as S3 presigned URLs are signed with the caller's key).
    pub fn presign_get(
        &self,
        part: &Partition,
        bucket: &BucketName,
        key: &ObjectKey,
        expires_secs: u64,
    ) -> Result<String> {
        let (accounts, endpoint) = self
            .presign
            .get()
            .ok_or_else(|| shoal_domain::ServiceError::internal("presigning is not set up"))?;
        let account = part.account.as_str();
        let cached = self.signers.lock().expect("signers").get(account).cloned();
        let still = cached
            .and_then(|id| accounts.lookup(&id).ok().flatten())
            .filter(|k| k.active && k.account == account);
        let signer = match still {
            Some(k) => k,
            None => {
                let k = accounts
                    .list_keys(Some(&part.account))?
                    .into_iter()
                    .find(|k| k.active)
                    .ok_or_else(|| {
                        shoal_domain::ServiceError::invalid(
                            "The account has no active access key to sign presigned URLs with",
                        )
                    })?;
                let mut signers = self.signers.lock().expect("signers");
                if signers.len() >= 10_000 {
                    signers.clear();
                }
                signers.insert(account.to_string(), k.access_key_id.clone());
                k
            }
        };
        let host = endpoint
            .split_once("://")
            .map_or(endpoint.as_str(), |(_, h)| h);
        let path = format!("/{bucket}/{}", encode_key(key.as_str()));
        let date = shoal_sigv4::format_amz_date(self.clock.now().secs());
        let query = shoal_sigv4::presigned_query(&shoal_sigv4::Presign {
            method: "GET",
            path: &path,
            query: "",
            headers: &[("host", host)],
            access_key_id: &signer.access_key_id,
            secret: &signer.secret_access_key,
            session_token: None,
            amz_date: &date,
            expires_secs,
            region: part.region.as_str(),
            service: "s3",
        });
        Ok(format!("{endpoint}{path}?{query}"))
    }

    /// A small object read whole (a job document from `documentSource`), at most `limit`
    /// bytes.
    pub async fn read_small(
        &self,
        part: &Partition,
        bucket: &BucketName,
        key: &ObjectKey,
        limit: u64,
    ) -> Result<Vec<u8>> {
        use futures_util::StreamExt;
        let (info, _, mut stream) = self.get(part, bucket, key, |_| Ok(None)).await?;
        if info.size > limit {
            return Err(shoal_domain::ServiceError::invalid(format!(
                "The object {bucket}/{key} is larger than {limit} bytes"
            )));
        }
        let mut out = Vec::with_capacity(info.size as usize);
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.map_err(|e| {
                tracing::error!(error = %e, "reading an object");
                shoal_domain::ServiceError::internal(
                    "We encountered an internal error. Please try again.",
                )
            })?);
        }
        Ok(out)
    }

    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// CreateBucket. Each account has its own bucket names (as if it had its own S3); a name
    /// the account already has is BucketAlreadyOwnedByYou, as S3 answers outside us-east-1.
    pub async fn create_bucket(
        &self,
        part: &Partition,
        name: &BucketName,
        location: &str,
    ) -> Result<()> {
        let bucket = Bucket {
            created: self.clock.now(),
            location: location.to_string(),
        };
        let batch = Batch::new(part.key()).put(
            BUCKET,
            name.as_str(),
            SCHEMA,
            encode(&bucket)?,
            vec![],
            Expect::Absent,
        );
        if try_commit(self.store.as_ref(), batch).await? {
            Ok(())
        } else {
            Err(StorageError::BucketAlreadyOwnedByYou.error(
                "Your previous request to create the named bucket succeeded and you already own it.",
            ))
        }
    }

    pub fn bucket(&self, part: &Partition, name: &BucketName) -> Result<Bucket> {
        load::<Bucket>(self.store.as_ref(), &part.key(), BUCKET, name.as_str())?
            .map(|l| l.value)
            .ok_or_else(no_bucket)
    }

    /// ListBuckets: every bucket of the account and region, by name.
    pub fn list_buckets(&self, part: &Partition) -> Result<Vec<(String, Bucket)>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let recs = self
                .store
                .list(&part.key(), BUCKET, "", after.as_deref(), 1000)
                .map_err(store_error)?;
            let Some(last) = recs.last() else { break };
            after = Some(last.key.clone());
            for r in &recs {
                out.push((r.key.clone(), decode::<Bucket>(r)?));
            }
        }
        Ok(out)
    }

    /// DeleteBucket: only an empty bucket (open multipart uploads are aborted with it).
    pub async fn delete_bucket(&self, part: &Partition, name: &BucketName) -> Result<()> {
        self.bucket(part, name)?;
        let prefix = format!("{name}/");
        let batch = Batch::new(part.key())
            .check_none(OBJECT, Term::new("bucket", name.as_str()))
            .delete(BUCKET, name.as_str(), Expect::Present)
            .delete_prefix(multipart::UPLOAD, &prefix)
            .delete_prefix(multipart::PART, &prefix);
        match self.store.commit(batch).await {
            Ok(_) => Ok(()),
            Err(shoal_store::StoreError::Conflict { op: 0 }) => {
                Err(StorageError::BucketNotEmpty
                    .error("The bucket you tried to delete is not empty"))
            }
            Err(shoal_store::StoreError::Conflict { .. }) => Err(no_bucket()),
            Err(e) => Err(store_error(e)),
        }
    }

    /// HeadObject / the record of GetObject.
    pub fn head(
        &self,
        part: &Partition,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<ObjectInfo> {
        match load::<ObjectInfo>(
            self.store.as_ref(),
            &part.key(),
            OBJECT,
            &object_key(bucket, key),
        )? {
            Some(l) => Ok(l.value),
            None => {
                self.bucket(part, bucket)?;
                Err(no_key())
            }
        }
    }

    /// GetObject: the record and its bytes (a range of them). An overwrite that removed the
    /// blob between reading the record and opening it is met by reading the record again.
    pub async fn get(
        &self,
        part: &Partition,
        bucket: &BucketName,
        key: &ObjectKey,
        range: impl Fn(&ObjectInfo) -> Result<Option<ByteRange>>,
    ) -> Result<(ObjectInfo, Option<ByteRange>, ByteStream)> {
        for _ in 0..RETRIES {
            let info = self.head(part, bucket, key)?;
            let r = range(&info)?;
            if let Some(s) = self.blobs.read(&info.blob, r, info.size).await? {
                return Ok((info, r, s));
            }
        }
        Err(crate::records::contention())
    }

    /// PutObject, once the bytes are in `info.blob`: points the key to them under `cond`, then
    /// removes the blob it replaced. On failure the new blob is removed.
    pub async fn put(
        &self,
        part: &Partition,
        bucket: &BucketName,
        key: &ObjectKey,
        info: ObjectInfo,
        cond: &WriteCondition,
    ) -> Result<()> {
        let blob = info.blob.clone();
        let result = self
            .commit_object(part, bucket, key, info, cond, Batch::new(part.key()))
            .await;
        if result.is_err() {
            self.blobs.delete(&blob).await;
        }
        result
    }

    /// Writes `bytes` as an object (a bulk registration task's report): the same path as a
    /// PutObject whose body was received.
    pub async fn put_bytes(
        &self,
        part: &Partition,
        bucket: &BucketName,
        key: &ObjectKey,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<()> {
        use md5::Digest;
        let etag = hex::encode(md5::Md5::digest(&bytes));
        let size = bytes.len() as u64;
        let mut w = self.blobs.writer(part).await?;
        if let Err(e) = w.write(Bytes::from(bytes)).await {
            w.abort().await;
            return Err(e);
        }
        let blob = w.finish().await?;
        let info = ObjectInfo {
            blob,
            size,
            etag,
            modified: self.clock.now(),
            headers: BTreeMap::from([("content-type".to_string(), content_type.to_string())]),
            metadata: BTreeMap::new(),
            checksum: None,
        };
        self.put(part, bucket, key, info, &WriteCondition::None)
            .await
    }

    /// Writes an object record (with `extra` operations in the same batch), retried while
    /// other writes to the key race it; the replaced blob goes afterwards.
    async fn commit_object(
        &self,
        part: &Partition,
        bucket: &BucketName,
        key: &ObjectKey,
        info: ObjectInfo,
        cond: &WriteCondition,
        extra: Batch,
    ) -> Result<()> {
        let okey = object_key(bucket, key);
        let doc = encode(&info)?;
        for _ in 0..RETRIES {
            let current = load::<ObjectInfo>(self.store.as_ref(), &part.key(), OBJECT, &okey)?;
            cond.check(current.as_ref().map(|c| &c.value))?;
            let expect = current
                .as_ref()
                .map_or(Expect::Absent, |c| Expect::Rev(c.rev));
            let mut batch = Batch::new(part.key())
                .check(BUCKET, bucket.as_str(), Expect::Present)
                .put(
                    OBJECT,
                    &okey,
                    SCHEMA,
                    doc.clone(),
                    vec![
                        Term::new("bucket", bucket.as_str()),
                        Term::new("blob", &info.blob),
                    ],
                    expect,
                );
            batch.ops.extend(extra.ops.iter().cloned());
            match self.store.commit(batch).await {
                Ok(_) => {
                    if let Some(old) = current {
                        if old.value.blob != info.blob {
                            self.blobs.delete(&old.value.blob).await;
                        }
                    }
                    return Ok(());
                }
                Err(shoal_store::StoreError::Conflict { op: 0 }) => return Err(no_bucket()),
                Err(shoal_store::StoreError::Conflict { op: 1 }) => continue,
                Err(shoal_store::StoreError::Conflict { .. }) => {
                    return Err(StorageError::NoSuchUpload.error(
                        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
                    ))
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(crate::records::contention())
    }

    /// DeleteObject: succeeds whether or not the key exists (S3), once the bucket does.
    pub async fn delete(
        &self,
        part: &Partition,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<()> {
        let okey = object_key(bucket, key);
        for _ in 0..RETRIES {
            let Some(cur) = load::<ObjectInfo>(self.store.as_ref(), &part.key(), OBJECT, &okey)?
            else {
                self.bucket(part, bucket)?;
                return Ok(());
            };
            let batch = Batch::new(part.key()).delete(OBJECT, &okey, Expect::Rev(cur.rev));
            if try_commit(self.store.as_ref(), batch).await? {
                self.blobs.delete(&cur.value.blob).await;
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }

    /// The sweep over every account and region (at start-up).
    pub async fn sweep_all(&self) -> Result<usize> {
        let mut removed = 0;
        for part in self.blobs.partitions().await? {
            removed += self.sweep(&part).await?;
        }
        Ok(removed)
    }

    /// Removes the blobs of `part` that no record names and that nobody wrote to for an hour:
    /// what a crash between writing a blob and committing its record leaves. Returns how
    /// many went.
    pub async fn sweep(&self, part: &Partition) -> Result<usize> {
        use futures_util::StreamExt;
        let cutoff = self.clock.now().millis() - SWEEP_AGE_MS;
        let mut stream = self.blobs.list(part);
        let mut removed = 0;
        while let Some((name, modified)) = stream.next().await {
            if modified > cutoff {
                continue;
            }
            let term = shoal_store::TermMatch::Exact(&name);
            let used = self
                .store
                .count_by_term(&part.key(), OBJECT, "blob", term, 1)
                .map_err(store_error)?
                + self
                    .store
                    .count_by_term(&part.key(), multipart::PART, "blob", term, 1)
                    .map_err(store_error)?;
            if used == 0 {
                self.blobs.delete(&name).await;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The admin reset: every blob of `part` goes, whatever its age (its records are already
    /// gone). Returns how many went.
    pub async fn reset(&self, part: &Partition) -> usize {
        use futures_util::StreamExt;
        let mut stream = self.blobs.list(part);
        let mut removed = 0;
        while let Some((name, _)) = stream.next().await {
            self.blobs.delete(&name).await;
            removed += 1;
        }
        removed
    }
}
