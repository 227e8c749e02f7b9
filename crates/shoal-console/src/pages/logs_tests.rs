//! The logs page over real device logs: a query finds a written record, a malformed query says
//! where, levels are set and deleted through the forms, and a read-only session changes nothing.

use crate::html::url;
use crate::testkit::Kit;
use shoal_domain::logging::{LogLevel, LogTarget, TargetType};
use shoal_services::logging::V2_GROUP;

/// Writes one record into AWSIotLogsV2 a minute before now (queries flush the writer first).
fn write_record(k: &Kit, message: &str) {
    let at = k.logs.clock().now().millis() - 60_000;
    assert!(k.logs.put_event(&k.part, V2_GROUP, at, message.to_string()));
}

#[tokio::test]
async fn a_query_returns_the_written_record_escaped_with_its_histogram() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    write_record(&k, r#"{"eventType":"Connect","clientId":"<b>dev-1</b>"}"#);
    let q = "fields @timestamp, @message | filter @message like /Connect/ | sort @timestamp desc";
    let a = k
        .get(&format!("/console/logs?q={}&minutes=15", url(q)))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("id=\"results\""), "{}", a.body);
    assert!(
        a.body.contains("Complete · 1 records matched"),
        "{}",
        a.body
    );
    // The record's message is shown escaped, never as markup.
    assert!(a.body.contains("&lt;b&gt;dev-1&lt;/b&gt;"), "{}", a.body);
    assert!(!a.body.contains("<b>dev-1</b>"));
    // The histogram has a bar with the one record; the query stays in the box, escaped.
    assert!(a.body.contains("<svg id=\"histogram\""), "{}", a.body);
    assert!(a.body.contains(">1</text>"), "{}", a.body);
    assert!(a.body.contains("like /Connect/"));
    assert!(a.body.contains("<option value=\"15\" selected>"));
    // A query that matches nothing has an empty table and no histogram bars.
    let q = "fields @message | filter @message like /Disconnect/";
    let a = k.get(&format!("/console/logs?q={}", url(q))).await;
    assert!(a.body.contains("0 records matched"), "{}", a.body);
    assert!(a.body.contains("<p class=\"empty\" id=\"histogram\">"));
}

#[tokio::test]
async fn a_malformed_query_shows_the_error_and_where() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    write_record(&k, "hello");
    let q = "fields @message | frobnicate <x>";
    let a = k.get(&format!("/console/logs?q={}", url(q))).await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("notice error"), "{}", a.body);
    assert!(a.body.contains("MalformedQueryException"), "{}", a.body);
    assert!(a.body.contains("position"), "{}", a.body);
    assert!(a.body.contains("id=\"query-error\""), "{}", a.body);
    assert!(!a.body.contains("<x>"), "{}", a.body);
    assert!(!a.body.contains("id=\"results\""));
}

#[tokio::test]
async fn without_records_or_a_query_the_page_says_so() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    let a = k.get("/console/logs").await;
    assert_eq!(a.status, 200);
    // The default query is offered, not run.
    assert!(a
        .body
        .contains("fields @timestamp, @message | sort @timestamp desc | limit 100"));
    assert!(!a.body.contains("id=\"results\""));
    let a = k.get("/console/logs?q=fields+%40message").await;
    assert!(a.body.contains("no device log records yet"), "{}", a.body);
}

