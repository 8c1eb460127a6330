//! The object store: `s3://BUCKET/KEY` locations and the few S3 calls the
//! fleet makes, on the AWS SDK (signing, retries, credentials and region
//! from the standard `AWS_*` variables; `--endpoint` or
//! `AWS_ENDPOINT_URL` for an S3-compatible store).

use std::path::Path;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;

use crate::{fatal, FleetError};

/// Parts of a file uploaded by a host: bounded memory whatever its size.
const PUT_PART: u64 = 16 << 20;

/// `s3://BUCKET/KEY`. As a job prefix the key ends with `/` (added when
/// missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The bucket.
    pub bucket: String,
    /// The key (or prefix).
    pub key: String,
}

impl Location {
    /// Parses `s3://BUCKET/KEY`; `prefix` makes the key a prefix.
    pub fn parse(url: &str, prefix: bool) -> Result<Location, FleetError> {
        let usage = |m: &str| FleetError::Usage(format!("{url:?}: {m}"));
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| usage("expected s3://BUCKET/KEY"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !bucket_ok {
            return Err(usage("not a bucket name (3 to 63 of a-z, 0-9, '.', '-')"));
        }
        if key.split('/').any(|s| s == "." || s == "..") || key.contains("//") {
            return Err(usage("the key has an empty, '.' or '..' segment"));
        }
        let mut key = key.to_string();
        if prefix && !key.is_empty() && !key.ends_with('/') {
            key.push('/');
        }
        if !prefix && (key.is_empty() || key.ends_with('/')) {
            return Err(usage("expected an object key, not a prefix"));
        }
        Ok(Location {
            bucket: bucket.to_string(),
            key,
        })
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// An S3 client with the runtime its calls run on.
pub struct Store {
    client: Client,
    runtime: tokio::runtime::Runtime,
}

/// A failed S3 call: the store's error code and message when it answered
/// one (the SDK's full context is the raw answer, kilobytes on one line),
/// else the SDK's description.
fn s3_error<E: std::error::Error + ProvideErrorMetadata>(what: &str, e: E) -> FleetError {
    match e.code() {
        Some(code) => FleetError::Fatal(format!(
            "{what}: {code}{}",
            e.message()
                .filter(|m| !m.trim().is_empty())
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )),
        None => FleetError::Fatal(format!("{what}: {}", DisplayErrorContext(e))),
    }
}

/// A key as it goes in `x-amz-copy-source`: percent-encoded but for `/`.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Store {
    /// A client from the environment, at `endpoint` when given (path-style
    /// addressing then, as S3-compatible stores expect).
    pub fn connect(endpoint: Option<&str>) -> Result<Store, FleetError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(fatal)?;
        let endpoint = endpoint
            .map(str::to_string)
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        let client = runtime.block_on(async {
            let region = aws_config::meta::region::RegionProviderChain::default_provider()
                .or_else("us-east-1");
            let mut loader =
                aws_config::defaults(aws_config::BehaviorVersion::latest()).region(region);
            if let Some(e) = &endpoint {
                loader = loader.endpoint_url(e);
            }
            let shared = loader.load().await;
            let config = aws_sdk_s3::config::Builder::from(&shared)
                .force_path_style(endpoint.is_some())
                .build();
            Client::from_conf(config)
        });
        Ok(Store { client, runtime })
    }

    /// Runs a call to its end.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// Uploads `bytes` as one object.
    pub async fn put_bytes(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
    ) -> Result<Option<String>, FleetError> {
        let out = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| s3_error(&format!("uploading s3://{bucket}/{key}"), e))?;
        Ok(out.e_tag().map(str::to_string))
    }

