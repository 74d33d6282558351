from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.domain.tokens import (
    MAX_PASSWORD_CHARS,
    ExpiredToken,
    InvalidToken,
    RegistryToken,
    TokenError,
    mint,
    open_token,
    parse_basic,
)
from berth.errors import BerthError

KEY = bytes(range(32))
OLD_KEY = b"o" * 32
OTHER_KEY = b"x" * 48
T0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
TOKEN = RegistryToken(
    access_key_id="AKIAIOSFODNN7EXAMPLE",
    account_id="123456789012",
    principal_arn="arn:aws:iam::123456789012:user/ci/deployer",
    issued_at=T0,
    expires_at=T0 + timedelta(hours=12),
)


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def test_round_trip() -> None:
    password = mint(TOKEN, KEY)
    assert open_token(password, KEY, now=T0) == TOKEN
    assert open_token(password, KEY, now=TOKEN.expires_at - timedelta(seconds=1)) == TOKEN


def test_password_shape() -> None:
    password = mint(TOKEN, KEY)
    assert password.startswith("v1.")
    assert len(password) < 1024
    # Safe in URLs, docker's config.json and a `user:password` pair; nothing to pad or escape.
    assert set(password) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_getauthorizationtoken_encoding_round_trips() -> None:
    password = mint(TOKEN, KEY)
    authorization = base64.b64encode(f"AWS:{password}".encode()).decode()
    user, opened = parse_basic("Basic " + authorization)
    assert user == "AWS"
    assert open_token(opened, KEY, now=T0) == TOKEN


def test_non_ascii_claims_and_times_in_other_zones() -> None:
    seoul = timezone(timedelta(hours=9))
    token = RegistryToken(
        "AKID",
        "123456789012",
        "arn:aws:iam::123456789012:user/équipe/🚢",
        T0.astimezone(seoul),
        (T0 + timedelta(minutes=5)).astimezone(seoul),
    )
    opened = open_token(mint(token, KEY), KEY, now=T0)
    assert opened == token  # equal instants, whatever the zone
    assert opened.issued_at.tzinfo is UTC


def test_fractions_of_a_second_are_dropped() -> None:
    token = RegistryToken("a", "b", "c", T0.replace(microsecond=999_999), T0 + timedelta(hours=1))
    assert open_token(mint(token, KEY), KEY, now=T0).issued_at == T0


def test_expiry_boundary() -> None:
    password = mint(TOKEN, KEY)
    with pytest.raises(ExpiredToken) as info:
        open_token(password, KEY, now=TOKEN.expires_at)
    assert info.value.message == (
        "Your authorization token has expired. Reauthenticate and try again."
    )
    with pytest.raises(ExpiredToken):
        open_token(password, KEY, now=TOKEN.expires_at + timedelta(days=400))


def test_expired_only_after_authentic() -> None:
    # An expired token under the wrong key says nothing about its claims.
    with pytest.raises(InvalidToken):
        open_token(mint(TOKEN, OTHER_KEY), KEY, now=TOKEN.expires_at)


def test_wrong_key() -> None:
    with pytest.raises(InvalidToken) as info:
        open_token(mint(TOKEN, OTHER_KEY), KEY, now=T0)
    assert isinstance(info.value, TokenError) and isinstance(info.value, BerthError)


def test_rotation() -> None:
    old = mint(TOKEN, OLD_KEY)
    current = mint(TOKEN, KEY)
    assert open_token(old, [KEY, OLD_KEY], now=T0) == TOKEN
    assert open_token(current, [KEY, OLD_KEY], now=T0) == TOKEN
    assert open_token(current, (KEY,), now=T0) == TOKEN
    with pytest.raises(InvalidToken):
        open_token(old, [KEY], now=T0)
    with pytest.raises(InvalidToken):
        open_token(old, [KEY, OTHER_KEY], now=T0)


def test_every_single_character_change_is_invalid() -> None:
    password = mint(TOKEN, KEY)
    alphabet = "AQgw_-.0z"
    for i, original in enumerate(password):
        for replacement in alphabet:
            if replacement == original:
                continue
            tampered = password[:i] + replacement + password[i + 1 :]
            with pytest.raises(InvalidToken):
                open_token(tampered, KEY, now=T0)


def test_truncation_and_extension_are_invalid() -> None:
    password = mint(TOKEN, KEY)
    for candidate in (password[:-1], password + "A", password + ".", "v2" + password[2:]):
        with pytest.raises(InvalidToken):
            open_token(candidate, KEY, now=T0)


def test_claims_cannot_be_swapped_between_tokens() -> None:
    other = RegistryToken("AKIDOTHER", "210987654321", "arn:aws:iam::210987654321:root", T0, T0)
    a = mint(TOKEN, KEY).split(".")
    b = mint(other, KEY).split(".")
    with pytest.raises(InvalidToken):
        open_token(".".join([a[0], b[1], a[2]]), KEY, now=T0)