#[tokio::test]
async fn levels_are_configured_set_and_deleted_through_the_forms() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    let a = k.get("/console/logs").await;
    assert!(a.body.contains("never configured"), "{}", a.body);
    assert!(!a.body.contains("id=\"levels\""));
    let role = format!("arn:aws:iam::{}:role/shoal-logging", k.part.account);
    assert!(a.body.contains(&role), "{}", a.body);
    // A level before the options is refused, as AWS refuses it.
    let a = k
        .post(
            "/console/logs/levels",
            "target_type=CLIENT_ID&target_name=dev-1&level=DEBUG",
        )
        .await;
    assert_eq!(a.status, 303);
    assert!(a.location().contains("error="), "{}", a.location());
    let a = k
        .post("/console/logs/options", "default_level=WARN&role_arn=")
        .await;
    assert_eq!(a.status, 303);
    assert!(a.location().contains("ok="), "{}", a.location());
    let o = k.logs.levels.options(&k.part).unwrap();
    assert_eq!(o.default_level, Some(LogLevel::Warn));
    assert_eq!(o.role_arn.as_deref(), Some(role.as_str()));
    // A client id with markup in its name: set, listed escaped, read back from the service.
    let a = k
        .post(
            "/console/logs/levels",
            "target_type=CLIENT_ID&target_name=%3Cdev%3E&level=DEBUG",
        )
        .await;
    assert!(a.location().contains("ok="), "{}", a.location());
    let a = k.get(a.location()).await;
    assert!(a.body.contains("notice ok"), "{}", a.body);
    let table = &a.body[a.body.find("id=\"levels\"").unwrap()..];
    assert!(
        table.contains("<td>DEFAULT</td><td></td><td>WARN</td>"),
        "{table}"
    );
    assert!(
        table.contains("<td>CLIENT_ID</td><td>&lt;dev&gt;</td><td>DEBUG</td>"),
        "{table}"
    );
    assert!(!a.body.contains("<dev>"));
    let (levels, _) = k.logs.levels.list_levels(&k.part, None, 10, None).unwrap();
    let want = LogTarget::new(TargetType::ClientId, Some("<dev>".into())).unwrap();
    assert_eq!(levels.len(), 1);
    assert_eq!(
        (&levels[0].target, levels[0].level),
        (&want, LogLevel::Debug)
    );
    // A bad target is refused with the service's words.
    let a = k
        .post(
            "/console/logs/levels",
            "target_type=SOURCE_IP&target_name=nope&level=INFO",
        )
        .await;
    let a = k.get(a.location()).await;
    assert!(a.body.contains("not a valid IP address"), "{}", a.body);
    // Deleting it empties the list.
    let a = k
        .post(
            "/console/logs/levels/delete",
            "target_type=CLIENT_ID&target_name=%3Cdev%3E",
        )
        .await;
    assert!(a.location().contains("ok="), "{}", a.location());
    let (levels, _) = k.logs.levels.list_levels(&k.part, None, 10, None).unwrap();
    assert!(levels.is_empty());
}

#[tokio::test]
async fn levels_are_paged_by_fifty() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    k.post("/console/logs/options", "default_level=ERROR").await;
    for i in 0..51 {
        let t = LogTarget::new(TargetType::ClientId, Some(format!("dev-{i:02}"))).unwrap();
        k.logs
            .levels
            .set_level(&k.part, t, LogLevel::Info)
            .await
            .unwrap();
    }
    let a = k.get("/console/logs").await;
    assert!(a.body.contains("dev-49"));
    assert!(!a.body.contains("dev-50"));
    let marker = "id=\"next-page\" href=\"";
    let at = a.body.find(marker).expect("a next page") + marker.len();
    let href = &a.body[at..];
    let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
    let a = k.get(&href).await;
    assert!(a.body.contains("dev-50"), "{}", a.body);
    assert!(!a.body.contains("<td>DEFAULT</td>"));
}

#[tokio::test]
async fn a_read_only_session_changes_no_logging_setting() {
    let mut k = Kit::new().await;
    k.sign_in(true).await;
    let a = k.get("/console/logs").await;
    assert_eq!(a.status, 200);
    assert!(!a.body.contains("action=\"/console/logs/options\""));
    for (path, fields) in [
        ("/console/logs/options", "default_level=DEBUG"),
        (
            "/console/logs/levels",
            "target_type=CLIENT_ID&target_name=d&level=DEBUG",
        ),
        (
            "/console/logs/levels/delete",
            "target_type=CLIENT_ID&target_name=d",
        ),
    ] {
        assert_eq!(k.post(path, fields).await.status, 403, "{path}");
    }
    assert!(k.logs.levels.options(&k.part).is_err());
}
