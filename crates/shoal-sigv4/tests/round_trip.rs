//! Behaviour beyond the AWS vectors: round trips through our own signer, and
//! each way a request can fail authentication.

use shoal_sigv4::{
    authorization_header, canonical_request, format_amz_date, parse, presigned_query, sha256_hex,
    signing_key, verify, verify_with_secret, AuthError, ParsedAuth, Presign, RequestParts,
    UNSIGNED_PAYLOAD,
};

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const REGION: &str = "eu-west-1";
const SERVICE: &str = "iot";
const NOW: i64 = 1_717_243_200; // 2024-06-01T12:00:00Z
const HOST: &str = "shoal.local:8443";
const BODY: &[u8] = br#"{"thingName":"sensor-1"}"#;

/// A request signed by `authorization_header`, owning everything it borrows.
struct Signed {
    method: &'static str,
    path: &'static str,
    query: &'static str,
    headers: Vec<(String, String)>,
    body_hash: String,
}

impl Signed {
    fn new(method: &'static str, path: &'static str, query: &'static str, body: &[u8]) -> Self {
        Self::with_headers(method, path, query, body, &[])
    }

    fn with_headers(
        method: &'static str,
        path: &'static str,
        query: &'static str,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> Self {
        let amz_date = format_amz_date(NOW);
        let body_hash = sha256_hex(body);
        let mut headers = vec![
            ("Host".to_owned(), HOST.to_owned()),
            ("X-Amz-Date".to_owned(), amz_date.clone()),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ];
        headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        let borrowed: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let authz = authorization_header(
            method, path, query, &borrowed, &body_hash, AKID, SECRET, &amz_date, REGION, SERVICE,
        );
        headers.push(("Authorization".to_owned(), authz));
        Signed {
            method,
            path,
            query,
            headers,
            body_hash,
        }
    }

    fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    fn parts<'a>(&'a self, headers: &'a [(&'a str, &'a str)]) -> RequestParts<'a> {
        RequestParts {
            method: self.method,
            path: self.path,
            query: self.query,
            headers,
            payload_sha256_hex: &self.body_hash,
        }
    }

    fn check(&self) -> Result<(), AuthError> {
        let headers = self.header_refs();
        check(&self.parts(&headers), NOW, SECRET)
    }
}

fn check(req: &RequestParts<'_>, now: i64, secret: &str) -> Result<(), AuthError> {
    let auth = parse(req)?;
    verify_with_secret(req, &auth, secret, now)
}

#[test]
fn header_round_trip() {
    let signed = Signed::new("POST", "/things/sensor-1", "namespace=default&b=2", BODY);
    assert_eq!(signed.check(), Ok(()));
    let headers = signed.header_refs();
    let req = RequestParts {
        method: "POST",
        path: "/things/sensor-1",
        query: "namespace=default&b=2",
        headers: &headers,
        payload_sha256_hex: &signed.body_hash,
    };
    let auth = parse(&req).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(auth.access_key_id, AKID);
    assert_eq!((auth.region, auth.service), (REGION, SERVICE));
    assert_eq!(auth.signed_headers, ["content-type", "host", "x-amz-date"]);
    let key = signing_key(SECRET, auth.date, auth.region, auth.service);
    assert_eq!(verify(&req, &auth, &key, NOW), Ok(()));
}

#[test]
fn botocore_double_encoding_round_trip() {
    let signed = Signed::new("POST", "/topics/a%2Fb%20c", "qos=1", BODY);
    assert_eq!(signed.check(), Ok(()));
    let headers = signed.header_refs();
    let req = RequestParts {
        method: "POST",
        path: "/topics/a%2Fb%20c",
        query: "qos=1",
        headers: &headers,
        payload_sha256_hex: &signed.body_hash,
    };
    let auth = parse(&req).unwrap_or_else(|e| panic!("{e}"));
    let creq = canonical_request(&req, &auth);
    assert_eq!(creq.lines().nth(1), Some("/topics/a%252Fb%2520c"));
    // The decoded spelling of the same path is a different canonical URI.
    let decoded = RequestParts {
        path: "/topics/a/b c",
        ..req
    };
    assert_eq!(
        check(&decoded, NOW, SECRET),
        Err(AuthError::SignatureMismatch)
    );
}

#[test]
fn wrong_secret_is_a_mismatch() {
    let signed = Signed::new("GET", "/things", "", b"");
    let headers = signed.header_refs();
    assert_eq!(
        check(&signed.parts(&headers), NOW, "not-the-secret"),
        Err(AuthError::SignatureMismatch)
    );
}

