"""--require-iam: SigV4-signed requests (botocore's signer) reach the handler; nothing else does."""

import datetime
import http.client
import json
from urllib.parse import quote, urlencode, urlsplit

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from fibtrigger import lambda_function as lambda_handler
from fibtrigger.errors import ConfigurationError
from fibtrigger.local import sigv4
from fibtrigger.local.service import LocalLambdaService

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


class Recorder:
    """The real handler, with a record of every event that reached it."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def __call__(self, event, context):
        self.events.append(event)
        return lambda_handler.handler(event, context)


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def iam_service(recorder):
    with LocalLambdaService(require_iam=True, credentials=(ACCESS_KEY, SECRET_KEY), handler=recorder) as running:
        yield running


def signed(url, body=b'{"fib": 10}', *, access_key=ACCESS_KEY, secret_key=SECRET_KEY, token=None,
           region="us-east-1", service="execute-api", method="POST", headers=None):
    request = AWSRequest(
        method=method, url=url, data=body, headers={"Content-Type": "application/json", **(headers or {})}
    )
    SigV4Auth(Credentials(access_key, secret_key, token), service, region).add_auth(request)
    return request.prepare()


def send(prepared, *, url=None, method=None, body=None, drop=(), change=None):
    """Send a prepared request as-is, or with a part swapped after signing."""
    parts = urlsplit(url or prepared.url)
    headers = {name: value for name, value in prepared.headers.items() if name.lower() not in drop}
    headers.update(change or {})
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(
            method or prepared.method, target, body=prepared.body if body is None else body, headers=headers
        )
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def assert_rejected(result, service, recorder, message_start):
    status, headers, body = result
    assert status == 403, body
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["message"].startswith(message_start)
    counters = service.metrics()
    assert counters["invocations"] == 0 and counters["auth_failures"] >= 1
    assert recorder.events == []  # the handler never ran


def test_a_signed_request_reaches_the_handler_with_an_iam_identity(iam_service, recorder):
    status, _, body = send(signed(iam_service.api_url))
    assert status == 200, body
    assert json.loads(body) == {"fib": 10, "value": "55", "number": 55}
    identity = recorder.events[0]["requestContext"]["identity"]
    assert identity["accessKey"] == ACCESS_KEY and identity["caller"] == ACCESS_KEY
    assert identity["userArn"].startswith("arn:aws:iam::") and identity["sourceIp"] == "127.0.0.1"
    assert iam_service.metrics()["auth_failures"] == 0


@pytest.mark.parametrize(
    "suffix, region",
    [
        ("/test/", "eu-west-3"),
        ("/test", "us-east-1"),
        ("/test/?b=2&a=1&a=0", "us-east-1"),
        ("/test/?q=a%20b&x=%2F~", "ap-south-1"),
        ("/test/?empty=&flag", "us-east-1"),
    ],
)
def test_any_region_paths_and_query_strings(iam_service, suffix, region):
    status, _, body = send(signed(iam_service.url + suffix, region=region))
    assert status == 200, body


def test_a_handler_answer_to_a_signed_bad_request_is_passed_through(iam_service):
    status, _, body = send(signed(iam_service.api_url, body=b'{"fib": 400}'))
    assert status == 400 and json.loads(body)["message"] == "fib must be between 0 and 312, got 400"
    assert send(signed(iam_service.api_url, method="GET", body=b""))[0] == 405


def test_unsigned_is_refused(iam_service, recorder):
    result = send(signed(iam_service.api_url), drop=("authorization",))
    assert_rejected(result, iam_service, recorder, "Missing Authentication Token")
    assert result[1]["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_wrong_secret_is_refused(iam_service, recorder):
    result = send(signed(iam_service.api_url, secret_key="not-the-secret"))
    assert_rejected(result, iam_service, recorder, "The request signature we calculated does not match")


def test_unknown_access_key_is_refused(iam_service, recorder):
    result = send(signed(iam_service.api_url, access_key="AKIAOTHERKEY0000000"))
    assert_rejected(result, iam_service, recorder, "The security token included in the request is invalid.")


def test_tampered_body_is_refused(iam_service, recorder):
    result = send(signed(iam_service.api_url, body=b'{"fib": 10}'), body=b'{"fib": 11}')
    assert_rejected(result, iam_service, recorder, "The request signature we calculated does not match")


@pytest.mark.parametrize(
    "tamper",
    [
        {"url_suffix": "/test/other"},
        {"method": "PUT"},
        {"change": {"Content-Type": "text/plain"}},
        {"change": {"X-Amz-Content-SHA256": "0" * 64}},
    ],
)
def test_tampered_path_method_or_signed_header_is_refused(iam_service, recorder, tamper):
    prepared = signed(iam_service.api_url)
    url = iam_service.url + tamper["url_suffix"] if "url_suffix" in tamper else None
    result = send(prepared, url=url, method=tamper.get("method"), change=tamper.get("change"))
    assert_rejected(result, iam_service, recorder, "The ")


def test_signed_for_another_service_is_refused(iam_service, recorder):
    result = send(signed(iam_service.api_url, service="lambda"))
    assert_rejected(result, iam_service, recorder, "Credential should be scoped to correct service: 'execute-api'.")


@pytest.mark.parametrize("minutes, message", [(-6, "Signature expired: "), (6, "Signature not yet current: ")])
def test_a_stale_or_future_date_is_refused(iam_service, recorder, monkeypatch, minutes, message):
    skewed = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(minutes=minutes)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: skewed)
    prepared = signed(iam_service.api_url)
    assert prepared.headers["X-Amz-Date"] == skewed.strftime("%Y%m%dT%H%M%SZ")
    assert_rejected(send(prepared), iam_service, recorder, message)


def test_a_date_within_five_minutes_is_accepted(iam_service, monkeypatch):
    skewed = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=4)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: skewed)
    assert send(signed(iam_service.api_url))[0] == 200


def test_session_tokens_must_match(recorder):
    with LocalLambdaService(
        require_iam=True, credentials=(ACCESS_KEY, SECRET_KEY, "session-token"), handler=recorder
    ) as running:
        assert send(signed(running.api_url, token="session-token"))[0] == 200
        assert send(signed(running.api_url))[0] == 403
        assert send(signed(running.api_url, token="other-token"))[0] == 403
        assert running.metrics()["auth_failures"] == 2 and running.metrics()["invocations"] == 1


def test_the_default_key_pair_is_the_process_credential_chain(monkeypatch, recorder):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-environment")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    with LocalLambdaService(require_iam=True, handler=recorder) as running:
        assert (
            send(signed(running.api_url, access_key="AKIAFROMENVIRONMENT0", secret_key="secret-from-environment"))[0]
            == 200
        )
        assert send(signed(running.api_url))[0] == 403


def test_require_iam_without_any_credentials_is_a_clear_error(monkeypatch, tmp_path):
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ConfigurationError, match="--require-iam needs a key pair"):
        LocalLambdaService(require_iam=True)


def test_the_invoke_api_stays_open_for_the_unsigned_lambda_sync_udf(iam_service):
    connection = http.client.HTTPConnection("127.0.0.1", iam_service.port, timeout=10)
    connection.request("POST", "/2015-03-31/functions/fibtrigger/invocations", body=b'{"fib": 10}')
    assert json.loads(connection.getresponse().read())["value"] == "55"
    connection.close()


# ---- the verifier against botocore's signer, on arbitrary requests ----------------

SEGMENT = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, blacklist_characters="/?#%"), min_size=1, max_size=8
)
QUERY = st.lists(
    st.tuples(st.text(alphabet="abc-_.~", min_size=1, max_size=4), st.text(alphabet="xyz 019-_~/=", max_size=5)),
    max_size=4,
)


@settings(max_examples=60, deadline=None)
@given(
    segments=st.lists(SEGMENT, max_size=3),
    query=QUERY,
    body=st.binary(max_size=64),
    region=st.sampled_from(["us-east-1", "eu-central-1", "ap-southeast-2"]),
    method=st.sampled_from(["POST", "GET", "PUT"]),
)
def test_verify_accepts_what_botocore_signs_and_rejects_any_change(segments, query, body, region, method):
    url = "https://abc123.execute-api.example/test/" + "/".join(quote(segment, safe="") for segment in segments)
    if query:
        url += "?" + urlencode(query, quote_via=quote)
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "execute-api", region).add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = {name.lower(): [value] for name, value in prepared.headers.items()}
    headers["host"] = [parts.netloc]
    key = sigv4.KeyPair(ACCESS_KEY, SECRET_KEY)
    arguments = dict(
        method=method, path=parts.path, query=parts.query, headers=headers, body=prepared.body or b"", key=key
    )
    signer = sigv4.verify(**arguments)
    assert signer.region == region and signer.access_key == ACCESS_KEY
    for changed in (
        dict(body=(prepared.body or b"") + b"x"),
        dict(method="DELETE"),
        dict(path=parts.path + "x"),
        dict(key=sigv4.KeyPair(ACCESS_KEY, SECRET_KEY + "x")),
    ):
        with pytest.raises(sigv4.SignatureRejected):
            sigv4.verify(**{**arguments, **changed})
