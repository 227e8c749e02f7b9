//! Where object bytes go: the folder `objects` of the data folder, or an S3-compatible store
//! (`[objects] url = "s3://BUCKET[/PREFIX]"`) through `object_store`'s S3 client. That client
//! talks HTTP through Shoal's connector (`http_client.rs`: hyper, already Shoal's HTTP stack;
//! rustls with the system's roots for https), not through reqwest and aws-lc-rs, which would
//! add a C build.

use crate::config::ObjectsConfig;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use object_store::aws::AmazonS3Builder;
use object_store::client::{
    HttpClient, HttpConnector as StoreConnector, HttpError, HttpErrorKind, HttpRequest,
    HttpResponse, HttpResponseBody, HttpService,
};
use object_store::{ClientOptions, ObjectStore};
use shoal_services::objects::Blobs;
use std::sync::Arc;

/// The blob store the configuration names.
pub fn open(cfg: &ObjectsConfig, data: &std::path::Path) -> Result<Blobs, String> {
    if cfg.url.is_empty() {
        return Blobs::local(&data.join("objects"))
            .map_err(|e| format!("cannot open the object folder: {e}"));
    }
    let rest = cfg.url.strip_prefix("s3://").ok_or_else(|| {
        format!(
            "[objects] url must be s3://BUCKET[/PREFIX], not {}",
            cfg.url
        )
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_http_connector(Connector)
        // Shoal deletes one blob at a time; not every S3-compatible store has DeleteObjects.
        .with_disable_bulk_delete(true);
    let set = |v: &str| (!v.is_empty()).then(|| v.to_string());
    if let Some(e) = set(&cfg.endpoint) {
        b = b.with_allow_http(e.starts_with("http://")).with_endpoint(e);
    }
    if let Some(r) = set(&cfg.region) {
        b = b.with_region(r);
    }
    if let Some(k) = set(&cfg.access_key_id) {
        b = b.with_access_key_id(k);
    }
    if let Some(s) = set(&cfg.secret_access_key) {
        b = b.with_secret_access_key(s);
    }
    let store = b
        .build()
        .map_err(|e| format!("[objects] url {}: {e}", cfg.url))?;
    let store: Arc<dyn ObjectStore> = if prefix.trim_matches('/').is_empty() {
        Arc::new(store)
    } else {
        Arc::new(object_store::prefix::PrefixStore::new(
            store,
            prefix.trim_matches('/'),
        ))
    };
    Ok(Blobs::new(store))
}

/// Makes `object_store`'s HTTP client out of hyper.
#[derive(Debug)]
struct Connector;

impl StoreConnector for Connector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        let connector =
            crate::http_client::connector().map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            })?;
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(HttpClient::new(Hyper(client)))
    }
}

#[derive(Debug)]
struct Hyper(Client<crate::http_client::TlsConnector, object_store::client::HttpRequestBody>);

fn http_error(kind: HttpErrorKind, e: impl std::error::Error + Send + Sync + 'static) -> HttpError {
    HttpError::new(kind, e)
}

#[async_trait::async_trait]
impl HttpService for Hyper {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let resp = self.0.request(req).await.map_err(|e| {
            let kind = if e.is_connect() {
                HttpErrorKind::Connect
            } else {
                HttpErrorKind::Request
            };
            http_error(kind, e)
        })?;
        Ok(resp.map(|body| {
            HttpResponseBody::new(body.map_err(|e| http_error(HttpErrorKind::Decode, e)))
        }))
    }
}
