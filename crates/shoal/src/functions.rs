//! Where custom authorizers' functions run: AWS invokes a Lambda function by its ARN; Shoal
//! posts the same event (JSON) to the HTTP endpoint `[functions]` maps that ARN to, and reads
//! the function's answer from the response body (`shoal_services::authorizers::FunctionPort`).

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use shoal_services::authorizers::FunctionPort;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

/// The largest answer read from a function (AWS caps a Lambda response at 6 MB; an
/// authorizer's is a few policies).
const MAX_ANSWER: usize = 1 << 20;

pub struct Functions {
    urls: BTreeMap<String, String>,
    client: Client<crate::http_client::TlsConnector, Full<Bytes>>,
}

impl Functions {
    pub fn new(urls: BTreeMap<String, String>) -> Result<Functions, String> {
        let connector = crate::http_client::connector().map_err(|e| e.to_string())?;
        Ok(Functions {
            urls,
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }
}

impl FunctionPort for Functions {
    fn invoke<'a>(
        &'a self,
        function_arn: &'a str,
        event: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send + 'a>> {
        Box::pin(async move {
            let url = self.urls.get(function_arn).ok_or_else(|| {
                format!("no endpoint is configured for {function_arn} ([functions])")
            })?;
            let req = http::Request::post(url)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(event)))
                .map_err(|e| e.to_string())?;
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let body = Limited::new(resp.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            if !status.is_success() {
                return Err(format!("the function's endpoint answered {status}"));
            }
            Ok(body.to_vec())
        })
    }
}
