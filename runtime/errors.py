"""Errors a handler raises to stop the chain with an HTTP status.

Caddy handlers return an error carrying a status; the server then runs the
site's `handle_errors` routes (or writes the bare status). `HandlerError` is
that error here. Proxy failures map to 502/503/504 (and 499 when the client
went away) exactly as Caddy's `statusError` does.
"""

from __future__ import annotations

__all__ = ["ClientGone", "HandlerError"]


class HandlerError(Exception):
    """Stop handling with `status`; `{http.error.*}` placeholders read it."""

    def __init__(
        self,
        status: int,
        message: str = "",
        *,
        origin: str = "",
        cause: BaseException | None = None,
        error_id: str = "",
    ) -> None:
        super().__init__(message or str(status))
        self.status = status
        self.message = message
        self.origin = origin
        self.cause = cause
        self.error_id = error_id  # `{http.error.id}`; filled in when handled


class ClientGone(HandlerError):
    """The client closed the connection; logged as 499, nothing is written."""

    def __init__(self, message: str = "client disconnected", *, origin: str = "") -> None:
        super().__init__(499, message, origin=origin)
