//! One local proxy's WebSocket once upgraded: its reader cuts frames out of the binary
//! messages and hands them to the tunnel's relay, which says where they go; its writer sends
//! what the relay queued for it, several frames to a WebSocket message (at most
//! `MAX_WS_MESSAGE`). Pings are the proxy's to send (AWS's local proxy pings every 20 s and
//! the WebSocket layer answers with the same payload); like AWS, the service does not ping.
//! The two run in the connection's own task, so the listener's cap and drain count it.

use crate::frame::{FrameError, Frames};
use crate::kick::Kick;
use crate::relay::{Out, Relay, Slot, QUEUE};
use crate::Gateway;
use bytes::{Bytes, BytesMut};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use shoal_domain::tunnels::Side;
use shoal_services::tunnels::Claim;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

/// The largest WebSocket message sent or taken: two whole frames (the guides' 131,076 bytes).
pub(crate) const MAX_WS_MESSAGE: usize = 2 * (2 + crate::frame::MAX_MESSAGE) + 2;
/// A proxy that takes nothing of what it is sent for this long is let go.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// A proxy that sends nothing, not even a ping, for this long is gone (AWS's local proxy and
/// the AWS IoT Device SDK ping every 20 s).
const READ_IDLE: Duration = Duration::from_secs(90);

pub(crate) async fn run<S>(
    gw: &Gateway,
    ws: S,
    claim: Claim,
    version: u8,
    stop: &shoal_net::CancellationToken,
) where
    S: Stream<Item = Result<WsMessage, WsError>> + Sink<WsMessage, Error = WsError> + Unpin,
{
    let relay = gw.relays.get(&claim.part.key(), &claim.tunnel);
    let key = relay.key.clone();
    let (tx, rx) = mpsc::channel(QUEUE);
    let kick = Kick::default();
    let attached = relay.attach(Slot {
        claim: claim.clone(),
        tx: tx.clone(),
        version,
        kick: kick.clone(),
    });
    match attached {
        Some(Some((peer, frames))) => {
            send_or_quit(&peer, Out::Frames(frames, None), &kick, stop).await
        }
        Some(None) => {}
        // A newer connection of the same proxy got here first.
        None => kick.kick(crate::relay::REPLACED.0, crate::relay::REPLACED.1),
    }
    // A close or a newer connection committed before this relay was attached would have
    // found nothing to end: the record is read again now.
    if let Some((code, reason)) = crate::relay::close_for(gw.tunnels.standing(&claim)) {
        kick.kick(code, reason);
    }
    let (sink, stream) = ws.split();
    let reading = async {
        let why = read(stream, &relay, &claim, &tx, &kick, stop).await;
        let (to_peer, _) = relay.detach(claim.side, claim.connection);
        // A tunnel that ended closes the other side too: a STREAM_RESET before that close
        // would make AWS's local proxy (source mode) stop reading and miss the close frame.
        if let Some((peer, frames)) = to_peer {
            if gw.tunnels.is_open(&claim) {
                send_or_quit(&peer, Out::Frames(frames, None), &kick, stop).await;
            }
        }
        if let Some((code, reason)) = why {
            let _ = tx.try_send(Out::Close(code, reason));
        }
        drop(tx);
    };
    let writing = async {
        write(sink, rx, &relay).await;
        // A proxy that takes nothing (or whose socket failed) is read no longer either.
        kick.kick(CloseCode::Away, "The connection stopped taking data");
    };
    tokio::join!(reading, writing);
    gw.tunnels.disconnect(&claim).await;
    drop(relay);
    gw.relays.forget(&key);
}

/// Queues `out` for another connection unless this one is told to stop meanwhile.
async fn send_or_quit(
    to: &mpsc::Sender<Out>,
    out: Out,
    kick: &Kick,
    stop: &shoal_net::CancellationToken,
) {
    tokio::select! {
        _ = to.send(out) => {}
        _ = kick.kicked() => {}
        () = stop.cancelled() => {}
    }
}

