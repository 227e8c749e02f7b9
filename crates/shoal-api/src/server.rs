//! The HTTP server: takes an already-bound listener and a shutdown future (so tests bind port 0
//! and the binary owns signals), serves HTTP/1.1 with keep-alive, and on shutdown stops
//! accepting, lets in-flight requests finish, then returns.

use crate::error::ApiError;
use crate::ApiState;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Bodies above this are refused; AWS IoT's largest control-plane bodies are far smaller.
const MAX_BODY: usize = 1024 * 1024;
/// How long in-flight requests get to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(10);

pub async fn serve(
    listener: TcpListener,
    state: Arc<ApiState>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        // Running out of file descriptors must not end the server.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let svc = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(&state, req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc);
                let watched = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = watched.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain period; closing them");
    }
}

async fn handle(state: &ApiState, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return ApiError::invalid(format!(
                "The request body is larger than {MAX_BODY} bytes or could not be read"
            ))
            .into_response(&request_id)
        }
    };
    // Prometheus scrapes without AWS credentials, as it does any exporter.
    if parts.method == http::Method::GET && parts.uri.path() == "/metrics" {
        return metrics(state);
    }
    match route(state, &parts, &body, &request_id).await {
        Ok(r) => r,
        Err(e) => e.into_response(&request_id),
    }
}

/// `/metrics`: the fleet metrics' last values as Prometheus gauges.
fn metrics(state: &ApiState) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(state.fleet.prometheus())));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

async fn route(
    state: &ApiState,
    parts: &http::request::Parts,
    body: &Bytes,
    request_id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    let payload_hash = shoal_sigv4::sha256_hex(body);
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    let sig = shoal_sigv4::RequestParts {
        method: parts.method.as_str(),
        path,
        query,
        headers: &headers,
        payload_sha256_hex: &payload_hash,
    };
    let caller = crate::auth::authenticate(state, &sig)?;
    match caller.service.as_str() {
        "iot" => {
            let endpoint = crate::iot::Endpoint::parse(&parts.method, path, query)?;
            tracing::debug!(?endpoint, request_id, "iot request");
            crate::iot::handle(
                state,
                &caller.partition,
                endpoint,
                body,
                &parts.headers,
                request_id,
            )
            .await
        }
        "iotdata" | "iotdevicegateway" => {
            let endpoint = crate::data::Endpoint::parse(&parts.method, path, query)?;
            tracing::debug!(?endpoint, request_id, "iot-data request");
            crate::data::handle(
                state,
                &caller.partition,
                crate::data::Caller::Account,
                endpoint,
                body,
                &parts.headers,
                request_id,
            )
            .await
        }
        other => Err(ApiError::UnknownOperation(format!(
            "The service '{other}' is not yet supported by Shoal on this endpoint"
        ))),
    }
}
