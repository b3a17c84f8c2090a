"""The exception tree: every expected failure is a `TokenProviderError`.

Messages say what failed and what to change. They never contain a token, secret or
password: callers may log them and show them to users.
"""

from __future__ import annotations


class TokenProviderError(Exception):
    """Root of every error raised by tokenprovider."""


class ConfigurationError(TokenProviderError, ValueError):
    """A setting is missing or invalid; the message names it and how to fix it."""


class MissingExtraError(ConfigurationError, ImportError):
    """An optional dependency is not installed; the message names the extra to install
    (``pip install 'tokenprovider[aws]'``). Also an `ImportError`."""


class InvalidHostError(ConfigurationError):
    """A host (domain, scheme or URL) cannot be used."""


class TokenRequestError(TokenProviderError):
    """Getting a token from its source failed.

    A provider's own exception is chained as the cause; a failed HTTP request is described
    in the message instead, since requests' exceptions hold the request and its secret.
    """


class TokenEndpointError(TokenRequestError):
    """A token endpoint answered with an HTTP error status."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class OAuthError(TokenEndpointError):
    """A token endpoint returned an RFC 6749 §5.2 error response."""

    def __init__(
        self,
        message: str,
        *,
        error: str,
        error_description: str | None = None,
        error_uri: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.error = error
        self.error_description = error_description
        self.error_uri = error_uri


class MalformedTokenResponseError(TokenRequestError):
    """A token source answered with something that is not a usable token response."""


class TokenExpiredOnArrivalError(MalformedTokenResponseError):
    """A token source answered with a token that had already expired (or lived under a
    second); it is never cached, and the source is not asked again for a while."""


class DiscoveryError(TokenRequestError):
    """An endpoint could not be discovered from well-known metadata."""


class MalformedTokenError(ConfigurationError):
    """A token given in configuration cannot be parsed (for example a broken JWT)."""


class TokenExpiredError(TokenProviderError):
    """A static token has expired and cannot be refreshed."""


class SecretReferenceError(ConfigurationError):
    """A secret reference (``env:``, ``file:``, ``aws-...:``) is malformed or cannot be read.

    The message names the reference and the setting it came from, never the value.
    """


class PluginError(ConfigurationError):
    """A provider plugin is not a `TokenProvider` or takes a name already in use."""


class CacheError(ConfigurationError):
    """A token cache cannot be used as configured (a missing table, an unusable
    directory, a bad encryption key); the message names the cache and what to change."""


class TDSError(TokenRequestError):
    """The Token Dispenser Service answered with an error (a ``FunctionError`` or an
    error envelope); ``error_type`` and ``status_code`` carry what it said."""

    def __init__(
        self, message: str, *, error_type: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status_code = status_code


class AssertionSourceError(TokenRequestError):
    """An assertion source (a token file, GitHub Actions OIDC, another profile, a plugin)
    gave no usable token: the message names the source (the file, the missing variable),
    never the token."""


class LoginRequiredError(TokenRequestError):
    """A person must log in: no usable refresh token is stored for this provider (none
    yet, or the server refused it). The message names the command to run, such as
    ``tokenprovider login --profile NAME``; ``command`` holds it (None for a provider
    built in code, which logs in with ``provider.login()``)."""

    def __init__(self, message: str, *, command: str | None = None) -> None:
        super().__init__(message)
        self.command = command


class LoginError(TokenProviderError):
    """An interactive login did not complete: the person denied it, it timed out, the
    redirect did not match (``state``), or the device code expired."""


class LoginStoreError(CacheError):
    """The store of people's logins cannot be used as configured (an unsafe directory,
    a keyring that does not work, a bad encryption key); the message says what to change."""
