"""The one error type of the Query wire layer."""

from __future__ import annotations


class QueryError(Exception):
    """An answer in the Query protocol's error format: `<ErrorResponse>` with `code` and
    `message`, sent with HTTP `status`. A status below 500 is the caller's fault ("Sender")."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status

    @property
    def sender(self) -> bool:
        return self.status < 500
