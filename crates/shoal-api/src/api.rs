//! The one shape every AWS API served on the API port takes (`iot`, `iot-data`; `iot-jobs-data`,
//! `s3`, `logs`, `monitoring` and `iotsecuretunneling` join as modules): it parses a request
//! into its `Endpoint` enum, handles it, and owns the one exhaustive mapping of service errors
//! to its own codes and statuses, while its wire protocol decides how an error is written. The
//! server loop, authentication and error plumbing exist once, in `serve`.

use crate::error::ApiError;
use crate::ApiState;
use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::Full;
use shoal_domain::{ErrorKind, Partition};
use shoal_services::identity::Authorizer;
use std::future::Future;

/// How an API writes its answers and errors on the wire (the botocore model's `protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// restJson1: `x-amzn-ErrorType` and `{"message": ...}`.
    RestJson,
    /// awsJson1.x: `{"__type": CODE, "message": ...}` (CloudWatch Logs and metrics).
    AwsJson,
    /// restXml (S3): `<Error><Code>...</Code><Message>...</Message>...</Error>`.
    RestXml,
    /// Smithy RPC v2 CBOR with awsQueryCompatible errors (CloudWatch): a CBOR
    /// `{"__type", "message"}` and the query code in `x-amzn-query-error`.
    CborQuery,
    /// awsJson 1.0 with awsQueryCompatible errors (CloudWatch).
    JsonQuery,
}

impl Protocol {
    /// Whether request failures are answered the awsJson way (400 and a code of their own).
    pub fn is_rpc(self) -> bool {
        matches!(
            self,
            Protocol::AwsJson | Protocol::CborQuery | Protocol::JsonQuery
        )
    }
}

/// Who calls: an account's access key (may do everything), or a device on the device HTTPS
/// port, whose IoT policies decide.
pub enum Caller<'a> {
    Account,
    Device(&'a Authorizer),
}

impl Caller<'_> {
    /// A device must be allowed `action` on the resource `kind/name`.
    pub(crate) fn check(&self, action: &str, kind: &str, name: &str) -> Result<(), ApiError> {
        match self {
            Caller::Account => Ok(()),
            Caller::Device(a) if a.allows(action, kind, name) => Ok(()),
            Caller::Device(_) => Err(ApiError::Service(shoal_domain::ServiceError::new(
                ErrorKind::Unauthorized,
                format!("Not authorized to perform {action} on {kind}/{name}"),
            ))),
        }
    }
}

/// What a handler gets besides its endpoint.
pub struct Call<'a> {
    pub state: &'a ApiState,
    pub part: &'a Partition,
    pub caller: Caller<'a>,
    /// The body, read whole (empty for an API that streams).
    pub body: &'a Bytes,
    /// The body still unread, for an API that streams it (S3).
    pub stream: Option<Streamed>,
    pub headers: &'a HeaderMap,
    pub request_id: &'a str,
    /// Who the request is from, as device log records name it (account, principal, address).
    pub origin: shoal_domain::logging::Origin,
}

/// The remote address of an HTTP connection, set on each of its requests.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

/// What log records say of an HTTP caller.
pub fn origin_of(
    part: &Partition,
    principal: &str,
    peer: Option<std::net::SocketAddr>,
) -> shoal_domain::logging::Origin {
    shoal_domain::logging::Origin {
        account_id: part.account.as_str().to_string(),
        client_id: None,
        principal_id: Some(principal.to_string()),
        source_ip: peer.map(|p| p.ip().to_string()),
        source_port: peer.map(|p| p.port()),
    }
}

/// A request body not yet read, and what verifies its chunk signatures when the client signs
/// each chunk (S3's `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`).
pub struct Streamed {
    pub body: hyper::body::Incoming,
    pub signer: Option<shoal_sigv4::ChunkSigner>,
}

/// A response body sent as it is produced (an object read from disk).
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

/// The response bodies an API may answer with: whole (`Full`), or streamed (`Body`).
pub trait ReplyBody: Send + 'static {
    fn from_full(b: Full<Bytes>) -> Self;
}

impl ReplyBody for Full<Bytes> {
    fn from_full(b: Full<Bytes>) -> Self {
        b
    }
}

