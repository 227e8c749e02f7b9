//! Multipart uploads (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html):
//! an upload record per CreateMultipartUpload, a part record and blob per UploadPart (sent again,
//! a part replaces the earlier one), and CompleteMultipartUpload, which copies the listed parts
//! in order into one new blob and commits the object, the end of the upload and its parts in
//! one batch.

use super::{no_bucket, ObjectInfo, Objects};
use crate::records::{decode, encode, load, store_error, try_commit, SCHEMA};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use shoal_domain::error::Result;
use shoal_domain::objects::{multipart_etag, BucketName, ObjectKey, StorageError, MIN_PART};
use shoal_domain::{Partition, Timestamp};
use shoal_store::{Batch, Expect, Term};
use std::collections::BTreeMap;

pub(super) const UPLOAD: &str = "s3-upload";
pub(super) const PART: &str = "s3-part";

/// What CreateMultipartUpload said, applied to the object on completion.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub key: String,
    pub created: Timestamp,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// `x-amz-checksum-algorithm`, echoed.
    #[serde(default)]
    pub checksum_algorithm: Option<String>,
}

/// One uploaded part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartInfo {
    pub number: u32,
    pub blob: String,
    pub size: u64,
    /// Hex MD5 of the part, without quotes.
    pub etag: String,
    pub modified: Timestamp,
    #[serde(default)]
    pub checksum: Option<(String, String)>,
}

fn upload_key(bucket: &BucketName, id: &str) -> String {
    format!("{bucket}/{id}")
}

fn part_key(bucket: &BucketName, id: &str, number: u32) -> String {
    format!("{bucket}/{id}/{number:05}")
}