/// Reads until the proxy leaves (`None`) or must be closed (the code and reason).
async fn read<S>(
    mut stream: S,
    relay: &Arc<Relay>,
    claim: &Claim,
    tx: &mpsc::Sender<Out>,
    kick: &Kick,
    stop: &shoal_net::CancellationToken,
) -> Option<(CloseCode, &'static str)>
where
    S: Stream<Item = Result<WsMessage, WsError>> + Unpin,
{
    let mut frames = Frames::default();
    loop {
        let msg = tokio::select! {
            m = tokio::time::timeout(READ_IDLE, stream.next()) => match m {
                Ok(m) => m,
                Err(_) => return Some((CloseCode::Away, "Nothing received for 90 s")),
            },
            why = kick.kicked() => return Some(why),
            () = stop.cancelled() => return Some((CloseCode::Away, "Shoal is shutting down")),
        };
        let data = match msg {
            Some(Ok(WsMessage::Binary(b))) => b,
            Some(Ok(WsMessage::Text(_))) => {
                return Some((CloseCode::Unsupported, "Tunnel messages are binary"))
            }
            Some(Ok(WsMessage::Close(_))) | None => return None,
            Some(Err(WsError::Capacity(_))) => {
                return Some((CloseCode::Size, "WebSocket message too large"))
            }
            Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        };
        let parsed = match frames.push(data) {
            Ok(p) => p,
            Err(FrameError::TooLarge(_)) => {
                return Some((CloseCode::Size, "Message payload over 63 KB"))
            }
            Err(FrameError::Malformed) => {
                return Some((CloseCode::Protocol, "Malformed tunnel message"))
            }
        };
        if parsed.is_empty() {
            continue;
        }
        let routed = relay.route(claim.side, claim.connection, parsed);
        if !routed.back.is_empty() {
            send_or_quit(tx, Out::Frames(routed.back, None), kick, stop).await;
        }
        if let Some(peer) = routed.peer {
            // Waiting for room is the backpressure on this proxy; a kick still ends it.
            let origin = Some((claim.side, claim.connection));
            send_or_quit(&peer, Out::Frames(routed.forward, origin), kick, stop).await;
        }
    }
}

async fn write<S>(mut sink: S, mut rx: mpsc::Receiver<Out>, relay: &Relay)
where
    S: Sink<WsMessage, Error = WsError> + Unpin,
{
    loop {
        let out = rx.recv().await;
        // Frames of a connection that no longer holds its side are stale: dropped.
        let live =
            |origin: Option<(Side, u64)>| origin.is_none_or(|(side, n)| relay.holds(side, n));
        let (mut frames, mut close) = match out {
            Some(Out::Frames(f, origin)) if live(origin) => (f, None),
            Some(Out::Frames(..)) => continue,
            Some(Out::Close(code, reason)) => (Vec::new(), Some((code, reason))),
            None => (Vec::new(), Some((CloseCode::Normal, ""))),
        };
        // Whatever else is queued goes in the same messages.
        let mut size: usize = frames.iter().map(Bytes::len).sum();
        while close.is_none() && size < MAX_WS_MESSAGE {
            match rx.try_recv() {
                Ok(Out::Frames(more, origin)) => {
                    if live(origin) {
                        size += more.iter().map(Bytes::len).sum::<usize>();
                        frames.extend(more);
                    }
                }
                Ok(Out::Close(code, reason)) => close = Some((code, reason)),
                Err(_) => break,
            }
        }
        for m in pack(frames) {
            if !send(&mut sink, WsMessage::Binary(m)).await {
                return;
            }
        }
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = send(&mut sink, WsMessage::Close(Some(frame))).await;
            let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.close()).await;
            return;
        }
    }
}

async fn send<S: Sink<WsMessage, Error = WsError> + Unpin>(sink: &mut S, m: WsMessage) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, sink.send(m)).await,
        Ok(Ok(()))
    )
}

/// Frames into WebSocket messages of at most `MAX_WS_MESSAGE` bytes; a message of one frame is
/// that frame's bytes as they came, several are copied once into one buffer.
fn pack(frames: Vec<Bytes>) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut group: Vec<Bytes> = Vec::new();
    let mut size = 0;
    let flush = |group: &mut Vec<Bytes>, out: &mut Vec<Bytes>| match group.len() {
        0 => {}
        1 => out.push(group.pop().unwrap_or_default()),
        _ => {
            let mut b = BytesMut::with_capacity(group.iter().map(Bytes::len).sum());
            for f in group.drain(..) {
                b.extend_from_slice(&f);
            }
            out.push(b.freeze());
        }
    };
    for f in frames {
        if size + f.len() > MAX_WS_MESSAGE {
            flush(&mut group, &mut out);
            size = 0;
        }
        size += f.len();
        group.push(f);
    }
    flush(&mut group, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_packed_into_bounded_messages() {
        let f = |n: usize| Bytes::from(vec![1u8; n]);
        assert!(pack(vec![]).is_empty());
        let one = pack(vec![f(10)]);
        assert_eq!(one.len(), 1);
        let big = 2 + crate::frame::MAX_MESSAGE;
        let m = pack(vec![f(big), f(big), f(big), f(3)]);
        assert_eq!(
            m.iter().map(Bytes::len).collect::<Vec<_>>(),
            vec![2 * big, big + 3]
        );
        assert!(m.iter().all(|b| b.len() <= MAX_WS_MESSAGE));
    }
}
