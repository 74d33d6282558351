"""The database URL a user gives, normalised to the drivers Berth ships with."""

from __future__ import annotations

from sqlalchemy.engine import make_url


def sync_url(url: str) -> str:
    """`sqlite:///…` uses the standard library; `postgresql://…` uses psycopg 3."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql+psycopg")
