//! Sign-in, sessions, CSRF and read-only keys, and the frame every page shares.

use crate::testkit::Kit;
use http::Method;

#[tokio::test]
async fn pages_need_a_session_and_sign_in_checks_the_secret() {
    let mut k = Kit::new().await;
    let a = k.get("/console/devices").await;
    assert_eq!((a.status, a.location()), (303, "/console/login"));
    let a = k.request(Method::POST, "/console/devices", b"x=1").await;
    assert_eq!(a.status, 403);
    let key = k.accounts.create_key(&k.part.account).await.unwrap();
    let wrong = format!(
        "access_key_id={}&secret_access_key=nope&region=us-east-1",
        key.access_key_id
    );
    let a = k
        .request(Method::POST, "/console/login", wrong.as_bytes())
        .await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("not right"), "{}", a.body);
    assert!(a.headers.get(http::header::SET_COOKIE).is_none());
    k.sign_in(false).await;
    let a = k.get("/console/devices").await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains(k.part.account.as_str()));
    let csp = a.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    // A deactivated key ends its sessions.
    let id = k.cookie.clone();
    let keys = k.accounts.list_keys(Some(&k.part.account)).unwrap();
    for key in keys {
        k.accounts
            .set_key_active(&key.access_key_id, false)
            .await
            .unwrap();
    }
    let a = k.get("/console/devices").await;
    assert_eq!(a.status, 303, "{id}");
}

#[tokio::test]
async fn changes_need_the_csrf_token_and_a_writable_key() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    let a = k
        .request(Method::POST, "/console/devices", b"csrf=0000&action=create")
        .await;
    assert_eq!(a.status, 403);
    assert!(a.body.contains("CSRF"), "{}", a.body);
    let mut ro = Kit::new().await;
    ro.sign_in(true).await;
    let a = ro.get("/console/devices").await;
    assert!(a.body.contains("read-only"));
    let a = ro.post("/console/devices", "action=create").await;
    assert_eq!(a.status, 403);
    assert!(a.body.contains("read-only"), "{}", a.body);
    // Signing out ends the session.
    let a = k.post("/console/logout", "").await;
    assert_eq!((a.status, a.location()), (303, "/console/login"));
    assert_eq!(k.get("/console/devices").await.status, 303);
}

#[tokio::test]
async fn assets_are_embedded() {
    let k = Kit::new().await;
    let a = k.get("/console/assets/console.css").await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains(":root"));
    assert_eq!(k.get("/console/assets/nope.js").await.status, 404);
}

#[tokio::test]
async fn sign_in_from_another_site_is_refused() {
    let k = Kit::new().await;
    let key = k.accounts.create_key(&k.part.account).await.unwrap();
    let body = format!(
        "access_key_id={}&secret_access_key={}&region=us-east-1",
        key.access_key_id, key.secret_access_key
    );
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "http://evil.example"),
    ] {
        let mut headers = http::HeaderMap::new();
        headers.insert("host", "127.0.0.1:9080".parse().unwrap());
        headers.insert(name, value.parse().unwrap());
        let r = k
            .console
            .handle(
                &Method::POST,
                "/console/login",
                "",
                &headers,
                body.clone().into(),
            )
            .await;
        assert_eq!(r.status(), 403, "{name}: {value}");
        assert!(r.headers().get(http::header::SET_COOKIE).is_none());
    }
    let mut headers = http::HeaderMap::new();
    headers.insert("host", "127.0.0.1:9080".parse().unwrap());
    headers.insert("origin", "http://127.0.0.1:9080".parse().unwrap());
    headers.insert("sec-fetch-site", "same-origin".parse().unwrap());
    let r = k
        .console
        .handle(&Method::POST, "/console/login", "", &headers, body.into())
        .await;
    assert_eq!(r.status(), 303);
}
