//! The device HTTPS listener (AWS: port 8443): iot-data for devices that authenticate with
//! their registered client certificate instead of SigV4, each request allowed or refused by
//! the certificate's IoT policies
//! (https://docs.aws.amazon.com/iot/latest/developerguide/http.html).

use crate::api::{self, Api, Call, Caller};
use crate::data::Data;
use crate::error::ApiError;
use crate::jobs_data::JobsData;
use crate::server::{read_body, serve_connection, BodyError};
use crate::ApiState;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use shoal_domain::Region;
use shoal_services::identity::{ConnFacts, Device};
use std::net::SocketAddr;
use std::sync::Arc;

/// AWS IoT's largest message payload, plus room for nothing else: the body is the payload.
const MAX_BODY: usize = 128 * 1024 + 1;

/// A device connection: who it is and what its transport tells policies.
struct Client {
    device: Device,
    peer: SocketAddr,
    server_name: Option<String>,
}

/// Serves iot-data over HTTPS on one device connection whose TLS handshake is done (the
/// caller's listener may have chosen this by ALPN, `x-amzn-http-ca`), until the client closes
/// or `conn` is told to stop; requests in flight then finish.
pub async fn serve_device_stream(
    state: Arc<ApiState>,
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    conn: &shoal_net::Conn,
    region: &Region,
) {
    let Some(der) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) else {
        return;
    };
    let server_name = tls.get_ref().1.server_name().map(str::to_string);
    let named = match server_name.as_deref() {
        Some(host) => state.accounts.account_of_endpoint(host).ok().flatten(),
        None => None,
    };
    let device = match state
        .identity
        .authenticate_device(region, der, named.as_ref())
    {
        Ok(d) => d,
        Err(e) => return tracing::info!(reason = %e.message, "device certificate refused"),
    };
    let client = Arc::new(Client {
        device,
        peer: conn.peer(),
        server_name,
    });
    let svc = service_fn(move |req| {
        let (state, client) = (state.clone(), client.clone());
        async move { Ok::<_, std::convert::Infallible>(handle(&state, &client, req).await) }
    });
    serve_connection(TokioIo::new(tls), svc, conn.stop()).await;
}

async fn handle(
    state: &ApiState,
    client: &Client,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    let refused = |e: ApiError| e.into_response(Data::PROTOCOL, Data::code, &request_id);
    // Every request re-checks the certificate: a device whose certificate was revoked or
    // deactivated cannot go on using a keep-alive connection.
    let device = &client.device;
    if let Err(e) = state.identity.check_device(device) {
        return refused(e.into());
    }
    let body = match read_body(body, MAX_BODY).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return refused(ApiError::too_large("The payload exceeds the maximum size"))
        }
        Err(other) => return refused(ApiError::invalid(other.message(MAX_BODY))),
    };
    let facts = ConnFacts {
        source_ip: Some(client.peer.ip()),
        secure_transport: true,
        domain_name: client.server_name.as_deref(),
        persistent: false,
        will_topic: None,
    };
    // Over HTTP there is no client id: policies see the certificate alone.
    let authorizer = match state.identity.authorizer(device, "", &facts) {
        Ok(a) => a,
        Err(e) => return refused(e.into()),
    };
    let call = Call {
        state,
        part: &device.partition,
        caller: Caller::Device(&authorizer),
        body: &body,
        stream: None,
        headers: &parts.headers,
        request_id: &request_id,
    };
    let (method, path) = (&parts.method, parts.uri.path());
    let query = parts.uri.query().unwrap_or("");
    // iot-data and iot-jobs-data share no URI: a thing's `jobs` path is the Jobs device API
    // (AWS serves it on the account's jobs endpoint, `<prefix>.jobs.iot...`).
    if is_jobs_path(path) {
        api::serve::<JobsData>(call, method, path, query).await
    } else {
        api::serve::<Data>(call, method, path, query).await
    }
}

/// `/things/{thingName}/jobs` and below.
fn is_jobs_path(path: &str) -> bool {
    let segs = crate::request::segments(path);
    matches!(segs.as_slice(), ["things", _, "jobs", ..])
}
