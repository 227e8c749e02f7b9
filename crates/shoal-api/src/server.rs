//! The HTTP server: serves HTTP/1.1 with keep-alive on a listener of the shared helper
//! (`shoal-net`: connection cap, shutdown signal, drain). Every input from a client is bounded
//! in size and in time: the request head must arrive within `HEAD_TIMEOUT` (which also closes
//! idle keep-alive connections), the body within `BODY_TIMEOUT` and `MAX_BODY`, and a request
//! whose credentials cannot be right is answered before its body is read.

use crate::api::{self, boxed, Body, Call, Caller, Streamed};
use crate::data::Data;
use crate::error::ApiError;
use crate::iot::Iot;
use crate::jobs_data::JobsData;
use crate::s3::S3;
use crate::ApiState;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use shoal_net::{CancellationToken, Listener, Served};
use std::sync::Arc;
use std::time::Duration;

/// Bodies above this are refused; AWS IoT's largest control-plane bodies are far smaller.
const MAX_BODY: usize = 1024 * 1024;
/// The time a client has to send a request's head, counted from when the server starts
/// waiting for it: a connection that sends nothing, or stays idle between requests, is closed
/// after it.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// The time a client has to send a request's body once its head arrived.
pub(crate) const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the API until `stop` is cancelled; in-flight requests then finish, and the returned
/// handle drains the connections.
pub fn serve(listener: Listener, state: Arc<ApiState>, stop: CancellationToken) -> Served {
    listener.serve(stop, move |tcp, conn| {
        let state = state.clone();
        let peer = crate::api::Peer(conn.peer());
        async move {
            let svc = service_fn(move |mut req: Request<Incoming>| {
                let state = state.clone();
                req.extensions_mut().insert(peer);
                async move { Ok::<_, std::convert::Infallible>(handle(&state, req).await) }
            });
            serve_connection(TokioIo::new(tcp), svc, conn.stop()).await;
        }
    })
}

/// One HTTP/1.1 connection with the head timeout, until it ends or `stop` asks it to finish
/// the request in flight and close.
pub(crate) async fn serve_connection<I, S, B>(io: I, svc: S, stop: &CancellationToken)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S: hyper::service::HttpService<Incoming, ResBody = B> + Send,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .keep_alive(true);
    // Upgrades: the console's terminal is a WebSocket.
    let conn = builder.serve_connection(io, svc).with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Reads a body within `BODY_TIMEOUT` and `limit` bytes.
pub(crate) async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    // Most requests have none: no timer for them.
    if hyper::body::Body::is_end_stream(&body) {
        return Ok(Bytes::new());
    }
    match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, limit).collect()).await {
        Err(_) => Err(BodyError::TooSlow),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Ok(Err(_)) => Err(BodyError::Unreadable),
        Ok(Ok(b)) => Ok(b.to_bytes()),
    }
}

pub(crate) enum BodyError {
    TooLarge,
    TooSlow,
    Unreadable,
}

impl BodyError {
    pub(crate) fn message(&self, limit: usize) -> String {
        match self {
            BodyError::TooLarge => format!("The request body is larger than {limit} bytes"),
            BodyError::TooSlow => format!(
                "The request body did not arrive within {} seconds",
                BODY_TIMEOUT.as_secs()
            ),
            BodyError::Unreadable => "The request body could not be read".into(),
        }
    }
}

async fn handle(state: &ApiState, req: Request<Incoming>) -> Response<Body> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    if parts.method == http::Method::GET && parts.uri.path() == "/metrics" {
        return crate::metrics::handle(state, &parts, &request_id).map(boxed);
    }
    // The console signs in with a form and a session cookie, not SigV4 (a signed request for
    // `/console/...` is an API's, such as S3's path-style bucket `console`).
    if let Some(console) = &state.console {
        let path = parts.uri.path();
        let signed = parts.headers.contains_key(http::header::AUTHORIZATION)
            || parts
                .uri
                .query()
                .is_some_and(|q| q.contains("X-Amz-Credential="));
        if !signed && (path == "/console" || path.starts_with("/console/")) {
            if shoal_console::Console::terminal_tunnel(path).is_some() {
                return console_terminal(console, parts).map(boxed);
            }
            return console_request(console, parts, body).await.map(boxed);
        }
    }
    // A destination's `enableUrl`: an unsigned GET whose token is the credential.
    if let Some(token) = crate::iot::enable_url_token(&parts) {
        return crate::iot::enable_destination(state, &token, &request_id)
            .await
            .map(boxed);
    }
    // S3's legacy presigned reads (SigV2 query strings) carry no SigV4 scope.
    if matches!(parts.method, http::Method::GET | http::Method::HEAD) {
        if let Some(v2) = crate::s3::sigv2::parse(parts.uri.query().unwrap_or("")) {
            let caller = crate::auth::authenticate_v2(state, &parts, &v2);
            return route_s3(state, parts, body, caller, &request_id).await;
        }
    }
    // Credentials that cannot be right are refused before the body is read: a caller without
    // a valid key cannot make the server buffer a large body.
    let service = match crate::auth::precheck(state, &parts) {
        Ok(s) => s,
        Err(e) if crate::auth::scope_service(&parts).as_deref() == Some("s3") => {
            use crate::api::Api;
            return e
                .into_response(S3::PROTOCOL, S3::code, &request_id)
                .map(boxed);
        }
        Err(e) => return e.into_default_response(&request_id).map(boxed),
    };
    // S3 streams its bodies, in both directions.
    if service == "s3" {
        let caller = crate::auth::authenticate_request(state, &parts, b"");
        return route_s3(state, parts, body, caller, &request_id).await;
    }
    buffered(state, parts, body, &request_id).await.map(boxed)
}

