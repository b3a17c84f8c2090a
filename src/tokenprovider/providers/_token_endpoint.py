"""The OAuth 2.0 token endpoint as a client calls it (RFC 6749 §4.4 and the other grants).

`TokenEndpoint` builds the token request (with the client authenticated as its
`ClientAuthentication` says: HTTP Basic, in the body, or with a client assertion signed
anew for each attempt), sends it with the `RetryPolicy` and its deadline (`_oauth_http`), and turns
the answer into a token and its expiry or into one of our errors, with the client secret
redacted from any server text. Without a configured URL it discovers the endpoint from
the host's metadata documents (`_oauth_metadata`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from tokenprovider import _untrusted as untrusted
from tokenprovider._masking import (
    PUBLIC_PARAMETERS,
    masked_repr,
    redact,
    secret_forms,
    without_userinfo,
)
from tokenprovider._value import Value, init
from tokenprovider.core.cached import is_header_safe
from tokenprovider.errors import (
    DiscoveryError,
    MalformedTokenResponseError,
    OAuthError,
    TokenEndpointError,
    TokenRequestError,
)
from tokenprovider.providers._assertion_grants import JWT_BEARER_GRANT, TOKEN_EXCHANGE_GRANT
from tokenprovider.providers._oauth_http import (
    Answer,
    Failure,
    FixedAuthorization,
    OAuthCalls,
    basic_value,
    json_object,
)
from tokenprovider.providers._oauth_metadata import ServerMetadata, discover
from tokenprovider.retry import RETRY_STATUSES

if TYPE_CHECKING:
    from tokenprovider.core.host import Host
    from tokenprovider.providers._client_auth import ClientAuthentication, Credentials
    from tokenprovider.retry import RetryPolicy

logger = logging.getLogger("tokenprovider")

#: A grant's fields built for each attempt, from the moment (on the retry policy's
#: monotonic clock) by which the fetch must end: what a source read may take.
Fields = Callable[[float], Mapping[str, str]]

#: Form fields the token request sets itself: ``extra_params`` may not set them.
RESERVED_PARAMS = frozenset(
    {
        "grant_type",
        "client_id",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
        "scope",
        "audience",
        "assertion",
        "subject_token",
        "subject_token_type",
        "actor_token",
        "actor_token_type",
        "requested_token_type",
    }
)
#: The longest lifetime taken from ``expires_in`` (ten years); a longer one is cut to it.
MAX_EXPIRES_IN = 10 * 365 * 86400.0
#: Request fields whose values are redacted from any server text quoted in our messages.
SECRET_FIELDS = frozenset(
    {
        "code",
        "code_verifier",
        "device_code",
        "refresh_token",
        "token",
        "client_secret",
        "assertion",
        "subject_token",
        "actor_token",
    }
)
_ERROR_HINTS = {
    "invalid_scope": "check the scopes setting against what the server allows this client",
    "unauthorized_client": "this client may not use the {grant} grant; "
    "ask the server's administrator",
    "unsupported_grant_type": "the server does not support the {grant} grant",
    "invalid_request": "check token_url, audience and extra_params",
    "invalid_grant": "the server rejected the grant; check the client's settings",
}
#: Hints for an error of one grant, before `_ERROR_HINTS`.
_GRANT_HINTS = {
    (JWT_BEARER_GRANT, "invalid_grant"): "the server refused the assertion: check its "
    "issuer, subject, audience and expiry against what the server trusts",
    (TOKEN_EXCHANGE_GRANT, "invalid_request"): "check subject_token and subject_token_type "
    "(and actor_token), audience and resource",
    (TOKEN_EXCHANGE_GRANT, "invalid_target"): "the server will not issue a token for this "
    "audience or resource: check them against its token exchange policy",
}


class TokenAnswer(Value):
    """A token response (RFC 6749 §5.1): the access token and its expiry in epoch
    seconds, and what may come with it: a refresh token, the scopes granted (None when
    the server did not say: as asked) and an OpenID Connect ID token."""

    __match_args__ = (
        "access_token",
        "expires_at",
        "refresh_token",
        "scopes",
        "id_token",
        "issued_token_type",
    )
    _unshown = frozenset({"access_token", "refresh_token", "id_token"})
    access_token: str
    expires_at: float
    refresh_token: str | None
    scopes: tuple[str, ...] | None
    id_token: str | None
    #: RFC 8693 §2.2.1: what a token exchange issued (a token type URN).
    issued_token_type: str | None

    def __init__(  # noqa: PLR0917 - the fields, in order
        self,
        access_token: str,
        expires_at: float,
        refresh_token: str | None = None,
        scopes: tuple[str, ...] | None = None,
        id_token: str | None = None,
        issued_token_type: str | None = None,
    ) -> None:
        init(
            self,
            access_token=access_token,
            expires_at=expires_at,
            refresh_token=refresh_token,
            scopes=scopes,
            id_token=id_token,
            issued_token_type=issued_token_type,
        )


class TokenEndpoint:
    """The token endpoint of one client, with the client's (checked) settings.

    The endpoint is ``token_url``, or the one discovered from ``host`` on the first fetch
    (then kept, with the server's other endpoints: `metadata`). Each `fetch` (client
    credentials) or `grant` (any other grant) is one token request, retried by ``retry``
    within its deadline; answers may hold at most ``max_response_bytes``, and one without
    ``expires_in`` lives ``default_expires_in`` seconds. `post` sends a form to another
    endpoint of the server (device authorization, revocation). Calls run one at a time.
    """

    #: Not shown by `repr()` at all (`tokenprovider._masking`): the revealed client secret
    #: and the secret values of the request under way, and the discovered metadata (an
    #: internal: ``token_url`` shows what was configured).
    _hidden_attributes: ClassVar[frozenset[str]] = frozenset(
        {"_metadata", "_secret", "_sensitive", "_calling", "_grant_sent"}
    )

    def __init__(
        self,
        host: Host,
        client_id: str,
        *,
        token_url: str | None,
        grant_type: str,
        scopes: tuple[str, ...],
        audience: str | None,
        auth: ClientAuthentication,
        extra_params: Mapping[str, str] | None,
        default_expires_in: float,
        retry: RetryPolicy,
        max_response_bytes: int,
    ) -> None:
        self.host = host
        self.client_id = client_id
        self.token_url = token_url
        self.grant_type = grant_type
        self.scopes = scopes
        self.audience = audience
        self.auth = auth
        self._extra_params = extra_params
        self.default_expires_in = default_expires_in
        self.retry = retry
        self.max_response_bytes = max_response_bytes
        self._metadata: ServerMetadata | None = None
        self._secret: str | None = None
        self._sensitive: tuple[str, ...] = ()
        self._grant_sent = grant_type
        self._calling = threading.Lock()

    @property
    def url(self) -> str | None:
        """The token endpoint, as configured or discovered (None until discovered)."""
        if self.token_url:
            return self.token_url
        return None if self._metadata is None else self._metadata.token_endpoint

    def __repr__(self) -> str:
        return masked_repr(self)

    def fetch(self, secret: str | None, wall_time: Callable[[], float]) -> tuple[str, float]:
        """A new token and its expiry in epoch seconds, counted from ``wall_time()`` as the
        request is sent, with the client-credentials grant; ``secret`` is the client
        secret (None: a public client)."""
        answer = self.grant(self.form(), secret, wall_time)
        return answer.access_token, answer.expires_at

    def grant(
        self,
        fields: Mapping[str, str] | Fields,
        secret: str | None,
        wall_time: Callable[[], float],
        *,
        repeatable: bool = True,
        keep_refresh_token: Callable[[str], None] | None = None,
    ) -> TokenAnswer:
        """One token request with the grant in ``fields`` (``grant_type`` and its
        parameters; or a function of the fetch's deadline that builds them, called for
        each attempt, as an assertion grant reads its source again), the client
        authenticated with ``secret`` (None: a public client). A request that spends
        something single-use (a code, a rotating refresh token) is not ``repeatable``: it
        is not sent again after a failed read, when the server may have acted on it.
        ``keep_refresh_token`` gets a successful answer's refresh token before the rest
        of the answer is checked: it is the live one even if the rest turns out unusable."""
        built = None if callable(fields) else fields
        with self.__call(built or {}, secret):
            issued_at = wall_time()
            with self.__calls(repeatable) as calls:
                url = self.token_url or self.__discover(calls).token_endpoint
                shown = untrusted.quote(url)
                at = calls.deadline.at
                answer = self.__send(calls, url, fields if built is None else built, url, at)
            if isinstance(answer, Failure):
                # Raised here, outside any handler: nothing of requests' exception (which
                # holds the request, its body and headers) is chained to ours.
                raise self.__fetch_error(answer, shown, "token endpoint") from None
            return self.__parse(answer, shown, issued_at, self._grant_sent, keep_refresh_token)

    def post(
        self, url: str, fields: Mapping[str, str], secret: str | None, *, what: str
    ) -> dict[str, Any]:
        """Send ``fields`` to the server's endpoint ``url`` (``what`` names it in
        messages, such as "device authorization endpoint"), the client authenticated as
        for a token request; the JSON object it answers (empty for an empty body). The
        errors are those of a token request."""
        with self.__call(fields, secret):
            shown = untrusted.quote(url)
            with self.__calls(repeatable=True) as calls:
                # A person's login, whose client sends no assertion (Secretless refuses it)
                answer = self.__send(calls, url, fields, url, calls.deadline.at)
            if isinstance(answer, Failure):
                raise self.__fetch_error(answer, shown, what) from None
            if answer.status >= 300:
                raise self.__error_for(answer, shown, what, str(fields.get("grant_type")))
            if not answer.body.strip():
                return {}
            body, reason = json_object(answer.body)
            if body is None:
                raise MalformedTokenResponseError(
                    f"{what} {shown} answered HTTP {answer.status} with a body that is not a "
                    f"JSON object ({reason})"
                )
            return body

    def metadata(self) -> ServerMetadata:
        """The server's endpoints from its metadata documents, discovered once, then kept.
        `DiscoveryError` if the host publishes none."""
        with self.__call({}, None), self.__calls(repeatable=True) as calls:
            return self.__discover(calls)

    @contextlib.contextmanager
    def __call(self, fields: Mapping[str, str], secret: str | None) -> Iterator[None]:
        """Hold the endpoint for one call, with the call's secrets to redact."""
        with self._calling:
            self._secret = secret
            self._sensitive = tuple(v for k, v in fields.items() if k in SECRET_FIELDS and v)
            try:
                yield
            finally:
                self._sensitive = ()

    def __send(
        self,
        calls: OAuthCalls,
        url: str,
        fields: Mapping[str, str] | Fields,
        token_url: str,
        deadline_at: float,
    ) -> Answer | Failure:
        """POST ``fields`` to ``url``, the client authenticated (a client assertion's
        audience is ``token_url``, or the issuer). A signed assertion, and fields built
        for each attempt, make a new body for every attempt; sources read for it must be
        done by ``deadline_at``."""
        issuer = self.__issuer(calls) if self.auth.wants_issuer else None
        headers = {"Accept": "application/json"}
        if not self.auth.fresh_each_attempt and not callable(fields):
            sent = self.__credentials(fields, token_url, issuer, deadline_at)
            return calls.post(
                url, data=sent.fields, headers=headers, auth=FixedAuthorization(sent.authorization)
            )

        def body() -> Mapping[str, str]:
            form = fields(deadline_at) if callable(fields) else fields
            self._sensitive += tuple(v for k, v in form.items() if k in SECRET_FIELDS and v)
            return self.__credentials(form, token_url, issuer, deadline_at).fields

        # The Authorization header (Basic, or none) is the same for every attempt.
        basic = FixedAuthorization(self.auth.authorization(self._secret))
        return calls.post_each(url, body, headers=headers, auth=basic)

    def __credentials(
        self, fields: Mapping[str, str], token_url: str, issuer: str | None, deadline_at: float
    ) -> Credentials:
        self._grant_sent = str(fields.get("grant_type"))
        sent = self.auth.credentials(fields, self._secret, token_url, issuer, deadline_at)
        self._sensitive += sent.sensitive
        return sent

    def __issuer(self, calls: OAuthCalls) -> str:
        metadata: ServerMetadata | None = None
        try:
            metadata = self.__discover(calls)
        except DiscoveryError as exc:
            problem = str(exc).partition(". Set token_url")[0]
        if metadata is None:  # raised here, outside the handler: nothing is chained
            raise DiscoveryError(
                f"assertion_audience = 'issuer' needs the server's issuer, from its "
                f"metadata: {problem}; set assertion_audience to 'token_endpoint' or to "
                "the issuer's URL"
            )
        if metadata.issuer is None:
            raise DiscoveryError(
                f"assertion_audience = 'issuer' needs the server's issuer, and its metadata "
                f"{untrusted.quote(metadata.where)} names none of {self.host} (an issuer "
                "must be a URL of the host that publishes it); set assertion_audience to "
                "'token_endpoint' or to the issuer's URL"
            )
        return metadata.issuer

    def __calls(self, repeatable: bool) -> OAuthCalls:
        return OAuthCalls(self.retry, self.max_response_bytes, self.__text, repeatable=repeatable)

    def form(self) -> dict[str, str]:
        """The client-credentials grant's fields."""
        form = {"grant_type": self.grant_type}
        if self.scopes:
            form["scope"] = " ".join(self.scopes)
        if self.audience:
            form["audience"] = self.audience
        if self._extra_params:
            form.update(self._extra_params)
        return form

    def __redact(self, text: str) -> str:
        """``text`` without the client secret, literal or in any form it is sent in, and
        without the values of ``extra_params`` other than the well-known public ones (a
        ``client_assertion`` or a password is as secret as the client secret)."""
        secret = self._secret
        sent = [secret, basic_value(self.client_id, secret)] if secret else []
        sent += [v for k, v in (self._extra_params or {}).items() if k not in PUBLIC_PARAMETERS]
        sent += self._sensitive
        if not sent:
            return text
        # Also as sent in the Authorization header; longest first, as secret_forms sorts.
        return redact(text, secret_forms(sent))

    def __text(self, text: str) -> str:
        """Server text fit for a message or log line: the secret redacted (from the whole
        text, so that no cut splits it), then cut short and escaped."""
        return untrusted.quote(self.__redact(text))

    def __fetch_error(self, failure: Failure, shown: str, what: str) -> TokenRequestError:
        policy = self.retry
        if failure.kind == "too large":
            return MalformedTokenResponseError(
                f"{what} {shown} answered with a body {failure.detail} "
                "(max_response_bytes); check token_url"
            )
        if failure.kind == "undecodable":
            return MalformedTokenResponseError(
                f"{what} {shown} answered with a body that could not be decompressed "
                f"({failure.detail}); check token_url"
            )
        if failure.kind == "deadline":
            return TokenRequestError(
                f"no answer from the {what} {shown} in time: {failure.detail} "
                f"(retry deadline; up to {policy.max_attempts} attempts)"
            )
        hint = ""
        if "WRONG_VERSION_NUMBER" in failure.detail or "wrong version number" in failure.detail:
            hint = (
                "; the server does not speak TLS there: check the port, or for a test "
                'server on loopback set scheme = "http"'
            )
        return TokenRequestError(
            f"could not reach the {what} {shown} ({policy.limits()}): {failure.detail}" + hint
        )

    def __discover(self, calls: OAuthCalls) -> ServerMetadata:
        if self._metadata is None:
            self._metadata = discover(self.host, calls)
        return self._metadata

    def __parse(
        self,
        answer: Answer,
        url: str,
        issued_at: float,
        grant: str,
        keep_refresh_token: Callable[[str], None] | None = None,
    ) -> TokenAnswer:
        status = answer.status
        if 300 <= status < 400:
            # Never followed: the request carries the client's credentials.
            location = answer.headers.get("Location")
            raise TokenEndpointError(
                f"token endpoint {url} redirected (HTTP {status}) to "
                f"{self.__text(without_userinfo(location)) if location else 'nowhere'}; "
                "set token_url to the final URL (token requests do not follow redirects)",
                status=status,
            )
        if status >= 400:
            raise self.__error_for(answer, url, "token endpoint", grant)
        body, reason = json_object(answer.body)
        if body is None:
            content_type = self.__text(answer.headers.get("Content-Type", "missing"))
            raise MalformedTokenResponseError(
                f"token endpoint {url} answered HTTP {status} with a body that is not a JSON "
                f"object ({reason}; Content-Type {content_type}); check token_url"
            )
        refresh_token = self.__refresh_token(body.get("refresh_token"), url)
        if refresh_token is not None and keep_refresh_token is not None:
            keep_refresh_token(refresh_token)
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise MalformedTokenResponseError(
                f"token endpoint {url} answered HTTP {status} without an access_token "
                f"(fields: {self.__text(', '.join(sorted(body))) or 'none'}); check token_url"
            )
        if not is_header_safe(access_token):
            # Never let it reach a header: http.client and requests quote bad header values
            # in their errors. Not quoted here either.
            raise MalformedTokenResponseError(
                f"token endpoint {url} answered HTTP {status}, but its access_token contains "
                "characters not allowed in an HTTP header (control characters, non-ASCII "
                "characters or surrounding spaces); check the token endpoint"
            )
        issued_type = self.__issued_type(body.get("issued_token_type"), url)
        token_type = body.get("token_type")
        # RFC 8693 §2.2.1: "N_A" when what a token exchange issued is no access token.
        not_applicable = issued_type is not None and token_type == "N_A"
        if isinstance(token_type, str) and token_type.lower() != "bearer" and not not_applicable:
            logger.warning(
                "token endpoint %s issued a %s token; sending it as a Bearer token",
                url,
                self.__text(repr(token_type)),
            )
        return TokenAnswer(
            access_token,
            issued_at + self.__expires_in(body.get("expires_in"), url),
            refresh_token,
            self.__scopes(body.get("scope"), url),
            body.get("id_token") if isinstance(body.get("id_token"), str) else None,
            issued_type,
        )

    def __issued_type(self, value: object, url: str) -> str | None:
        """A token exchange's ``issued_token_type`` (None when absent): a short URN."""
        if value is None:
            return None
        if not isinstance(value, str) or not value.isprintable() or len(value) > 200:
            raise MalformedTokenResponseError(
                f"token endpoint {url} sent an issued_token_type that is not a short "
                "printable string; check the token endpoint"
            )
        return value

    def __refresh_token(self, value: object, url: str) -> str | None:
        """The answer's refresh token (None if it has none): it must be sendable."""
        if value is None:
            return None
        if (
            not isinstance(value, str)
            or not value
            or not value.isascii()
            or not value.isprintable()
        ):
            raise MalformedTokenResponseError(
                f"token endpoint {url} answered with a refresh_token that is not a printable "
                "ASCII string; check the token endpoint"
            )
        return value

    def __scopes(self, value: object, url: str) -> tuple[str, ...] | None:
        """The scopes granted (RFC 6749 §5.1 ``scope``), None if the answer does not say."""
        if value is None:
            return None
        if not isinstance(value, str):
            raise MalformedTokenResponseError(
                f"token endpoint {url} sent a scope that is not a string; check the token endpoint"
            )
        return tuple(self.__text(scope) for scope in value.split())

    def __expires_in(self, value: Any, url: str) -> float:
        if value is None:
            return self.default_expires_in
        seconds: object = value
        if isinstance(value, str):  # a numeric string, as some servers send
            try:
                seconds = float(value)
            except ValueError:
                seconds = None
        seconds = untrusted.finite_seconds(seconds)
        if seconds is None or seconds < 0:
            raise MalformedTokenResponseError(
                f"token endpoint {url} sent expires_in={self.__text(repr(value))}; "
                "expected a number of seconds"
            )
        return min(seconds, MAX_EXPIRES_IN)

    def __error_for(self, answer: Answer, url: str, what: str, grant: str) -> TokenEndpointError:
        status = answer.status
        body = json_object(answer.body)[0] or {}
        error = body.get("error")
        transient = status in RETRY_STATUSES
        if status == 429:
            where = f"{what} {url} throttled client {self.client_id!r}"
        elif transient:
            where = f"{what} {url} was unavailable to client {self.client_id!r}"
        else:
            where = f"{what} {url} refused client {self.client_id!r}"
        # Retried until the attempts or the deadline ran out: say so, and what may help.
        retried = transient and self.retry.max_attempts > 1
        after = " after retries" if retried else ""
        advice = "try again later, or allow more: RetryPolicy(max_attempts=..., deadline=...)"
        if not isinstance(error, str):
            message = f"{where}: HTTP {status} {self.__text(answer.reason)}".rstrip() + after
            return TokenEndpointError(f"{message}; {advice}" if retried else message, status=status)
        error = self.__text(error)
        description = body.get("error_description")
        description = self.__text(description) if isinstance(description, str) else None
        uri = body.get("error_uri")
        uri = self.__text(uri) if isinstance(uri, str) else None
        message = f"{where}: {error}"
        if description:
            message += f" ({description})"
        message += f" [HTTP {status}]{after}"
        if error == "invalid_client":
            hint: str | None = self.auth.refused_hint(self._secret is not None)
        else:
            hint = _GRANT_HINTS.get((grant, error)) or _ERROR_HINTS.get(error, "").format(
                grant=grant
            )
        hint = hint or (advice if retried else None)
        if hint:
            message += f"; {hint}"
        return OAuthError(
            message, error=error, error_description=description, error_uri=uri, status=status
        )
