//! The `iot` control-plane API (restJson1): routing from method and raw path to a typed
//! `Endpoint`, then one handler per operation. URIs follow the botocore model
//! (reference/ops_detailed.tsv); operations not listed here answer UnknownOperationException.

mod certificates;
mod events;
mod fleet_metrics;
mod groups;
mod indexing;
mod jobs;
mod policies;
mod principals;
mod shapes;
mod tags;
mod things;
mod types;

use crate::api::{Api, Call, Protocol, Reply};
use crate::error::ApiError;
use crate::request::{decode, segments, Query};
use crate::ApiState;
use http::{Method, StatusCode};
use shoal_domain::{ErrorKind, Partition};

/// The `iot` API.
pub struct Iot;

impl Api for Iot {
    type Endpoint = Endpoint;
    const NAME: &'static str = "iot";
    const PROTOCOL: Protocol = Protocol::RestJson;

    fn parse(method: &Method, path: &str, query: &str) -> Result<Endpoint, ApiError> {
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
            ErrorKind::Unauthorized => (S::UNAUTHORIZED, "UnauthorizedException"),
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
            ErrorKind::InvalidQuery => (S::BAD_REQUEST, "InvalidQueryException"),
            ErrorKind::InvalidAggregation => (S::BAD_REQUEST, "InvalidAggregationException"),
            ErrorKind::IndexNotReady => (S::BAD_REQUEST, "IndexNotReadyException"),
            ErrorKind::NotSupported => (S::NOT_FOUND, "UnknownOperationException"),
            ErrorKind::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "RequestEntityTooLargeException"),
            ErrorKind::UnsupportedEncoding => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedDocumentEncodingException",
            ),
            ErrorKind::Internal => (S::INTERNAL_SERVER_ERROR, "InternalFailureException"),
        }
    }
}

