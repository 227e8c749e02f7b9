//! MQTT over WebSocket, as AWS IoT serves it on port 443: the client asks to upgrade
//! `GET /mqtt`, offers the `mqtt` subprotocol and proves who it is with a SigV4-presigned URL
//! for the service `iotdevicegateway`
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html>).
//!
//! The WebSocket is turned back into a byte stream ([`WsIo`]) so the MQTT session runs over it
//! exactly as over TLS: MQTT §6 lets a packet span frames and a frame hold several packets, so
//! frame boundaries carry no meaning and the codec must not see them.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use shoal_sigv4::{AuthError, RequestParts};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{header, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// The only path AWS IoT serves MQTT over WebSocket on.
const MQTT_PATH: &str = "/mqtt";
/// The subprotocol MQTT registers for WebSocket (MQTT 3.1.1 §6, MQTT 5 §6).
const SUBPROTOCOL: &str = "mqtt";
/// The SigV4 service name AWS IoT's WebSocket endpoint expects in the credential scope.
const SERVICE: &str = "iotdevicegateway";
/// Largest WebSocket message (and frame) accepted. Frames are buffered whole before a byte
/// reaches the codec, so this bounds what one connection can pin; it is several times AWS
/// IoT's largest MQTT packet (128 KB of payload) so clients that batch packets still fit.
const MAX_MESSAGE: usize = 1 << 20;
/// The read buffer is allocated up front for every connection; a TLS record (16 KiB) fits.
const READ_BUFFER: usize = 16 * 1024;

/// The HTTP request that asked for the upgrade, for authentication and logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upgrade {
    pub method: String,
    /// Raw (still percent-encoded) path, without the query.
    pub path: String,
    /// Raw query, without the '?'; "" when absent.
    pub query: String,
    /// (lowercase name, value) in the order received; a name may repeat.
    pub headers: Vec<(String, String)>,
}

impl Upgrade {
    fn from_request(req: &Request) -> Upgrade {
        Upgrade {
            method: req.method().as_str().to_owned(),
            path: req.uri().path().to_owned(),
            query: req.uri().query().unwrap_or_default().to_owned(),
            headers: req
                .headers()
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect(),
        }
    }

    /// Whether the client offered `protocol` in `Sec-WebSocket-Protocol`, a comma-separated
    /// list that may be split over several header lines (RFC 6455 §4.1, §11.3.4).
    fn offers(&self, protocol: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == "sec-websocket-protocol")
            .flat_map(|(_, v)| v.split(','))
            .any(|p| p.trim() == protocol)
    }
}

/// Server side of the opening handshake (RFC 6455 §4.2) on `io`, which is usually a TLS
/// stream. `check` decides on the request once it is known to be an upgrade of `/mqtt`; its
/// `Err((status, message))` is answered with that status and the message as body (a status
/// that is not an error becomes 500). On success the answer is 101, selecting `mqtt` when the
/// client offered it: the AWS Device SDKs and paho do, and fail the connection otherwise
/// (RFC 6455 §4.1).
///
/// The caller bounds the time this takes; a client that never finishes its request would
/// otherwise hold the connection.
pub(crate) async fn accept<S>(
    io: S,
    check: impl FnOnce(&Upgrade) -> Result<(), (u16, String)>,
) -> Result<(WsIo<S>, Upgrade), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    // The handshake wants an `Unpin` callback. It borrows `check` and its results instead of
    // owning them, so it is `Unpin` whatever `check` captures.
    let mut check = Some(check);
    let mut seen = None;
    let mut refused = None;
    #[allow(clippy::result_large_err)] // tungstenite's `Callback` fixes the error type
    let callback = |req: &Request, mut resp: Response| {
        let up = Upgrade::from_request(req);
        let verdict = if up.path != MQTT_PATH {
            Err((404, format!("no websocket endpoint at {}", up.path)))
        } else {
            check.take().map_or(Ok(()), |check| check(&up))
        };
        if let Err((status, message)) = verdict {
            let response = refusal(status, &message);
            refused = Some(format!("refused with {status}: {message}"));
            return Err(response);
        }
        if up.offers(SUBPROTOCOL) {
            resp.headers_mut().insert(
                header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_static(SUBPROTOCOL),
            );
        }
        seen = Some(up);
        Ok(resp)
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let result = tokio_tungstenite::accept_hdr_async_with_config(io, callback, Some(config)).await;
    match (result, seen, refused) {
        (Ok(ws), Some(up), _) => Ok((
            WsIo {
                ws,
                pending: Bytes::new(),
            },
            up,
        )),
        (_, _, Some(refused)) => Err(refused),
        (Err(e), _, None) => Err(format!("websocket handshake failed: {e}")),
        (Ok(_), None, None) => Err("websocket handshake skipped the request check".to_owned()),
    }
}

