"""Domain configurations (https://docs.aws.amazon.com/iot/latest/developerguide/iot-custom-endpoints-configurable.html):
the default endpoints' configurations, AWS-managed and custom domains, updates, the delete
rules, and listing, with boto3 and the AWS CLI. What a domain does to connections is in
test_authorizers.py (custom authentication by server name)."""

import datetime

import pytest


@pytest.fixture
def account(server):
    _, key, secret = server.create_account()
    return server.client(access_key=key, secret_key=secret), (key, secret)


def test_the_default_endpoints_are_listed_and_described(account, aws_error):
    iot, _ = account
    listed = iot.list_domain_configurations()["domainConfigurations"]
    assert [(d["domainConfigurationName"], d["serviceType"]) for d in listed] == [
        ("iot:CredentialProvider", "CREDENTIAL_PROVIDER"), ("iot:Data-ATS", "DATA"),
        ("iot:Jobs", "JOBS")]
    assert listed[1]["domainConfigurationArn"].endswith(":domainconfiguration/iot:Data-ATS")
    d = iot.describe_domain_configuration(domainConfigurationName="iot:Data-ATS")
    assert d["domainType"] == "ENDPOINT" and d["domainConfigurationStatus"] == "ENABLED"
    assert d["domainName"] == iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    assert d["tlsConfig"] == {"securityPolicy": "IoTSecurityPolicy_TLS13_1_2_2022_10"}
    # A default endpoint's TLS policy can change (iot-endpoints-tls-config.html).
    iot.update_domain_configuration(domainConfigurationName="iot:Data-ATS",
                                    tlsConfig={"securityPolicy":
                                               "IoTSecurityPolicy_TLS12_1_2_2022_10"})
    d = iot.describe_domain_configuration(domainConfigurationName="iot:Data-ATS")
    assert d["tlsConfig"]["securityPolicy"] == "IoTSecurityPolicy_TLS12_1_2_2022_10"
    with aws_error("InvalidRequestException", 400):
        iot.update_domain_configuration(domainConfigurationName="iot:Data-ATS",
                                        tlsConfig={"securityPolicy": "MyOwnPolicy"})
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_domain_configuration(domainConfigurationName="nothing-here")


def test_created_domains_and_the_delete_rules(account, aws_error):
    iot, _ = account
    managed = iot.create_domain_configuration(domainConfigurationName="extra",
                                              tags=[{"Key": "k", "Value": "v"}])
    # Created configurations' ARNs end with a random part.
    assert "/extra/" in managed["domainConfigurationArn"]
    d = iot.describe_domain_configuration(domainConfigurationName="extra")
    assert d["domainType"] == "AWS_MANAGED" and d["serviceType"] == "DATA"
    assert d["domainName"].endswith("-ats.iot.us-east-1.localhost")
    assert d["serverCertificates"] == []
    assert isinstance(d["lastStatusChangeDate"], datetime.datetime)
    assert iot.list_tags_for_resource(resourceArn=managed["domainConfigurationArn"])["tags"] == [
        {"Key": "k", "Value": "v"}]

    custom = "mqtt.factory-%s.example" % managed["domainConfigurationArn"][-5:].lower()
    iot.create_domain_configuration(
        domainConfigurationName="factory", domainName=custom,
        serverCertificateArns=["arn:aws:acm:us-east-1:123456789012:certificate/abc"])
    d = iot.describe_domain_configuration(domainConfigurationName="factory")
    assert (d["domainType"], d["domainName"]) == ("CUSTOMER_MANAGED", custom)
    assert d["serverCertificates"][0]["serverCertificateStatus"] == "VALID"
    with aws_error("InvalidRequestException", 400):
        iot.create_domain_configuration(domainConfigurationName="nocert", domainName="x.example")
    with aws_error("ResourceAlreadyExistsException", 409):
        iot.create_domain_configuration(domainConfigurationName="extra")
    with aws_error("InvalidRequestException", 400):
        iot.create_domain_configuration(domainConfigurationName="jobs",
                                        serviceType="JOBS")
    with aws_error("InvalidRequestException", 400):
        iot.create_domain_configuration(domainConfigurationName="withauth",
                                        authorizerConfig={"defaultAuthorizerName": "none"})

    names = [d["domainConfigurationName"] for d in
             iot.list_domain_configurations(serviceType="DATA")["domainConfigurations"]]
    assert names == ["extra", "factory", "iot:Data-ATS"]
    first = iot.list_domain_configurations(pageSize=2)
    assert len(first["domainConfigurations"]) == 2 and first["nextMarker"]

    # Deleting needs DISABLED; an AWS-managed domain stays DISABLED for 7 days first.
    with aws_error("InvalidRequestException", 400):
        iot.delete_domain_configuration(domainConfigurationName="factory")
    for name in ("factory", "extra"):
        iot.update_domain_configuration(domainConfigurationName=name,
                                        domainConfigurationStatus="DISABLED")
    iot.delete_domain_configuration(domainConfigurationName="factory")
    with aws_error("InvalidRequestException", 400):
        iot.delete_domain_configuration(domainConfigurationName="extra")
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_domain_configuration(domainConfigurationName="factory")


def test_domain_configurations_with_the_cli(account):
    from conftest import run_aws
    iot, (key, secret) = account
    endpoint = iot.meta.endpoint_url
    out = run_aws(endpoint, key, secret, "iot", "create-domain-configuration",
                  "--domain-configuration-name", "cli-domain")
    assert out["domainConfigurationName"] == "cli-domain"
    d = run_aws(endpoint, key, secret, "iot", "describe-domain-configuration",
                "--domain-configuration-name", "cli-domain")
    assert d["domainType"] == "AWS_MANAGED"
    listed = run_aws(endpoint, key, secret, "iot", "list-domain-configurations")
    assert "cli-domain" in [x["domainConfigurationName"] for x in listed["domainConfigurations"]]


def tls_handshake(server, server_name, max_version):
    """A TLS handshake with the MQTT port, `server_name` as SNI, at most `max_version` ->
    the version agreed, or None when the server refuses."""
    import socket
    import ssl
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = max_version
    tcp = socket.create_connection(("127.0.0.1", server.mqtt_port), timeout=10)
    try:
        with ctx.wrap_socket(tcp, server_hostname=server_name) as s:
            return s.version()
    except (ssl.SSLError, ConnectionError, OSError):
        return None


def test_a_tls13_only_policy_refuses_older_clients_of_that_name(server, account):
    import ssl
    iot, _ = account
    host = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    assert tls_handshake(server, host, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    iot.update_domain_configuration(domainConfigurationName="iot:Data-ATS", tlsConfig={
        "securityPolicy": "IoTSecurityPolicy_TLS13_1_3_2022_10"})
    assert tls_handshake(server, host, ssl.TLSVersion.TLSv1_2) is None
    assert tls_handshake(server, host, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
    # Other names keep TLS 1.2.
    assert tls_handshake(server, "localhost", ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
