//! The `iot` control-plane API (restJson1): its routes (`endpoint.rs`), its one error mapping,
//! and one handler per operation in a file per area.

mod authorizers;
mod billing;
mod certificates;
mod domains;
mod endpoint;
mod events;
mod fleet_metrics;
mod groups;
mod indexing;
mod jobs;
mod logging;
mod policies;
mod principals;
mod provisioning;
mod role_aliases;
mod rules;
mod shapes;
mod tags;
mod things;
mod types;

use crate::api::{Api, Call, Protocol, Reply};
use crate::error::ApiError;
use crate::request::Query;
use crate::ApiState;
use http::{HeaderMap, Method, StatusCode};

pub use endpoint::Endpoint;
use shoal_domain::{ErrorKind, Partition};

/// The `iot` API.
pub struct Iot;

impl Api for Iot {
    type Endpoint = Endpoint;
    const NAME: &'static str = "iot";
    const PROTOCOL: Protocol = Protocol::RestJson;
    type Output = http_body_util::Full<bytes::Bytes>;

    fn parse(
        method: &Method,
        path: &str,
        query: &str,
        _headers: &HeaderMap,
    ) -> Result<Endpoint, ApiError> {
        Endpoint::parse(method, path, query)
    }

    async fn handle(call: Call<'_>, endpoint: Endpoint) -> Reply {
        handle(call, endpoint).await
    }

    /// The `iot` model's error shapes and statuses.
    fn code(kind: &ErrorKind) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match kind {
            ErrorKind::NotFound => (S::NOT_FOUND, "ResourceNotFoundException"),
            ErrorKind::AlreadyExists { .. } => (S::CONFLICT, "ResourceAlreadyExistsException"),
            ErrorKind::Conflict => (S::CONFLICT, "ConflictingResourceUpdateException"),
            ErrorKind::DeleteConflict => (S::CONFLICT, "DeleteConflictException"),
            ErrorKind::IdConflict => (S::CONFLICT, "ConflictException"),
            ErrorKind::VersionConflict => (S::CONFLICT, "VersionConflictException"),
            ErrorKind::InvalidRequest => (S::BAD_REQUEST, "InvalidRequestException"),
            ErrorKind::InvalidStateTransition => (S::CONFLICT, "InvalidStateTransitionException"),
            ErrorKind::Unauthorized | ErrorKind::Forbidden => {
                (S::UNAUTHORIZED, "UnauthorizedException")
            }
            ErrorKind::Timeout => (S::SERVICE_UNAVAILABLE, "ServiceUnavailableException"),
            // The model gives LimitExceededException status 410 and ThrottlingException 400.
            ErrorKind::LimitExceeded => (S::GONE, "LimitExceededException"),
            ErrorKind::Throttled => (S::BAD_REQUEST, "ThrottlingException"),
            ErrorKind::CertificateState => (S::NOT_ACCEPTABLE, "CertificateStateException"),
            ErrorKind::CertificateValidation => (S::BAD_REQUEST, "CertificateValidationException"),
            ErrorKind::RegistrationCodeValidation => {
                (S::BAD_REQUEST, "RegistrationCodeValidationException")
            }
            ErrorKind::MalformedPolicy => (S::BAD_REQUEST, "MalformedPolicyException"),
            ErrorKind::VersionsLimitExceeded => (S::CONFLICT, "VersionsLimitExceededException"),
            ErrorKind::RegistrationFailed => {
                (S::BAD_REQUEST, "ResourceRegistrationFailureException")
            }
            ErrorKind::InvalidQuery => (S::BAD_REQUEST, "InvalidQueryException"),
            ErrorKind::InvalidResponse => (S::BAD_REQUEST, "InvalidResponseException"),
            ErrorKind::InvalidAggregation => (S::BAD_REQUEST, "InvalidAggregationException"),
            ErrorKind::SqlParse => (S::BAD_REQUEST, "SqlParseException"),
            ErrorKind::Parameter(_) => (S::BAD_REQUEST, "InvalidRequestException"),
            ErrorKind::IndexNotReady => (S::BAD_REQUEST, "IndexNotReadyException"),
            ErrorKind::NotSupported => (S::NOT_FOUND, "UnknownOperationException"),
            ErrorKind::NotConfigured => (S::NOT_FOUND, "NotConfiguredException"),
            ErrorKind::MalformedQuery { .. } => (S::BAD_REQUEST, "InvalidRequestException"),
            // A job document in object storage that cannot be read (CreateJob documentSource).
            ErrorKind::Storage(_) => (S::BAD_REQUEST, "InvalidRequestException"),
            ErrorKind::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "RequestEntityTooLargeException"),
            ErrorKind::UnsupportedEncoding => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedDocumentEncodingException",
            ),
            ErrorKind::Internal => (S::INTERNAL_SERVER_ERROR, "InternalFailureException"),
        }
    }
}