impl ReplyBody for Body {
    fn from_full(b: Full<Bytes>) -> Self {
        boxed(b)
    }
}

/// A whole body as a streamed one.
pub fn boxed(b: Full<Bytes>) -> Body {
    use http_body_util::BodyExt;
    b.map_err(|never| match never {}).boxed_unsync()
}

pub type Reply<B = Full<Bytes>> = Result<Response<B>, ApiError>;

/// One AWS API.
pub trait Api {
    /// Every operation served, with its labels and query decoded.
    type Endpoint: std::fmt::Debug + Send;
    /// For logs.
    const NAME: &'static str;
    const PROTOCOL: Protocol;
    /// The protocol of one request, for an API that speaks several (CloudWatch).
    fn protocol(_headers: &HeaderMap) -> Protocol {
        Self::PROTOCOL
    }
    /// The body of its answers.
    type Output: ReplyBody;

    /// The operation a request names (from its method and path, or for awsJson APIs from its
    /// `X-Amz-Target` header); an unknown one is UnknownOperationException.
    fn parse(
        method: &Method,
        path: &str,
        query: &str,
        headers: &HeaderMap,
    ) -> Result<Self::Endpoint, ApiError>;

    fn handle(
        call: Call<'_>,
        endpoint: Self::Endpoint,
    ) -> impl Future<Output = Reply<Self::Output>> + Send;

    /// This API's code and HTTP status for each kind of service error (its botocore model's
    /// error shapes). Exhaustive: a new kind must be given a code in every API.
    fn code(kind: &ErrorKind) -> (StatusCode, &'static str);
}

/// The operation an awsJson API's request names: every call is `POST /` with the operation in
/// `X-Amz-Target` (`service` names the API in the refusal).
pub fn aws_json_target<'a>(
    method: &Method,
    path: &str,
    headers: &'a HeaderMap,
    service: &str,
) -> Result<&'a str, ApiError> {
    if method != Method::POST || path != "/" {
        return Err(ApiError::UnknownOperation(format!(
            "{method} {path} is not a {service} operation"
        )));
    }
    Ok(headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(""))
}

/// An awsJson 1.1 answer.
pub fn aws_json_ok(v: &serde_json::Value, request_id: &str) -> Response<Full<Bytes>> {
    let mut r = crate::json::ok(v, request_id);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    r
}

/// Parses, handles, and writes any error the API's way.
pub async fn serve<A: Api>(
    call: Call<'_>,
    method: &Method,
    path: &str,
    query: &str,
) -> Response<A::Output> {
    let request_id = call.request_id;
    let protocol = A::protocol(call.headers);
    let result = match A::parse(method, path, query, call.headers) {
        Ok(endpoint) => {
            tracing::debug!(api = A::NAME, ?endpoint, request_id, "request");
            A::handle(call, endpoint).await
        }
        Err(e) => Err(e),
    };
    result.unwrap_or_else(|e| {
        e.into_response(protocol, A::code, request_id)
            .map(A::Output::from_full)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn written(protocol: Protocol) -> (StatusCode, Option<String>, String) {
        let e = ApiError::Service(shoal_domain::ServiceError::not_found("No thing <x>"));
        let r = e.into_response(protocol, crate::iot::Iot::code, "rid-1");
        let status = r.status();
        let header = r
            .headers()
            .get("x-amzn-ErrorType")
            .map(|v| v.to_str().unwrap().to_string());
        let body = r.into_body().collect().await.unwrap().to_bytes();
        (status, header, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn each_protocol_writes_errors_its_way() {
        let (s, h, b) = written(Protocol::RestJson).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(h.as_deref(), Some("ResourceNotFoundException"));
        assert_eq!(b, r#"{"message":"No thing <x>"}"#);
        let (_, _, b) = written(Protocol::AwsJson).await;
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["__type"], "ResourceNotFoundException");
        let (s, _, b) = written(Protocol::RestXml).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(b.contains("<Code>ResourceNotFoundException</Code><Message>No thing &lt;x&gt;</Message><RequestId>rid-1</RequestId>"), "{b}");
    }
}