/// Every `iot` operation Shoal serves, with its URI labels and query decoded. Variants carry
/// AWS's operation names, so one of them ends with "Endpoint".
#[derive(Debug)]
#[allow(clippy::enum_variant_names)]
pub enum Endpoint {
    CreateThing {
        name: String,
    },
    DescribeThing {
        name: String,
    },
    UpdateThing {
        name: String,
    },
    DeleteThing {
        name: String,
        query: Query,
    },
    ListThings {
        query: Query,
    },
    ListThingGroupsForThing {
        name: String,
        query: Query,
    },
    GetThingConnectivityData {
        name: String,
    },
    CreateThingType {
        name: String,
    },
    DescribeThingType {
        name: String,
    },
    UpdateThingType {
        name: String,
    },
    DeprecateThingType {
        name: String,
    },
    DeleteThingType {
        name: String,
    },
    ListThingTypes {
        query: Query,
    },
    CreateThingGroup {
        name: String,
    },
    DescribeThingGroup {
        name: String,
    },
    UpdateThingGroup {
        name: String,
    },
    DeleteThingGroup {
        name: String,
        query: Query,
    },
    ListThingGroups {
        query: Query,
    },
    ListThingsInThingGroup {
        name: String,
        query: Query,
    },
    AddThingToThingGroup,
    RemoveThingFromThingGroup,
    UpdateThingGroupsForThing,
    TagResource,
    UntagResource,
    ListTagsForResource {
        query: Query,
    },
    DescribeEndpoint {
        query: Query,
    },
    CreateKeysAndCertificate {
        query: Query,
    },
    CreateCertificateFromCsr {
        query: Query,
    },
    RegisterCertificate {
        query: Query,
    },
    RegisterCertificateWithoutCA {
        query: Query,
    },
    DescribeCertificate {
        id: String,
    },
    ListCertificates {
        query: Query,
    },
    ListCertificatesByCA {
        ca: String,
        query: Query,
    },
    UpdateCertificate {
        id: String,
        query: Query,
    },
    DeleteCertificate {
        id: String,
        query: Query,
    },
    GetRegistrationCode,
    RegisterCACertificate {
        query: Query,
    },
    DescribeCACertificate {
        id: String,
    },
    ListCACertificates {
        query: Query,
    },
    UpdateCACertificate {
        id: String,
        query: Query,
    },
    DeleteCACertificate {
        id: String,
    },
    CreatePolicy {
        name: String,
    },
    GetPolicy {
        name: String,
    },
    ListPolicies {
        query: Query,
    },
    DeletePolicy {
        name: String,
    },
    CreatePolicyVersion {
        name: String,
        query: Query,
    },
    GetPolicyVersion {
        name: String,
        version: String,
    },
    ListPolicyVersions {
        name: String,
    },
    SetDefaultPolicyVersion {
        name: String,
        version: String,
    },
    DeletePolicyVersion {
        name: String,
        version: String,
    },
    AttachPolicy {
        name: String,
    },
    DetachPolicy {
        name: String,
    },
    ListAttachedPolicies {
        target: String,
        query: Query,
    },
    ListTargetsForPolicy {
        name: String,
        query: Query,
    },
    GetEffectivePolicies {
        query: Query,
    },
    TestAuthorization {
        query: Query,
    },
    AttachThingPrincipal {
        thing: String,
        query: Query,
    },
    DetachThingPrincipal {
        thing: String,
    },
    ListThingPrincipals {
        thing: String,
        query: Query,
    },
    ListPrincipalThings {
        query: Query,
    },
    CreateDynamicThingGroup {
        name: String,
    },
    UpdateDynamicThingGroup {
        name: String,
    },
    DeleteDynamicThingGroup {
        name: String,
        query: Query,
    },
    CreateFleetMetric {
        name: String,
    },
    DescribeFleetMetric {
        name: String,
    },
    UpdateFleetMetric {
        name: String,
    },
    DeleteFleetMetric {
        name: String,
        query: Query,
    },
    ListFleetMetrics {
        query: Query,
    },
    GetIndexingConfiguration,
    UpdateIndexingConfiguration,
    DescribeIndex {
        name: String,
    },
    ListIndices {
        query: Query,
    },
    SearchIndex,
    GetStatistics,
    GetPercentiles,
    GetCardinality,
    GetBucketsAggregation,
    CreateJob {
        id: String,
    },
    DescribeJob {
        id: String,
    },
    UpdateJob {
        id: String,
    },
    CancelJob {
        id: String,
        query: Query,
    },
    DeleteJob {
        id: String,
        query: Query,
    },
    ListJobs {
        query: Query,
    },
    GetJobDocument {
        id: String,
        query: Query,
    },
    CreateJobTemplate {
        id: String,
    },
    DescribeJobTemplate {
        id: String,
    },
    DeleteJobTemplate {
        id: String,
    },
    ListJobTemplates {
        query: Query,
    },
    DescribeManagedJobTemplate {
        name: String,
        query: Query,
    },
    ListManagedJobTemplates {
        query: Query,
    },
    UpdateEventConfigurations,
    DescribeEventConfigurations,
    AssociateTargetsWithJob {
        id: String,
    },
    /// Shoal's extension: the rollout preview of a job definition.
    PreviewJobRollout,
    ListJobExecutionsForJob {
        id: String,
        query: Query,
    },
    DescribeJobExecution {
        thing: String,
        id: String,
        query: Query,
    },
    CancelJobExecution {
        thing: String,
        id: String,
        query: Query,
    },
    DeleteJobExecution {
        thing: String,
        id: String,
        number: String,
        query: Query,
    },
    ListJobExecutionsForThing {
        thing: String,
        query: Query,
    },
}