#[test]
fn tampered_payload_is_a_mismatch() {
    let signed = Signed::new("POST", "/things/sensor-1", "", BODY);
    let other = sha256_hex(b"{}");
    let headers = signed.header_refs();
    let req = RequestParts {
        payload_sha256_hex: &other,
        ..signed.parts(&headers)
    };
    assert_eq!(check(&req, NOW, SECRET), Err(AuthError::SignatureMismatch));
}

#[test]
fn content_sha256_header_must_match_the_body() {
    let claimed = sha256_hex(BODY);
    let signed = Signed::with_headers(
        "POST",
        "/x",
        "",
        BODY,
        &[("x-amz-content-sha256", claimed.as_str())],
    );
    assert_eq!(signed.check(), Ok(()));
    let other = sha256_hex(b"evil");
    let headers = signed.header_refs();
    let req = RequestParts {
        payload_sha256_hex: &other,
        ..signed.parts(&headers)
    };
    assert_eq!(check(&req, NOW, SECRET), Err(AuthError::SignatureMismatch));
}

#[test]
fn unsigned_payload_header_leaves_body_uncovered() {
    let signed = Signed::with_headers(
        "POST",
        "/x",
        "",
        BODY,
        &[("X-Amz-Content-Sha256", UNSIGNED_PAYLOAD)],
    );
    assert_eq!(signed.check(), Ok(()));
    let other = sha256_hex(b"anything");
    let headers = signed.header_refs();
    let req = RequestParts {
        payload_sha256_hex: &other,
        ..signed.parts(&headers)
    };
    assert_eq!(check(&req, NOW, SECRET), Ok(()));
}

#[test]
fn tampering_with_signed_parts_is_a_mismatch() {
    let signed = Signed::new("PUT", "/things/a", "x=1", BODY);
    let headers = signed.header_refs();
    let mut changed_header = signed.header_refs();
    changed_header[2].1 = "text/plain";
    let req = signed.parts(&headers);
    for tampered in [
        RequestParts {
            method: "POST",
            ..req
        },
        RequestParts {
            path: "/things/b",
            ..req
        },
        RequestParts {
            query: "x=2",
            ..req
        },
        RequestParts { query: "", ..req },
        RequestParts {
            headers: &changed_header,
            ..req
        },
    ] {
        assert_eq!(
            check(&tampered, NOW, SECRET),
            Err(AuthError::SignatureMismatch),
            "{tampered:?}"
        );
    }
}

#[test]
fn unsigned_headers_and_equivalent_spellings_do_not_matter() {
    let signed = Signed::new("GET", "/things/a", "b=2&a=1", b"");
    let mut headers = signed.header_refs();
    headers.push(("User-Agent", "added-by-a-proxy"));
    headers[0].0 = "HOST";
    let req = RequestParts {
        query: "a=%31&b=2",
        ..signed.parts(&headers)
    };
    assert_eq!(check(&req, NOW, SECRET), Ok(()));
}

#[test]
fn clock_skew_limits() {
    let signed = Signed::new("GET", "/things", "", b"");
    let headers = signed.header_refs();
    let req = signed.parts(&headers);
    let at = |m: i64| check(&req, NOW + m * 60, SECRET);
    assert_eq!(at(14), Ok(()));
    assert_eq!(at(-14), Ok(()));
    assert_eq!(at(15), Ok(()));
    assert_eq!(at(-15), Ok(()));
    match at(16) {
        Err(AuthError::Expired(msg)) => assert_eq!(
            msg,
            "Signature expired: 20240601T120000Z is now earlier than 20240601T120100Z (20240601T121600Z - 15 min.)"
        ),
        other => panic!("{other:?}"),
    }
    match at(-16) {
        Err(AuthError::Expired(msg)) => assert_eq!(
            msg,
            "Signature not yet current: 20240601T120000Z is still later than 20240601T115900Z (20240601T114400Z + 15 min.)"
        ),
        other => panic!("{other:?}"),
    }
    for extreme in [i64::MIN, i64::MAX] {
        assert!(matches!(
            check(&req, extreme, SECRET),
            Err(AuthError::Expired(_))
        ));
    }
}

