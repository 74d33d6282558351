from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote, urlencode

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest, AWSResponse  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.domain.sigv4 import (
    SIGNATURE_MISMATCH,
    Credential,
    CredentialScopeInvalid,
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    PayloadHashMismatch,
    SignatureExpired,
    SignatureMismatch,
    SignedRequest,
    SigV4Error,
    UnrecognizedClient,
    check_request,
    parse_authorization,
    verify,
)

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLEsessiontoken//////////+/="
REGION = "ap-northeast-2"
ENDPOINT = "http://localhost:5000"
HOST = "localhost:5000"
T0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
TARGET = "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"
JSON_HEADERS = {"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"}


def sign(
    url: str = ENDPOINT + "/",
    body: bytes = b"{}",
    *,
    method: str = "POST",
    headers: Mapping[str, str] = JSON_HEADERS,
    at: datetime = T0,
    token: str | None = None,
    service: str = "ecr",
    region: str = REGION,
) -> SignedRequest:
    """What botocore itself puts on the wire, plus the Host header the HTTP client adds."""
    request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        SigV4Auth(Credentials(AK, SK, token), service, region).add_auth(request)
    pairs = [*request.headers.items(), ("Host", HOST)]
    return SignedRequest(method, url, pairs, body)


def check(request: SignedRequest, *, now: datetime = T0, secret: str = SK, **kwargs: Any) -> None:
    verify(
        request,
        parse_authorization(request),
        secret,
        now=now,
        expected_service="ecr",
        **kwargs,
    )


def replace_header(request: SignedRequest, name: str, value: str | None) -> SignedRequest:
    pairs = [(k, v) for k, v in request.header_pairs if k.lower() != name.lower()]
    if value is not None:
        pairs.append((name, value))
    return SignedRequest(request.method, request.url, pairs, request.body)


def with_authorization(request: SignedRequest, old: str, new: str) -> SignedRequest:
    auth = request.header("Authorization")
    assert auth is not None and old in auth
    return replace_header(request, "Authorization", auth.replace(old, new))


# -- accepted ---------------------------------------------------------------------------------


def test_valid_request_parses_and_verifies() -> None:
    request = sign()
    parsed = parse_authorization(request)
    assert parsed.credential == Credential(AK, "20261127", REGION, "ecr")
    assert parsed.timestamp == "20261127T120000Z"
    assert parsed.signed_at == T0
    assert parsed.security_token is None
    assert {"host", "x-amz-date", "x-amz-target", "content-type"} <= set(parsed.signed_headers)
    check(request)


def test_session_token_is_reported_and_signed() -> None:
    request = sign(token=TOKEN)
    parsed = parse_authorization(request)
    assert parsed.security_token == TOKEN
    assert "x-amz-security-token" in parsed.signed_headers
    check(request)
    with pytest.raises(SignatureMismatch):
        check(replace_header(request, "X-Amz-Security-Token", TOKEN + "x"))


@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
def test_header_name_case_does_not_matter(case: Callable[[str], str]) -> None:
    request = sign()
    pairs = [(case(k), v) for k, v in request.header_pairs]
    check(SignedRequest(request.method, request.url, pairs, request.body))


def test_headers_as_a_mapping() -> None:
    request = sign()
    check(SignedRequest(request.method, request.url, dict(request.header_pairs), request.body))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/", b""),
        ("GET", "/", b""),
        ("GET", "", b""),
        ("POST", "/v2/team/app/blobs/uploads/", b"x" * 1000),
        ("PUT", "/a/b/c/", b"\x00\xff binary"),
        ("GET", "/a%20b/c%2Fd", b""),
        ("GET", "/a//b/./c/../d", b""),
        ("GET", "/?b=2&a=1&a=0", b""),
        ("GET", "/list?prefix=a%2Fb&empty=&flag", b""),
        ("GET", "/q?" + urlencode({"sp ace": "x y", "é": "ü", "t": "~-_."}, quote_via=quote), b""),
    ],
)
def test_methods_paths_queries_and_bodies(method: str, path: str, body: bytes) -> None:
    check(sign(ENDPOINT + path, body, method=method))


