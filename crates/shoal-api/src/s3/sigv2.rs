//! S3's legacy query-string authentication (Signature Version 2) for presigned GET and HEAD:
//! `?AWSAccessKeyId=...&Expires=<epoch>&Signature=<base64 HMAC-SHA1>`, what boto3's
//! `generate_presigned_url` and `aws s3 presign` produce unless told `s3v4`
//! (https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html#RESTAuthenticationQueryStringAuth).
//! Only reads: nothing else is accepted this way.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use percent_encoding::percent_decode_str;

/// The query parameters of a SigV2 presigned URL.
#[derive(Debug, PartialEq, Eq)]
pub struct QueryAuth {
    pub access_key_id: String,
    pub signature: Vec<u8>,
    pub expires: i64,
}

/// The sub-resources a SigV2 signature covers (the rest of the query is not signed).
const SIGNED: [&str; 13] = [
    "partNumber",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
];

fn decoded(v: &str) -> Option<String> {
    percent_decode_str(v)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

fn pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// The SigV2 parameters, when the query carries all three.
pub fn parse(query: &str) -> Option<QueryAuth> {
    let get = |name: &str| pairs(query).find(|(n, _)| *n == name).map(|(_, v)| v);
    let key = decoded(get("AWSAccessKeyId")?)?;
    let signature = B64.decode(decoded(get("Signature")?)?.as_bytes()).ok()?;
    let expires = get("Expires")?.parse().ok()?;
    Some(QueryAuth {
        access_key_id: key,
        signature,
        expires,
    })
}

/// `METHOD\nContent-MD5\nContent-Type\nExpires\n/bucket/key[?sub-resources]`, the path as it
/// came on the wire (botocore signs the quoted path).
pub fn string_to_sign(
    method: &str,
    content_md5: &str,
    content_type: &str,
    expires: i64,
    raw_path: &str,
    query: &str,
) -> String {
    let mut subs: Vec<(String, Option<String>)> = pairs(query)
        .filter(|(n, _)| SIGNED.contains(n))
        .map(|(n, v)| {
            (
                n.to_string(),
                (!v.is_empty()).then(|| decoded(v).unwrap_or_default()),
            )
        })
        .collect();
    subs.sort();
    let mut resource = raw_path.to_string();
    for (i, (n, v)) in subs.iter().enumerate() {
        resource.push(if i == 0 { '?' } else { '&' });
        resource.push_str(n);
        if let Some(v) = v {
            resource.push('=');
            resource.push_str(v);
        }
    }
    format!("{method}\n{content_md5}\n{content_type}\n{expires}\n{resource}")
}

/// Whether `signature` is the HMAC-SHA1 of `sts` under `secret`, compared in constant time.
pub fn verify(secret: &str, sts: &str, signature: &[u8]) -> bool {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    ring::hmac::verify(&key, sts.as_bytes(), signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the S3 documentation (RESTAuthentication, "Query string request
    /// authentication", in its edition with the bucket `johnsmith`).
    #[test]
    fn aws_example() {
        let sts = string_to_sign("GET", "", "", 1175139620, "/johnsmith/photos/puppy.jpg", "");
        assert_eq!(sts, "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg");
        let sig = B64.decode("NpgCjnDzrM+WFzoENXmpNDUsSn8=").unwrap();
        assert!(verify(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            &sts,
            &sig
        ));
        assert!(!verify("other", &sts, &sig));
        let q = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D";
        let p = parse(q).unwrap();
        assert_eq!(p.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!((p.expires, p.signature), (1175139620, sig));
        assert_eq!(parse("AWSAccessKeyId=x&Expires=1"), None);
    }

    #[test]
    fn signed_sub_resources_sorted() {
        let sts = string_to_sign(
            "GET",
            "",
            "",
            5,
            "/b/k",
            "response-content-type=text%2Fplain&x-id=GetObject&AWSAccessKeyId=a&versionId=3",
        );
        assert!(
            sts.ends_with("/b/k?response-content-type=text/plain&versionId=3"),
            "{sts}"
        );
    }
}
