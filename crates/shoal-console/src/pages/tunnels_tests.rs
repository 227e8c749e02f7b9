//! The tunnels pages over the real tunnels service: opening shows both tokens once (never in a
//! URL, never on the tunnel's own page), the list, closing, the service's refusals escaped,
//! paging, and a read-only session refused.

use crate::testkit::Kit;
use shoal_domain::tunnels::{DestinationConfig, TunnelStatus};
use shoal_services::tunnels::OpenRequest;

/// The text of `<pre id="ID">...</pre>`.
fn pre<'a>(body: &'a str, id: &str) -> &'a str {
    let marker = format!("<pre id=\"{id}\">");
    let at = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {id} in {body}"))
        + marker.len();
    &body[at..at + body[at..].find("</pre>").unwrap()]
}

async fn open_directly(k: &Kit, thing: &str) -> String {
    k.tunnels
        .open(
            &k.part,
            OpenRequest {
                destination: Some(DestinationConfig {
                    thing_name: Some(thing.into()),
                    services: vec!["SSH".into()],
                }),
                ..OpenRequest::default()
            },
        )
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn opening_shows_the_tokens_once_and_closing_closes() {
    let mut k = Kit::new().await;
    let published = k.broker();
    k.sign_in(false).await;
    let a = k
        .post(
            "/console/tunnels",
            "thing_name=dev-1&services=SSH%2C+VNC&timeout_minutes=30",
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.headers.get(http::header::LOCATION).is_none());
    assert!(a.body.contains("shown only this once"), "{}", a.body);
    let source = pre(&a.body, "source-token").to_string();
    let destination = pre(&a.body, "destination-token").to_string();
    assert!(source.len() > 20 && destination.len() > 20 && source != destination);
    // The destination token shown is the one the thing was sent.
    let sent = published.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "$aws/things/dev-1/tunnels/notify");
    assert!(sent[0].1.contains(&destination), "{sent:?}");
    let (tunnels, _) = k.tunnels.list(&k.part, None, None, None).unwrap();
    assert_eq!(tunnels.len(), 1);
    let t = &tunnels[0];
    assert_eq!(t.lifetime_minutes, 30);
    assert_eq!(t.services(), ["SSH".to_string(), "VNC".to_string()]);
    assert!(a
        .body
        .contains(&format!("<code id=\"tunnel-id\">{}</code>", t.id)));
    // The terminal's form has the source token this once, and both services.
    let form = &a.body[a.body.find("id=\"terminal-form\"").unwrap()..];
    assert!(
        form.contains(&format!("id=\"term-token\" value=\"{source}\"")),
        "{form}"
    );
    assert!(form.contains("<option>SSH</option><option>VNC</option>"));
    assert!(form.contains("name=\"csrf\""));

    // The tunnel's own page: its description and the terminal, no token.
    let path = format!("/console/tunnels/{}", t.id);
    let a = k.get(&path).await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("<span id=\"status\">OPEN</span>"));
    assert!(a.body.contains(">dev-1</a>"));
    assert!(a.body.contains("SSH, VNC"));
    let terminal = &a.body[a.body.find("id=\"terminal\"").unwrap()..];
    assert!(terminal.contains("shoal-localproxy") && terminal.contains("-s SSH=5555"));
    assert!(terminal.contains("id=\"term-token\" value=\"\""));
    assert!(terminal.contains("id=\"term-screen\""));
    assert!(!a.body.contains("id=\"tokens\""));
    assert!(!a.body.contains(&source) && !a.body.contains(&destination));

    // The list.
    let a = k.get("/console/tunnels").await;
    let table = &a.body[a.body.find("id=\"tunnels\"").unwrap()..];
    assert!(table.contains(&t.id) && table.contains("OPEN") && table.contains("dev-1"));
    assert!(!a.body.contains(&source));

    // Closing.
    let a = k.post(&format!("{path}/close"), "").await;
    assert_eq!(a.status, 303);
    // The redirect's path has the id as html::url writes it.
    let back = format!("/console/tunnels/{}?ok=", crate::html::url(&t.id));
    assert!(a.location().starts_with(&back), "{}", a.location());
    let closed = k.tunnels.describe(&k.part, &t.id).unwrap();
    assert_eq!(closed.status, TunnelStatus::Closed);
    let a = k.get(a.location()).await;
    assert!(a.body.contains("<span id=\"status\">CLOSED</span>"));
    assert!(!a.body.contains("id=\"close\""));
    assert!(!a.body.contains("id=\"terminal-form\""));
}