@pytest.mark.parametrize(
    "password",
    ["", ".", "..", "v1..", "v1", "v1.a.b", "v1.a.b.c", "AWS", "v1.!!!.???", "v1.é.é", "x" * 5000],
)
def test_garbage_is_invalid(password: str) -> None:
    with pytest.raises(InvalidToken):
        open_token(password, KEY, now=T0)


def test_keys_must_be_long_enough() -> None:
    with pytest.raises(ValueError):
        mint(TOKEN, b"short")
    with pytest.raises(ValueError):
        open_token(mint(TOKEN, KEY), [KEY, b"short"], now=T0)
    with pytest.raises(ValueError):
        open_token(mint(TOKEN, KEY), [], now=T0)


def test_naive_times_are_programming_errors() -> None:
    naive = RegistryToken("a", "b", "c", T0.replace(tzinfo=None), T0.replace(tzinfo=None))
    with pytest.raises(ValueError):
        mint(naive, KEY)
    with pytest.raises(ValueError):
        open_token(mint(TOKEN, KEY), KEY, now=T0.replace(tzinfo=None))


def test_oversized_claims_are_refused_at_mint() -> None:
    token = RegistryToken("a", "b", "c" * MAX_PASSWORD_CHARS, T0, T0)
    with pytest.raises(ValueError):
        mint(token, KEY)


@settings(max_examples=300)
@given(password=st.text(max_size=200))
def test_random_strings_only_ever_fail_as_invalid(password: str) -> None:
    with pytest.raises(InvalidToken):
        open_token(password, [KEY, OLD_KEY], now=T0)


@settings(max_examples=200)
@given(suffix=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."))
def test_random_well_formed_looking_strings_are_invalid(suffix: str) -> None:
    with pytest.raises(InvalidToken):
        open_token("v1." + suffix, KEY, now=T0)


@settings(max_examples=100)
@given(
    access_key_id=st.text(max_size=40),
    account_id=st.text(max_size=12),
    principal_arn=st.text(max_size=200),
    issued=st.integers(min_value=0, max_value=4_102_444_800),
    lifetime=st.integers(min_value=1, max_value=7 * 86_400),
)
def test_any_claims_round_trip(
    access_key_id: str, account_id: str, principal_arn: str, issued: int, lifetime: int
) -> None:
    issued_at = datetime.fromtimestamp(issued, UTC)
    token = RegistryToken(
        access_key_id, account_id, principal_arn, issued_at, issued_at + timedelta(seconds=lifetime)
    )
    assert open_token(mint(token, KEY), KEY, now=issued_at) == token


# -- Basic authentication -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"AWS:secret", ("AWS", "secret")),
        (b"AWS:pa:ss:word:", ("AWS", "pa:ss:word:")),
        (b"AWS:", ("AWS", "")),
        (b":password", ("", "password")),
        ("jörg:pässwörd🚢".encode(), ("jörg", "pässwörd🚢")),
    ],
)
def test_basic(raw: bytes, expected: tuple[str, str]) -> None:
    assert parse_basic(basic(raw)) == expected


def test_basic_scheme_is_case_insensitive_and_padding_optional() -> None:
    encoded = base64.b64encode(b"AWS:pw").decode()  # "QVdTOnB3" needs no padding
    assert parse_basic("basic " + encoded) == ("AWS", "pw")
    encoded = base64.b64encode(b"AWS:p").decode()
    assert encoded.endswith("=")
    assert parse_basic("BASIC  " + encoded.rstrip("=") + " ") == ("AWS", "p")


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Basic",
        "Basic ",
        "Bearer " + base64.b64encode(b"AWS:x").decode(),
        "Basic " + base64.b64encode(b"no colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:latin").decode(),
        "Basic !!!!",
        "Basic QVdTOnB3*",
        "Basic Q",
        "Basic QVdTOnB3 extra",
        "Basic " + "A" * 10_000,
    ],
)
def test_basic_garbage(header: str) -> None:
    with pytest.raises(InvalidToken):
        parse_basic(header)


@settings(max_examples=300)
@given(header=st.text(max_size=100))
def test_basic_random_input_only_fails_as_invalid(header: str) -> None:
    try:
        user, password = parse_basic(header)
    except InvalidToken:
        return
    assert isinstance(user, str) and isinstance(password, str)


@given(user=st.text().filter(lambda u: ":" not in u), password=st.text())
def test_basic_round_trip(user: str, password: str) -> None:
    assert parse_basic(basic(f"{user}:{password}".encode())) == (user, password)