async fn handle(call: Call<'_>, endpoint: Endpoint) -> Reply {
    use Endpoint as E;
    let Call {
        state,
        part,
        body,
        headers,
        request_id,
        ..
    } = call;
    let reg = state.registry.as_ref();
    let id = state.identity.as_ref();
    let fleet = &state.fleet;
    if matches!(
        endpoint,
        E::SearchIndex
            | E::GetStatistics
            | E::GetPercentiles
            | E::GetCardinality
            | E::GetBucketsAggregation
    ) {
        state.index_caught_up().await;
    }
    let value = match endpoint {
        E::Billing(route) => billing::handle(reg, part, route, body).await?,
        E::CreateThing { name } => things::create(reg, part, &name, body).await?,
        E::DescribeThing { name } => things::describe(reg, part, &name)?,
        E::UpdateThing { name } => things::update(reg, part, &name, body).await?,
        E::DeleteThing { name, query } => things::delete(reg, part, &name, &query).await?,
        E::ListThings { query } => things::list(reg, part, &query)?,
        E::GetThingConnectivityData { name } => {
            things::connectivity(reg, &state.messaging, part, &name, body)?
        }
        E::ListThingGroupsForThing { name, query } => {
            groups::list_for_thing(reg, part, &name, &query)?
        }
        E::CreateThingType { name } => types::create(reg, part, &name, body).await?,
        E::DescribeThingType { name } => types::describe(reg, part, &name)?,
        E::UpdateThingType { name } => types::update(reg, part, &name, body).await?,
        E::DeprecateThingType { name } => types::deprecate(reg, part, &name, body).await?,
        E::DeleteThingType { name } => types::delete(reg, part, &name).await?,
        E::ListThingTypes { query } => types::list(reg, part, &query)?,
        E::CreateThingGroup { name } => groups::create(reg, part, &name, body).await?,
        E::DescribeThingGroup { name } => groups::describe(reg, part, &name)?,
        E::UpdateThingGroup { name } => groups::update(reg, part, &name, body).await?,
        E::DeleteThingGroup { name, query } => groups::delete(reg, part, &name, &query).await?,
        E::ListThingGroups { query } => groups::list(reg, part, &query)?,
        E::ListThingsInThingGroup { name, query } => groups::list_things(reg, part, &name, &query)?,
        E::AddThingToThingGroup => groups::add_thing(reg, part, body).await?,
        E::RemoveThingFromThingGroup => groups::remove_thing(reg, part, body).await?,
        E::UpdateThingGroupsForThing => groups::update_for_thing(reg, part, body).await?,
        E::TagResource => tags::tag(state, part, body).await?,
        E::UntagResource => tags::untag(state, part, body).await?,
        E::ListTagsForResource { query } => tags::list(state, part, &query)?,
        E::RoleAlias(route) => role_aliases::handle(id, part, route, body).await?,
        E::Logging(route) => logging::handle(&state.logs.levels, part, route, body).await?,
        E::Rules(route) => rules::handle(&state.rules, part, route, body).await?,
        E::Authorizer(route) => authorizers::handle(&state.authorizers, part, route, body).await?,
        E::Domain(route) => domains::handle(&state.domains, part, route, body).await?,
        E::Provisioning(route) => {
            provisioning::handle(&state.provisioning, part, route, body).await?
        }
        E::DescribeEndpoint { query } => describe_endpoint(state, part, &query)?,
        E::CreateKeysAndCertificate { query } => {
            certificates::create_keys_and_certificate(id, part, &query).await?
        }
        E::CreateCertificateFromCsr { query } => {
            certificates::create_from_csr(id, part, &query, body).await?
        }
        E::RegisterCertificate { query } => {
            certificates::register(id, part, &query, body, true).await?
        }
        E::RegisterCertificateWithoutCA { query } => {
            certificates::register(id, part, &query, body, false).await?
        }
        E::DescribeCertificate { id: c } => certificates::describe(id, part, &c)?,
        E::ListCertificates { query } => certificates::list(id, part, &query, None)?,
        E::ListCertificatesByCA { ca, query } => certificates::list(id, part, &query, Some(&ca))?,
        E::UpdateCertificate { id: c, query } => certificates::update(id, part, &c, &query).await?,
        E::DeleteCertificate { id: c, query } => certificates::delete(id, part, &c, &query).await?,
        E::GetRegistrationCode => certificates::registration_code(id, part).await?,
        E::RegisterCACertificate { query } => {
            certificates::register_ca(id, part, &query, body).await?
        }
        E::DescribeCACertificate { id: c } => certificates::describe_ca(id, part, &c)?,
        E::ListCACertificates { query } => certificates::list_ca(id, part, &query)?,
        E::UpdateCACertificate { id: c, query } => {
            certificates::update_ca(id, part, &c, &query, body).await?
        }
        E::DeleteCACertificate { id: c } => certificates::delete_ca(id, part, &c).await?,
        E::CreatePolicy { name } => policies::create(id, part, &name, body).await?,
        E::GetPolicy { name } => policies::get(id, part, &name)?,
        E::ListPolicies { query } => policies::list(id, part, &query)?,
        E::DeletePolicy { name } => policies::delete(id, part, &name).await?,
        E::CreatePolicyVersion { name, query } => {
            policies::create_version(id, part, &name, &query, body).await?
        }
        E::GetPolicyVersion { name, version } => policies::get_version(id, part, &name, &version)?,
        E::ListPolicyVersions { name } => policies::list_versions(id, part, &name)?,
        E::SetDefaultPolicyVersion { name, version } => {
            policies::set_default_version(id, part, &name, &version).await?
        }
        E::DeletePolicyVersion { name, version } => {
            policies::delete_version(id, part, &name, &version).await?
        }
        E::AttachPolicy { name } => policies::attach(id, part, &name, body).await?,
        E::DetachPolicy { name } => policies::detach(id, part, &name, body).await?,
        E::ListAttachedPolicies { target, query } => {
            policies::list_attached(id, part, &target, &query)?
        }
        E::ListTargetsForPolicy { name, query } => policies::list_targets(id, part, &name, &query)?,
        E::GetEffectivePolicies { query } => policies::effective(id, part, &query, body)?,
        E::TestAuthorization { query } => policies::test_authorization(id, part, &query, body)?,
        E::AttachThingPrincipal { thing, query } => {
            principals::attach(id, part, &thing, &query, headers).await?
        }
        E::DetachThingPrincipal { thing } => principals::detach(id, part, &thing, headers).await?,
        E::ListThingPrincipals { thing, query } => {
            principals::list_for_thing(id, part, &thing, &query, false)?
        }
        E::ListThingPrincipalsV2 { thing, query } => {
            principals::list_for_thing(id, part, &thing, &query, true)?
        }
        E::ListPrincipalThings { query } => {
            principals::list_things(id, part, &query, headers, false)?
        }
        E::ListPrincipalThingsV2 { query } => {
            principals::list_things(id, part, &query, headers, true)?
        }
        E::CreateDynamicThingGroup { name } => {
            groups::create_dynamic(fleet, part, &name, body).await?
        }
        E::UpdateDynamicThingGroup { name } => {
            groups::update_dynamic(fleet, part, &name, body).await?
        }
        E::DeleteDynamicThingGroup { name, query } => {
            groups::delete_dynamic(fleet, part, &name, &query).await?
        }
        E::CreateFleetMetric { name } => fleet_metrics::create(fleet, part, &name, body).await?,
        E::DescribeFleetMetric { name } => fleet_metrics::describe(fleet, part, &name)?,
        E::UpdateFleetMetric { name } => fleet_metrics::update(fleet, part, &name, body).await?,
        E::DeleteFleetMetric { name, query } => {
            fleet_metrics::delete(fleet, part, &name, &query).await?
        }
        E::ListFleetMetrics { query } => fleet_metrics::list(fleet, part, &query)?,
        E::GetIndexingConfiguration => indexing::get_config(fleet, part)?,
        E::UpdateIndexingConfiguration => indexing::update_config(fleet, part, body).await?,
        E::DescribeIndex { name } => indexing::describe_index(fleet, part, &name)?,
        E::ListIndices { query } => indexing::list_indices(fleet, part, &query)?,
        E::SearchIndex => indexing::search(fleet, part, body)?,
        E::GetStatistics => indexing::statistics(fleet, part, body)?,
        E::GetPercentiles => indexing::percentiles(fleet, part, body)?,
        E::GetCardinality => indexing::cardinality(fleet, part, body)?,
        E::GetBucketsAggregation => indexing::buckets(fleet, part, body)?,
        E::CreateJob { id } => jobs::create(&state.jobs, part, &id, body).await?,
        E::DescribeJob { id } => jobs::describe(&state.jobs, part, &id, state.clock.now())?,
        E::UpdateJob { id } => jobs::update(&state.jobs, part, &id, body).await?,
        E::CancelJob { id, query } => jobs::cancel(&state.jobs, part, &id, &query, body).await?,
        E::DeleteJob { id, query } => jobs::delete(&state.jobs, part, &id, &query).await?,
        E::ListJobs { query } => jobs::list(&state.jobs, part, &query)?,
        E::GetJobDocument { id, query } => jobs::document(&state.jobs, part, &id, &query)?,
        E::CreateJobTemplate { id } => jobs::create_template(&state.jobs, part, &id, body).await?,
        E::DescribeJobTemplate { id } => jobs::describe_template(&state.jobs, part, &id)?,
        E::DeleteJobTemplate { id } => jobs::delete_template(&state.jobs, part, &id).await?,
        E::ListJobTemplates { query } => jobs::list_templates(&state.jobs, part, &query)?,
        E::DescribeManagedJobTemplate { name, query } => {
            jobs::describe_managed(part, &name, &query)?
        }
        E::ListManagedJobTemplates { query } => jobs::list_managed(part, &query)?,
        E::UpdateEventConfigurations => events::update(&state.events, part, body).await?,
        E::PreviewJobRollout => jobs::preview(&state.jobs, part, body)?,
        E::AssociateTargetsWithJob { id } => {
            jobs::associate_targets(&state.jobs, part, &id, body).await?
        }
        E::DescribeEventConfigurations => events::describe(&state.events, part)?,
        E::ListJobExecutionsForJob { id, query } => {
            jobs::list_for_job(&state.jobs, part, &id, &query)?
        }
        E::ListJobExecutionsForThing { thing, query } => {
            jobs::list_for_thing(&state.jobs, part, &thing, &query)?
        }
        E::DescribeJobExecution { thing, id, query } => {
            jobs::describe_execution(&state.jobs, part, &thing, &id, &query, state.clock.now())?
        }
        E::CancelJobExecution { thing, id, query } => {
            jobs::cancel_execution(&state.jobs, part, &thing, &id, &query, body).await?
        }
        E::DeleteJobExecution {
            thing,
            id,
            number,
            query,
        } => jobs::delete_execution(&state.jobs, part, &thing, &id, &number, &query).await?,
    };
    Ok(crate::json::ok(&value, request_id))
}

