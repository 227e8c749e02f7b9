"""CA certificates: registration codes, RegisterCACertificate with its
key-verification certificate, describe/list/update/delete, and the device
certificates a CA signed (ListCertificatesByCA, DeleteCACertificate rules).

Each test makes its own CA with `cryptography`, the way the developer guide
does it with openssl: a self-signed CA, then a verification certificate whose
CN is the account's registration code, signed by the CA's key.
"""

import datetime

import pytest
from botocore.exceptions import ClientError


def _collect(call, key, **kw):
    out, marker = [], None
    while True:
        args = dict(kw)
        if marker:
            args["marker"] = marker
        page = call(**args)
        out.extend(page.get(key, []))
        marker = page.get("nextMarker")
        if not marker:
            return out


def _ca_ids(client):
    return {c["certificateId"] for c in _collect(client.list_ca_certificates, "certificates",
                                                 pageSize=250)}


def _ca_status(client, ca_id):
    return client.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]["status"]


def _code(client):
    return client.get_registration_code()["registrationCode"]


def test_registration_code_is_stable(iot):
    first, second = _code(iot), _code(iot)
    assert len(first) == 64
    int(first, 16)  # hex
    # "If you already have a registration code, this API call will return the same code."
    assert first == second


def test_register_ca_certificate_and_describe(iot, pki, unique, account_id):
    ca_key, ca_cert = pki.ca("Describe CA %s" % unique("d"))
    verification = pki.verification_cert(_code(iot), ca_key, ca_cert)
    resp = iot.register_ca_certificate(caCertificate=pki.pem(ca_cert),
                                       verificationCertificate=pki.pem(verification),
                                       setAsActive=True)
    ca_id = resp["certificateId"]
    assert ca_id == pki.cert_id(ca_cert)
    assert resp["certificateArn"] == "arn:aws:iot:us-east-1:%s:cacert/%s" % (account_id, ca_id)

    d = iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]
    assert d["certificateId"] == ca_id
    assert d["certificateArn"] == resp["certificateArn"]
    assert d["status"] == "ACTIVE"
    assert pki.load(d["certificatePem"]) == ca_cert
    assert d["ownedBy"] == account_id
    assert d["autoRegistrationStatus"] == "DISABLE"
    assert d["certificateMode"] == "DEFAULT"
    assert isinstance(d["creationDate"], datetime.datetime)
    assert d["validity"]["notBefore"].timestamp() == ca_cert.not_valid_before_utc.timestamp()
    assert d["validity"]["notAfter"].timestamp() == ca_cert.not_valid_after_utc.timestamp()

    listed = {c["certificateId"]: c for c in
              _collect(iot.list_ca_certificates, "certificates", pageSize=250)}
    assert listed[ca_id]["status"] == "ACTIVE"
    assert listed[ca_id]["certificateArn"] == resp["certificateArn"]

    # A CA certificate is not a device certificate.
    assert ca_id not in {c["certificateId"] for c in
                         _collect(iot.list_certificates, "certificates", pageSize=250)}


def test_register_ca_default_inactive_then_update(iot, pki):
    _, _, ca_id = pki.register_ca(iot, active=False)
    assert _ca_status(iot, ca_id) == "INACTIVE"
    iot.update_ca_certificate(certificateId=ca_id, newStatus="ACTIVE")
    assert _ca_status(iot, ca_id) == "ACTIVE"
    iot.update_ca_certificate(certificateId=ca_id, newStatus="INACTIVE")
    assert _ca_status(iot, ca_id) == "INACTIVE"
    iot.update_ca_certificate(certificateId=ca_id, newAutoRegistrationStatus="ENABLE")
    d = iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]
    assert d["autoRegistrationStatus"] == "ENABLE"
    assert d["status"] == "INACTIVE"


def test_register_ca_certificate_with_cli(aws_cli, iot, pki, unique, tmp_path):
    # The AWS CLI example, with openssl's files made by cryptography.
    ca_key, ca_cert = pki.ca("CLI CA %s" % unique("c"))
    code = aws_cli("iot", "get-registration-code")["registrationCode"]
    (tmp_path / "rootCA.pem").write_text(pki.pem(ca_cert))
    (tmp_path / "verificationCert.pem").write_text(
        pki.pem(pki.verification_cert(code, ca_key, ca_cert)))
    resp = aws_cli("iot", "register-ca-certificate",
                   "--ca-certificate", "file://" + str(tmp_path / "rootCA.pem"),
                   "--verification-cert", "file://" + str(tmp_path / "verificationCert.pem"))
    assert resp["certificateId"] == pki.cert_id(ca_cert)
    assert aws_cli("iot", "update-ca-certificate", "--certificate-id", resp["certificateId"],
                   "--new-status", "ACTIVE") is None
    d = aws_cli("iot", "describe-ca-certificate", "--certificate-id", resp["certificateId"])
    assert d["certificateDescription"]["status"] == "ACTIVE"
    listed = aws_cli("iot", "list-ca-certificates")["certificates"]
    assert resp["certificateId"] in [c["certificateId"] for c in listed]


