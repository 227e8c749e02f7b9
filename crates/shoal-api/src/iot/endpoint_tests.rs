//! Every `iot` route parses to its own operation; unknown ones are UnknownOperationException.

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
        "GET",
        "/things/x1/principals-v2",
        "",
        "ListThingPrincipalsV2",
    ),
    ("GET", "/principals/things-v2", "", "ListPrincipalThingsV2"),
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
        let ep =
            Endpoint::parse(&m, path, query).unwrap_or_else(|e| panic!("{method} {path}: {e:?}"));
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
