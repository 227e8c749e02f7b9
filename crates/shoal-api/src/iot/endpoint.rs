//! The `iot` API's routes: method and raw path to a typed `Endpoint`, labels decoded after
//! matching. URIs follow the botocore model (reference/ops_detailed.tsv); a route not listed
//! is UnknownOperationException.

use crate::error::ApiError;
use crate::request::{decode, segments, Query};
use http::Method;

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
    ListThingPrincipalsV2 {
        thing: String,
        query: Query,
    },
    ListPrincipalThingsV2 {
        query: Query,
    },
    /// A billing-group operation (routes in `billing.rs`).
    Billing(super::billing::Route),
    /// A role-alias operation (routes in `role_aliases.rs`).
    RoleAlias(super::role_aliases::Route),
    /// A custom-authorizer operation (routes in `authorizers.rs`).
    Authorizer(super::authorizers::Route),
    /// A domain-configuration operation (routes in `domains.rs`).
    Domain(super::domains::Route),
    /// A provisioning-template operation or RegisterThing (routes in `provisioning.rs`).
    Provisioning(super::provisioning::Route),
    /// A logging-settings operation (routes in `logging.rs`).
    Logging(super::logging::Route),
    /// A topic rule or destination operation, or the rule tester (routes in `rules.rs`).
    Rules(super::rules::Route),
}

impl Endpoint {
    pub fn parse(method: &Method, path: &str, raw_query: &str) -> Result<Endpoint, ApiError> {
        use Endpoint as E;
        let segs = segments(path);
        let q = || Query::parse(raw_query);
        let m = method.as_str();
        if let Some(r) = super::billing::Route::parse(m, &segs, raw_query) {
            return r.map(E::Billing);
        }
        if let Some(r) = super::rules::Route::parse(m, &segs, raw_query) {
            return r.map(E::Rules);
        }
        if let Some(r) = super::role_aliases::Route::parse(m, &segs, raw_query) {
            return r.map(E::RoleAlias);
        }
        if let Some(r) = super::authorizers::Route::parse(m, &segs, raw_query) {
            return r.map(E::Authorizer);
        }
        if let Some(r) = super::provisioning::Route::parse(m, &segs, raw_query) {
            return r.map(E::Provisioning);
        }
        if let Some(r) = super::domains::Route::parse(m, &segs, raw_query) {
            return r.map(E::Domain);
        }
        if let Some(r) = super::logging::Route::parse(m, &segs, raw_query) {
            return r.map(E::Logging);
        }
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
            ("GET", ["principals", "things-v2"]) => E::ListPrincipalThingsV2 { query: q()? },
            ("GET", ["things", n, "principals-v2"]) => E::ListThingPrincipalsV2 {
                thing: decode(n)?,
                query: q()?,
            },
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

#[cfg(test)]
#[path = "endpoint_tests.rs"]
mod tests;
