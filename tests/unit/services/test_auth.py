"""AuthService on a real SQLite database: root keys, registry tokens, expiry, revocation."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import stat
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from unittest import mock

import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from berth.domain import sigv4
from berth.domain.policy import Principal
from berth.errors import NotAuthenticated
from berth.services.auth import KEY_CACHE_SECONDS, AuthService, Caller, write_credentials_file
from berth.storage.metadata import migrate
from berth.storage.metadata.store import SqlMetadataStore

T = TypeVar("T")
ACCOUNT = "123456789012"


def run(tmp_path: Path, test: Callable[[AuthService, SqlMetadataStore], Awaitable[T]]) -> T:
    async def main() -> T:
        url = f"sqlite:///{tmp_path / 'berth.db'}"
        await asyncio.to_thread(migrate.upgrade, url)
        store = SqlMetadataStore(url)
        try:
            return await test(AuthService(store, b"k" * 32), store)
        finally:
            await store.close()

    return asyncio.run(main())


def signed_request(
    key_id: str, secret: str, at: datetime, *, token: str | None = None
) -> sigv4.SignedRequest:
    """A DescribeRepositories call as botocore signs it at `at`."""
    url = "https://api.ecr.us-east-1.amazonaws.com/"
    headers = {
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
        "Content-Type": "application/x-amz-json-1.1",
    }
    request = AWSRequest(method="POST", url=url, headers=headers, data=b"{}")
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        SigV4Auth(Credentials(key_id, secret, token), "ecr", "us-east-1").add_auth(request)
    pairs = [*request.headers.items(), ("Host", "api.ecr.us-east-1.amazonaws.com")]
    return sigv4.SignedRequest("POST", url, pairs, b"{}")


def basic(password: str, user: str = "AWS") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_root_key_is_generated_once(tmp_path: Path) -> None:
    async def test(auth: AuthService, store: SqlMetadataStore) -> None:
        pair = await auth.ensure_root_key(ACCOUNT)
        assert pair is not None
        key_id, secret = pair
        assert key_id.startswith("AKIA") and len(key_id) == 20
        assert len(secret) == 40
        assert await auth.ensure_root_key(ACCOUNT) is None
        stored = await store.get_access_key(key_id)
        assert stored is not None
        assert secret.encode() not in stored.sealed_secret  # sealed, not in the clear
        assert stored.principal_arn == f"arn:aws:iam::{ACCOUNT}:root"

    run(tmp_path, test)


def test_explicit_root_key_is_stored(tmp_path: Path) -> None:
    async def test(auth: AuthService, store: SqlMetadataStore) -> None:
        assert await auth.ensure_root_key(ACCOUNT, "AKIAEXPLICIT00000001", "s3cret") is None
        assert await store.get_access_key("AKIAEXPLICIT00000001") is not None

    run(tmp_path, test)


def test_token_round_trip_expiry_and_revocation(tmp_path: Path) -> None:
    async def test(auth: AuthService, store: SqlMetadataStore) -> None:
        await auth.ensure_root_key(ACCOUNT, "AKIAEXPLICIT00000001", "s3cret")
        caller = Caller(ACCOUNT, "AKIAEXPLICIT00000001", Principal.root(ACCOUNT))
        issued = datetime.now(UTC)
        data = await auth.get_authorization_token(caller, "eu-west-1", now=issued)
        assert data.expires_at - issued == timedelta(hours=12)
        header = "Basic " + data.token
        assert await auth.authenticate_registry(header, now=issued) == (caller, "eu-west-1")
        later = issued + timedelta(hours=11, minutes=59)
        assert (await auth.authenticate_registry(header, now=later))[0] == caller
        with pytest.raises(NotAuthenticated):
            await auth.authenticate_registry(header, now=issued + timedelta(hours=12, seconds=1))
        for bad in (None, "", "Bearer x", basic(data.password, user="root"), basic("v1.x.y")):
            with pytest.raises(NotAuthenticated):
                await auth.authenticate_registry(bad, now=issued)
        # A token dies with its access key: at once when this process changed the key (IAM
        # tells the service), within KEY_CACHE_SECONDS when another process did.
        key = await store.get_access_key("AKIAEXPLICIT00000001")
        assert key is not None
        await store.put_access_key(dataclasses.replace(key, status="Inactive"))
        auth.invalidate_keys()
        with pytest.raises(NotAuthenticated):
            await auth.authenticate_registry(header, now=issued)
        await store.put_access_key(key)
        auth.invalidate_keys()
        assert await auth.authenticate_registry(header, now=issued)
        await store.put_access_key(dataclasses.replace(key, status="Inactive"))
        await asyncio.sleep(KEY_CACHE_SECONDS)
        with pytest.raises(NotAuthenticated):
            await auth.authenticate_registry(header, now=issued)

    run(tmp_path, test)


def test_credentials_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "root-credentials"
    write_credentials_file(path, "AKIAEXAMPLE", "secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "aws_secret_access_key = secret" in path.read_text()


def test_session_credentials_sign_requests_and_log_in_until_they_expire(tmp_path: Path) -> None:
    async def test(auth: AuthService, store: SqlMetadataStore) -> None:
        principal = Principal.assumed_role(
            ACCOUNT, "puller", "build-7", role_id="AROAPULLER0000000001", path="/ci/"
        )
        now = datetime.now(UTC)
        session = auth.mint_session(principal, now + timedelta(hours=1))
        assert session.access_key_id.startswith("ASIA")
        request = signed_request(
            session.access_key_id,
            session.secret_access_key,
            now,
            token=session.session_token,
        )
        caller, region = await auth.authenticate(request, service="ecr", now=now)
        assert caller.principal == principal
        assert caller.expires_at == session.expires_at
        assert region == "us-east-1"
        # A login minted from a session ends with it and keeps the role's path.
        data = await auth.get_authorization_token(caller, "us-east-1", now=now)
        assert data.expires_at == session.expires_at
        login, _ = await auth.authenticate_registry("Basic " + data.token, now=now)
        assert login.principal.role_arn == f"arn:aws:iam::{ACCOUNT}:role/ci/puller"
        later = now + timedelta(hours=2)
        with pytest.raises(sigv4.ExpiredToken):
            await auth.authenticate(
                signed_request(
                    session.access_key_id, session.secret_access_key, later,
                    token=session.session_token,
                ),
                service="ecr",
                now=later,
            )  # fmt: skip
        # No token, a token for another key, or a forged one: not recognised.
        other = auth.mint_session(principal, now + timedelta(hours=1))
        for token in (None, other.session_token, session.session_token[:-4] + "AAAA"):
            with pytest.raises(sigv4.UnrecognizedClient):
                await auth.authenticate(
                    signed_request(
                        session.access_key_id, session.secret_access_key, now, token=token
                    ),
                    service="ecr",
                    now=now,
                )

    run(tmp_path, test)