/// A plain-text HTTP error response; the connection closes after it.
fn refusal(status: u16, message: &str) -> ErrorResponse {
    let status = StatusCode::from_u16(status)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = ErrorResponse::new(Some(message.to_owned()));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(message.len()));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// A WebSocket seen as the byte stream MQTT expects: reads yield the payloads of binary
/// messages back to back, each write goes out as one binary message.
///
/// Pings are answered with pongs while reading (RFC 6455 §5.5.2), and a close from the client
/// is answered and reads as end of stream (§5.5.1).
pub(crate) struct WsIo<S> {
    ws: WebSocketStream<S>,
    /// The part of the current binary message not read yet.
    pending: Bytes,
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let this = &mut *self;
        while this.pending.is_empty() {
            // Fragmented messages (continuation frames, §5.4) arrive here reassembled.
            match ready!(this.ws.poll_next_unpin(cx)) {
                // The close handshake is over or the connection is gone.
                None => return Poll::Ready(Ok(())),
                Some(Ok(Message::Binary(data))) => this.pending = data,
                Some(Ok(Message::Text(_))) => {
                    // MQTT §6: packets travel in binary frames; any other data frame ends the
                    // connection.
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "mqtt over websocket needs binary frames, got text",
                    )));
                }
                // Pong replies and the answer to a close go out when reading goes on.
                Some(Ok(
                    Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_),
                )) => {}
                Some(Err(e)) => return Poll::Ready(Err(into_io(e))),
            }
        }
        let n = this.pending.len().min(buf.remaining());
        buf.put_slice(&this.pending.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let ws = &mut self.ws;
        ready!(ws.poll_ready_unpin(cx)).map_err(into_io)?;
        ws.start_send_unpin(Message::Binary(Bytes::copy_from_slice(buf)))
            .map_err(into_io)?;
        // The session writes without flushing, as a TCP or TLS stream allows; push the frame
        // out now rather than leave it in the WebSocket's buffer. The bytes are taken either
        // way: a failure to send them shows on the next call.
        let _ = ws.poll_flush_unpin(cx);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.ws.poll_flush_unpin(cx).map_err(into_io)
    }

    /// Sends a close frame, then closes the transport: the server closes the TCP connection
    /// first (RFC 6455 §7.1.1).
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(self.ws.poll_close_unpin(cx)) {
            Ok(()) | Err(WsError::AlreadyClosed) => {}
            Err(e) => return Poll::Ready(Err(into_io(e))),
        }
        Pin::new(self.ws.get_mut()).poll_shutdown(cx)
    }
}

fn into_io(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            io::Error::new(io::ErrorKind::BrokenPipe, "websocket closed")
        }
        e => io::Error::new(io::ErrorKind::InvalidData, e),
    }
}

/// Who signed a presigned WebSocket URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PresignedCaller {
    pub access_key_id: String,
    /// From the credential scope; the caller checks it is the region this endpoint serves.
    pub region: String,
}

