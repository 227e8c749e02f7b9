//! AWS's published SigV4 test suite ("aws-sig-v4-test-suite", as shipped with
//! aws-c-auth under tests/aws-signing-test-suite/v4 and with botocore under
//! tests/unit/auth/aws4_testsuite). Every vector uses the same credentials and
//! time; only the request and the expected values are tabled here.

use shoal_sigv4::{
    authorization_header, canonical_request, parse, sha256_hex, string_to_sign, verify_with_secret,
    AuthError, RequestParts,
};

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const REGION: &str = "us-east-1";
const SERVICE: &str = "service";
const AMZ_DATE: &str = "20150830T123600Z";
const NOW: i64 = 1_440_938_160;
const HOST: (&str, &str) = ("Host", "example.amazonaws.com");
const DATE: (&str, &str) = ("X-Amz-Date", AMZ_DATE);

struct Vector {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    query: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    signed_headers: &'static str,
    signature: &'static str,
}

const VANILLA: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

const fn get(
    name: &'static str,
    path: &'static str,
    query: &'static str,
    signature: &'static str,
) -> Vector {
    Vector {
        name,
        method: "GET",
        path,
        query,
        headers: &[HOST, DATE],
        body: "",
        signed_headers: "host;x-amz-date",
        signature,
    }
}

const VECTORS: &[Vector] = &[
    get("get-vanilla", "/", "", VANILLA),
    get("get-vanilla-query", "/", "", VANILLA),
    get(
        "get-vanilla-query-order-key-case",
        "/",
        "Param2=value2&Param1=value1",
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    ),
    get(
        "get-vanilla-query-unreserved",
        "/",
        "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    ),
    get(
        "get-vanilla-utf8-query",
        "/",
        "ሴ=bar",
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    ),
    get(
        "get-vanilla-query-order-encoded",
        "/",
        "Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
        "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
    ),
    get(
        "get-vanilla-empty-query-key",
        "/",
        "Param1=value1",
        "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
    ),
    get(
        "get-unreserved",
        "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "",
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    ),
    get(
        "get-utf8",
        "/ሴ",
        "",
        "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
    ),
    get(
        "get-space",
        "/example space/",
        "",
        "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
    ),
    get("get-slash", "//", "", VANILLA),
    get("get-slash-dot-slash", "/./", "", VANILLA),
    get(
        "get-slash-pointless-dot",
        "/./example",
        "",
        "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5",
    ),
    get(
        "get-slashes",
        "//example//",
        "",
        "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
    ),
    get("get-relative", "/example/..", "", VANILLA),
    get("get-relative-relative", "/example1/example2/../..", "", VANILLA),
    Vector {
        name: "get-header-key-duplicate",
        method: "GET",
        path: "/",
        query: "",
        headers: &[
            HOST,
            ("My-Header1", "value2"),
            ("My-Header1", "value2"),
            ("My-Header1", "value1"),
            DATE,
        ],
        body: "",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    },
    Vector {
        name: "get-header-value-multiline",
        method: "GET",
        path: "/",
        query: "",
        // The suite's parser turns each folded continuation line into another
        // value of the same header (canonical "value1,value2,value3"); HTTP/1.1
        // servers reject obs-fold, so separate values are what we could receive.
        headers: &[
            HOST,
            ("My-Header1", "value1"),
            ("My-Header1", "  value2"),
            ("My-Header1", "     value3"),
            DATE,
        ],
        body: "",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790",
    },
    Vector {
        name: "get-header-value-order",
        method: "GET",
        path: "/",
        query: "",
        headers: &[
            HOST,
            ("My-Header1", "value4"),
            ("My-Header1", "value1"),
            ("My-Header1", "value3"),
            ("My-Header1", "value2"),
            DATE,
        ],
        body: "",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
    },
    Vector {
        name: "get-header-value-trim",
        method: "GET",
        path: "/",
        query: "",
        headers: &[
            HOST,
            ("My-Header1", " value1 "),
            ("My-Header2", " \"a   b   c\" "),
            DATE,
        ],
        body: "",
        signed_headers: "host;my-header1;my-header2;x-amz-date",
        signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    },
    Vector {
        name: "get-vanilla-with-session-token",
        method: "GET",
        path: "/",
        query: "",
        headers: &[
            HOST,
            DATE,
            (
                "X-Amz-Security-Token",
                "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
            ),
        ],
        body: "",
        signed_headers: "host;x-amz-date;x-amz-security-token",
        signature: "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
    },
    Vector {
        name: "post-vanilla",
        method: "POST",
        path: "/",
        query: "",
        headers: &[HOST, DATE],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    Vector {
        name: "post-vanilla-query",
        method: "POST",
        path: "/",
        query: "Param1=value1",
        headers: &[HOST, DATE],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    },
    Vector {
        name: "post-header-key-case",
        method: "POST",
        path: "/",
        query: "",
        headers: &[("host", "example.amazonaws.com"), ("x-amz-date", AMZ_DATE)],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    Vector {
        name: "post-header-key-sort",
        method: "POST",
        path: "/",
        query: "",
        headers: &[HOST, ("My-Header1", "value1"), DATE],
        body: "",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    },
    Vector {
        name: "post-header-value-case",
        method: "POST",
        path: "/",
        query: "",
        headers: &[HOST, ("My-Header1", "VALUE1"), DATE],
        body: "",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    },
    Vector {
        name: "post-x-www-form-urlencoded",
        method: "POST",
        path: "/",
        query: "",
        headers: &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            HOST,
            ("Content-Length", "13"),
            (
                "x-amz-content-sha256",
                "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
            ),
            DATE,
        ],
        body: "Param1=value1",
        signed_headers: "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
        signature: "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
    },
];

fn expected_authorization(v: &Vector) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={}, Signature={}",
        v.signed_headers, v.signature
    )
}

