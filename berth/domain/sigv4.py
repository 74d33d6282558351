"""AWS Signature Version 4 checks for requests to the ECR API (header authentication only).

Canonicalisation is botocore's own, driven from the receiving side: the AWS CLI and boto3 sign
with exactly this code, so reusing it rules out a whole class of near-miss re-implementations.
Error types, statuses and texts are those AWS's JSON services return, so SDKs raise the same
exceptions they would against AWS; none reveals the expected signature or canonical request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
DEFAULT_SKEW = timedelta(minutes=15)

_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_TIMESTAMP_SHAPE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
# Shape only (`us-east-1`, `us-gov-west-1`, `ap-northeast-2`): which regions exist is the caller's.
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
_PARAM_SEPARATORS = re.compile(r"[,\s]+")

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


class SigV4Error(Exception):
    """A request AWS would refuse before running the operation; `type_name` is the `__type`."""

    type_name = "InvalidSignatureException"
    status = 400
    default_message = SIGNATURE_MISMATCH

    def __init__(self, message: str | None = None) -> None:
        self.message = self.default_message if message is None else message
        super().__init__(self.message)


class MissingAuthenticationToken(SigV4Error):
    type_name = "MissingAuthenticationTokenException"
    default_message = "Missing Authentication Token"


class IncompleteSignature(SigV4Error):
    type_name = "IncompleteSignatureException"


class InvalidSignature(SigV4Error):
    type_name = "InvalidSignatureException"


class SignatureExpired(InvalidSignature):
    """Outside the clock-skew window, in either direction."""


class CredentialScopeInvalid(InvalidSignature):
    pass


class PayloadHashMismatch(InvalidSignature):
    default_message = "The provided 'x-amz-content-sha256' header does not match what was computed."


class SignatureMismatch(InvalidSignature):
    pass


class UnrecognizedClient(SigV4Error):
    """Raised by the caller when no secret exists for the access key (or the session token)."""

    type_name = "UnrecognizedClientException"
    default_message = "The security token included in the request is invalid."


class ExpiredToken(SigV4Error):
    """Temporary credentials past their expiry."""

    type_name = "ExpiredTokenException"
    default_message = "The security token included in the request is expired"


HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request as received: `url` keeps the raw, still percent-encoded path and query, because
    non-S3 services sign the path encoded once more; `headers` may repeat a name."""

    method: str
    url: str
    headers: HeaderInput
    body: bytes = b""
    _pairs: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Copied once, so a one-shot iterator or a live aiohttp proxy cannot change under us.
        items = self.headers.items() if isinstance(self.headers, Mapping) else self.headers
        pairs = tuple((str(k), str(v)) for k, v in items)
        object.__setattr__(self, "headers", pairs)
        object.__setattr__(self, "_pairs", pairs)

    def header(self, name: str) -> str | None:
        """All values of a header joined by commas, as HTTP folds them, or None when absent."""
        lname = name.lower()
        values = [v for k, v in self._pairs if k.lower() == lname]
        return ",".join(values) if values else None

    @property
    def header_pairs(self) -> tuple[tuple[str, str], ...]:
        return self._pairs


@dataclass(frozen=True, slots=True)
class Credential:
    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str = TERMINATOR


@dataclass(frozen=True, slots=True)
class ParsedAuthorization:
    credential: Credential
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    signed_at: datetime
    security_token: str | None


def parse_authorization(request: SignedRequest) -> ParsedAuthorization:
    """Read the `Authorization` header; everything it checks holds whatever the secret is."""
    auth = request.header("authorization")
    query_auth = any(k == "X-Amz-Algorithm" for k, _ in _query_pairs(request.url))
    if auth is not None and query_auth:
        raise InvalidSignature(
            "Found both 'X-Amz-Algorithm' as a query-string param "
            "and 'Authorization' as HTTP header."
        )
    # Presigned (query-string) requests are not accepted, so they are unauthenticated here.
    if auth is None or not auth.strip().startswith("AWS4-"):
        raise MissingAuthenticationToken()

    algorithm, _, rest = auth.strip().replace("\t", " ").partition(" ")
    params: dict[str, str] = {}
    for token in _PARAM_SEPARATORS.split(rest):
        if not token:
            continue
        if "=" not in token:
            raise IncompleteSignature(
                f"'{token}' not a valid key=value pair (missing equal-sign) "
                f"in Authorization header: '{auth}'."
            )
        key, _, value = token.partition("=")
        params[key] = value

    timestamp = request.header("x-amz-date")
    if timestamp is None:
        timestamp = request.header("date")
    missing = "".join(
        f"Authorization header requires '{name}' parameter. "
        for name in ("Credential", "Signature", "SignedHeaders")
        # An empty SignedHeaders is well-formed; it fails the `host` check later.
        if not params.get(name) and not (name == "SignedHeaders" and name in params)
    )
    if timestamp is None:
        missing += (
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        )
    if missing or timestamp is None:
        raise IncompleteSignature(f"{missing}Authorization={auth}")

    signed_at = _parse_timestamp(timestamp)
    if algorithm != ALGORITHM:
        raise IncompleteSignature(
            f"Unsupported AWS 'algorithm': '{algorithm}' (only {ALGORITHM} for now). "
        )
    raw_credential = params["Credential"]
    parts = raw_credential.rstrip("/").split("/")
    if len(parts) != 5:
        raise IncompleteSignature(
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{raw_credential}'"
        )
    return ParsedAuthorization(
        credential=Credential(*parts),
        signed_headers=tuple(
            name.strip().lower() for name in params["SignedHeaders"].split(";") if name.strip()
        ),
        signature=params["Signature"],
        timestamp=timestamp,
        signed_at=signed_at,
        security_token=request.header("x-amz-security-token"),
    )