/// Checks the SigV4 query-string signature of an upgrade request, as AWS IoT requires for
/// MQTT over WebSocket without a custom authorizer
/// (<https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html>): the credential
/// scope names `iotdevicegateway`, the signed headers include `host`, and the URL has not
/// expired at `now_secs`. `X-Amz-Security-Token`, which the AWS SDKs append after signing
/// when they use session credentials, is left out of the signed query when the signature
/// needs it to be (`shoal_sigv4::verify`).
///
/// `secret_for` maps an access key id to its secret access key. Every refusal is a 403.
pub(crate) fn verify_presigned(
    up: &Upgrade,
    secret_for: impl Fn(&str) -> Option<String>,
    now_secs: i64,
) -> Result<PresignedCaller, (u16, String)> {
    let forbidden = |message: String| (403, message);
    let headers: Vec<(&str, &str)> = up
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let empty_body = shoal_sigv4::sha256_hex(b"");
    let req = RequestParts {
        method: &up.method,
        path: &up.path,
        query: &up.query,
        headers: &headers,
        payload_sha256_hex: &empty_body,
    };
    let auth = shoal_sigv4::parse(&req).map_err(|e| forbidden(auth_message(&e)))?;
    if auth.presigned.is_none() {
        return Err(forbidden(
            "the websocket url must be presigned (X-Amz-* query parameters)".to_owned(),
        ));
    }
    if auth.service != SERVICE {
        return Err(forbidden(format!(
            "credential scope names service '{}', not '{SERVICE}'",
            auth.service
        )));
    }
    let secret = secret_for(auth.access_key_id).ok_or_else(|| {
        forbidden("the security token included in the request is invalid".to_owned())
    })?;
    shoal_sigv4::verify_with_secret(&req, &auth, &secret, now_secs)
        .map_err(|e| forbidden(auth_message(&e)))?;
    Ok(PresignedCaller {
        access_key_id: auth.access_key_id.to_owned(),
        region: auth.region.to_owned(),
    })
}

