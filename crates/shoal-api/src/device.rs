//! The device HTTPS listener (AWS: port 8443): iot-data for devices that authenticate with
//! their registered client certificate instead of SigV4, each request allowed or refused by
//! the certificate's IoT policies
//! (https://docs.aws.amazon.com/iot/latest/developerguide/http.html); or, without a
//! certificate, by a custom authorizer each request names in its headers or query string
//! (`x-amz-customauthorizer-name`, the token under the authorizer's `tokenKeyName`,
//! `x-amz-customauthorizer-signature`), whose function's policies then allow or refuse it.

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
use shoal_domain::{Partition, Region};
use shoal_services::authorizers::{AuthRequest, HttpAuth};
use shoal_services::identity::{ConnFacts, Device};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// AWS IoT's largest message payload, plus room for nothing else: the body is the payload.
const MAX_BODY: usize = 128 * 1024 + 1;

/// A device connection: who it is and what its transport tells policies.
struct Client {
    /// Its certificate's device; `None` for a connection without one (custom authorizers).
    device: Option<Device>,
    /// The account a connection without a certificate belongs to.
    partition: Partition,
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
    let server_name = tls.get_ref().1.server_name().map(str::to_string);
    let named = match server_name.as_deref() {
        Some(host) => state.accounts.account_of_endpoint(host).ok().flatten(),
        None => None,
    };
    let device = match tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
        Some(der) => match state
            .identity
            .authenticate_device(region, der, named.as_ref())
        {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::info!(reason = %e.message, "device certificate refused");
                // A certificate an auto-registering CA signed is registered (JITR) or
                // provisioned (JITP) by this first, refused, connection.
                if let Some(chain) = tls.get_ref().1.peer_certificates() {
                    let chain: Vec<Vec<u8>> = chain.iter().take(4).map(|c| c.to_vec()).collect();
                    if let Err(e) = state
                        .provisioning
                        .just_in_time(region, &chain, named.as_ref())
                        .await
                    {
                        tracing::info!(reason = %e.message, "just-in-time registration refused");
                    }
                }
                return;
            }
        },
        None => None,
    };
    let account = match (&device, named) {
        (Some(d), _) => d.partition.account.clone(),
        (None, Some(a)) => a,
        (None, None) => match state.accounts.default_account() {
            Ok(Some(a)) => a,
            _ => return,
        },
    };
    let client = Arc::new(Client {
        device,
        partition: Partition::new(account, region.clone()),
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
    if let Some(device) = &client.device {
        if let Err(e) = state.identity.check_device(device) {
            return refused(e.into());
        }
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
    let authorizer = match &client.device {
        Some(device) => state.identity.authorizer(device, "", &facts),
        None => custom_authorizer(state, client, &parts, &facts).await,
    };
    let authorizer = match authorizer {
        Ok(a) => a,
        Err(e) => return refused(e.into()),
    };
    let call = Call {
        state,
        part: &client.partition,
        caller: Caller::Device(&authorizer),
        body: &body,
        stream: None,
        headers: &parts.headers,
        request_id: &request_id,
        origin: crate::api::origin_of(
            &client.partition,
            client
                .device
                .as_ref()
                .map_or("", |d| d.certificate_id.as_str()),
            Some(client.peer),
        ),
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

/// The authorizer of a request without a certificate: the custom authorizer it names (or the
/// account's default) asks its function, whose policies then govern the request.
async fn custom_authorizer(
    state: &ApiState,
    client: &Client,
    parts: &http::request::Parts,
    facts: &ConnFacts<'_>,
) -> shoal_domain::error::Result<shoal_services::identity::Authorizer> {
    let mut headers = BTreeMap::new();
    for (name, value) in &parts.headers {
        if let Ok(v) = value.to_str() {
            headers.insert(name.as_str().to_string(), v.to_string());
        }
    }
    let query = parts.uri.query().unwrap_or("");
    let params: BTreeMap<String, String> = crate::request::Query::parse(query)
        .map(|q| q.pairs().cloned().collect())
        .unwrap_or_default();
    let pick = |name: &str| headers.get(name).or_else(|| params.get(name)).cloned();
    let request = AuthRequest {
        authorizer: pick(NAME_HEADER),
        token: None,
        signature: pick(SIGNATURE_HEADER),
        token_sources: headers
            .iter()
            .chain(params.iter())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        mqtt: None,
        http: Some(HttpAuth {
            headers: headers.clone(),
            query_string: if query.is_empty() {
                String::new()
            } else {
                format!("?{query}")
            },
        }),
        server_name: client.server_name.clone(),
        connection_id: uuid::Uuid::new_v4().to_string(),
    };
    let a = state
        .authorizers
        .authenticate(&client.partition, &request)
        .await?;
    state
        .identity
        .documents_authorizer(&client.partition, &a.response.policy_documents, "", facts)
}

/// The headers (or query parameters) that name a custom authorizer and carry the token's
/// signature (https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth.html).
const NAME_HEADER: &str = "x-amz-customauthorizer-name";
const SIGNATURE_HEADER: &str = "x-amz-customauthorizer-signature";

/// `/things/{thingName}/jobs` and below.
fn is_jobs_path(path: &str) -> bool {
    let segs = crate::request::segments(path);
    matches!(segs.as_slice(), ["things", _, "jobs", ..])
}