def test_verification_certificate_with_wrong_cn(iot, pki, aws_error, unique):
    ca_key, ca_cert = pki.ca("Wrong CN CA %s" % unique("w"))
    wrong = pki.verification_cert("0" * 64, ca_key, ca_cert)
    before = _ca_ids(iot)
    with aws_error("RegistrationCodeValidationException", 400):
        iot.register_ca_certificate(caCertificate=pki.pem(ca_cert),
                                    verificationCertificate=pki.pem(wrong), setAsActive=True)
    assert _ca_ids(iot) == before
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_ca_certificate(certificateId=pki.cert_id(ca_cert))


def test_verification_certificate_not_signed_by_the_ca(iot, pki, aws_error, unique):
    ca_key, ca_cert = pki.ca("Real CA %s" % unique("r"))
    other_key, other_cert = pki.ca("Other CA %s" % unique("o"))
    # Right CN, but signed by another key.
    forged = pki.verification_cert(_code(iot), other_key, other_cert)
    before = _ca_ids(iot)
    with aws_error("CertificateValidationException", 400):
        iot.register_ca_certificate(caCertificate=pki.pem(ca_cert),
                                    verificationCertificate=pki.pem(forged), setAsActive=True)
    assert _ca_ids(iot) == before
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_ca_certificate(certificateId=pki.cert_id(ca_cert))


def test_ca_certificate_that_is_not_a_ca(iot, pki, aws_error, unique):
    # A plain self-signed leaf (basicConstraints CA:FALSE) cannot be registered as a CA.
    key, leaf = pki.self_signed("Not a CA %s" % unique("n"))
    verification = pki.verification_cert(_code(iot), key, leaf)
    before = _ca_ids(iot)
    with aws_error("CertificateValidationException", 400):
        iot.register_ca_certificate(caCertificate=pki.pem(leaf),
                                    verificationCertificate=pki.pem(verification))
    assert _ca_ids(iot) == before


def test_register_ca_without_verification_certificate(iot_raw, pki, unique):
    # Model: "If certificateMode is DEFAULT or not provided, the
    # verificationCertificate field must not be empty." The error code is not
    # documented; both candidates are 400s.
    _, ca_cert = pki.ca("No verification CA %s" % unique("v"))
    before = _ca_ids(iot_raw)
    with pytest.raises(ClientError) as ei:
        iot_raw.register_ca_certificate(caCertificate=pki.pem(ca_cert))
    assert ei.value.response["Error"]["Code"] in ("InvalidRequestException",
                                                  "CertificateValidationException")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert _ca_ids(iot_raw) == before


@pytest.mark.parametrize("which", ["ca", "verification"])
def test_register_ca_with_garbage_pem(iot, pki, unique, which):
    ca_key, ca_cert = pki.ca("Garbage CA %s" % unique("g"))
    ca_pem = pki.pem(ca_cert)
    ver_pem = pki.pem(pki.verification_cert(_code(iot), ca_key, ca_cert))
    if which == "ca":
        ca_pem = "-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n"
    else:
        ver_pem = "not a certificate"
    before = _ca_ids(iot)
    with pytest.raises(ClientError) as ei:
        iot.register_ca_certificate(caCertificate=ca_pem, verificationCertificate=ver_pem)
    assert ei.value.response["Error"]["Code"] in ("CertificateValidationException",
                                                  "InvalidRequestException")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert _ca_ids(iot) == before


def test_register_same_ca_twice(iot, pki, aws_error):
    ca_key, ca_cert, ca_id = pki.register_ca(iot)
    again = pki.verification_cert(_code(iot), ca_key, ca_cert)
    with aws_error("ResourceAlreadyExistsException", 409):
        iot.register_ca_certificate(caCertificate=pki.pem(ca_cert),
                                    verificationCertificate=pki.pem(again))
    assert _ca_status(iot, ca_id) == "ACTIVE"


