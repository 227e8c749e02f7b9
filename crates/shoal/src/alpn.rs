//! The device TLS listener that tells protocols apart by ALPN, as AWS IoT's port 443 does
//! (https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html): `x-amzn-mqtt-ca` is
//! MQTT with a client certificate, `x-amzn-http-ca` HTTPS with one (iot-data Publish);
//! `mqtt` is MQTT with a custom authorizer (no certificate); `http/1.1` or none is HTTPS with a
//! client certificate and MQTT over WebSocket (or with a custom authorizer) without one;
//! `x-amzn-http-ca` without a certificate is HTTPS with a custom authorizer.
//! The AWS IoT Device SDKs connect to port 443 with `x-amzn-mqtt-ca` when no port is given.
//! The device HTTPS listener (AWS's 8443) is one of these too, so a machine where Shoal may
//! not bind 443 still serves those clients on that port.

use shoal_api::ApiState;
use shoal_broker::tls::TlsConfigs;
use shoal_broker::Gateway;
use shoal_domain::Region;
use shoal_net::{CancellationToken, Listener, Served};
use std::sync::Arc;
use std::time::Duration;

/// AWS IoT's ALPN protocol names (the protocols page's port table), and plain HTTP.
pub const MQTT: &[u8] = b"x-amzn-mqtt-ca";
pub const HTTPS: &[u8] = b"x-amzn-http-ca";
pub const HTTP11: &[u8] = b"http/1.1";
/// MQTT with custom authentication (the protocols page: port 443, ALPN `mqtt`).
pub const CUSTOM_MQTT: &[u8] = b"mqtt";

const HANDSHAKE: Duration = Duration::from_secs(10);

/// The device TLS configurations offering the ALPN names. A client offering only others fails
/// the handshake (no_application_protocol), as on AWS; one offering none is served as HTTPS.
pub fn tls_config(device: &TlsConfigs) -> TlsConfigs {
    device.with_alpn(&[MQTT, HTTPS, HTTP11, CUSTOM_MQTT])
}

pub struct Services {
    pub gateway: Arc<Gateway>,
    pub api: Arc<ApiState>,
    pub region: Region,
}

/// Serves devices on `listener` until `stop` is cancelled.
pub fn serve(
    listener: Listener,
    tls: TlsConfigs,
    services: Arc<Services>,
    stop: CancellationToken,
) -> Served {
    listener.serve(stop, move |tcp, conn| {
        let (configs, s) = (tls.clone(), services.clone());
        async move {
            let handshake = s.gateway.accept_tls(tcp, &configs);
            let tls = match tokio::time::timeout(HANDSHAKE, handshake).await {
                Ok(Ok(t)) => t,
                Ok(Err(e)) => return tracing::debug!(error = %e, "device tls handshake failed"),
                Err(_) => return tracing::debug!("device tls handshake timed out"),
            };
            let (alpn, has_cert) = {
                let c = tls.get_ref().1;
                (
                    c.alpn_protocol().map(<[u8]>::to_vec),
                    c.peer_certificates().is_some(),
                )
            };
            match alpn.as_deref() {
                Some(MQTT | CUSTOM_MQTT) => {
                    shoal_broker::serve_tls_stream(s.gateway.clone(), tls, conn).await
                }
                Some(HTTPS) => {
                    shoal_api::serve_device_stream(s.api.clone(), tls, &conn, &s.region).await
                }
                // No ALPN name AWS uses: HTTPS for a device with its certificate, MQTT over
                // WebSocket (SigV4) for a client without one.
                _ if has_cert => {
                    shoal_api::serve_device_stream(s.api.clone(), tls, &conn, &s.region).await
                }
                _ => shoal_broker::serve_tls_stream(s.gateway.clone(), tls, conn).await,
            }
        }
    })
}