fn no_upload() -> shoal_domain::ServiceError {
    StorageError::NoSuchUpload.error(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
}

fn invalid_part() -> shoal_domain::ServiceError {
    StorageError::InvalidPart.error(
        "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.",
    )
}

impl Objects {
    /// CreateMultipartUpload: a new upload id.
    pub async fn create_upload(
        &self,
        part: &Partition,
        bucket: &BucketName,
        key: &ObjectKey,
        headers: BTreeMap<String, String>,
        metadata: BTreeMap<String, String>,
        checksum_algorithm: Option<String>,
    ) -> Result<String> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let upload = Upload {
            key: key.as_str().to_string(),
            created: self.clock.now(),
            headers,
            metadata,
            checksum_algorithm,
        };
        let batch = Batch::new(part.key())
            .check(super::BUCKET, bucket.as_str(), Expect::Present)
            .put(
                UPLOAD,
                &upload_key(bucket, &id),
                SCHEMA,
                encode(&upload)?,
                vec![],
                Expect::Absent,
            );
        if try_commit(self.store.as_ref(), batch).await? {
            Ok(id)
        } else {
            Err(no_bucket())
        }
    }

    /// The upload `id` of `key` (an id of another key is NoSuchUpload, as in S3).
    pub fn upload(
        &self,
        part: &Partition,
        bucket: &BucketName,
        key: &ObjectKey,
        id: &str,
    ) -> Result<Upload> {
        let found = load::<Upload>(
            self.store.as_ref(),
            &part.key(),
            UPLOAD,
            &upload_key(bucket, id),
        )?;
        match found {
            Some(u) if u.value.key == key.as_str() => Ok(u.value),
            Some(_) => Err(no_upload()),
            None => {
                self.bucket(part, bucket)?;
                Err(no_upload())
            }
        }
    }

    /// UploadPart, once its bytes are in `info.blob`.
    pub async fn put_part(
        &self,
        part: &Partition,
        bucket: &BucketName,
        key: &ObjectKey,
        id: &str,
        info: PartInfo,
    ) -> Result<()> {
        let blob = info.blob.clone();
        let result = self.commit_part(part, bucket, key, id, info).await;
        if result.is_err() {
            self.blobs.delete(&blob).await;
        }
        result
    }

    async fn commit_part(
        &self,
        part: &Partition,
        bucket: &BucketName,
        key: &ObjectKey,
        id: &str,
        info: PartInfo,
    ) -> Result<()> {
        self.upload(part, bucket, key, id)?;
        let pkey = part_key(bucket, id, info.number);
        let previous = load::<PartInfo>(self.store.as_ref(), &part.key(), PART, &pkey)?;
        let batch = Batch::new(part.key())
            .check(UPLOAD, &upload_key(bucket, id), Expect::Present)
            .put(
                PART,
                &pkey,
                SCHEMA,
                encode(&info)?,
                vec![Term::new("blob", &info.blob)],
                previous
                    .as_ref()
                    .map_or(Expect::Absent, |p| Expect::Rev(p.rev)),
            );
        match self.store.commit(batch).await {
            Ok(_) => {
                if let Some(p) = previous {
                    self.blobs.delete(&p.value.blob).await;
                }
                Ok(())
            }
            Err(shoal_store::StoreError::Conflict { op: 0 }) => Err(no_upload()),
            // The same part sent twice at once: the other one won; this one's bytes go.
            Err(shoal_store::StoreError::Conflict { .. }) => Err(StorageError::InvalidPart
                .error("The part was replaced by a concurrent upload of the same part number")),
            Err(e) => Err(store_error(e)),
        }
    }

    /// The parts of an upload, by number.
    pub fn parts(&self, part: &Partition, bucket: &BucketName, id: &str) -> Result<Vec<PartInfo>> {
        let prefix = format!("{}/", upload_key(bucket, id));
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let recs = self
                .store
                .list(&part.key(), PART, &prefix, after.as_deref(), 1000)
                .map_err(store_error)?;
            let Some(last) = recs.last() else { break };
            after = Some(last.key.clone());
            for r in &recs {
                out.push(decode::<PartInfo>(r)?);
            }
        }
        Ok(out)
    }

    /// CompleteMultipartUpload with the parts the client lists (number, ETag): they must be in
    /// ascending order, exist with that ETag, and all but the last be at least 5 MiB. Their
    /// bytes are copied, in order, into the object's blob.
    pub async fn complete(
        &self,
        part: &Partition,
        bucket: &BucketName,
        key: &ObjectKey,
        id: &str,
        listed: &[(u32, String)],
        cond: &super::WriteCondition,
    ) -> Result<ObjectInfo> {
        let upload = self.upload(part, bucket, key, id)?;
        if listed.is_empty() {
            return Err(StorageError::MalformedXml.error(
                "The XML you provided was not well-formed or did not validate against our published schema",
            ));
        }
        if listed.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(StorageError::InvalidPartOrder
                .error("The list of parts was not in ascending order. Parts must be ordered by part number."));
        }
        let stored: BTreeMap<u32, PartInfo> = self
            .parts(part, bucket, id)?
            .into_iter()
            .map(|p| (p.number, p))
            .collect();
        let mut chosen = Vec::with_capacity(listed.len());
        for (i, (n, etag)) in listed.iter().enumerate() {
            let p = stored.get(n).ok_or_else(invalid_part)?;
            if shoal_domain::objects::bare_etag(etag) != p.etag {
                return Err(invalid_part());
            }
            if i + 1 < listed.len() && p.size < MIN_PART {
                return Err(StorageError::EntityTooSmall.error(
                    "Your proposed upload is smaller than the minimum allowed object size.",
                ));
            }
            chosen.push(p.clone());
        }
        // The final ETag: MD5 over the parts' binary MD5s.
        let mut md5s = Vec::with_capacity(chosen.len() * 16);
        for p in &chosen {
            md5s.extend(hex::decode(&p.etag).map_err(|_| invalid_part())?);
        }
        let etag = multipart_etag(&md5_hex(&md5s), chosen.len());
        let mut writer = self.blobs.writer(part).await?;
        let mut size = 0u64;
        for p in &chosen {
            let Some(mut s) = self.blobs.read(&p.blob, None, p.size).await? else {
                writer.abort().await;
                return Err(invalid_part());
            };
            while let Some(chunk) = s.next().await {
                let chunk = chunk.map_err(|e| {
                    tracing::error!(error = %e, "reading a part");
                    shoal_domain::ServiceError::internal(
                        "We encountered an internal error. Please try again.",
                    )
                })?;
                size += chunk.len() as u64;
                writer.write(chunk).await?;
            }
        }
        let blob = writer.finish().await?;
        let info = ObjectInfo {
            blob: blob.clone(),
            size,
            etag,
            modified: self.clock.now(),
            headers: upload.headers,
            metadata: upload.metadata,
            checksum: None,
        };
        let prefix = format!("{}/", upload_key(bucket, id));
        let end = Batch::new(part.key())
            .delete(UPLOAD, &upload_key(bucket, id), Expect::Present)
            .delete_prefix(PART, &prefix);
        if let Err(e) = self
            .commit_object(part, bucket, key, info.clone(), cond, end)
            .await
        {
            self.blobs.delete(&blob).await;
            return Err(e);
        }
        for p in stored.values() {
            self.blobs.delete(&p.blob).await;
        }
        Ok(info)
    }

    /// AbortMultipartUpload: the upload and its parts go.
    pub async fn abort_upload(
        &self,
        part: &Partition,
        bucket: &BucketName,
        key: &ObjectKey,
        id: &str,
    ) -> Result<()> {
        self.upload(part, bucket, key, id)?;
        let parts = self.parts(part, bucket, id)?;
        let batch = Batch::new(part.key())
            .delete(UPLOAD, &upload_key(bucket, id), Expect::Present)
            .delete_prefix(PART, &format!("{}/", upload_key(bucket, id)));
        if !try_commit(self.store.as_ref(), batch).await? {
            return Err(no_upload());
        }
        for p in parts {
            self.blobs.delete(&p.blob).await;
        }
        Ok(())
    }
}

fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(data))
}
