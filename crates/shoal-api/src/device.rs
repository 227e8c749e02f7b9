//! The device HTTPS listener (AWS: port 8443): iot-data for devices that authenticate with
//! their registered client certificate instead of SigV4, each request allowed or refused by
//! the certificate's IoT policies
//! (https://docs.aws.amazon.com/iot/latest/developerguide/http.html).

use crate::data::{self, Caller};
use crate::error::ApiError;
use crate::ApiState;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use shoal_domain::Region;
use shoal_services::identity::Device;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// AWS IoT's largest message payload, plus room for nothing else: the body is the payload.
const MAX_BODY: usize = 128 * 1024 + 1;
const HANDSHAKE: Duration = Duration::from_secs(10);
const DRAIN: Duration = Duration::from_secs(10);

/// Serves iot-data over HTTPS with client certificates until `shutdown` resolves.
pub async fn serve_devices(
    listener: TcpListener,
    state: Arc<ApiState>,
    tls: Arc<rustls::ServerConfig>,
    region: Region,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let graceful = Arc::new(GracefulShutdown::new());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "device https accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let (state, acceptor, region, graceful) =
                    (state.clone(), acceptor.clone(), region.clone(), graceful.clone());
                tokio::spawn(async move {
                    let tls = match tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => s,
                        _ => return,
                    };
                    let Some(der) = tls.get_ref().1.peer_certificates().and_then(|c| c.first())
                    else {
                        return;
                    };
                    let device = match state
                        .accounts
                        .list_accounts()
                        .and_then(|a| state.identity.authenticate_device(&a, &region, der))
                    {
                        Ok(d) => Arc::new(d),
                        Err(e) => {
                            return tracing::info!(reason = %e.message, "device certificate refused")
                        }
                    };
                    let svc = service_fn(move |req| {
                        let (state, device) = (state.clone(), device.clone());
                        async move {
                            Ok::<_, std::convert::Infallible>(handle(&state, &device, req).await)
                        }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(tls), svc);
                    if let Err(e) = graceful.watch(conn).await {
                        tracing::debug!(error = %e, "device connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if let Ok(g) = Arc::try_unwrap(graceful) {
        let _ = tokio::time::timeout(DRAIN, g.shutdown()).await;
    }
}

async fn handle(
    state: &ApiState,
    device: &Device,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return ApiError::PayloadTooLarge("The payload exceeds the maximum size".into())
                .into_response(&request_id)
        }
    };
    let result = async {
        let endpoint = data::Endpoint::parse(
            &parts.method,
            parts.uri.path(),
            parts.uri.query().unwrap_or(""),
        )?;
        // Over HTTP there is no client id: policies see the certificate alone.
        let authorizer = state.identity.authorizer(device, "")?;
        data::handle(
            state,
            &device.partition,
            Caller::Device(&authorizer),
            endpoint,
            &body,
            &parts.headers,
            &request_id,
        )
        .await
    }
    .await;
    result.unwrap_or_else(|e| e.into_response(&request_id))
}
