use std::fmt;

/// Why a request is not authenticated. The API gateway maps these to AWS error codes:
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No Authorization header and no X-Amz-Algorithm query: MissingAuthenticationTokenException (403)
    Missing,
    /// Authorization header / presigned query present but malformed or missing a component
    /// (Credential, SignedHeaders, Signature, X-Amz-Date; bad credential scope; host not signed...):
    /// IncompleteSignatureException (400). The String is an AWS-like message.
    Incomplete(String),
    /// Signature mismatch: InvalidSignatureException (403), message like AWS's
    /// "The request signature we calculated does not match the signature you provided. ..."
    SignatureMismatch,
    /// Request time outside the allowed skew (15 minutes) or presigned URL expired:
    /// InvalidSignatureException (403) with AWS's "Signature expired: ... is now earlier than ..." style message.
    Expired(String),
}

/// AWS's wording, kept verbatim because SDKs and users search for it.
const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. \
Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

impl AuthError {
    /// The human-readable message AWS would put in the error body.
    pub fn message(&self) -> String {
        match self {
            AuthError::Missing => "Missing Authentication Token".to_owned(),
            AuthError::Incomplete(msg) | AuthError::Expired(msg) => msg.clone(),
            AuthError::SignatureMismatch => MISMATCH.to_owned(),
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for AuthError {}