def test_query_escaped_differently_from_botocore_still_verifies() -> None:
    # AWS re-encodes the query before comparing; a client writing %2f or a bare '/' is fine.
    request = sign(ENDPOINT + "/x?prefix=a%2Fb")
    for url in (ENDPOINT + "/x?prefix=a%2fb", ENDPOINT + "/x?prefix=a/b"):
        check(SignedRequest(request.method, url, request.header_pairs, request.body))


def test_unsigned_headers_may_change() -> None:
    request = sign(headers={**JSON_HEADERS, "User-Agent": "aws-cli/2"})
    assert "user-agent" not in parse_authorization(request).signed_headers
    check(replace_header(request, "User-Agent", "curl/8"))
    check(replace_header(request, "X-Forwarded-For", "10.0.0.1"))


def test_declared_payload_hash_that_matches() -> None:
    body = b'{"repositoryNames":["a"]}'
    headers = {**JSON_HEADERS, "X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
    check(sign(body=body, headers=headers))


def test_skew_boundaries_are_inclusive() -> None:
    request = sign()
    check(request, now=T0 + timedelta(minutes=15))
    check(request, now=T0 - timedelta(minutes=15))
    check(request, now=T0 + timedelta(minutes=15, microseconds=999_999))


def test_caller_may_restrict_regions() -> None:
    check(sign(), regions={REGION})
    with pytest.raises(CredentialScopeInvalid) as info:
        check(sign(), regions={"us-east-1"})
    assert info.value.message == (
        f"Credential should be scoped to a valid region, not '{REGION}'. "
    )


# -- rejected: the signature ------------------------------------------------------------------


def test_wrong_secret() -> None:
    with pytest.raises(SignatureMismatch) as info:
        check(sign(), secret=SK + "x")
    error = info.value
    assert (error.type_name, error.status, error.message) == (
        "InvalidSignatureException",
        400,
        SIGNATURE_MISMATCH,
    )
    assert isinstance(error, InvalidSignature)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: SignedRequest(r.method, r.url, r.header_pairs, r.body + b" "),
        lambda r: SignedRequest(r.method, r.url, r.header_pairs, b"{ }"),
        lambda r: SignedRequest("PUT", r.url, r.header_pairs, r.body),
        lambda r: SignedRequest(r.method, r.url + "v2/", r.header_pairs, r.body),
        lambda r: SignedRequest(r.method, r.url + "?a=1", r.header_pairs, r.body),
        lambda r: replace_header(r, "X-Amz-Target", TARGET.replace("Describe", "Delete")),
        lambda r: replace_header(r, "Content-Type", "application/json"),
        lambda r: replace_header(r, "Host", "localhost:5001"),
        lambda r: replace_header(r, "X-Amz-Date", "20261127T120001Z"),
        lambda r: SignedRequest(r.method, r.url, [*r.header_pairs, ("X-Amz-Target", "x")], r.body),
        lambda r: with_authorization(r, "Signature=", "Signature=0"),
    ],
)
def test_tampering(tamper: Callable[[SignedRequest], SignedRequest]) -> None:
    with pytest.raises(SignatureMismatch):
        check(tamper(sign()))


def test_signed_header_missing_from_request() -> None:
    with pytest.raises(SignatureMismatch):
        check(replace_header(sign(), "X-Amz-Target", None))


def test_declared_payload_hash_must_match_body() -> None:
    headers = {**JSON_HEADERS, "X-Amz-Content-SHA256": hashlib.sha256(b"{}").hexdigest()}
    request = sign(body=b"{}", headers=headers)
    with pytest.raises(PayloadHashMismatch) as info:
        check(SignedRequest(request.method, request.url, request.header_pairs, b"[]"))
    assert info.value.type_name == "InvalidSignatureException"
    assert info.value.message == (
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    )


