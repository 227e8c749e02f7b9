//! One stream of a service as an in-process byte pipe, for a program that is itself the source
//! side (the console's terminal speaks SSH over it): STREAM_START for the service once the
//! endpoint's SERVICE_IDS has arrived (V3: connection 1), DATA both ways in at most 63 KB
//! messages, and the end of either side ends the other (STREAM_RESET when the pipe closes;
//! the pipe closes on STREAM_RESET, SESSION_RESET, CONNECTION_RESET or the WebSocket's end).

use crate::client::Conn;
use crate::forward::service_ids;
use crate::message::*;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// The pipe's buffer each way: enough for a screenful of output in one go.
const PIPE: usize = 256 * 1024;

/// Starts a stream of `service` as the source and returns its bytes as a pipe; the
/// WebSocket is pumped by a task that ends with the pipe.
pub async fn source_stream(mut conn: Conn, service: &str) -> Result<DuplexStream, String> {
    let ids = service_ids(&mut conn).await?;
    if !ids.is_empty() && !ids.iter().any(|s| s == service) {
        return Err(format!(
            "the tunnel has no service {service} (it has {})",
            ids.join(", ")
        ));
    }
    // A tunnel opened without services has one unnamed service (V1 peers).
    let service = if ids.is_empty() { "" } else { service }.to_string();
    // A stream id of its own: the destination may still be sending the last bytes of the
    // previous source's stream, which must not be taken for this one's (the guides: a
    // message of another stream id is dropped).
    let stream_id = fresh_stream_id();
    let connection_id = 1;
    conn.send(&Msg::control(
        STREAM_START,
        stream_id,
        &service,
        connection_id,
    ))
    .await
    .map_err(|e| e.to_string())?;
    let (ours, theirs) = tokio::io::duplex(PIPE);
    tokio::spawn(pump(conn, ours, service, stream_id, connection_id));
    Ok(theirs)
}

/// A random stream id above zero.
fn fresh_stream_id() -> i32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    (h.finish() % (i32::MAX as u64 - 1)) as i32 + 1
}

async fn pump(conn: Conn, pipe: DuplexStream, service: String, stream_id: i32, conn_id: u32) {
    let Conn {
        ws,
        mut reader,
        mut pending,
        ..
    } = conn;
    let (mut sink, mut stream) = ws.split();
    let (mut rd, mut wr) = tokio::io::split(pipe);
    let mut ping = tokio::time::interval(crate::client::PING_EVERY);
    ping.tick().await;
    let mut buf = vec![0u8; DATA_HEADROOM + MAX_PAYLOAD];
    'run: loop {
        while let Some(m) = pending.pop_front() {
            let ours =
                m.stream_id == stream_id && (m.connection_id == 0 || m.connection_id == conn_id);
            match m.kind {
                DATA if ours && wr.write_all(&m.payload).await.is_err() => break 'run,
                STREAM_RESET | CONNECTION_RESET if ours => break 'run,
                SESSION_RESET => break 'run,
                _ => {}
            }
        }
        tokio::select! {
            w = stream.next() => match w {
                Some(Ok(WsMessage::Binary(b))) => match reader.push(&b) {
                    Some(msgs) => pending.extend(msgs),
                    None => break,
                },
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            r = rd.read(&mut buf[DATA_HEADROOM..]) => match r {
                Ok(0) | Err(_) => {
                    let m = Msg::control(STREAM_RESET, stream_id, &service, conn_id);
                    let _ = sink.send(WsMessage::Binary(m.frame().into())).await;
                    break;
                }
                Ok(n) => {
                    let frame = data_frame_in_place(
                        std::mem::replace(&mut buf, vec![0u8; DATA_HEADROOM + MAX_PAYLOAD]),
                        n,
                        stream_id,
                        &service,
                        conn_id,
                    );
                    if sink.send(WsMessage::Binary(frame.into())).await.is_err() {
                        break;
                    }
                }
            },
            _ = ping.tick() => {
                if sink.send(crate::client::ping()).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = wr.shutdown().await;
    let _ = sink.close().await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_stream_gets_an_id_of_its_own() {
        let ids: std::collections::HashSet<i32> =
            (0..100).map(|_| super::fresh_stream_id()).collect();
        assert!(ids.iter().all(|&i| i > 0));
        assert!(ids.len() > 95, "{} distinct ids of 100", ids.len());
    }
}
