"""Who is calling: SigV4 on the ECR API, ECR registry tokens on `/v2/`, and the root key.

Access-key secrets are stored sealed with a key derived from the server key; registry tokens
are HMAC-sealed with another derived key, so verifying one is a signature check plus a look-up
that the access key it names is still active.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from berth.domain import sigv4, tokens
from berth.domain.arns import principal_from_arn
from berth.domain.policy import Principal
from berth.errors import NotAuthenticated
from berth.storage.crypto import Sealer, derive_key
from berth.storage.ports import AccessKey, MetadataStore

TOKEN_LIFETIME = timedelta(hours=12)
KEY_CACHE_SECONDS = 1.0
MAX_CACHED_LOGINS = 10_000
ACTIVE = "Active"
SESSION_KEY_PREFIX = "ASIA"
_KEY_ALPHABET = string.ascii_uppercase + string.digits


def new_key_id(prefix: str = "AKIA") -> str:
    return prefix + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))


def new_secret() -> str:
    return base64.b64encode(secrets.token_bytes(30)).decode()


@dataclass(frozen=True, slots=True)
class Caller:
    account_id: str
    access_key_id: str
    principal: Principal
    # Temporary credentials (AssumeRole) end; long-term keys do not.
    expires_at: datetime | None = None

    @property
    def principal_arn(self) -> str:
        return self.principal.arn

    @property
    def is_session(self) -> bool:
        return self.expires_at is not None


@dataclass(frozen=True, slots=True)
class SessionCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AuthorizationData:
    token: str  # base64("AWS:<password>"), as GetAuthorizationToken returns it
    password: str
    expires_at: datetime


def root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


class AuthService:
    def __init__(
        self,
        metadata: MetadataStore,
        master_key: bytes,
        *,
        configured: Mapping[str, str] | None = None,
    ) -> None:
        self._metadata = metadata
        self._sealer = Sealer(derive_key(master_key, "berth/access-key-secrets/v1"))
        # Secrets this process was given in its settings (the configured root key), by key id.
        # A signature made with one is checked without unsealing the stored copy, so a worker
        # that only ever sees the root key never loads AES (cryptography's extension, 8 MB of
        # resident memory). The stored key still decides whether the key is active.
        self._configured = dict(configured or {})
        self._token_key = derive_key(master_key, "berth/registry-tokens/v1")
        # Session credentials are stateless, as on AWS: the token carries the session's secret
        # and principal, sealed under a key only Berth holds.
        self._sessions = Sealer(derive_key(master_key, "berth/session-tokens/v1"))
        # Key states for a moment, so a pull does not read the database to check its login;
        # this process forgets them as soon as IAM changes a key, other processes within
        # KEY_CACHE_SECONDS.
        self._keys: dict[str, tuple[float, AccessKey | None]] = {}
        # Registry logins by Authorization header for as long as the key state above: every
        # request of a pull carries the same token, and opening it (base64, JSON, a MAC) cost
        # more than the rest of a manifest GET's own work.
        self._logins: dict[str, tuple[float, float, Caller, str]] = {}

    def seal_secret(self, secret_access_key: str, access_key_id: str) -> bytes:
        """A secret as the access_keys table stores it."""
        return self._sealer.seal(secret_access_key.encode(), access_key_id)

    # access keys

    async def ensure_root_key(
        self, account_id: str, access_key_id: str = "", secret_access_key: str = ""
    ) -> tuple[str, str] | None:
        """Create the account and its root key on first start.

        With an explicit key pair, (re)store it; otherwise generate one only when the account
        has none. Returns a generated pair, which the caller shows once; None otherwise.
        """
        await self._metadata.ensure_account(account_id)
        generated = None
        if not access_key_id:
            if await self._metadata.count_root_keys(account_id):
                return None
            access_key_id = new_key_id()
            secret_access_key = new_secret()
            generated = (access_key_id, secret_access_key)
        await self._metadata.put_access_key(
            AccessKey(
                id=access_key_id,
                account_id=account_id,
                principal_arn=root_arn(account_id),
                sealed_secret=self.seal_secret(secret_access_key, access_key_id),
                status=ACTIVE,
                created_at=datetime.now(UTC),
            )
        )
        return generated

    async def _active_key(self, access_key_id: str) -> AccessKey | None:
        now = time.monotonic()
        cached = self._keys.get(access_key_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        key = await self._metadata.get_access_key(access_key_id)
        active = key if key is not None and key.status == ACTIVE else None
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[access_key_id] = (now + KEY_CACHE_SECONDS, active)
        return active

    def invalidate_keys(self) -> None:
        """Forget cached key states (after this process changed a key)."""
        self._keys.clear()
        self._logins.clear()

    # the ECR API

    async def authenticate(
        self, request: sigv4.SignedRequest, *, service: str, now: datetime | None = None
    ) -> tuple[Caller, str]:
        """The caller of a SigV4-signed request and the region it signed for."""
        now = now or datetime.now(UTC)
        parsed = sigv4.parse_authorization(request)
        sigv4.check_request(parsed, now=now, expected_service=service)
        key_id = parsed.credential.access_key_id
        if key_id.startswith(SESSION_KEY_PREFIX):
            caller, secret = self._open_session(key_id, parsed.security_token, now)
        else:
            key = await self._active_key(key_id)
            if key is None:
                raise sigv4.UnrecognizedClient()
            secret = (
                self._configured.get(key.id)
                or self._sealer.open(key.sealed_secret, key.id).decode()
            )
            caller = Caller(key.account_id, key.id, principal_from_arn(key.principal_arn))
        sigv4.verify(request, parsed, secret, now=now, expected_service=service)
        return caller, parsed.credential.region

    async def authenticate_query(
        self, request: sigv4.SignedRequest, service: str
    ) -> tuple[Caller, str]:
        """SigV4 for the Query services (IAM, STS): the same keys, another service name."""
        return await self.authenticate(request, service=service)

    # temporary credentials (STS)

    def mint_session(self, principal: Principal, expires_at: datetime) -> SessionCredentials:
        assert principal.account is not None
        key_id = new_key_id(SESSION_KEY_PREFIX)
        secret = new_secret()
        claims = [
            secret,
            principal.account,
            principal.arn,
            principal.role_arn or "",
            principal.userid or "",
            int(expires_at.timestamp()),
        ]
        sealed = self._sessions.seal(json.dumps(claims).encode(), key_id)
        token = base64.urlsafe_b64encode(sealed).decode().rstrip("=")
        return SessionCredentials(
            key_id, secret, token, datetime.fromtimestamp(int(expires_at.timestamp()), UTC)
        )

    def _open_session(self, key_id: str, token: str | None, now: datetime) -> tuple[Caller, str]:
        if not token:
            raise sigv4.UnrecognizedClient()
        try:
            sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            secret, account, arn, role_arn, userid, expires = json.loads(
                self._sessions.open(sealed, key_id)
            )
            principal = principal_from_arn(arn, role_arn=role_arn, userid=userid or None)
            expires_at = datetime.fromtimestamp(expires, UTC)
        except (ValueError, TypeError):  # crypto.InvalidTag is a ValueError
            raise sigv4.UnrecognizedClient() from None
        if now >= expires_at:
            raise sigv4.ExpiredToken()
        return Caller(account, key_id, principal, expires_at), secret

    async def get_authorization_token(
        self, caller: Caller, region: str, *, now: datetime | None = None
    ) -> AuthorizationData:
        issued = now or datetime.now(UTC)
        expires = issued + TOKEN_LIFETIME
        if caller.expires_at is not None:
            expires = min(expires, caller.expires_at)  # a login cannot outlive its session
        token = tokens.RegistryToken(
            access_key_id=caller.access_key_id,
            account_id=caller.account_id,
            principal_arn=caller.principal_arn,
            issued_at=issued,
            expires_at=expires,
            region=region,
            role_arn=caller.principal.role_arn or "" if caller.is_session else "",
        )
        password = tokens.mint(token, self._token_key)
        encoded = base64.b64encode(f"AWS:{password}".encode()).decode()
        return AuthorizationData(encoded, password, token.expires_at)

    # the registry

    async def authenticate_registry(
        self, authorization: str | None, *, now: datetime | None = None
    ) -> tuple[Caller, str]:
        """The caller behind `Authorization: Basic base64("AWS:<token>")`, and the region
        its token was issued in."""
        if not authorization:
            raise NotAuthenticated("Not Authorized")
        if now is None:
            hit = self._logins.get(authorization)
            if hit is not None and hit[0] > time.monotonic() and hit[1] > time.time():
                return hit[2], hit[3]
        try:
            user, password = tokens.parse_basic(authorization)
            if user != "AWS":
                raise NotAuthenticated("Not Authorized")
            token = tokens.open_token(password, [self._token_key], now=now or datetime.now(UTC))
        except (tokens.InvalidToken, tokens.ExpiredToken):
            raise NotAuthenticated("Not Authorized") from None
        if token.access_key_id.startswith(SESSION_KEY_PREFIX):
            # A session's login lives as long as the session at most, like the session itself.
            principal = principal_from_arn(token.principal_arn, role_arn=token.role_arn)
            caller = Caller(token.account_id, token.access_key_id, principal, token.expires_at)
        else:
            # A token dies with its access key: deleted or deactivated keys stop working at once.
            key = await self._active_key(token.access_key_id)
            if key is None or key.account_id != token.account_id:
                raise NotAuthenticated("Not Authorized")
            caller = Caller(key.account_id, key.id, principal_from_arn(key.principal_arn))
        if now is None:
            if len(self._logins) >= MAX_CACHED_LOGINS:
                self._logins.clear()
            until = time.monotonic() + KEY_CACHE_SECONDS
            self._logins[authorization] = (
                until,
                token.expires_at.timestamp(),
                caller,
                token.region,
            )
        return caller, token.region


def write_credentials_file(path: Path, access_key_id: str, secret_access_key: str) -> None:
    """An AWS-style credentials file readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(
            "[default]\n"
            f"aws_access_key_id = {access_key_id}\n"
            f"aws_secret_access_key = {secret_access_key}\n"
        )