fn auth_message(e: &AuthError) -> String {
    match e {
        AuthError::Missing => "the websocket url carries no signature".to_owned(),
        AuthError::SignatureMismatch => "signature does not match".to_owned(),
        AuthError::Incomplete(m) | AuthError::Expired(m) => m.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;

    type Client = WebSocketStream<DuplexStream>;

    const HOST: &str = "abc-ats.iot.us-east-1.amazonaws.com";
    const KEY_ID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const AMZ_DATE: &str = "20240501T120000Z";

    fn signed_at() -> i64 {
        shoal_sigv4::parse_amz_date(AMZ_DATE).unwrap_or_else(|| panic!("bad test date"))
    }

    /// Runs both sides of the handshake; the client asks for `url` offering `mqtt`.
    async fn connect(
        url: &str,
        check: impl FnOnce(&Upgrade) -> Result<(), (u16, String)>,
    ) -> (
        Result<(WsIo<DuplexStream>, Upgrade), String>,
        Result<Client, WsError>,
    ) {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let mut request = url.into_client_request().unwrap_or_else(|e| panic!("{e}"));
        request.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("mqtt"),
        );
        let (server, client) = tokio::join!(
            accept(server_io, check),
            tokio_tungstenite::client_async(request, client_io)
        );
        (server, client.map(|(ws, _)| ws))
    }

    async fn pair() -> (WsIo<DuplexStream>, Client) {
        let (server, client) = connect("ws://localhost/mqtt", |_| Ok(())).await;
        let (server, _) = server.unwrap_or_else(|e| panic!("{e}"));
        (server, client.unwrap_or_else(|e| panic!("{e}")))
    }

    async fn send(client: &mut Client, message: Message) {
        client.send(message).await.unwrap_or_else(|e| panic!("{e}"));
    }

    async fn next(client: &mut Client) -> Message {
        match client.next().await {
            Some(Ok(m)) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn handshake_selects_mqtt_and_reports_the_request() {
        let (server, client) = connect("ws://localhost/mqtt?x=1", |up| {
            assert_eq!((up.method.as_str(), up.query.as_str()), ("GET", "x=1"));
            Ok(())
        })
        .await;
        // The client fails the connection unless the server picked a subprotocol it offered.
        assert!(client.is_ok(), "{client:?}");
        let (_, up) = server.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(up.path, "/mqtt");
        assert!(up
            .headers
            .iter()
            .any(|(n, v)| n == "host" && v == "localhost"));
    }

    #[tokio::test]
    async fn server_writes_arrive_as_binary_messages() {
        let (mut server, mut client) = pair().await;
        // No flush: the session code does not call it.
        server
            .write_all(&[0x20, 0x02, 0, 0])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            next(&mut client).await,
            Message::Binary(Bytes::from_static(&[0x20, 0x02, 0, 0]))
        );
    }

    #[tokio::test]
    async fn binary_messages_read_as_one_stream() {
        let (mut server, mut client) = pair().await;
        // One packet split over two messages, then two packets in one message.
        send(&mut client, Message::binary(vec![0x30, 0x03, 0])).await;
        send(&mut client, Message::binary(vec![1, b'a'])).await;
        send(&mut client, Message::binary(vec![0xc0, 0, 0xe0, 0])).await;
        let mut got = [0u8; 9];
        server
            .read_exact(&mut got)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, [0x30, 0x03, 0, 1, b'a', 0xc0, 0, 0xe0, 0]);
    }

    #[tokio::test]
    async fn continuation_frames_are_read_whole() {
        let (mut server, mut client) = pair().await;
        let first = Frame::message(vec![0xc0], OpCode::Data(Data::Binary), false);
        let rest = Frame::message(vec![0], OpCode::Data(Data::Continue), true);
        send(&mut client, Message::Frame(first)).await;
        send(&mut client, Message::Frame(rest)).await;
        let mut got = [0u8; 2];
        server
            .read_exact(&mut got)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, [0xc0, 0]);
    }

    #[tokio::test]
    async fn ping_is_answered_while_reading() {
        let (mut server, mut client) = pair().await;
        let mut got = [0u8; 2];
        let read = server.read_exact(&mut got);
        let talk = async {
            send(&mut client, Message::Ping(Bytes::from_static(b"hi"))).await;
            let pong = next(&mut client).await;
            send(&mut client, Message::binary(vec![0xc0, 0])).await;
            pong
        };
        let (read, pong) = tokio::join!(read, talk);
        read.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pong, Message::Pong(Bytes::from_static(b"hi")));
        assert_eq!(got, [0xc0, 0]);
    }

    #[tokio::test]
    async fn close_ends_the_stream_and_is_answered() {
        let (mut server, mut client) = pair().await;
        let mut rest = Vec::new();
        let read = server.read_to_end(&mut rest);
        let talk = async {
            send(&mut client, Message::binary(vec![0xe0])).await;
            send(&mut client, Message::Close(None)).await;
            next(&mut client).await
        };
        let (read, reply) = tokio::join!(read, talk);
        read.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rest, [0xe0]);
        assert!(matches!(reply, Message::Close(_)), "{reply:?}");
    }

    #[tokio::test]
    async fn text_frames_are_refused() {
        let (mut server, mut client) = pair().await;
        send(&mut client, Message::text("hello")).await;
        let mut got = [0u8; 1];
        let err = server.read_exact(&mut got).await.err();
        assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::InvalidData));
    }

    #[tokio::test]
    async fn shutdown_sends_a_close_frame() {
        let (mut server, mut client) = pair().await;
        server.shutdown().await.unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(next(&mut client).await, Message::Close(_)));
    }

    fn refused_status(client: Result<Client, WsError>) -> (u16, String) {
        match client {
            Err(WsError::Http(resp)) => {
                let body = resp.body().as_deref().unwrap_or_default();
                (
                    resp.status().as_u16(),
                    String::from_utf8_lossy(body).into_owned(),
                )
            }
            other => panic!("expected an HTTP refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn other_paths_get_404_without_a_check() {
        let (server, client) = connect("ws://localhost/other", |_| {
            panic!("check called for a wrong path")
        })
        .await;
        assert!(server.is_err());
        assert_eq!(refused_status(client).0, 404);
    }

    #[tokio::test]
    async fn a_failed_check_answers_its_status_and_message() {
        let (server, client) =
            connect("ws://localhost/mqtt", |_| Err((403, "no entry".to_owned()))).await;
        let err = server.err().unwrap_or_default();
        assert!(err.contains("403") && err.contains("no entry"), "{err}");
        assert_eq!(refused_status(client), (403, "no entry".to_owned()));
    }

    fn presigned(service: &str, session_token: Option<&str>) -> String {
        shoal_sigv4::presigned_query(&shoal_sigv4::Presign {
            method: "GET",
            path: "/mqtt",
            query: "",
            headers: &[("host", HOST)],
            access_key_id: KEY_ID,
            secret: SECRET,
            session_token,
            amz_date: AMZ_DATE,
            expires_secs: 3600,
            region: "us-east-1",
            service,
        })
    }

    fn upgrade(query: String) -> Upgrade {
        Upgrade {
            method: "GET".to_owned(),
            path: "/mqtt".to_owned(),
            query,
            headers: vec![
                ("host".to_owned(), HOST.to_owned()),
                ("sec-websocket-protocol".to_owned(), "mqtt".to_owned()),
            ],
        }
    }

    fn secrets(key: &str) -> Option<String> {
        (key == KEY_ID).then(|| SECRET.to_owned())
    }

    #[test]
    fn presigned_url_is_accepted() {
        let up = upgrade(presigned(SERVICE, None));
        let caller = verify_presigned(&up, secrets, signed_at() + 60);
        assert_eq!(
            caller,
            Ok(PresignedCaller {
                access_key_id: KEY_ID.to_owned(),
                region: "us-east-1".to_owned(),
            })
        );
    }

    #[test]
    fn session_token_appended_after_signing_is_accepted() {
        let query = format!(
            "{}&X-Amz-Security-Token=FQoG%2Fabc",
            presigned(SERVICE, None)
        );
        let up = upgrade(query);
        assert!(verify_presigned(&up, secrets, signed_at()).is_ok());
    }

    #[test]
    fn wrong_signature_is_refused() {
        let mut query = presigned(SERVICE, None);
        let last = if query.ends_with('0') { "1" } else { "0" };
        query.replace_range(query.len() - 1.., last);
        let refused = verify_presigned(&upgrade(query), secrets, signed_at());
        assert_eq!(refused.map_err(|e| e.0), Err(403));
    }

    #[test]
    fn wrong_service_is_refused() {
        let refused = verify_presigned(&upgrade(presigned("iot", None)), secrets, signed_at());
        let (status, message) = refused.err().unwrap_or_default();
        assert_eq!(status, 403);
        assert!(message.contains("iotdevicegateway"), "{message}");
    }

    #[test]
    fn expired_url_is_refused() {
        let up = upgrade(presigned(SERVICE, None));
        let refused = verify_presigned(&up, secrets, signed_at() + 3601);
        assert_eq!(refused.map_err(|e| e.0), Err(403));
    }

    #[test]
    fn unknown_key_and_missing_signature_are_refused() {
        let up = upgrade(presigned(SERVICE, None));
        assert_eq!(
            verify_presigned(&up, |_| None, signed_at()).map_err(|e| e.0),
            Err(403)
        );
        let unsigned = verify_presigned(&upgrade(String::new()), secrets, signed_at());
        assert_eq!(unsigned.map_err(|e| e.0), Err(403));
    }

    #[tokio::test]
    async fn presigned_handshake_end_to_end() {
        let url = format!("ws://{HOST}/mqtt?{}", presigned(SERVICE, None));
        let mut caller = None;
        let (server, client) = connect(&url, |up| {
            caller = Some(verify_presigned(up, secrets, signed_at())?);
            Ok(())
        })
        .await;
        assert!(server.is_ok() && client.is_ok());
        assert_eq!(caller.map(|c| c.access_key_id), Some(KEY_ID.to_owned()));
    }
}