def test_unsigned_payload_is_refused() -> None:
    request = sign(headers={**JSON_HEADERS, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    with pytest.raises(PayloadHashMismatch):
        check(request)


# -- rejected: time and scope -----------------------------------------------------------------


def test_expired() -> None:
    with pytest.raises(SignatureExpired) as info:
        check(sign(), now=T0 + timedelta(minutes=20))
    assert info.value.type_name == "InvalidSignatureException"
    assert info.value.status == 400
    assert info.value.message == (
        "Signature expired: 20261127T120000Z is now earlier than 20261127T120500Z "
        "(20261127T122000Z - 15 min.)"
    )


def test_not_yet_current() -> None:
    with pytest.raises(SignatureExpired) as info:
        check(sign(), now=T0 - timedelta(minutes=20))
    assert info.value.message == (
        "Signature not yet current: 20261127T120000Z is still later than 20261127T115500Z "
        "(20261127T114000Z + 15 min.)"
    )


def test_just_outside_the_window() -> None:
    with pytest.raises(SignatureExpired):
        check(sign(), now=T0 + timedelta(minutes=15, seconds=1))
    with pytest.raises(SignatureExpired):
        check(sign(), now=T0 - timedelta(minutes=15, seconds=1))


def test_custom_skew_and_timezone_of_now() -> None:
    request = sign()
    with pytest.raises(SignatureExpired, match=r"- 5 min\.\)$"):
        check(request, now=T0 + timedelta(minutes=6), skew=timedelta(minutes=5))
    tokyo = T0.astimezone(timezone(timedelta(hours=9)))
    check(request, now=tokyo)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        check(sign(), now=T0.replace(tzinfo=None))


def test_wrong_service() -> None:
    with pytest.raises(CredentialScopeInvalid) as info:
        check(sign(service="s3"))
    assert info.value.type_name == "InvalidSignatureException"
    assert info.value.message == "Credential should be scoped to correct service: 'ecr'. "


def test_scope_date_must_be_the_request_date() -> None:
    request = with_authorization(sign(), "/20261127/", "/20261126/")
    with pytest.raises(CredentialScopeInvalid) as info:
        check(request)
    assert info.value.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        "HTTP: '20261126' != '20261127', from '20261127T120000Z'."
    )


def test_every_scope_problem_reported_at_once() -> None:
    request = with_authorization(
        sign(), f"/20261127/{REGION}/ecr/aws4_request", "/20261126/moon/s3/aws5_request"
    )
    with pytest.raises(CredentialScopeInvalid) as info:
        check(request)
    assert info.value.message == (
        "Credential should be scoped to a valid region, not 'moon'. "
        "Credential should be scoped to correct service: 'ecr'. "
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        "HTTP: '20261126' != '20261127', from '20261127T120000Z'."
    )


@pytest.mark.parametrize("region", ["moon", "US-EAST-1", "us-east", "us_east_1", ""])
def test_implausible_region(region: str) -> None:
    request = with_authorization(sign(), f"/{REGION}/", f"/{region}/")
    with pytest.raises(CredentialScopeInvalid, match="valid region"):
        check(request)


def test_host_must_be_signed() -> None:
    request = with_authorization(sign(), "host;", "")
    with pytest.raises(InvalidSignature) as info:
        check(request)
    assert info.value.message == (
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    )


def test_scope_checks_need_no_secret() -> None:
    parsed = parse_authorization(sign(service="s3"))
    with pytest.raises(CredentialScopeInvalid):
        check_request(parsed, now=T0, expected_service="ecr")
    check_request(parse_authorization(sign()), now=T0, expected_service="ecr")


# -- rejected: missing or malformed -----------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "Bearer abc", "Basic QVdTOnBhc3M=", "AWS AK:sig"])
def test_missing_authentication_token(value: str | None) -> None:
    request = replace_header(sign(), "Authorization", value)
    with pytest.raises(MissingAuthenticationToken) as info:
        parse_authorization(request)
    error = info.value
    assert (error.type_name, error.status, error.message) == (
        "MissingAuthenticationTokenException",
        400,
        "Missing Authentication Token",
    )


def test_presigned_query_alongside_header() -> None:
    request = sign(ENDPOINT + "/?X-Amz-Algorithm=AWS4-HMAC-SHA256")
    with pytest.raises(InvalidSignature, match="Found both 'X-Amz-Algorithm'"):
        parse_authorization(request)


CRED = f"Credential={AK}/20261127/{REGION}/ecr/aws4_request"
SIGNED = "SignedHeaders=host;x-amz-date"
SIG = "Signature=" + "0" * 64


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (
            "AWS4-HMAC-SHA256",
            "Authorization header requires 'Credential' parameter. "
            "Authorization header requires 'Signature' parameter. "
            "Authorization header requires 'SignedHeaders' parameter. "
            "Authorization=AWS4-HMAC-SHA256",
        ),
        (
            f"AWS4-HMAC-SHA256 {CRED}, {SIGNED}",
            f"Authorization header requires 'Signature' parameter. "
            f"Authorization=AWS4-HMAC-SHA256 {CRED}, {SIGNED}",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential=, {SIGNED}, {SIG}",
            "Authorization header requires 'Credential' parameter. "
            f"Authorization=AWS4-HMAC-SHA256 Credential=, {SIGNED}, {SIG}",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={AK} /20261127/{REGION}/ecr/aws4_request, "
            f"{SIGNED}, {SIG}",
            f"'/20261127/{REGION}/ecr/aws4_request' not a valid key=value pair (missing "
            f"equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential={AK} "
            f"/20261127/{REGION}/ecr/aws4_request, {SIGNED}, {SIG}'.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={AK}/20261127/{REGION}/ecr, {SIGNED}, {SIG}",
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{AK}/20261127/{REGION}/ecr'",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential=x/{AK}/20261127/{REGION}/ecr/aws4_request, "
            f"{SIGNED}, {SIG}",
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got 'x/{AK}/20261127/{REGION}/ecr/aws4_request'",
        ),
        (
            f"AWS4-HMAC-SHA512 {CRED}, {SIGNED}, {SIG}",
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). ",
        ),
    ],
)
def test_incomplete_signature(authorization: str, message: str) -> None:
    request = replace_header(sign(), "Authorization", authorization)
    with pytest.raises(IncompleteSignature) as info:
        parse_authorization(request)
    error = info.value
    assert (error.type_name, error.status, error.message) == (
        "IncompleteSignatureException",
        400,
        message,
    )