#[tokio::test]
async fn refusals_come_back_as_escaped_notices() {
    let mut k = Kit::new().await;
    k.broker();
    k.sign_in(false).await;
    let a = k
        .post(
            "/console/tunnels",
            "thing_name=%3Cb%3Ex%3C%2Fb%3E&services=SSH&timeout_minutes=30",
        )
        .await;
    assert_eq!(a.status, 303);
    assert!(a.location().starts_with("/console/tunnels?error="));
    let page = k.get(a.location()).await;
    assert!(page.body.contains("notice error"), "{}", page.body);
    assert!(page.body.contains("&lt;b&gt;x&lt;/b&gt;"), "{}", page.body);
    assert!(!page.body.contains("<b>x</b>"));
    for fields in [
        "thing_name=d&services=A,B,C,D",
        "thing_name=d&services=SSH&timeout_minutes=soon",
        "thing_name=d&services=SSH&timeout_minutes=100000",
    ] {
        let a = k.post("/console/tunnels", fields).await;
        assert!(
            a.location().contains("error="),
            "{fields}: {}",
            a.location()
        );
    }
    let (tunnels, _) = k.tunnels.list(&k.part, None, None, None).unwrap();
    assert!(tunnels.is_empty());
    assert_eq!(k.get("/console/tunnels/no-such-tunnel").await.status, 404);
}

#[tokio::test]
async fn tunnels_are_paged_by_fifty() {
    let mut k = Kit::new().await;
    k.broker();
    k.sign_in(false).await;
    for i in 0..51 {
        open_directly(&k, &format!("dev-{i}")).await;
        k.clock.advance_millis(1);
    }
    let a = k.get("/console/tunnels").await;
    let rows = |b: &str| {
        let t = &b[b.find("id=\"tunnels\"").unwrap()..];
        t[..t.find("</table>").unwrap()].matches("<tr><td>").count()
    };
    assert_eq!(rows(&a.body), 50);
    // Newest first: the first tunnel opened is on the second page.
    assert!(!a.body.contains(">dev-0</a>"));
    let marker = "id=\"next-page\" href=\"";
    let at = a.body.find(marker).expect("a next page") + marker.len();
    let href = &a.body[at..];
    let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
    let a = k.get(&href).await;
    assert_eq!(rows(&a.body), 1);
    assert!(a.body.contains(">dev-0</a>"));
}

#[tokio::test]
async fn a_read_only_session_opens_and_closes_nothing() {
    let mut k = Kit::new().await;
    k.broker();
    k.sign_in(true).await;
    let id = open_directly(&k, "dev-1").await;
    let a = k.get("/console/tunnels").await;
    assert!(!a.body.contains("id=\"open\""));
    let a = k.get(&format!("/console/tunnels/{id}")).await;
    assert!(!a.body.contains("id=\"close\""));
    assert!(!a.body.contains("id=\"terminal-form\""));
    assert!(a.body.contains("A read-only key cannot open a terminal."));
    let a = k
        .post("/console/tunnels", "thing_name=dev-2&services=SSH")
        .await;
    assert_eq!(a.status, 403);
    let a = k.post(&format!("/console/tunnels/{id}/close"), "").await;
    assert_eq!(a.status, 403);
    let (tunnels, _) = k.tunnels.list(&k.part, None, None, None).unwrap();
    assert_eq!(tunnels.len(), 1);
    assert_eq!(tunnels[0].status, TunnelStatus::Open);
}