/// The token of an unsigned GET of a destination's `enableUrl` (`/confirmdestination/TOKEN`
/// with no signature): AWS's confirmation link works from a browser or `curl`.
pub(crate) fn enable_url_token(parts: &http::request::Parts) -> Option<String> {
    if parts.method != Method::GET
        || parts.headers.contains_key(http::header::AUTHORIZATION)
        || parts
            .uri
            .query()
            .is_some_and(|q| q.contains("X-Amz-Signature"))
    {
        return None;
    }
    let token = parts.uri.path().strip_prefix("/confirmdestination/")?;
    crate::request::decode(token).ok().filter(|t| !t.is_empty())
}

/// ConfirmTopicRuleDestination through the `enableUrl`.
pub(crate) async fn enable_destination(
    state: &ApiState,
    token: &str,
    request_id: &str,
) -> http::Response<http_body_util::Full<bytes::Bytes>> {
    match state.rules.confirm_destination(None, token).await {
        Ok(()) => crate::json::ok(&serde_json::json!({}), request_id),
        Err(e) => ApiError::from(e).into_response(Iot::PROTOCOL, Iot::code, request_id),
    }
}

/// DescribeEndpoint: the account's own host names, shaped as AWS's
/// (`<prefix>-ats.iot.<region>.amazonaws.com` and its siblings) under Shoal's public host. The
/// prefix names the account: a device that connects with that TLS server name is looked up in
/// that account only, which is what lets one certificate be registered in several accounts
/// (SNI_ONLY). https://docs.aws.amazon.com/iot/latest/apireference/API_DescribeEndpoint.html
fn describe_endpoint(
    state: &ApiState,
    part: &Partition,
    query: &Query,
) -> Result<serde_json::Value, ApiError> {
    let prefix = shoal_services::accounts::endpoint_prefix(&part.account);
    let (region, host) = (&part.region, &state.endpoint_host);
    let address = match query.get("endpointType") {
        // AWS's default is the legacy iot:Data endpoint.
        None | Some("iot:Data") => format!("{prefix}.iot.{region}.{host}"),
        Some("iot:Data-ATS") => format!("{prefix}-ats.iot.{region}.{host}"),
        Some("iot:CredentialProvider") => format!("{prefix}.credentials.iot.{region}.{host}"),
        Some("iot:Jobs") => format!("{prefix}.jobs.iot.{region}.{host}"),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Endpoint type {other} is not valid"
            )))
        }
    };
    Ok(serde_json::json!({ "endpointAddress": address }))
}