def test_trailing_slash_in_credential_is_ignored() -> None:
    request = with_authorization(sign(), "aws4_request,", "aws4_request/,")
    check(request)


def test_missing_date_header() -> None:
    request = replace_header(sign(), "X-Amz-Date", None)
    with pytest.raises(IncompleteSignature) as info:
        parse_authorization(request)
    assert info.value.message.startswith(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=AWS4-HMAC-SHA256 Credential="
    )


def test_date_header_stands_in_for_x_amz_date() -> None:
    request = sign()
    request = replace_header(request, "X-Amz-Date", None)
    request = replace_header(request, "Date", "20261127T120000Z")
    assert parse_authorization(request).signed_at == T0


@pytest.mark.parametrize(
    "value", ["2026-11-27T12:00:00Z", "20261127T120000", "20261327T120000Z", "Fri, 27 Nov 2026"]
)
def test_malformed_date(value: str) -> None:
    request = replace_header(sign(), "X-Amz-Date", value)
    with pytest.raises(IncompleteSignature) as info:
        parse_authorization(request)
    assert info.value.message == (
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )


def test_unrecognized_client_for_the_caller_to_raise() -> None:
    error = UnrecognizedClient()
    assert isinstance(error, SigV4Error)
    assert (error.type_name, error.status, error.message) == (
        "UnrecognizedClientException",
        400,
        "The security token included in the request is invalid.",
    )


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: replace_header(r, "X-Amz-Target", "\udcff"),
        lambda r: SignedRequest(r.method, ENDPOINT + "/\udcff", r.header_pairs, r.body),
        lambda r: SignedRequest(r.method, ENDPOINT + "/?a=\udcff", r.header_pairs, r.body),
    ],
)
def test_undecodable_bytes_fail_as_a_mismatch(
    tamper: Callable[[SignedRequest], SignedRequest],
) -> None:
    with pytest.raises(SignatureMismatch):
        check(tamper(sign()))


def test_undecodable_bytes_in_an_unsigned_header_are_ignored() -> None:
    check(replace_header(sign(), "User-Agent", "\udcff"))


def test_messages_never_carry_the_expected_signature() -> None:
    request = sign()
    right = parse_authorization(request).signature
    wrong = with_authorization(request, "Signature=" + right, "Signature=" + "0" * 64)
    with pytest.raises(SigV4Error) as info:
        check(wrong)
    assert right not in info.value.message and right not in str(info.value)