/// Forms the console takes are small.
const CONSOLE_BODY: usize = 64 * 1024;

async fn console_request(
    console: &shoal_console::Console,
    parts: http::request::Parts,
    body: Incoming,
) -> Response<Full<Bytes>> {
    let body = match read_body(body, CONSOLE_BODY).await {
        Ok(b) => b,
        Err(e) => {
            let mut r = Response::new(Full::new(Bytes::from(e.message(CONSOLE_BODY))));
            *r.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
            return r;
        }
    };
    console
        .handle(
            &parts.method,
            parts.uri.path(),
            parts.uri.query().unwrap_or(""),
            &parts.headers,
            body,
        )
        .await
}

/// A console terminal's WebSocket: the console decides on the upgrade; once hyper hands the
/// connection over, the terminal runs on it in its own task (bounded by the console's count
/// of terminals, not the listener's, since the upgraded connection has left hyper).
fn console_terminal(
    console: &Arc<shoal_console::Console>,
    mut parts: http::request::Parts,
) -> Response<Full<Bytes>> {
    if parts.method != http::Method::GET {
        return empty_answer(http::StatusCode::METHOD_NOT_ALLOWED);
    }
    let on_upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    match console.terminal(parts.uri.path(), &parts.headers) {
        shoal_console::Upgrade::Refuse(refusal) => refusal,
        shoal_console::Upgrade::Accept(switching, terminal) => {
            let Some(on_upgrade) = on_upgrade else {
                return empty_answer(http::StatusCode::BAD_REQUEST);
            };
            tokio::spawn(async move {
                if let Ok(upgraded) = on_upgrade.await {
                    terminal.run(TokioIo::new(upgraded)).await;
                }
            });
            switching
        }
    }
}

fn empty_answer(status: http::StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// An S3 request: authenticated from its head; its body is read by the operation, which checks
/// it against the declared payload hash or chunk signatures as it goes.
async fn route_s3(
    state: &ApiState,
    parts: http::request::Parts,
    body: Incoming,
    caller: Result<crate::auth::Caller, ApiError>,
    request_id: &str,
) -> Response<Body> {
    use crate::api::Api;
    let caller = match caller {
        Ok(c) => c,
        Err(e) => {
            return e
                .into_response(S3::PROTOCOL, S3::code, request_id)
                .map(boxed)
        }
    };
    let call = Call {
        state,
        part: &caller.partition,
        caller: Caller::Account,
        body: &Bytes::new(),
        stream: Some(Streamed {
            body,
            signer: caller.signer,
        }),
        headers: &parts.headers,
        request_id,
        origin: crate::api::origin_of(&caller.partition, &caller.access_key_id, peer_of(&parts)),
    };
    let query = parts.uri.query().unwrap_or("");
    api::serve::<S3>(call, &parts.method, parts.uri.path(), query).await
}

async fn buffered(
    state: &ApiState,
    parts: http::request::Parts,
    body: Incoming,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return ApiError::too_large(BodyError::TooLarge.message(MAX_BODY))
            .into_default_response(request_id);
    }
    let body = match read_body(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e @ BodyError::TooLarge) => {
            return ApiError::too_large(e.message(MAX_BODY)).into_default_response(request_id)
        }
        Err(e) => return ApiError::invalid(e.message(MAX_BODY)).into_default_response(request_id),
    };
    route(state, &parts, &body, request_id).await
}

fn peer_of(parts: &http::request::Parts) -> Option<std::net::SocketAddr> {
    parts.extensions.get::<crate::api::Peer>().map(|p| p.0)
}

/// Authenticates the request and hands it to the API its credential scope names.
async fn route(
    state: &ApiState,
    parts: &http::request::Parts,
    body: &Bytes,
    request_id: &str,
) -> Response<Full<Bytes>> {
    if parts.method == http::Method::POST && parts.uri.path() == "/shoal/test/clock" {
        return crate::admin::test_clock(state, parts, body, request_id)
            .await
            .unwrap_or_else(|e| e.into_default_response(request_id));
    }
    if parts.method == http::Method::POST && parts.uri.path() == "/shoal/reset" {
        return crate::admin::reset(state, parts, body, request_id)
            .await
            .unwrap_or_else(|e| e.into_default_response(request_id));
    }
    let caller = match crate::auth::authenticate_request(state, parts, body) {
        Ok(c) => c,
        Err(e) => return e.into_default_response(request_id),
    };
    let call = Call {
        state,
        part: &caller.partition,
        caller: Caller::Account,
        body,
        stream: None,
        headers: &parts.headers,
        request_id,
        origin: crate::api::origin_of(&caller.partition, &caller.access_key_id, peer_of(parts)),
    };
    let (method, path) = (&parts.method, parts.uri.path());
    let query = parts.uri.query().unwrap_or("");
    match caller.service.as_str() {
        "iot" => api::serve::<Iot>(call, method, path, query).await,
        "iotdata" | "iotdevicegateway" => api::serve::<Data>(call, method, path, query).await,
        "iot-jobs-data" => api::serve::<JobsData>(call, method, path, query).await,
        "logs" => api::serve::<crate::logs::Logs>(call, method, path, query).await,
        "monitoring" => {
            api::serve::<crate::monitoring::Monitoring>(call, method, path, query).await
        }
        "IoTSecuredTunneling" => {
            api::serve::<crate::tunneling::Tunneling>(call, method, path, query).await
        }
        other => ApiError::UnknownOperation(format!(
            "The service '{other}' is not yet supported by Shoal on this endpoint"
        ))
        .into_default_response(request_id),
    }
}
