"""botocore's SigV4 signer turned verifier (see `berth.domain.sigv4`, which loads this module
with the first signature it checks)."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import quote, unquote_to_bytes, urlsplit, urlunsplit

from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.compat import HTTPHeaders  # type: ignore[import-untyped]

from berth.domain.sigv4 import ParsedAuthorization, SignedRequest


class Verifier(SigV4Auth):  # type: ignore[misc]  # botocore ships no type information
    """botocore's signer, restricted to the headers the client says it signed and the body it
    actually sent (never a hash the client merely declares)."""

    def __init__(
        self,
        parsed: ParsedAuthorization,
        secret_access_key: str,
        headers: tuple[tuple[str, str], ...],
        body_hash: str,
    ) -> None:
        credential = parsed.credential
        super().__init__(
            # What SigV4Auth reads of botocore's Credentials, whose module would bring 16 more
            # of botocore's (about 1 MB) to a server that never looks credentials up.
            SimpleNamespace(
                access_key=credential.access_key_id, secret_key=secret_access_key, token=None
            ),
            credential.service,
            credential.region,
        )
        self._parsed = parsed
        self._signed = frozenset(parsed.signed_headers)
        self._headers = headers
        self._body_hash = body_hash

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        selected = HTTPHeaders()
        for name, value in self._headers:
            lname = name.lower()
            if lname in self._signed:
                # Undecodable bytes (surrogates) raise UnicodeEncodeError here, before
                # HTTPHeaders wraps them in an email Header that botocore cannot canonicalise.
                value.encode("utf-8")
                selected[lname] = value  # appends: a repeated header is signed as "a,b"
        return selected

    def payload(self, request: AWSRequest) -> str:
        return self._body_hash

    def sign(self, request: SignedRequest) -> str:
        parts = urlsplit(request.url)
        # Only path and query reach the canonical request; the host comes from the Host header.
        query = _canonical_query(parts.query)
        url = urlunsplit(("https", "verifier.invalid", parts.path, query, ""))
        # No headers on the AWSRequest itself: botocore would otherwise prefer a declared
        # X-Amz-Content-SHA256 to the real body hash. `headers_to_sign` supplies them instead.
        aws_request = AWSRequest(method=request.method, url=url, headers={}, data=request.body)
        aws_request.context["timestamp"] = self._parsed.timestamp
        canonical_request = self.canonical_request(aws_request)
        string_to_sign = self.string_to_sign(aws_request, canonical_request)
        return str(self.signature(string_to_sign, aws_request))


def _canonical_query(query: str) -> str:
    """Re-encode each name and value as SigV4 wants (RFC 3986 unreserved characters bare,
    everything else `%XX` upper-case), as AWS does, so clients that escape differently from
    botocore (`%2f`, a bare `/`) still verify. botocore then sorts the pairs."""
    pairs = []
    for piece in query.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        pairs.append(f"{_encode(name)}={_encode(value)}")
    return "&".join(pairs)


def _encode(text: str) -> str:
    return quote(unquote_to_bytes(text), safe="-_.~")
