"""Role aliases, stored and validated as the API reference describes them (the credentials
provider that uses them is not served yet)."""

import datetime

ROLE = "arn:aws:iam::123456789012:role/device-role"


def test_role_alias_lifecycle(iot, iot_raw, unique, account_id, aws_error):
    name = unique("alias")
    made = iot.create_role_alias(roleAlias=name, roleArn=ROLE,
                                 tags=[{"Key": "team", "Value": "ops"}])
    arn = "arn:aws:iot:us-east-1:%s:rolealias/%s" % (account_id, name)
    assert made == {**made, "roleAlias": name, "roleAliasArn": arn}
    with aws_error("ResourceAlreadyExistsException", 409):
        iot.create_role_alias(roleAlias=name, roleArn=ROLE)
    d = iot.describe_role_alias(roleAlias=name)["roleAliasDescription"]
    assert d["roleArn"] == ROLE and d["owner"] == account_id
    assert d["credentialDurationSeconds"] == 3600  # AWS's default
    assert isinstance(d["creationDate"], datetime.datetime)
    assert iot.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "team", "Value": "ops"}]
    iot.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert iot.list_tags_for_resource(resourceArn=arn)["tags"] == []

    up = iot.update_role_alias(roleAlias=name, credentialDurationSeconds=43200)
    assert up["roleAliasArn"] == arn
    d = iot.describe_role_alias(roleAlias=name)["roleAliasDescription"]
    assert d["credentialDurationSeconds"] == 43200 and d["roleArn"] == ROLE
    for bad in (899, 43201):
        with aws_error("InvalidRequestException", 400):
            iot_raw.update_role_alias(roleAlias=name, credentialDurationSeconds=bad)
    with aws_error("InvalidRequestException", 400):
        iot_raw.create_role_alias(roleAlias="bad alias", roleArn=ROLE)
    with aws_error("InvalidRequestException", 400):
        iot_raw.create_role_alias(roleAlias=unique("short"), roleArn="arn:short")

    iot.delete_role_alias(roleAlias=name)
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_role_alias(roleAlias=name)
    with aws_error("ResourceNotFoundException", 404):
        iot.delete_role_alias(roleAlias=name)


def test_list_role_aliases_pages_in_both_orders(server, aws_cli):
    _, key, secret = server.create_account()
    iot = server.client(access_key=key, secret_key=secret)
    names = ["a-%d" % i for i in range(5)]
    for n in names:
        iot.create_role_alias(roleAlias=n, roleArn=ROLE)

    def pages(**kw):
        out, marker = [], None
        while True:
            page = iot.list_role_aliases(pageSize=2, **kw, **({"marker": marker} if marker else {}))
            out.extend(page["roleAliases"])
            marker = page.get("nextMarker")
            if not marker:
                return out

    assert pages() == names
    assert pages(ascendingOrder=True) == names
    assert pages(ascendingOrder=False) == names[::-1]


def test_role_aliases_with_the_cli(aws_cli, unique):
    name = unique("clialias")
    aws_cli("iot", "create-role-alias", "--role-alias", name, "--role-arn", ROLE,
            "--credential-duration-seconds", "900")
    d = aws_cli("iot", "describe-role-alias", "--role-alias", name)["roleAliasDescription"]
    assert d["credentialDurationSeconds"] == 900
    assert name in aws_cli("iot", "list-role-aliases")["roleAliases"]
    aws_cli("iot", "delete-role-alias", "--role-alias", name)
