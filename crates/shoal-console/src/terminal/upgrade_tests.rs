//! The terminal's WebSocket upgrade: who is refused, with what, before any upgrade.

use crate::testkit::Kit;
use crate::{Console, Upgrade};
use shoal_domain::tunnels::DestinationConfig;
use shoal_services::tunnels::OpenRequest;

/// A certificate to trust: the endpoint is never dialled here.
fn ca() -> String {
    shoal_pki::Authority::generate("terminal test")
        .unwrap()
        .issue_server(&["localhost".into()])
        .unwrap()
        .0
}

async fn open(k: &Kit) -> String {
    k.tunnels
        .open(
            &k.part,
            OpenRequest {
                destination: Some(DestinationConfig {
                    thing_name: Some("dev-1".into()),
                    services: vec!["SSH".into()],
                }),
                ..OpenRequest::default()
            },
        )
        .await
        .unwrap()
        .id
}

fn upgrade(k: &Kit, origin: Option<&str>, cookie: bool) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert("host", "console.test".parse().unwrap());
    h.insert("upgrade", "websocket".parse().unwrap());
    h.insert("connection", "keep-alive, Upgrade".parse().unwrap());
    h.insert("sec-websocket-version", "13".parse().unwrap());
    h.insert(
        "sec-websocket-key",
        "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap(),
    );
    if let Some(o) = origin {
        h.insert("origin", o.parse().unwrap());
    }
    if cookie {
        h.insert("cookie", k.cookie.parse().unwrap());
    }
    h
}

fn status(r: &Upgrade) -> u16 {
    match r {
        Upgrade::Accept(resp, _) | Upgrade::Refuse(resp) => resp.status().as_u16(),
    }
}

#[tokio::test]
async fn only_a_signed_in_same_origin_upgrade_for_an_open_tunnel_is_accepted() {
    let mut k = Kit::new().await;
    k.broker();
    k.sign_in(false).await;
    let id = open(&k).await;
    let path = format!("/console/tunnels/{id}/terminal");
    let good = Some("http://console.test");
    // Before the endpoint listens: 503.
    assert_eq!(
        status(&k.console.terminal(&path, &upgrade(&k, good, true))),
        503
    );
    k.console
        .set_tunnel_endpoint("127.0.0.1:9".parse().unwrap(), &ca())
        .unwrap();
    let ok = k.console.terminal(&path, &upgrade(&k, good, true));
    assert_eq!(status(&ok), 101);
    let Upgrade::Accept(resp, _) = ok else {
        unreachable!()
    };
    // RFC 6455's own example key and answer.
    assert_eq!(
        resp.headers()["sec-websocket-accept"],
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    for (headers, want) in [
        (upgrade(&k, Some("http://evil.example"), true), 403),
        (upgrade(&k, None, true), 403),
        (upgrade(&k, good, false), 403),
    ] {
        assert_eq!(status(&k.console.terminal(&path, &headers)), want);
    }
    let mut plain = upgrade(&k, good, true);
    plain.remove("upgrade");
    assert_eq!(status(&k.console.terminal(&path, &plain)), 400);
    let unknown = "/console/tunnels/00000000-0000-4000-8000-000000000000/terminal";
    assert_eq!(
        status(&k.console.terminal(unknown, &upgrade(&k, good, true))),
        404
    );
    assert_eq!(
        Console::terminal_tunnel("/console/tunnels/a/b/terminal"),
        None
    );
    // A closed tunnel has no terminal.
    k.tunnels.close(&k.part, &id, false).await.unwrap();
    assert_eq!(
        status(&k.console.terminal(&path, &upgrade(&k, good, true))),
        409
    );
}

#[tokio::test]
async fn terminals_are_counted_per_account_and_a_read_only_key_has_none() {
    let mut k = Kit::new().await;
    k.broker();
    k.sign_in(false).await;
    k.console
        .set_tunnel_endpoint("127.0.0.1:9".parse().unwrap(), &ca())
        .unwrap();
    let id = open(&k).await;
    let path = format!("/console/tunnels/{id}/terminal");
    let good = Some("http://console.test");
    let held: Vec<_> = (0..super::MAX_PER_ACCOUNT)
        .map(
            |_| match k.console.terminal(&path, &upgrade(&k, good, true)) {
                Upgrade::Accept(_, pending) => pending,
                Upgrade::Refuse(r) => panic!("refused: {}", r.status()),
            },
        )
        .collect();
    assert_eq!(
        status(&k.console.terminal(&path, &upgrade(&k, good, true))),
        503
    );
    drop(held);
    assert_eq!(
        status(&k.console.terminal(&path, &upgrade(&k, good, true))),
        101
    );
    k.sign_in(true).await;
    assert_eq!(
        status(&k.console.terminal(&path, &upgrade(&k, good, true))),
        403
    );
}

#[test]
fn a_node_holds_at_most_its_terminals_across_accounts() {
    use shoal_domain::{AccountId, Partition, Region};
    let terminals = std::sync::Arc::new(super::Terminals::default());
    let part = |i: usize| {
        Partition::new(
            AccountId::parse(&format!("{:012}", 100_000_000_000u64 + i as u64)).unwrap(),
            Region::parse("us-east-1").unwrap(),
        )
    };
    // Every account below its own bound, the node at its.
    let held: Vec<_> = (0..super::MAX_PER_NODE)
        .map(|i| terminals.take(&part(i / 4)).expect("a slot"))
        .collect();
    assert!(terminals.take(&part(999)).is_none());
    drop(held);
    assert!(terminals.take(&part(999)).is_some());
}
