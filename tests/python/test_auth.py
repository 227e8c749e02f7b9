"""SigV4 authentication and the restJson1 error envelope.

AWS answers authentication failures with HTTP 403 and one of
UnrecognizedClientException (unknown access key), InvalidSignatureException
(bad signature, altered request, or a timestamp more than 15 minutes off) and
MissingAuthenticationTokenException (no credentials at all). Every response
carries x-amzn-RequestId; errors carry x-amzn-ErrorType and a JSON body with
a message.
"""

import contextlib
import datetime
import importlib
import json
from unittest import mock

import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError


def _error_type(headers):
    value = headers.get("x-amzn-ErrorType")
    assert value, "x-amzn-ErrorType header missing"
    # Clients keep what precedes ':' and follows the last '#'.
    return value.split(":")[0].split("#")[-1]


def _error_message(body):
    doc = json.loads(body.decode("utf-8"))
    assert isinstance(doc, dict)
    return doc.get("message") or doc.get("Message")


# ---------------------------------------------------------------- credentials


def test_wrong_secret_is_invalid_signature(server, aws_error):
    client = server.client(secret_key="x" * 40)
    with aws_error("InvalidSignatureException", 403) as ei:
        client.list_things()
    assert ei.value.response["Error"]["Message"]


def test_unknown_access_key_is_unrecognized_client(server, aws_error):
    client = server.client(access_key="AKIANOSUCHKEY0000000", secret_key="y" * 40)
    with aws_error("UnrecognizedClientException", 403):
        client.list_things()


def test_tampered_body_is_rejected(server, unique, aws_error):
    # Change the body after botocore signed it: the payload hash no longer matches.
    client = server.client()
    name = unique("tamper")

    def tamper(request, **kwargs):
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        assert b'"original"' in body
        request.body = body.replace(b'"original"', b'"tampered"')  # same length

    client.meta.events.register("before-send.iot.CreateThing", tamper)
    with aws_error("InvalidSignatureException", 403):
        client.create_thing(thingName=name,
                            attributePayload={"attributes": {"k": "original"}})
    # Nothing was created.
    with aws_error("ResourceNotFoundException", 404):
        server.client().describe_thing(thingName=name)


def _with_clock_offset(delta):
    if not hasattr(botocore.auth, "get_current_datetime"):
        pytest.skip("this botocore does not expose get_current_datetime")
    real = botocore.auth.get_current_datetime

    def shifted(*args, **kwargs):
        return real(*args, **kwargs) + delta

    # With awscrt installed (awsiotsdk brings it), botocore signs with botocore.crt.auth, which
    # reads the clock through its own reference.
    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch("botocore.auth.get_current_datetime", shifted))
    if getattr(botocore.auth, "HAS_CRT", False):
        crt_auth = importlib.import_module("botocore.crt.auth")
        if hasattr(crt_auth, "get_current_datetime"):
            stack.enter_context(mock.patch("botocore.crt.auth.get_current_datetime", shifted))
    return stack


@pytest.mark.parametrize("minutes", [-20, 20])
def test_request_time_skew_over_15_minutes_rejected(server, minutes, aws_error):
    client = server.client()
    with _with_clock_offset(datetime.timedelta(minutes=minutes)):
        with aws_error("InvalidSignatureException", 403):
            client.list_things()


@pytest.mark.parametrize("minutes", [-10, 10])
def test_request_time_skew_within_15_minutes_accepted(server, minutes):
    client = server.client()
    with _with_clock_offset(datetime.timedelta(minutes=minutes)):
        assert "things" in client.list_things(maxResults=1)


def test_no_credentials_is_missing_authentication_token(server, raw_http):
    status, headers, body = raw_http(server.endpoint, "GET", "/things", sign=False)
    assert status == 403
    assert _error_type(headers) == "MissingAuthenticationTokenException"
    assert _error_message(body)
    assert headers.get("x-amzn-RequestId")


def test_unsigned_boto3_client(server, aws_error):
    client = server.client(signature_version=UNSIGNED)
    with aws_error("MissingAuthenticationTokenException", 403):
        client.list_things()


# ---------------------------------------------------------------- envelope


def test_request_ids(iot, unique):
    a = iot.list_things(maxResults=1)["ResponseMetadata"]["RequestId"]
    b = iot.list_things(maxResults=1)["ResponseMetadata"]["RequestId"]
    assert a and b and a != b
    with pytest.raises(ClientError) as ei:
        iot.describe_thing(thingName=unique("missing"))
    assert ei.value.response["ResponseMetadata"]["RequestId"]


def test_raw_signed_request_succeeds(signed_request):
    # Sanity check of the hand signer used below.
    status, headers, body = signed_request("GET", "/things?maxResults=2")
    assert status == 200, body
    assert headers.get("x-amzn-RequestId")
    assert "application/json" in headers.get("Content-Type", "")
    assert isinstance(json.loads(body)["things"], list)


def test_malformed_json_body(signed_request, iot, unique, aws_error):
    name = unique("malformed")
    status, headers, body = signed_request("POST", "/things/" + name,
                                           body=b'{"attributePayload": ')
    assert status == 400, body
    assert _error_type(headers).isidentifier()
    assert _error_message(body)
    assert headers.get("x-amzn-RequestId")
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_thing(thingName=name)


def test_wrongly_typed_json_member(signed_request, unique):
    status, headers, body = signed_request(
        "POST", "/things/" + unique("wrongtype"),
        body=b'{"attributePayload": {"attributes": ["not", "a", "map"]}}')
    assert status == 400, body
    assert _error_type(headers)
    assert _error_message(body)


def test_unknown_route(signed_request):
    status, headers, body = signed_request("GET", "/no-such-resource/at-all")
    assert 400 <= status < 500, (status, body)
    assert _error_type(headers)
    assert _error_message(body)
    assert headers.get("x-amzn-RequestId")


def test_error_response_shape_through_boto3(iot, unique):
    # botocore reads the code from x-amzn-ErrorType and the message from the body.
    with pytest.raises(ClientError) as ei:
        iot.describe_thing(thingName=unique("missing"))
    resp = ei.value.response
    assert resp["Error"]["Code"] == "ResourceNotFoundException"
    assert resp["Error"]["Message"]
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "x-amzn-errortype" in resp["ResponseMetadata"]["HTTPHeaders"]
