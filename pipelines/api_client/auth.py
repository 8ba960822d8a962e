"""Authentication providers: a tiny protocol the client calls before each send.

Why a protocol instead of ``requests.auth.AuthBase``: ``requests`` re-applies
``AuthBase`` objects on redirects it follows itself, which is exactly how tokens
leak to third-party hosts. Our client asks the provider for headers/params
explicitly and only attaches them to allowed hosts. Zoom's OAuth
(server-to-server) provider is built elsewhere on top of :class:`BearerTokenAuth`.

Contract for :meth:`AuthProvider.refresh`: the client calls it at most once per
request, after a 401 that does not name missing scopes; the request is then re-sent
once and a second 401 becomes :class:`~pipelines.api_client.errors.AuthError`.
``refresh`` itself raises ``AuthError`` when the credentials cannot be renewed.
Providers used from several threads should make ``refresh`` idempotent (e.g. skip
minting if another thread already replaced the rejected token).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from pipelines.api_client.errors import AuthError


@runtime_checkable
class AuthProvider(Protocol):
    """What :class:`~pipelines.api_client.client.ApiClient` needs from an auth scheme."""

    def headers(self) -> dict[str, str]:
        """Credential headers to attach to a request to an allowed host."""
        ...

    def query_params(self) -> dict[str, str]:
        """Credential query parameters (rare; e.g. ``access_token`` for downloads)."""
        return {}

    def refresh(self) -> None:
        """Renew credentials after a 401; raise ``AuthError`` if that is impossible."""
        ...


class NoAuth:
    """No credentials at all (public endpoints, the local sandbox without auth)."""

    def headers(self) -> dict[str, str]:
        return {}

    def query_params(self) -> dict[str, str]:
        return {}

    def refresh(self) -> None:
        raise AuthError("The server requires credentials but this client was configured without any.")

    def __repr__(self) -> str:
        return "NoAuth()"


class HeaderTokenAuth:
    """A static token sent in one header (e.g. a MEETS API key).

    Static tokens cannot be refreshed: a 401 means the token is wrong, revoked or
    expired and a human has to replace it.
    """

    def __init__(self, header_name: str, token: str) -> None:
        if not header_name:
            raise ValueError("header_name is required")
        self.header_name = header_name
        self._token = token

    def headers(self) -> dict[str, str]:
        return {self.header_name: self._token}

    def query_params(self) -> dict[str, str]:
        return {}

    def refresh(self) -> None:
        raise AuthError(
            f"The static API token sent in header '{self.header_name}' was rejected. "
            "Check that the configured token is correct and not revoked, then rerun."
        )

    def __repr__(self) -> str:
        return f"HeaderTokenAuth(header_name={self.header_name!r}, token=***)"


class QueryTokenAuth:
    """A static token sent as a query parameter (for APIs that insist on it)."""

    def __init__(self, param_name: str, token: str) -> None:
        self.param_name = param_name
        self._token = token

    def headers(self) -> dict[str, str]:
        return {}

    def query_params(self) -> dict[str, str]:
        return {self.param_name: self._token}

    def refresh(self) -> None:
        raise AuthError(
            f"The static token sent as query parameter '{self.param_name}' was rejected. "
            "Check that the configured token is correct and not revoked, then rerun."
        )

    def __repr__(self) -> str:
        return f"QueryTokenAuth(param_name={self.param_name!r}, token=***)"


class BearerTokenAuth:
    """``Authorization: Bearer <token>`` with the token from ``token_supplier``.

    Subclasses (Zoom OAuth) override :meth:`refresh` to mint a new token; or pass
    ``refresher``. ``token_supplier`` is called for every request so it can cache and
    renew proactively before expiry.
    """

    def __init__(
        self,
        token_supplier: Callable[[], str],
        refresher: Callable[[], None] | None = None,
    ) -> None:
        self._token_supplier = token_supplier
        self._refresher = refresher
        self._lock = threading.Lock()

    def token(self) -> str:
        return self._token_supplier()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def query_params(self) -> dict[str, str]:
        return {}

    def refresh(self) -> None:
        if self._refresher is None:
            raise AuthError(
                "The bearer token was rejected and this provider cannot refresh it. "
                "Check the configured credentials, then rerun."
            )
        with self._lock:
            self._refresher()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token=***)"