#[test]
fn signer_reproduces_every_vector() {
    for v in VECTORS {
        let got = authorization_header(
            v.method,
            v.path,
            v.query,
            v.headers,
            &sha256_hex(v.body.as_bytes()),
            AKID,
            SECRET,
            AMZ_DATE,
            REGION,
            SERVICE,
        );
        assert_eq!(got, expected_authorization(v), "{}", v.name);
    }
}

#[test]
fn verifier_accepts_every_vector() {
    for v in VECTORS {
        let authz = expected_authorization(v);
        let mut headers = v.headers.to_vec();
        headers.push(("Authorization", &authz));
        let body_hash = sha256_hex(v.body.as_bytes());
        let req = RequestParts {
            method: v.method,
            path: v.path,
            query: v.query,
            headers: &headers,
            payload_sha256_hex: &body_hash,
        };
        let auth = parse(&req).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(
            verify_with_secret(&req, &auth, SECRET, NOW),
            Ok(()),
            "{}",
            v.name
        );
        // And the same request with one signature bit flipped must fail.
        let mut forged = authz.clone();
        let last = if forged.ends_with('0') { "1" } else { "0" };
        forged.replace_range(forged.len() - 1.., last);
        let mut forged_headers = v.headers.to_vec();
        forged_headers.push(("Authorization", &forged));
        let req = RequestParts {
            headers: &forged_headers,
            ..req
        };
        let auth = parse(&req).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(
            verify_with_secret(&req, &auth, SECRET, NOW),
            Err(AuthError::SignatureMismatch),
            "{}",
            v.name
        );
    }
}

/// One `.creq` expectation: path, query, extra signed header names
/// (";"-prefixed), extra headers, canonical request, and its SHA-256 when the
/// suite's `.sts` file states it ("" to skip that check).
type CreqCase = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

/// Canonical requests and strings to sign as the suite's `.creq` / `.sts` files give them.
#[test]
fn canonical_requests_and_strings_to_sign() {
    let cases: &[CreqCase] = &[
        (
            "/",
            "Param2=value2&Param1=value1",
            "",
            &[],
            "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
        ),
        (
            "/",
            "",
            "",
            &[],
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        ),
        (
            "/ሴ",
            "",
            "",
            &[],
            "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "",
        ),
        (
            "/example space/",
            "",
            "",
            &[],
            "GET\n/example%20space/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "",
        ),
        (
            "/",
            "ሴ=bar",
            "",
            &[],
            "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "",
        ),
        (
            "/",
            "",
            ";my-header1;my-header2",
            &[("My-Header1", " value1 "), ("My-Header2", " \"a   b   c\" ")],
            "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "",
        ),
    ];
    for &(path, query, extra_signed, extra_headers, creq, creq_hash) in cases {
        let mut headers = vec![HOST, DATE];
        headers.extend_from_slice(extra_headers);
        let mut signed = vec!["host"];
        signed.extend(extra_signed.split(';').filter(|s| !s.is_empty()));
        signed.push("x-amz-date");
        let authz = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={}, Signature=00",
            signed.join(";")
        );
        headers.push(("Authorization", &authz));
        let empty = sha256_hex(b"");
        let req = RequestParts {
            method: "GET",
            path,
            query,
            headers: &headers,
            payload_sha256_hex: &empty,
        };
        let auth = parse(&req).unwrap_or_else(|e| panic!("{path}?{query}: {e}"));
        assert_eq!(canonical_request(&req, &auth), creq);
        let sts = string_to_sign(&req, &auth);
        let expected_hash = if creq_hash.is_empty() {
            sha256_hex(creq.as_bytes())
        } else {
            assert_eq!(sha256_hex(creq.as_bytes()), creq_hash);
            creq_hash.to_owned()
        };
        assert_eq!(
            sts,
            format!("AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n{expected_hash}")
        );
    }
}

/// Presigned vectors from aws-c-auth's `query-signed-request.txt` files. These
/// signers hash the (empty) payload rather than using UNSIGNED-PAYLOAD.
#[test]
fn presigned_vectors_verify() {
    let query = "Param2=value2&Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5";
    let empty = sha256_hex(b"");
    let headers = [HOST];
    let req = RequestParts {
        method: "GET",
        path: "/",
        query,
        headers: &headers,
        payload_sha256_hex: &empty,
    };
    let auth = parse(&req).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(auth.presigned, Some(3600));
    assert_eq!(verify_with_secret(&req, &auth, SECRET, NOW + 3000), Ok(()));
    assert!(matches!(
        verify_with_secret(&req, &auth, SECRET, NOW + 3601),
        Err(AuthError::Expired(_))
    ));
}
