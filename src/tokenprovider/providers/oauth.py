"""`OAuthTokenProvider`: OAuth 2.0 tokens for a service (the client-credentials grant,
RFC 6749 §4.4, a JWT assertion, RFC 7523, or a token exchange, RFC 8693) or for a person
who logs in (authorization code with PKCE, or a device code).

The provider checks its settings and keeps the token (`CachedTokenProvider`); its
`TokenEndpoint` (``providers/_token_endpoint.py``) talks to the token endpoint, with the
client authenticated by its `ClientAuthentication` (``providers/_client_auth.py``); the
assertion grants are `AssertionGrant`s (``providers/_assertion_grants.py``), and a
person's login is a `PersonGrant` (``providers/_person.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal, TextIO
from urllib.parse import urlsplit

from tokenprovider import _untrusted as untrusted
from tokenprovider._masking import warn_about_literal_secret
from tokenprovider._suggest import did_you_mean
from tokenprovider._untrusted import MAX_RESPONSE_BYTES
from tokenprovider.core.cached import CachedTokenProvider
from tokenprovider.core.host import Host
from tokenprovider.core.refresh_settings import RefreshSettings, Unpack
from tokenprovider.errors import ConfigurationError
from tokenprovider.providers._assertion_grants import GRANTS
from tokenprovider.providers._client_auth import DEFAULT_LIFETIME
from tokenprovider.providers._oauth_metadata import (
    MAX_REDIRECTS,
    WELL_KNOWN_PATHS,
    endpoint_problem,
    is_loopback,
)
from tokenprovider.providers._person import (
    PERSON_GRANTS,
    PersonGrant,
    store_setting_problem,
)
from tokenprovider.providers._secretless import Secretless
from tokenprovider.providers._token_endpoint import RESERVED_PARAMS, TokenEndpoint
from tokenprovider.retry import RetryPolicy
from tokenprovider.secret_refs import SecretReference, is_reference, reveal
from tokenprovider.sources.base import AssertionSource, describe

if TYPE_CHECKING:
    from tokenprovider.providers._person import LoginStatus, LogoutResult

__all__ = ["DEFAULT_EXPIRES_IN", "MAX_REDIRECTS", "WELL_KNOWN_PATHS", "OAuthTokenProvider"]

#: The grants `OAuthTokenProvider` speaks (``grant_type``).
GRANT_TYPES = ("client_credentials", *GRANTS, *PERSON_GRANTS)

#: The settings of a person's login, refused with the client-credentials grant.
_PERSON_SETTINGS = (
    "authorization_url",
    "device_authorization_url",
    "revocation_url",
    "redirect_port",
    "login_store_dir",
    "login_store_key",
)

#: Lifetime assumed when a token response has no ``expires_in`` (RFC 6749 leaves it optional).
DEFAULT_EXPIRES_IN = 3600.0


class OAuthTokenProvider(CachedTokenProvider):
    """Gets tokens from an OAuth 2.0 token endpoint: for a service with the
    client-credentials grant, a JWT assertion (``"jwt_bearer"``) or a token exchange
    (``"token_exchange"``: ``subject_token`` and the settings of RFC 8693), or for a
    person who logged in (``grant_type`` is then ``"authorization_code"``, in a browser,
    or ``"device_code"``; see docs/login.md).

    The client authenticates with HTTP Basic (``client_auth="basic"``, id and secret
    form-urlencoded first, RFC 6749 §2.3.1), in the request body (``"post"``), or with a
    client assertion signed anew for each attempt (``"private_key_jwt"`` with
    ``private_key``, ``"client_secret_jwt"``), or read from a source (``"private_key_jwt"``
    with ``assertion``: a federated token file); ``"none"``, and a client without a
    secret, send only its id. Sources (``assertion``, ``subject_token``,
    ``actor_token``) are read for every request; see docs/secretless.md. ``scopes`` are
    sent only when there are any. Without ``token_url`` the endpoint is discovered from the host's
    ``/.well-known/oauth-authorization-server``, then ``/.well-known/openid-configuration``.
    Transient failures are retried by ``retry`` (a `RetryPolicy`), whose ``deadline``
    ends the whole fetch, however slowly the server answers. A response without
    ``expires_in`` is taken to live ``default_expires_in`` seconds. Responses (token and
    discovery) may hold at most ``max_response_bytes``, after decompression. Plain http
    is used only with a loopback host configured with scheme ``"http"``.

    A person's tokens are kept in the login store (``login_store``: ``"auto"``, the OS
    keyring when the ``keyring`` extra works here, else files; ``"keyring"``; or
    ``"file"``, in ``login_store_dir`` if set; ``login_store_key`` seals the files) and
    refreshed with the stored refresh token. Getting a token never prompts: with no
    usable login it raises `LoginRequiredError`; `login` logs in. The authorization,
    device authorization and revocation endpoints are discovered unless configured;
    the browser login's loopback redirect uses an ephemeral port unless ``redirect_port``
    names one or a range (``"8400-8410"``).
    """

    #: Not shown by `repr()` at all (`tokenprovider._masking`): the token endpoint's client,
    #: which holds the revealed secret.
    _hidden_attributes: ClassVar[frozenset[str]] = frozenset(
        {"_endpoint", "_person", "_secretless", "_grant"}
    )

    def __init__(
        self,
        host: Host | str,
        client_id: str,
        client_secret: str | SecretReference | None = None,
        *,
        token_url: str | None = None,
        grant_type: str = "client_credentials",
        scopes: Sequence[str] | str | None = None,
        audience: str | None = None,
        client_auth: Literal[
            "basic", "post", "private_key_jwt", "client_secret_jwt", "none"
        ] = "basic",
        private_key: str | SecretReference | None = None,
        key_id: str | None = None,
        assertion_algorithm: Literal["RS256", "PS256", "ES256", "EdDSA"] | None = None,
        assertion_audience: str = "token_endpoint",
        assertion_lifetime: float = DEFAULT_LIFETIME,
        assertion: str | AssertionSource | None = None,
        subject_token: str | AssertionSource | None = None,
        subject_token_type: str | None = None,
        actor_token: str | AssertionSource | None = None,
        actor_token_type: str | None = None,
        requested_token_type: str | None = None,
        resource: str | None = None,
        extra_params: Mapping[str, str] | None = None,
        default_expires_in: float = DEFAULT_EXPIRES_IN,
        retry: RetryPolicy | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        authorization_url: str | None = None,
        device_authorization_url: str | None = None,
        revocation_url: str | None = None,
        redirect_port: int | str | None = None,
        login_store: Literal["auto", "keyring", "file"] = "auto",
        login_store_dir: Path | None = None,
        login_store_key: str | SecretReference | None = None,
        **settings: Unpack[RefreshSettings],
    ) -> None:
        super().__init__(host, **settings)
        if not isinstance(client_id, str) or not client_id:
            raise ConfigurationError("client_id must be a non-empty string")
        if client_secret is not None and not isinstance(client_secret, (str, SecretReference)):
            raise ConfigurationError("client_secret must be a string or a SecretReference")
        if grant_type not in GRANT_TYPES:
            hint = did_you_mean(grant_type, GRANT_TYPES) if isinstance(grant_type, str) else ""
            raise ConfigurationError(
                f"grant_type {untrusted.quote(repr(grant_type), 60)} is not supported{hint}; "
                "use "
                + ", ".join(repr(name) for name in GRANT_TYPES[:-1])
                + f" or {GRANT_TYPES[-1]!r}"
            )
        urls = {
            "authorization_url": authorization_url,
            "device_authorization_url": device_authorization_url,
            "revocation_url": revocation_url,
        }
        person = grant_type in PERSON_GRANTS
        self.__check_person_settings(
            person,
            {
                **urls,
                "redirect_port": redirect_port,
                "login_store_dir": login_store_dir,
                "login_store_key": login_store_key,
            },
            login_store,
            audience,
            extra_params,
        )
        for name, url in urls.items():
            # An authorization URL may have a query (Azure AD B2C names its policy there):
            # it is opened in a browser and carries no secret.
            query = name == "authorization_url"
            problem = url and endpoint_problem(url, self.host, allow_query=query)
            if problem:
                raise ConfigurationError(f"{name} {problem}")
        if token_url is not None:
            problem = endpoint_problem(token_url, self.host, allow_query=False)
            if problem:
                raise ConfigurationError(f"token_url {problem}")
        elif self.host.scheme == "http" and not is_loopback(urlsplit(self.host.url).hostname):
            raise ConfigurationError(
                f"{self.host} uses plain http, so its token endpoint cannot be discovered: "
                "only a loopback host (127.0.0.1, ::1, localhost) may use http. "
                "Set token_url to the server's https token endpoint"
            )
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes <= 0
        ):
            raise ConfigurationError(
                f"max_response_bytes must be a positive whole number, got {max_response_bytes!r}"
            )
        reserved = sorted(RESERVED_PARAMS.intersection(extra_params or {}))
        if reserved:
            instead = (
                "client_auth = 'private_key_jwt' with private_key (signed for each request) "
                "or assertion (a source such as 'file:PATH')"
                if any(name.startswith("client_assertion") for name in reserved)
                else "the setting of that name"
            )
            raise ConfigurationError(
                f"extra_params may not set {', '.join(reserved)}; use {instead}"
            )
        if (
            isinstance(default_expires_in, bool)
            or not isinstance(default_expires_in, (int, float))
            or default_expires_in <= 0
        ):
            raise ConfigurationError(
                "default_expires_in must be a positive number of seconds, "
                f"got {default_expires_in!r}"
            )
        warn_about_literal_secret(client_secret, "client_secret", type(self).__name__)
        warn_about_literal_secret(private_key, "private_key", type(self).__name__)
        scope_list = _scope_list(scopes)
        policy = retry or RetryPolicy()
        secretless = Secretless(
            client_id,
            grant_type=grant_type,
            client_auth=client_auth,
            has_secret=client_secret is not None,
            private_key=private_key,
            key_id=key_id,
            algorithm=assertion_algorithm,
            assertion_audience=assertion_audience,
            lifetime=assertion_lifetime,
            sources={
                "assertion": assertion,
                "subject_token": subject_token,
                "actor_token": actor_token,
            },
            token_types={
                "subject_token_type": subject_token_type,
                "actor_token_type": actor_token_type,
                "requested_token_type": requested_token_type,
            },
            resource=resource,
            scopes=scope_list,
            audience=audience,
            extra_params=extra_params,
            retry=policy,
        )
        self.client_id = client_id
        # The settings of a client without a long-lived secret live on the Secretless
        # (and show through the properties below): few attributes keep lookups fast.
        self._secretless = secretless
        self._grant = secretless.grant
        self._client_secret = client_secret
        self.token_url = token_url
        self.grant_type = grant_type
        self.scopes = scope_list
        self.audience = audience
        self.client_auth = client_auth
        self._extra_params = dict(extra_params) if extra_params else None
        self.default_expires_in = float(default_expires_in)
        self.retry = policy
        self.max_response_bytes = max_response_bytes
        self._endpoint = TokenEndpoint(
            self.host,
            client_id,
            token_url=token_url,
            grant_type=grant_type,
            scopes=self.scopes,
            audience=audience,
            auth=secretless.authentication(self.__read, self._wall_time),
            extra_params=self._extra_params,
            default_expires_in=self.default_expires_in,
            retry=self.retry,
            max_response_bytes=max_response_bytes,
        )
        # A person's settings live on the PersonGrant (and show through the properties
        # below): few attributes keep the provider's own lookups fast (hot path).
        self._person = (
            PersonGrant(
                host=self.host,
                grant_type=grant_type,
                endpoint=self._endpoint,
                secret=self._cache_secret,
                urls=urls,
                redirect_port=redirect_port,
                store_setting=login_store,
                store_dir=None if login_store_dir is None else Path(login_store_dir),
                store_key=login_store_key,
                audience=audience,
                wall_time=self._wall_time,
            )
            if person
            else None
        )
        self.__refuse_unshareable_cache()

    def __refuse_unshareable_cache(self) -> None:
        """A token got with a source that may name another workload in another process
        (a file, a variable, a CI job's token) is never put in a shared cache."""
        if self._person is not None or not self.cache.shared or self._cache_identity():
            return
        if self._grant is not None and self._grant.identity() is None:
            unshared = self._grant.unshared()
        else:
            assertion = self._secretless.sources["assertion"]
            unshared = f"client assertion from {describe(assertion)}"
        raise ConfigurationError(
            f"a token got with the {unshared} may differ from one process to the next, "
            f"so {untrusted.a_type(self.cache)} cannot share it: remove the cache setting"
        )

    @property
    def key_id(self) -> str | None:
        """The ``kid`` in the header of a signed client assertion."""
        return self._secretless.key_id

    @property
    def assertion_algorithm(self) -> str | None:
        """The client assertion's signing algorithm (None: the private key's default)."""
        return self._secretless.algorithm

    @property
    def assertion_audience(self) -> str:
        """The client assertion's ``aud``: ``"token_endpoint"``, ``"issuer"`` or a URL."""
        return self._secretless.assertion_audience

    @property
    def assertion_lifetime(self) -> float:
        """Seconds from a client assertion's ``iat`` to its ``exp``."""
        return self._secretless.lifetime

    @property
    def assertion(self) -> AssertionSource | None:
        """The source of the jwt-bearer grant's assertion, or of a ready-made client
        assertion (``client_auth="private_key_jwt"`` without a ``private_key``)."""
        return self._secretless.sources["assertion"]

    @property
    def subject_token(self) -> AssertionSource | None:
        """The source of a token exchange's subject token."""
        return self._secretless.sources["subject_token"]

    @property
    def subject_token_type(self) -> str | None:
        """The subject token's type URN (None: not a token exchange)."""
        return None if self._grant is None else self._grant.subject_type

    @property
    def actor_token(self) -> AssertionSource | None:
        """The source of a token exchange's actor token."""
        return self._secretless.sources["actor_token"]

    @property
    def actor_token_type(self) -> str | None:
        """The actor token's type URN."""
        return None if self._grant is None else self._grant.actor_type

    @property
    def requested_token_type(self) -> str | None:
        """The token type a token exchange asks for (None: the server's choice)."""
        return self._secretless.token_types["requested_token_type"]

    @property
    def resource(self) -> str | None:
        """The resource a token exchange asks a token for."""
        return self._secretless.resource

    @property
    def authorization_url(self) -> str | None:
        """The configured authorization endpoint (None: discovered)."""
        return None if self._person is None else self._person.urls["authorization_url"]

    @property
    def device_authorization_url(self) -> str | None:
        """The configured device authorization endpoint (None: discovered)."""
        return None if self._person is None else self._person.urls["device_authorization_url"]

    @property
    def revocation_url(self) -> str | None:
        """The configured revocation endpoint (None: discovered)."""
        return None if self._person is None else self._person.urls["revocation_url"]

    @property
    def redirect_port(self) -> int | str | None:
        """The loopback redirect's port or range (None: an ephemeral port)."""
        return None if self._person is None else self._person.redirect_port

    @property
    def login_store(self) -> str:
        """``"auto"``, ``"keyring"`` or ``"file"``: where a person's login is kept."""
        return "auto" if self._person is None else self._person.store_setting

    @property
    def login_store_dir(self) -> Path | None:
        """The directory of the login files (None: the user data directory)."""
        return None if self._person is None else self._person.store_dir

    def __check_person_settings(
        self,
        person: bool,
        settings: Mapping[str, object],
        login_store: object,
        audience: str | None,
        extra_params: Mapping[str, str] | None,
    ) -> None:
        if not person:
            given = [name for name, value in settings.items() if value is not None]
            if login_store != "auto":
                given.append("login_store")
            if given:
                raise ConfigurationError(
                    f"{', '.join(given)} apply to a person's login: set grant_type to "
                    "'authorization_code' or 'device_code', or remove them"
                )
            return
        problem = store_setting_problem(login_store)
        if problem:
            raise ConfigurationError(problem)
        if settings["login_store_dir"] is not None and login_store != "file":
            raise ConfigurationError('login_store_dir needs login_store = "file"')
        key = settings["login_store_key"]
        if key is not None and not (
            isinstance(key, (SecretReference, bytes))
            or (isinstance(key, str) and is_reference(key))
        ):
            raise ConfigurationError(
                "login_store_key must be a secret reference (env:, file:, aws-secretsmanager:, "
                "aws-ssm:) to 32 base64-encoded bytes (make them with: openssl rand -base64 32); "
                "a literal key does not belong in code or configuration"
            )
        if extra_params:
            raise ConfigurationError(
                "extra_params apply to a service's grants (client_credentials, jwt_bearer, "
                "token_exchange), not to a person's login"
            )
        if self.cache.shared:
            raise ConfigurationError(
                f"a person's tokens are shared through the login store, not a "
                f"{type(self.cache).__name__}: remove the cache setting"
            )

    @property
    def login_command(self) -> str | None:
        """The command `LoginRequiredError` tells a person to run: the configuration sets
        it for its profile (``tokenprovider login --profile NAME``); None for a provider
        built in code, or for a service's grant."""
        return None if self._person is None else self._person.login_command

    @login_command.setter
    def login_command(self, command: str | None) -> None:
        if self._person is not None:
            self._person.login_command = command

    def login(
        self,
        *,
        device: bool | None = None,
        open_browser: bool = True,
        out: TextIO | None = None,
    ) -> LoginStatus:
        """Log a person in and keep their tokens in the login store; what is returned
        says who, and where the tokens went.

        In a browser (``grant_type="authorization_code"``: the authorization URL is
        printed to ``out``, default stderr, and opened unless ``open_browser`` is false),
        or with a device code (``"device_code"``, or ``device=True``: the code and where
        to enter it are printed). `LoginError` if the login does not complete.
        """
        person = self.__person("login")
        status = person.login(device=device, open_browser=open_browser, out=out)
        self.invalidate_cache()  # the next token comes from the new login
        return status

    def logout(self) -> LogoutResult:
        """Forget the person's stored tokens, revoking them (RFC 7009) first when the
        server has a revocation endpoint."""
        result = self.__person("logout").logout()
        self.invalidate_cache()
        return result

    def login_status(self) -> LoginStatus | None:
        """Who is logged in, where the tokens are kept, the scopes and the access
        token's expiry (None: nobody). Reads the store only; never shows a token."""
        return self.__person("login_status").status()

    def login_location(self) -> str:
        """Where the person's login is (or would be) kept, in words: a file, or the OS
        keyring; for ``tokenprovider status`` and ``login``."""
        return self.__person("login_location").where()

    def __person(self, method: str) -> PersonGrant:
        if self._person is None:
            raise ConfigurationError(
                f"{method}() is for a person's login; this provider uses grant_type "
                f"{self.grant_type!r} (set 'authorization_code' or 'device_code')"
            )
        return self._person

    def _cache_identity(self) -> dict[str, object] | None:
        """Host, token URL, client id, grant, scopes, audience and extra parameters, and
        the sources and token types of an assertion grant; None for a person's grant,
        whose tokens the login store shares instead, and for an assertion grant whose
        source's token may differ between processes (`AssertionSource.cache_identity`)."""
        if self._person is not None:
            return None
        identity: dict[str, object] = {
            "kind": "oauth",
            "host": self.host.url,
            "token_url": self.token_url,
            "client_id": self.client_id,
            "grant_type": self.grant_type,
            "scopes": sorted(self.scopes),
            "audience": self.audience,
            "extra_params": sorted((self._extra_params or {}).items()),
        }
        if self._grant is not None:
            # Two subjects never share a token: the sources are part of its identity.
            grant = self._grant.identity()
            if grant is None:
                return None
            identity["grant"] = grant
        assertion = self._secretless.sources["assertion"]
        if assertion is not None and assertion.cache_identity() is None:
            # A federated client assertion may name another workload in another process.
            return None
        return identity

    def _token_source(self) -> str:
        """The token endpoint, as configured or discovered."""
        url = self._endpoint.url
        return f"token endpoint {untrusted.quote(url)}" if url else f"token endpoint of {self.host}"

    def _cache_secret(self) -> str | None:
        """The client secret, or the private key that signs the client's assertions
        (revealed here if it is a reference), with the secrets behind its sources (a
        chained provider's): only who holds them can find its tokens."""
        own = self._client_secret
        if own is None:
            own = self._secretless.private_key
        parts = [] if own is None else [reveal(own)]
        # and a chained provider's secret, so that only who holds it finds the tokens
        parts += [
            secret
            for source in self._secretless.sources.values()
            if source is not None and (secret := source.cache_secret()) is not None
        ]
        return "\0".join(parts) if parts else None

    def _request_token(self) -> tuple[str, float]:
        if self._person is not None:
            return self._person.token()
        # A secret reference is resolved on the first fetch (then cached for the process).
        secret = None if self._client_secret is None else reveal(self._client_secret)
        grant = self._grant
        if grant is None:
            return self._endpoint.fetch(secret, self._wall_time)

        def fields(deadline_at: float) -> Mapping[str, str]:
            # Read again for each attempt: a source may hand out a token only once.
            return grant.fields(lambda source: self.__read(source, deadline_at))

        answer = self._endpoint.grant(fields, secret, self._wall_time)
        grant.check(answer, self._token_source())
        return answer.access_token, answer.expires_at

    def __read(self, source: AssertionSource, deadline_at: float) -> str:
        """A fresh token from ``source``, read by the fetch's deadline; a GitHub Actions
        token is asked for with the provider's ``audience``."""
        from tokenprovider.sources._reading import read_assertion  # noqa: PLC0415 - with a source

        left = max(0.001, deadline_at - self.retry.monotonic())
        return read_assertion(source, self.audience, timeout=left, wall_time=self._wall_time)


def _scope_list(scopes: Sequence[str] | str | None) -> tuple[str, ...]:
    if scopes is None:
        return ()
    if isinstance(scopes, str):
        return tuple(scopes.split())
    if not all(isinstance(scope, str) and scope and " " not in scope for scope in scopes):
        raise ConfigurationError(f"scopes must be a list of strings without spaces, got {scopes!r}")
    return tuple(scopes)