    /// Uploads a file as one object, in parts of [`PUT_PART`] when larger;
    /// returns its ETag.
    pub async fn put_file(
        &self,
        bucket: &str,
        key: &str,
        path: &Path,
    ) -> Result<Option<String>, FleetError> {
        let len = std::fs::metadata(path).map_err(fatal)?.len();
        if len <= PUT_PART {
            let bytes = std::fs::read(path).map_err(fatal)?;
            return self.put_bytes(bucket, key, bytes).await;
        }
        let upload = self.create_upload(bucket, key).await?;
        let result = async {
            let mut parts = Vec::new();
            let mut at = 0u64;
            while at < len {
                let n = PUT_PART.min(len - at);
                let body = ByteStream::read_from()
                    .path(path)
                    .offset(at)
                    .length(aws_sdk_s3::primitives::Length::Exact(n))
                    .build()
                    .await
                    .map_err(fatal)?;
                let number = parts.len() as i32 + 1;
                let done = self
                    .client
                    .upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&upload)
                    .part_number(number)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| {
                        s3_error(
                            &format!("uploading part {number} of s3://{bucket}/{key}"),
                            e,
                        )
                    })?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(done.e_tag().map(str::to_string))
                        .build(),
                );
                at += n;
            }
            self.complete_upload(bucket, key, &upload, parts).await
        }
        .await;
        if result.is_err() {
            let _ = self.abort_upload(bucket, key, &upload).await;
        }
        result
    }

    /// An object, or bytes `a..b` of it; only the version whose ETag is
    /// `etag` when one is given (the store refuses another: 412).
    pub async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<(u64, u64)>,
        etag: Option<&str>,
    ) -> Result<Vec<u8>, FleetError> {
        let mut call = self.client.get_object().bucket(bucket).key(key);
        if let Some((a, b)) = range {
            call = call.range(format!("bytes={a}-{}", b - 1));
        }
        if let Some(e) = etag {
            call = call.if_match(e);
        }
        let what = format!("downloading s3://{bucket}/{key}");
        let mut out = call.send().await.map_err(|e| s3_error(&what, e))?;
        // Chunk by chunk into one buffer of the announced size: collecting
        // into the SDK's segments, then joining them, copies every byte
        // twice more.
        let announced = out.content_length().unwrap_or(0).clamp(0, 64 << 20) as usize;
        let mut bytes = Vec::with_capacity(announced);
        while let Some(chunk) = out
            .body
            .try_next()
            .await
            .map_err(|e| FleetError::Fatal(format!("{what}: {e}")))?
        {
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// The keys under `prefix`, and the bytes of the listing's answers
    /// (estimated from the keys: the XML around them is a constant per key).
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<(Vec<String>, u64), FleetError> {
        let mut keys = Vec::new();
        let mut bytes = 0u64;
        let mut token = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| s3_error(&format!("listing s3://{bucket}/{prefix}"), e))?;
            for o in out.contents() {
                if let Some(k) = o.key() {
                    bytes += k.len() as u64 + 300;
                    keys.push(k.to_string());
                }
            }
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok((keys, bytes))
    }

    /// Starts a multipart upload; returns its id.
    pub async fn create_upload(&self, bucket: &str, key: &str) -> Result<String, FleetError> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type("application/gzip")
            .send()
            .await
            .map_err(|e| s3_error(&format!("starting an upload to s3://{bucket}/{key}"), e))?;
        out.upload_id()
            .map(str::to_string)
            .ok_or_else(|| FleetError::Fatal(format!("s3://{bucket}/{key}: no upload id")))
    }

    /// Uploads part `number` of an upload.
    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload: &str,
        number: i32,
        bytes: Vec<u8>,
    ) -> Result<CompletedPart, FleetError> {
        let out = self
            .client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload)
            .part_number(number)
            .body(ByteStream::from(bytes))
            .customize()
            // The part's bytes are not hashed into the signature (the
            // coordinator's main CPU cost); the archive carries its CRCs.
            .disable_payload_signing()
            .send()
            .await
            .map_err(|e| {
                s3_error(
                    &format!("uploading part {number} of s3://{bucket}/{key}"),
                    e,
                )
            })?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(out.e_tag().map(str::to_string))
            .build())
    }

    /// Makes part `number` of an upload from bytes `a..b` of another
    /// object, copied by the store.
    pub async fn copy_part(
        &self,
        bucket: &str,
        key: &str,
        upload: &str,
        number: i32,
        (from_bucket, from_key, etag): (&str, &str, Option<&str>),
        (a, b): (u64, u64),
    ) -> Result<CompletedPart, FleetError> {
        let out = self
            .client
            .upload_part_copy()
            .set_copy_source_if_match(etag.map(str::to_string))
            .bucket(bucket)
            .key(key)
            .upload_id(upload)
            .part_number(number)
            .copy_source(format!("{from_bucket}/{}", encode_key(from_key)))
            .copy_source_range(format!("bytes={a}-{}", b - 1))
            .send()
            .await
            .map_err(|e| {
                s3_error(
                    &format!(
                        "copying s3://{from_bucket}/{from_key} bytes {a}..{b} into part {number}"
                    ),
                    e,
                )
            })?;
        let etag = out
            .copy_part_result()
            .and_then(|r| r.e_tag())
            .map(str::to_string);
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(etag)
            .build())
    }

    /// Completes an upload from its parts, in order.
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload: &str,
        parts: Vec<CompletedPart>,
    ) -> Result<Option<String>, FleetError> {
        let out = self
            .client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| s3_error(&format!("completing s3://{bucket}/{key}"), e))?;
        Ok(out.e_tag().map(str::to_string))
    }

    /// Aborts an upload (its parts are dropped by the store).
    pub async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload: &str,
    ) -> Result<(), FleetError> {
        self.client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload)
            .send()
            .await
            .map_err(|e| s3_error(&format!("aborting the upload to s3://{bucket}/{key}"), e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_refuse() {
        let l = Location::parse("s3://logs-bucket/jobs/42", true).unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.key.as_str()),
            ("logs-bucket", "jobs/42/")
        );
        let l = Location::parse("s3://logs-bucket/out/all.tar.gz", false).unwrap();
        assert_eq!(l.key, "out/all.tar.gz");
        assert_eq!(Location::parse("s3://b1c/", true).unwrap().key, "");
        for bad in [
            "http://b/k",
            "s3://B/k",
            "s3://ab/k",
            "s3://bucket/a/../k",
            "s3://bucket/a//k",
        ] {
            assert!(Location::parse(bad, true).is_err(), "{bad}");
        }
        assert!(Location::parse("s3://bucket/prefix/", false).is_err());
    }

    #[test]
    fn copy_sources_are_percent_encoded_but_for_slashes() {
        assert_eq!(encode_key("a/b c+d.tar.gz"), "a/b%20c%2Bd.tar.gz");
        assert_eq!(encode_key("h/é"), "h/%C3%A9");
    }
}