# -- what boto3 and the AWS CLI actually send -------------------------------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._body


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


def boto3_request(call: Callable[[Any], object], *, token: str | None = None) -> SignedRequest:
    """Run one ECR client call, answering it from a `before-send` hook, and return the request
    exactly as botocore prepared it for the wire."""
    session = boto3.session.Session(
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        aws_session_token=token,
        region_name=REGION,
    )
    client = session.client("ecr", endpoint_url=ENDPOINT)
    sent: list[Any] = []

    def before_send(request: Any, **kwargs: Any) -> AWSResponse:
        sent.append(request)
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, 200, headers, _Raw(b"{}"))

    client.meta.events.register("before-send.ecr", before_send)
    with mock.patch("botocore.auth.get_current_datetime", return_value=T0.replace(tzinfo=None)):
        call(client)
    (prepared,) = sent
    pairs = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in prepared.headers.items()]
    body = prepared.body or b""
    body = body.encode() if isinstance(body, str) else body
    return SignedRequest(prepared.method, prepared.url, [*pairs, ("Host", HOST)], body)


@pytest.mark.usefixtures("no_aws_config")
@pytest.mark.parametrize("token", [None, TOKEN])
def test_boto3_describe_repositories(token: str | None) -> None:
    request = boto3_request(
        lambda c: c.describe_repositories(repositoryNames=["team/app"]), token=token
    )
    parsed = parse_authorization(request)
    assert request.header("X-Amz-Target") == TARGET
    assert {"host", "x-amz-date", "x-amz-target", "content-type"} <= set(parsed.signed_headers)
    assert parsed.security_token == token
    assert b"team/app" in request.body
    check(request)
    with pytest.raises(SignatureMismatch):
        check(replace_header(request, "X-Amz-Target", TARGET.replace("Describe", "Delete")))
    with pytest.raises(SignatureMismatch):
        check(SignedRequest(request.method, request.url, request.header_pairs, b"{}"))


@pytest.mark.usefixtures("no_aws_config")
def test_boto3_get_authorization_token() -> None:
    request = boto3_request(lambda c: c.get_authorization_token())
    assert request.header("X-Amz-Target") == (
        "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
    )
    check(request)
    check(replace_header(request, "User-Agent", "something else"))


# -- properties -------------------------------------------------------------------------------

_SEGMENT = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    body=st.binary(max_size=512),
    segments=st.lists(_SEGMENT, max_size=4),
    query=st.dictionaries(_SEGMENT, st.text(max_size=8), max_size=3),
    index=st.integers(min_value=0),
    delta=st.integers(min_value=1, max_value=255),
)
def test_botocore_signatures_verify_and_any_body_byte_change_fails(
    body: bytes, segments: list[str], query: dict[str, str], index: int, delta: int
) -> None:
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    url = ENDPOINT + path + ("?" + urlencode(query, quote_via=quote) if query else "")
    request = sign(url, body)
    check(request)
    if body:
        changed = bytearray(body)
        changed[index % len(body)] ^= delta
        with pytest.raises(SignatureMismatch):
            check(SignedRequest(request.method, request.url, request.header_pairs, bytes(changed)))


_AUTH_PIECES = st.sampled_from(
    [
        "AWS4-HMAC-SHA256",
        "AWS4-",
        " ",
        ",",
        "=",
        "/",
        "Credential=",
        "SignedHeaders=",
        "Signature=",
        f"{AK}/20261127/{REGION}/ecr/aws4_request",
        "host;x-amz-date",
        "0" * 64,
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    authorization=st.lists(_AUTH_PIECES | st.text(max_size=6), max_size=12).map("".join),
    date=st.none() | st.sampled_from(["20261127T120000Z", "20261127T120000"]) | st.text(),
)
def test_arbitrary_authorization_headers_fail_only_as_sigv4_errors(
    authorization: str, date: str | None
) -> None:
    request = replace_header(
        replace_header(sign(), "Authorization", authorization), "X-Amz-Date", date
    )
    try:
        check(request)
    except SigV4Error:
        return
    raise AssertionError("a forged Authorization header verified")