def check_request(
    parsed: ParsedAuthorization,
    *,
    now: datetime,
    expected_service: str,
    skew: timedelta = DEFAULT_SKEW,
    regions: Container[str] | None = None,
) -> None:
    """The checks that need no secret, in AWS's order; call before looking the access key up so
    a bad scope is reported as AWS does, ahead of an unknown key."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # AWS compares whole seconds; a fraction would print as "X is now earlier than X".
    now = now.astimezone(UTC).replace(microsecond=0)
    minutes = int(skew.total_seconds() // 60)
    if parsed.signed_at < now - skew:
        raise SignatureExpired(
            f"Signature expired: {parsed.timestamp} is now earlier than "
            f"{_format(now - skew)} ({_format(now)} - {minutes} min.)"
        )
    if parsed.signed_at > now + skew:
        raise SignatureExpired(
            f"Signature not yet current: {parsed.timestamp} is still later than "
            f"{_format(now + skew)} ({_format(now)} + {minutes} min.)"
        )
    if "host" not in parsed.signed_headers:
        raise InvalidSignature(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )

    # AWS reports every wrong scope element at once, each sentence ending ". " but the last.
    credential = parsed.credential
    problems = ""
    if not _REGION.fullmatch(credential.region) or (
        regions is not None and credential.region not in regions
    ):
        problems += f"Credential should be scoped to a valid region, not '{credential.region}'. "
    if credential.service != expected_service:
        problems += f"Credential should be scoped to correct service: '{expected_service}'. "
    if credential.terminator != TERMINATOR:
        problems += (
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{credential.terminator}'. "
        )
    if credential.date != parsed.timestamp[:8]:
        problems += (
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{credential.date}' != '{parsed.timestamp[:8]}', "
            f"from '{parsed.timestamp}'."
        )
    if problems:
        raise CredentialScopeInvalid(problems)


def verify(
    request: SignedRequest,
    parsed: ParsedAuthorization,
    secret_access_key: str,
    *,
    now: datetime,
    expected_service: str,
    skew: timedelta = DEFAULT_SKEW,
    regions: Container[str] | None = None,
) -> None:
    """Raise unless `parsed` (from `parse_authorization(request)`) is a valid signature of
    `request` under `secret_access_key`. Session tokens are the caller's to check."""
    check_request(parsed, now=now, expected_service=expected_service, skew=skew, regions=regions)

    body_hash = hashlib.sha256(request.body).hexdigest()
    declared = request.header("x-amz-content-sha256")
    # UNSIGNED-PAYLOAD fails here too: the ECR API always signs its (small JSON) bodies.
    if declared is not None and declared != body_hash:
        raise PayloadHashMismatch()

    # botocore (about 4 MB of a process) comes with the first signed request, not with this
    # module: a server that only sees registry traffic never checks a signature.
    from berth.domain.sigv4_verifier import Verifier

    verifier = Verifier(parsed, secret_access_key, request.header_pairs, body_hash)
    try:
        expected = verifier.sign(request)
    except UnicodeEncodeError:
        # Undecodable bytes (aiohttp keeps them as surrogates) in a signed header or the path
        # cannot be what an SDK signed.
        raise SignatureMismatch() from None
    provided = parsed.signature.encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(expected.encode("ascii"), provided):
        raise SignatureMismatch()


def _query_pairs(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def _parse_timestamp(value: str) -> datetime:
    try:
        if not _TIMESTAMP_SHAPE.fullmatch(value):
            raise ValueError(value)
        return datetime.strptime(value, _TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        raise IncompleteSignature(
            f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        ) from None


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_TIMESTAMP)