def test_delete_ca_certificate_rules(iot, pki, aws_error):
    _, _, ca_id = pki.register_ca(iot, active=True)
    # Only an INACTIVE CA certificate can be deleted.
    with aws_error("CertificateStateException", 406):
        iot.delete_ca_certificate(certificateId=ca_id)
    assert _ca_status(iot, ca_id) == "ACTIVE"

    iot.update_ca_certificate(certificateId=ca_id, newStatus="INACTIVE")
    iot.delete_ca_certificate(certificateId=ca_id)
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_ca_certificate(certificateId=ca_id)
    assert ca_id not in _ca_ids(iot)
    with aws_error("ResourceNotFoundException", 404):
        iot.delete_ca_certificate(certificateId=ca_id)
    with aws_error("ResourceNotFoundException", 404):
        iot.update_ca_certificate(certificateId=ca_id, newStatus="ACTIVE")


def test_delete_ca_with_registered_device_certificates(iot, pki, aws_error, unique):
    ca_key, ca_cert, ca_id = pki.register_ca(iot, active=True)
    _, device = pki.signed_by(unique("child"), ca_key, ca_cert)
    dev_id = iot.register_certificate(certificatePem=pki.pem(device),
                                      caCertificatePem=pki.pem(ca_cert))["certificateId"]
    iot.update_ca_certificate(certificateId=ca_id, newStatus="INACTIVE")

    with aws_error("CertificateStateException", 406):
        iot.delete_ca_certificate(certificateId=ca_id)
    assert _ca_status(iot, ca_id) == "INACTIVE"
    # The device certificate is untouched by the refused delete.
    d = iot.describe_certificate(certificateId=dev_id)["certificateDescription"]
    assert d["caCertificateId"] == ca_id

    iot.delete_certificate(certificateId=dev_id)
    iot.delete_ca_certificate(certificateId=ca_id)
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_ca_certificate(certificateId=ca_id)


def test_list_certificates_by_ca_pages(iot, pki, unique):
    ca_key, ca_cert, ca_id = pki.register_ca(iot)
    other_key, other_cert, _ = pki.register_ca(iot)
    mine = set()
    for i in range(5):
        _, dev = pki.signed_by(unique("paged"), ca_key, ca_cert)
        mine.add(iot.register_certificate(certificatePem=pki.pem(dev),
                                          caCertificatePem=pki.pem(ca_cert),
                                          status="ACTIVE" if i % 2 else "INACTIVE")
                 ["certificateId"])
    _, foreign = pki.signed_by(unique("foreign"), other_key, other_cert)
    foreign_id = iot.register_certificate(certificatePem=pki.pem(foreign),
                                          caCertificatePem=pki.pem(other_cert))["certificateId"]

    first = iot.list_certificates_by_ca(caCertificateId=ca_id, pageSize=2)
    assert len(first["certificates"]) == 2
    assert first.get("nextMarker")
    listed = _collect(iot.list_certificates_by_ca, "certificates", caCertificateId=ca_id,
                      pageSize=2)
    ids = [c["certificateId"] for c in listed]
    assert len(ids) == len(set(ids))
    assert set(ids) == mine
    assert foreign_id not in ids
    for c in listed:
        assert c["certificateArn"].endswith(":cert/" + c["certificateId"])
        assert c["status"] in ("ACTIVE", "INACTIVE")


def test_update_ca_certificate_invalid_status(iot_raw, pki, aws_error):
    # CACertificateStatus is ACTIVE | INACTIVE only.
    _, _, ca_id = pki.register_ca(iot_raw, active=True)
    with aws_error("InvalidRequestException", 400):
        iot_raw.update_ca_certificate(certificateId=ca_id, newStatus="REVOKED")
    assert _ca_status(iot_raw, ca_id) == "ACTIVE"


def test_unknown_ca_certificate(iot, aws_error):
    missing = "ab" * 32
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_ca_certificate(certificateId=missing)
    with aws_error("ResourceNotFoundException", 404):
        iot.update_ca_certificate(certificateId=missing, newStatus="INACTIVE")
    with aws_error("ResourceNotFoundException", 404):
        iot.delete_ca_certificate(certificateId=missing)


def test_ca_certificates_are_regional(server, iot, pki, aws_error, unique):
    west = server.client(region="eu-west-1")
    ca_key, ca_cert, ca_id = pki.register_ca(iot)
    with aws_error("ResourceNotFoundException", 404):
        west.describe_ca_certificate(certificateId=ca_id)
    assert ca_id not in _ca_ids(west)
    # A device certificate of that CA cannot be registered in the other region
    # through it.
    _, device = pki.signed_by(unique("west"), ca_key, ca_cert)
    with pytest.raises(ClientError):
        west.register_certificate(certificatePem=pki.pem(device),
                                  caCertificatePem=pki.pem(ca_cert))
    assert pki.cert_id(device) not in {
        c["certificateId"] for c in _collect(west.list_certificates, "certificates",
                                             pageSize=250)}