#[test]
fn missing_and_garbage() {
    let empty = sha256_hex(b"");
    let headers = [("Host", HOST)];
    let req = RequestParts {
        method: "GET",
        path: "/things",
        query: "maxResults=10",
        headers: &headers,
        payload_sha256_hex: &empty,
    };
    assert_eq!(parse(&req), Err(AuthError::Missing));
    assert_eq!(AuthError::Missing.message(), "Missing Authentication Token");

    let headers = [("Host", HOST), ("Authorization", "Bearer abc.def")];
    let req = RequestParts {
        headers: &headers,
        ..req
    };
    match parse(&req) {
        Err(e @ AuthError::Incomplete(_)) => {
            assert!(e
                .message()
                .contains("Authorization header requires 'Credential' parameter"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_hex_signature_is_a_mismatch() {
    let signed = Signed::new("GET", "/things", "", b"");
    let authz = signed.headers[3].1.replace("Signature=", "Signature=zz");
    let mut headers = signed.header_refs();
    headers[3].1 = &authz;
    assert_eq!(
        check(&signed.parts(&headers), NOW, SECRET),
        Err(AuthError::SignatureMismatch)
    );
    assert!(AuthError::SignatureMismatch.message().starts_with(
        "The request signature we calculated does not match the signature you provided."
    ));
}

#[test]
fn scope_date_must_match_request_date() {
    let signed = Signed::new("GET", "/things", "", b"");
    let headers = signed.header_refs();
    let req = RequestParts {
        method: "GET",
        path: "/things",
        query: "",
        headers: &headers,
        payload_sha256_hex: &signed.body_hash,
    };
    let auth = parse(&req).unwrap_or_else(|e| panic!("{e}"));
    let shifted = ParsedAuth {
        date: "20240602",
        ..auth.clone()
    };
    assert!(matches!(
        verify_with_secret(&req, &shifted, SECRET, NOW),
        Err(AuthError::Incomplete(m)) if m.starts_with("Date in Credential scope does not match")
    ));
    let bad_time = ParsedAuth {
        amz_date: "not-a-date",
        ..auth
    };
    assert!(matches!(
        verify_with_secret(&req, &bad_time, SECRET, NOW),
        Err(AuthError::Incomplete(_))
    ));
}

fn presign(query: &str, token: Option<&str>, expires: u64) -> String {
    let amz_date = format_amz_date(NOW);
    presigned_query(&Presign {
        method: "GET",
        path: "/mqtt",
        query,
        headers: &[("host", HOST)],
        access_key_id: AKID,
        secret: SECRET,
        session_token: token,
        amz_date: &amz_date,
        expires_secs: expires,
        region: REGION,
        service: "iotdevicegateway",
    })
}

fn check_presigned(query: &str, now: i64) -> Result<(), AuthError> {
    let headers = [("Host", HOST), ("Upgrade", "websocket")];
    let body = sha256_hex(b"");
    let req = RequestParts {
        method: "GET",
        path: "/mqtt",
        query,
        headers: &headers,
        payload_sha256_hex: &body,
    };
    let auth = parse(&req)?;
    verify_with_secret(&req, &auth, SECRET, now)
}

#[test]
fn presigned_round_trip() {
    let query = presign("clientId=dev%201", None, 3600);
    assert!(query.starts_with("clientId=dev%201&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240601%2Feu-west-1%2Fiotdevicegateway%2Faws4_request&"));
    assert_eq!(check_presigned(&query, NOW), Ok(()));
    assert_eq!(check_presigned(&query, NOW + 3600), Ok(()));
    assert_eq!(check_presigned(&query, NOW - 900), Ok(()));
    // Parameter order on the wire does not matter.
    let mut parts: Vec<&str> = query.split('&').collect();
    parts.reverse();
    assert_eq!(check_presigned(&parts.join("&"), NOW), Ok(()));
}

#[test]
fn expired_presign_is_rejected() {
    let query = presign("", None, 60);
    match check_presigned(&query, NOW + 61) {
        Err(AuthError::Expired(msg)) => {
            assert!(
                msg.starts_with("Signature expired: 20240601T120000Z"),
                "{msg}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        check_presigned(&query, NOW - 901),
        Err(AuthError::Expired(_))
    ));
}

#[test]
fn presign_lifetime_bounds() {
    assert_eq!(check_presigned(&presign("", None, 604_800), NOW), Ok(()));
    for bad in [0, 604_801] {
        assert!(matches!(
            check_presigned(&presign("", None, bad), NOW),
            Err(AuthError::Incomplete(_))
        ));
    }
}

#[test]
fn tampered_presign_is_a_mismatch() {
    let query = presign("clientId=dev1", None, 3600);
    let tampered = query.replace("clientId=dev1", "clientId=dev2");
    assert_eq!(
        check_presigned(&tampered, NOW),
        Err(AuthError::SignatureMismatch)
    );
    let longer = query.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200");
    assert_eq!(
        check_presigned(&longer, NOW),
        Err(AuthError::SignatureMismatch)
    );
}

#[test]
fn presign_session_token_signed_or_appended() {
    let signed_token = presign("", Some("tok/en+="), 3600);
    assert!(signed_token.contains("X-Amz-Security-Token=tok%2Fen%2B%3D"));
    assert_eq!(check_presigned(&signed_token, NOW), Ok(()));
    // AWS IoT WebSocket clients append the token after signing.
    let appended = format!("{}&X-Amz-Security-Token=tok%2Fen", presign("", None, 3600));
    assert_eq!(check_presigned(&appended, NOW), Ok(()));
}
