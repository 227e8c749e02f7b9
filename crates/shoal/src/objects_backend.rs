//! Where object bytes go: the folder `objects` of the data folder, or an S3-compatible store
//! (`[objects] url = "s3://BUCKET[/PREFIX]"`) through `object_store`'s S3 client. That client
//! talks HTTP through the connector below (hyper, already Shoal's HTTP stack; rustls with the
//! system's roots for https), not through reqwest and aws-lc-rs, which would add a C build.

use crate::config::ObjectsConfig;
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use object_store::aws::AmazonS3Builder;
use object_store::client::{
    HttpClient, HttpConnector as StoreConnector, HttpError, HttpErrorKind, HttpRequest,
    HttpResponse, HttpResponseBody, HttpService,
};
use object_store::{ClientOptions, ObjectStore};
use shoal_services::objects::Blobs;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

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
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| object_store::Error::Generic {
            store: "S3",
            source: Box::new(e),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        let connector = TlsConnector {
            http,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
        };
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(HttpClient::new(Hyper(client)))
    }
}

#[derive(Debug)]
struct Hyper(Client<TlsConnector, object_store::client::HttpRequestBody>);

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

/// Plain TCP for `http://`, rustls over it for `https://`.
#[derive(Clone)]
struct TlsConnector {
    http: HttpConnector,
    tls: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConnector")
    }
}

type Tcp = TokioIo<tokio::net::TcpStream>;

enum Stream {
    Plain(Tcp),
    Tls(Box<TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl tower_service::Service<http::Uri> for TlsConnector {
    type Response = Stream;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let tls = uri.scheme_str() == Some("https");
        let host = uri.host().unwrap_or_default().to_string();
        let connecting = self.http.call(uri);
        let connector = self.tls.clone();
        Box::pin(async move {
            let tcp = connecting.await?;
            if !tls {
                return Ok(Stream::Plain(tcp));
            }
            let name = rustls_pki_types::ServerName::try_from(host)?;
            let stream = connector.connect(name, tcp.into_inner()).await?;
            Ok(Stream::Tls(Box::new(TokioIo::new(stream))))
        })
    }
}