impl Endpoint {
    pub fn parse(method: &Method, path: &str, raw_query: &str) -> Result<Endpoint, ApiError> {
        use Endpoint as E;
        let segs = segments(path);
        let q = || Query::parse(raw_query);
        let m = method.as_str();
        let ep = match (m, segs.as_slice()) {
            ("GET", ["things"]) => E::ListThings { query: q()? },
            ("POST", ["things", n]) => E::CreateThing { name: decode(n)? },
            ("GET", ["things", n]) => E::DescribeThing { name: decode(n)? },
            ("PATCH", ["things", n]) => E::UpdateThing { name: decode(n)? },
            ("DELETE", ["things", n]) => E::DeleteThing {
                name: decode(n)?,
                query: q()?,
            },
            ("POST", ["things", n, "connectivity-data"]) => {
                E::GetThingConnectivityData { name: decode(n)? }
            }
            ("GET", ["things", n, "thing-groups"]) => E::ListThingGroupsForThing {
                name: decode(n)?,
                query: q()?,
            },
            ("GET", ["thing-types"]) => E::ListThingTypes { query: q()? },
            ("POST", ["thing-types", n]) => E::CreateThingType { name: decode(n)? },
            ("GET", ["thing-types", n]) => E::DescribeThingType { name: decode(n)? },
            ("PATCH", ["thing-types", n]) => E::UpdateThingType { name: decode(n)? },
            ("DELETE", ["thing-types", n]) => E::DeleteThingType { name: decode(n)? },
            ("POST", ["thing-types", n, "deprecate"]) => E::DeprecateThingType { name: decode(n)? },
            ("GET", ["thing-groups"]) => E::ListThingGroups { query: q()? },
            ("PUT", ["thing-groups", "addThingToThingGroup"]) => E::AddThingToThingGroup,
            ("PUT", ["thing-groups", "removeThingFromThingGroup"]) => E::RemoveThingFromThingGroup,
            ("PUT", ["thing-groups", "updateThingGroupsForThing"]) => E::UpdateThingGroupsForThing,
            ("POST", ["thing-groups", n]) => E::CreateThingGroup { name: decode(n)? },
            ("GET", ["thing-groups", n]) => E::DescribeThingGroup { name: decode(n)? },
            ("PATCH", ["thing-groups", n]) => E::UpdateThingGroup { name: decode(n)? },
            ("DELETE", ["thing-groups", n]) => E::DeleteThingGroup {
                name: decode(n)?,
                query: q()?,
            },
            ("GET", ["thing-groups", n, "things"]) => E::ListThingsInThingGroup {
                name: decode(n)?,
                query: q()?,
            },
            ("POST", ["tags"]) => E::TagResource,
            ("POST", ["untag"]) => E::UntagResource,
            ("GET", ["tags"]) => E::ListTagsForResource { query: q()? },
            ("GET", ["endpoint"]) => E::DescribeEndpoint { query: q()? },
            ("POST", ["keys-and-certificate"]) => E::CreateKeysAndCertificate { query: q()? },
            ("POST", ["certificates"]) => E::CreateCertificateFromCsr { query: q()? },
            ("POST", ["certificate", "register"]) => E::RegisterCertificate { query: q()? },
            ("POST", ["certificate", "register-no-ca"]) => {
                E::RegisterCertificateWithoutCA { query: q()? }
            }
            ("GET", ["certificates"]) => E::ListCertificates { query: q()? },
            ("GET", ["certificates", id]) => E::DescribeCertificate { id: decode(id)? },
            ("PUT", ["certificates", id]) => E::UpdateCertificate {
                id: decode(id)?,
                query: q()?,
            },
            ("DELETE", ["certificates", id]) => E::DeleteCertificate {
                id: decode(id)?,
                query: q()?,
            },
            ("GET", ["certificates-by-ca", ca]) => E::ListCertificatesByCA {
                ca: decode(ca)?,
                query: q()?,
            },
            ("GET", ["registrationcode"]) => E::GetRegistrationCode,
            ("POST", ["cacertificate"]) => E::RegisterCACertificate { query: q()? },
            ("GET", ["cacertificates"]) => E::ListCACertificates { query: q()? },
            ("GET", ["cacertificate", id]) => E::DescribeCACertificate { id: decode(id)? },
            ("PUT", ["cacertificate", id]) => E::UpdateCACertificate {
                id: decode(id)?,
                query: q()?,
            },
            ("DELETE", ["cacertificate", id]) => E::DeleteCACertificate { id: decode(id)? },
            ("GET", ["policies"]) => E::ListPolicies { query: q()? },
            ("POST", ["policies", n]) => E::CreatePolicy { name: decode(n)? },
            ("GET", ["policies", n]) => E::GetPolicy { name: decode(n)? },
            ("DELETE", ["policies", n]) => E::DeletePolicy { name: decode(n)? },
            ("POST", ["policies", n, "version"]) => E::CreatePolicyVersion {
                name: decode(n)?,
                query: q()?,
            },
            ("GET", ["policies", n, "version"]) => E::ListPolicyVersions { name: decode(n)? },
            ("GET", ["policies", n, "version", v]) => E::GetPolicyVersion {
                name: decode(n)?,
                version: decode(v)?,
            },
            ("PATCH", ["policies", n, "version", v]) => E::SetDefaultPolicyVersion {
                name: decode(n)?,
                version: decode(v)?,
            },
            ("DELETE", ["policies", n, "version", v]) => E::DeletePolicyVersion {
                name: decode(n)?,
                version: decode(v)?,
            },
            ("PUT", ["target-policies", n]) => E::AttachPolicy { name: decode(n)? },
            ("POST", ["target-policies", n]) => E::DetachPolicy { name: decode(n)? },
            ("POST", ["attached-policies", t]) => E::ListAttachedPolicies {
                target: decode(t)?,
                query: q()?,
            },
            ("POST", ["policy-targets", n]) => E::ListTargetsForPolicy {
                name: decode(n)?,
                query: q()?,
            },
            ("POST", ["effective-policies"]) => E::GetEffectivePolicies { query: q()? },
            ("POST", ["test-authorization"]) => E::TestAuthorization { query: q()? },
            ("PUT", ["things", n, "principals"]) => E::AttachThingPrincipal {
                thing: decode(n)?,
                query: q()?,
            },
            ("DELETE", ["things", n, "principals"]) => {
                E::DetachThingPrincipal { thing: decode(n)? }
            }
            ("GET", ["things", n, "principals"]) => E::ListThingPrincipals {
                thing: decode(n)?,
                query: q()?,
            },
            ("GET", ["principals", "things"]) => E::ListPrincipalThings { query: q()? },
            ("POST", ["dynamic-thing-groups", n]) => {
                E::CreateDynamicThingGroup { name: decode(n)? }
            }
            ("PATCH", ["dynamic-thing-groups", n]) => {
                E::UpdateDynamicThingGroup { name: decode(n)? }
            }
            ("DELETE", ["dynamic-thing-groups", n]) => E::DeleteDynamicThingGroup {
                name: decode(n)?,
                query: q()?,
            },
            ("PUT", ["fleet-metric", n]) => E::CreateFleetMetric { name: decode(n)? },
            ("GET", ["fleet-metric", n]) => E::DescribeFleetMetric { name: decode(n)? },
            ("PATCH", ["fleet-metric", n]) => E::UpdateFleetMetric { name: decode(n)? },
            ("DELETE", ["fleet-metric", n]) => E::DeleteFleetMetric {
                name: decode(n)?,
                query: q()?,
            },
            ("GET", ["fleet-metrics"]) => E::ListFleetMetrics { query: q()? },
            ("GET", ["indexing", "config"]) => E::GetIndexingConfiguration,
            ("POST", ["indexing", "config"]) => E::UpdateIndexingConfiguration,
            ("GET", ["indices"]) => E::ListIndices { query: q()? },
            ("GET", ["indices", n]) => E::DescribeIndex { name: decode(n)? },
            ("POST", ["indices", "search"]) => E::SearchIndex,
            ("POST", ["indices", "statistics"]) => E::GetStatistics,
            ("POST", ["indices", "percentiles"]) => E::GetPercentiles,
            ("POST", ["indices", "cardinality"]) => E::GetCardinality,
            ("POST", ["indices", "buckets"]) => E::GetBucketsAggregation,
            ("GET", ["jobs"]) => E::ListJobs { query: q()? },
            ("PUT", ["jobs", id]) => E::CreateJob { id: decode(id)? },
            ("GET", ["jobs", id]) => E::DescribeJob { id: decode(id)? },
            ("PATCH", ["jobs", id]) => E::UpdateJob { id: decode(id)? },
            ("DELETE", ["jobs", id]) => E::DeleteJob {
                id: decode(id)?,
                query: q()?,
            },
            ("PUT", ["jobs", id, "cancel"]) => E::CancelJob {
                id: decode(id)?,
                query: q()?,
            },
            ("GET", ["jobs", id, "job-document"]) => E::GetJobDocument {
                id: decode(id)?,
                query: q()?,
            },
            ("GET", ["job-templates"]) => E::ListJobTemplates { query: q()? },
            ("PUT", ["job-templates", id]) => E::CreateJobTemplate { id: decode(id)? },
            ("GET", ["job-templates", id]) => E::DescribeJobTemplate { id: decode(id)? },
            ("DELETE", ["job-templates", id]) => E::DeleteJobTemplate { id: decode(id)? },
            ("PATCH", ["event-configurations"]) => E::UpdateEventConfigurations,
            ("POST", ["jobs", id, "targets"]) => E::AssociateTargetsWithJob { id: decode(id)? },
            // Not an AWS operation: AWS's URIs never start with /shoal.
            ("POST", ["shoal", "rollout-preview"]) => E::PreviewJobRollout,
            ("GET", ["event-configurations"]) => E::DescribeEventConfigurations,
            ("GET", ["managed-job-templates"]) => E::ListManagedJobTemplates { query: q()? },
            ("GET", ["managed-job-templates", n]) => E::DescribeManagedJobTemplate {
                name: decode(n)?,
                query: q()?,
            },
            ("GET", ["jobs", id, "things"]) => E::ListJobExecutionsForJob {
                id: decode(id)?,
                query: q()?,
            },
            ("GET", ["things", t, "jobs"]) => E::ListJobExecutionsForThing {
                thing: decode(t)?,
                query: q()?,
            },
            ("GET", ["things", t, "jobs", id]) => E::DescribeJobExecution {
                thing: decode(t)?,
                id: decode(id)?,
                query: q()?,
            },
            ("PUT", ["things", t, "jobs", id, "cancel"]) => E::CancelJobExecution {
                thing: decode(t)?,
                id: decode(id)?,
                query: q()?,
            },
            ("DELETE", ["things", t, "jobs", id, "executionNumber", n]) => E::DeleteJobExecution {
                thing: decode(t)?,
                id: decode(id)?,
                number: decode(n)?,
                query: q()?,
            },
            _ => {
                return Err(ApiError::UnknownOperation(format!(
                    "{m} {path} is not an operation Shoal supports yet (see docs/compatibility.md)"
                )))
            }
        };
        Ok(ep)
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
    let value = match endpoint {
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
        E::TagResource => tags::tag(reg, part, body).await?,
        E::UntagResource => tags::untag(reg, part, body).await?,
        E::ListTagsForResource { query } => tags::list(reg, part, &query)?,
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
            principals::list_for_thing(id, part, &thing, &query)?
        }
        E::ListPrincipalThings { query } => principals::list_things(id, part, &query, headers)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation served, as the botocore model routes it (method, URI with its labels
    /// filled in, query): each must parse to its own variant.
    const ROUTES: &[(&str, &str, &str, &str)] = &[
        ("POST", "/things/x1", "", "CreateThing"),
        ("GET", "/things/x1", "", "DescribeThing"),
        ("PATCH", "/things/x1", "", "UpdateThing"),
        ("DELETE", "/things/x1", "", "DeleteThing"),
        ("GET", "/things", "", "ListThings"),
        (
            "GET",
            "/things/x1/thing-groups",
            "",
            "ListThingGroupsForThing",
        ),
        (
            "POST",
            "/things/x1/connectivity-data",
            "",
            "GetThingConnectivityData",
        ),
        ("POST", "/thing-types/x1", "", "CreateThingType"),
        ("GET", "/thing-types/x1", "", "DescribeThingType"),
        ("PATCH", "/thing-types/x1", "", "UpdateThingType"),
        (
            "POST",
            "/thing-types/x1/deprecate",
            "",
            "DeprecateThingType",
        ),
        ("DELETE", "/thing-types/x1", "", "DeleteThingType"),
        ("GET", "/thing-types", "", "ListThingTypes"),
        ("POST", "/thing-groups/x1", "", "CreateThingGroup"),
        ("GET", "/thing-groups/x1", "", "DescribeThingGroup"),
        ("PATCH", "/thing-groups/x1", "", "UpdateThingGroup"),
        ("DELETE", "/thing-groups/x1", "", "DeleteThingGroup"),
        ("GET", "/thing-groups", "", "ListThingGroups"),
        (
            "GET",
            "/thing-groups/x1/things",
            "",
            "ListThingsInThingGroup",
        ),
        (
            "PUT",
            "/thing-groups/addThingToThingGroup",
            "",
            "AddThingToThingGroup",
        ),
        (
            "PUT",
            "/thing-groups/removeThingFromThingGroup",
            "",
            "RemoveThingFromThingGroup",
        ),
        (
            "PUT",
            "/thing-groups/updateThingGroupsForThing",
            "",
            "UpdateThingGroupsForThing",
        ),
        ("POST", "/tags", "", "TagResource"),
        ("POST", "/untag", "", "UntagResource"),
        ("GET", "/tags", "", "ListTagsForResource"),
        ("GET", "/endpoint", "", "DescribeEndpoint"),
        (
            "POST",
            "/keys-and-certificate",
            "",
            "CreateKeysAndCertificate",
        ),
        ("POST", "/certificates", "", "CreateCertificateFromCsr"),
        ("POST", "/certificate/register", "", "RegisterCertificate"),
        (
            "POST",
            "/certificate/register-no-ca",
            "",
            "RegisterCertificateWithoutCA",
        ),
        ("GET", "/certificates/x1", "", "DescribeCertificate"),
        ("GET", "/certificates", "", "ListCertificates"),
        ("GET", "/certificates-by-ca/x1", "", "ListCertificatesByCA"),
        ("PUT", "/certificates/x1", "", "UpdateCertificate"),
        ("DELETE", "/certificates/x1", "", "DeleteCertificate"),
        ("GET", "/registrationcode", "", "GetRegistrationCode"),
        ("POST", "/cacertificate", "", "RegisterCACertificate"),
        ("GET", "/cacertificate/x1", "", "DescribeCACertificate"),
        ("GET", "/cacertificates", "", "ListCACertificates"),
        ("PUT", "/cacertificate/x1", "", "UpdateCACertificate"),
        ("DELETE", "/cacertificate/x1", "", "DeleteCACertificate"),
        ("POST", "/policies/x1", "", "CreatePolicy"),
        ("GET", "/policies/x1", "", "GetPolicy"),
        ("GET", "/policies", "", "ListPolicies"),
        ("DELETE", "/policies/x1", "", "DeletePolicy"),
        ("POST", "/policies/x1/version", "", "CreatePolicyVersion"),
        ("GET", "/policies/x1/version/x1", "", "GetPolicyVersion"),
        ("GET", "/policies/x1/version", "", "ListPolicyVersions"),
        (
            "PATCH",
            "/policies/x1/version/x1",
            "",
            "SetDefaultPolicyVersion",
        ),
        (
            "DELETE",
            "/policies/x1/version/x1",
            "",
            "DeletePolicyVersion",
        ),
        ("PUT", "/target-policies/x1", "", "AttachPolicy"),
        ("POST", "/target-policies/x1", "", "DetachPolicy"),
        ("POST", "/attached-policies/x1", "", "ListAttachedPolicies"),
        ("POST", "/policy-targets/x1", "", "ListTargetsForPolicy"),
        ("POST", "/effective-policies", "", "GetEffectivePolicies"),
        ("POST", "/test-authorization", "", "TestAuthorization"),
        ("PUT", "/things/x1/principals", "", "AttachThingPrincipal"),
        (
            "DELETE",
            "/things/x1/principals",
            "",
            "DetachThingPrincipal",
        ),
        ("GET", "/things/x1/principals", "", "ListThingPrincipals"),
        ("GET", "/principals/things", "", "ListPrincipalThings"),
        (
            "POST",
            "/dynamic-thing-groups/x1",
            "",
            "CreateDynamicThingGroup",
        ),
        (
            "PATCH",
            "/dynamic-thing-groups/x1",
            "",
            "UpdateDynamicThingGroup",
        ),
        (
            "DELETE",
            "/dynamic-thing-groups/x1",
            "",
            "DeleteDynamicThingGroup",
        ),
        ("PUT", "/fleet-metric/x1", "", "CreateFleetMetric"),
        ("GET", "/fleet-metric/x1", "", "DescribeFleetMetric"),
        ("PATCH", "/fleet-metric/x1", "", "UpdateFleetMetric"),
        ("DELETE", "/fleet-metric/x1", "", "DeleteFleetMetric"),
        ("GET", "/fleet-metrics", "", "ListFleetMetrics"),
        ("GET", "/indexing/config", "", "GetIndexingConfiguration"),
        (
            "POST",
            "/indexing/config",
            "",
            "UpdateIndexingConfiguration",
        ),
        ("GET", "/indices/x1", "", "DescribeIndex"),
        ("GET", "/indices", "", "ListIndices"),
        ("POST", "/indices/search", "", "SearchIndex"),
        ("POST", "/indices/statistics", "", "GetStatistics"),
        ("POST", "/indices/percentiles", "", "GetPercentiles"),
        ("POST", "/indices/cardinality", "", "GetCardinality"),
        ("POST", "/indices/buckets", "", "GetBucketsAggregation"),
        ("PUT", "/jobs/x1", "", "CreateJob"),
        ("GET", "/jobs/x1", "", "DescribeJob"),
        ("PATCH", "/jobs/x1", "", "UpdateJob"),
        ("PUT", "/jobs/x1/cancel", "", "CancelJob"),
        ("DELETE", "/jobs/x1", "", "DeleteJob"),
        ("GET", "/jobs", "", "ListJobs"),
        ("GET", "/jobs/x1/job-document", "", "GetJobDocument"),
        ("PUT", "/job-templates/x1", "", "CreateJobTemplate"),
        ("GET", "/job-templates/x1", "", "DescribeJobTemplate"),
        ("DELETE", "/job-templates/x1", "", "DeleteJobTemplate"),
        ("GET", "/job-templates", "", "ListJobTemplates"),
        (
            "GET",
            "/managed-job-templates/x1",
            "",
            "DescribeManagedJobTemplate",
        ),
        (
            "GET",
            "/managed-job-templates",
            "",
            "ListManagedJobTemplates",
        ),
        (
            "PATCH",
            "/event-configurations",
            "",
            "UpdateEventConfigurations",
        ),
        (
            "GET",
            "/event-configurations",
            "",
            "DescribeEventConfigurations",
        ),
        ("POST", "/jobs/x1/targets", "", "AssociateTargetsWithJob"),
        ("GET", "/jobs/x1/things", "", "ListJobExecutionsForJob"),
        ("GET", "/things/x1/jobs/x1", "", "DescribeJobExecution"),
        ("PUT", "/things/x1/jobs/x1/cancel", "", "CancelJobExecution"),
        (
            "DELETE",
            "/things/x1/jobs/x1/executionNumber/2",
            "",
            "DeleteJobExecution",
        ),
        ("GET", "/things/x1/jobs", "", "ListJobExecutionsForThing"),
    ];

    #[test]
    fn every_route_parses_to_its_operation() {
        for (method, path, query, op) in ROUTES {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let ep = Endpoint::parse(&m, path, query)
                .unwrap_or_else(|e| panic!("{method} {path}: {e:?}"));
            let name = format!("{ep:?}");
            assert!(
                name == *op || name.starts_with(&format!("{op} ")),
                "{method} {path} parsed as {name}, not {op}"
            );
        }
    }

    #[test]
    fn shoal_s_own_routes() {
        let ep = Endpoint::parse(&Method::POST, "/shoal/rollout-preview", "").unwrap();
        assert!(matches!(ep, Endpoint::PreviewJobRollout));
    }

    #[test]
    fn an_unknown_route_is_an_unknown_operation() {
        for (method, path) in [
            ("GET", "/job-templates/x1/y"),
            ("PUT", "/things/x1"),
            ("GET", "/things/x1/y"),
            ("POST", "/"),
        ] {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            assert!(matches!(
                Endpoint::parse(&m, path, ""),
                Err(ApiError::UnknownOperation(_))
            ));
        }
    }
}
