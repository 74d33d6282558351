"""Errors of the scanner core. They are not `BerthError`s: no client request causes them
directly, a scan job reports them as the reason the scan failed."""

from __future__ import annotations


class ScanError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LayerError(ScanError):
    """A layer blob is not a readable (gzip, zstd or plain) tar archive."""


class OsvError(ScanError):
    """A vulnerability record or database file does not follow the OSV schema."""
