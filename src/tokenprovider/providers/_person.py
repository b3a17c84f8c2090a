"""A person's login: tokens got in a browser or with a device code, kept in the login
store, and refreshed with rotating refresh tokens that no two processes ever spend twice.

`PersonGrant` is what `OAuthTokenProvider` delegates to for the ``authorization_code`` and
``device_code`` grants. Getting a token never prompts: without a usable refresh token it
raises `LoginRequiredError`; only `login` (the caller's explicit request, such as
``tokenprovider login``) opens a browser or prints a device code.
"""

from __future__ import annotations

import binascii
import contextlib
import logging
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, TextIO
from urllib.parse import urlsplit

from tokenprovider import _untrusted as untrusted
from tokenprovider._masking import masked_repr, masked_url
from tokenprovider._value import Value, init
from tokenprovider.core import _workers
from tokenprovider.errors import (
    ConfigurationError,
    DiscoveryError,
    LoginRequiredError,
    LoginStoreError,
    OAuthError,
)

if TYPE_CHECKING:
    from tokenprovider.caches.logins import HeldLogin, LoginKey, LoginStore, StoredLogin
    from tokenprovider.core.host import Host
    from tokenprovider.providers._token_endpoint import TokenAnswer, TokenEndpoint
    from tokenprovider.secret_refs import SecretReference

logger = logging.getLogger("tokenprovider")

#: The grants a person logs in with (``grant_type``), and the one each login uses.
PERSON_GRANTS = ("authorization_code", "device_code")
#: What ``login_store`` accepts, for messages and docs.
STORE_SETTINGS = '"auto", "keyring" or "file"'
#: The claims that name the person, in the order they are looked for in an ID token.
_ACCOUNT_CLAIMS = ("preferred_username", "email", "upn", "sub")
_ACCOUNT_LIMIT = 120


class LoginStatus(Value):
    """Who is logged in where (`OAuthTokenProvider.login_status`): never a token.

    ``account`` is who logged in, as the server's ID token names them (None when it sent
    none); ``expires_at`` is the access token's expiry (epoch seconds); ``refreshable``
    whether a refresh token is kept; ``where`` the store that keeps them.
    """

    __match_args__ = (
        "account",
        "client_id",
        "host",
        "token_endpoint",
        "scopes",
        "expires_at",
        "refreshable",
        "where",
    )
    account: str | None
    client_id: str
    host: str
    token_endpoint: str
    scopes: tuple[str, ...]
    expires_at: float | None
    refreshable: bool
    where: str

    def __init__(  # noqa: PLR0917 - the fields, in order
        self,
        account: str | None,
        client_id: str,
        host: str,
        token_endpoint: str,
        scopes: tuple[str, ...],
        expires_at: float | None,
        refreshable: bool,
        where: str,
    ) -> None:
        init(
            self,
            account=account,
            client_id=client_id,
            host=host,
            token_endpoint=token_endpoint,
            scopes=scopes,
            expires_at=expires_at,
            refreshable=refreshable,
            where=where,
        )


class LogoutResult(Value):
    """What `OAuthTokenProvider.logout` did: whether a login was forgotten, whether the
    server revoked its tokens (None: nothing to revoke, or no revocation endpoint), and a
    sentence saying so."""

    __match_args__ = ("forgotten", "revoked", "message")
    forgotten: bool
    revoked: bool | None
    message: str

    def __init__(self, forgotten: bool, revoked: bool | None, message: str) -> None:
        init(self, forgotten=forgotten, revoked=revoked, message=message)


def store_setting_problem(setting: object) -> str | None:
    """Why ``setting`` cannot be a ``login_store`` value, or None."""
    if isinstance(setting, str) and setting in ("auto", "keyring", "file"):
        return None
    return f"login_store must be {STORE_SETTINGS}, got {setting!r}"


def redirect_ports(setting: object) -> tuple[int, ...] | None:
    """``redirect_port`` as the ports to try: None (an ephemeral one), a port, or a range
    ``"8400-8410"``. `ConfigurationError` for anything else."""
    if setting is None:
        return None
    low = high = None
    if isinstance(setting, int) and not isinstance(setting, bool):
        low = high = setting
    elif isinstance(setting, str):
        first, dash, last = setting.partition("-")
        if first.strip().isdigit() and (not dash or last.strip().isdigit()):
            low = int(first)
            high = int(last) if dash else low
    if low is None or high is None or not 1024 <= low <= high <= 65535 or high - low > 1000:
        raise ConfigurationError(
            "redirect_port must be a port from 1024 to 65535 or a range such as "
            f'"8400-8410" (at most 1001 ports), got {setting!r}'
        )
    return tuple(range(low, high + 1))


class PersonGrant:
    """The login of one person for one provider: its key in the store, the store, and
    the flows that log in, refresh, log out and tell the status.

    ``endpoint`` is the provider's token endpoint client; ``urls`` the configured
    ``authorization_url``, ``device_authorization_url`` and ``revocation_url`` (None:
    discovered). The store is chosen on first use (``login_store``, sealed with
    ``login_store_key``).
    """

    #: Not shown by `repr()` at all: the endpoint client (which holds the secret), the
    #: store, and the access token last served.
    _hidden_attributes: ClassVar[frozenset[str]] = frozenset(
        {"_endpoint", "_store", "_served", "_secret", "_unsaved"}
    )

    def __init__(
        self,
        *,
        host: Host,
        grant_type: str,
        endpoint: TokenEndpoint,
        secret: Callable[[], str | None],
        urls: Mapping[str, str | None],
        redirect_port: int | str | None,
        store_setting: str,
        store_dir: Path | None,
        store_key: str | SecretReference | None,
        audience: str | None,
        wall_time: Callable[[], float],
    ) -> None:
        self.host = host
        self.grant_type = grant_type
        self.urls = dict(urls)
        self.redirect_port = redirect_port
        self.redirect_ports = redirect_ports(redirect_port)
        self.store_setting = store_setting
        self.store_dir = store_dir
        self._endpoint = endpoint
        self._secret = secret
        self._store_key = store_key
        self._store: LoginStore | None = None
        self.audience = audience
        self._served: str | None = None  # the access token this process last got from here
        self._unsaved: StoredLogin | None = None  # a rotated login the store refused
        self.__wall_time = wall_time
        #: The command `LoginRequiredError` names: the configuration sets it for its
        #: profile; None for a provider built in code (which calls `login`).
        self.login_command: str | None = None

    def __repr__(self) -> str:
        return masked_repr(self)

    # -- the store ------------------------------------------------------------------------

    def store(self) -> LoginStore:
        """The login store (chosen on first use)."""
        if self._store is None:
            from tokenprovider.caches.logins import login_store  # noqa: PLC0415

            where = self.store_setting if self.store_dir is None else f"file:{self.store_dir}"
            self._store = login_store(where, key=self._store_key)
        return self._store

    def key(self) -> LoginKey:
        """Where this provider's login is kept: host, token endpoint, client and scopes."""
        from tokenprovider.caches.logins import LoginKey  # noqa: PLC0415

        endpoint = self._endpoint
        token_endpoint = endpoint.token_url or f"discovered from {self.host.url}"
        return LoginKey(self.host.url, token_endpoint, endpoint.client_id, endpoint.scopes)

    # -- getting a token ------------------------------------------------------------------

    def token(self) -> tuple[str, float]:
        """A token and its expiry (epoch seconds), from the store or by spending the
        stored refresh token; `LoginRequiredError` when neither can give one.

        The exchange runs to its end in a worker thread that interpreter exit waits
        for: a Ctrl-C (or exit) stops only the caller's wait, so a refresh token the
        server has answered for is always stored.
        """
        return _workers.run_to_end(self.__token)

    def __token(self) -> tuple[str, float]:
        key = self.key()
        with self.store().hold(key) as held:
            login = held.current  # read under the lock: what another process wrote counts
            if login is None and self._unsaved is not None:
                login = self._unsaved  # rotated here, but the store refused it: retry
                self.__save(held, key, login)
            elif login is not None:
                self._unsaved = None
            now = self.__wall_time()
            if login is not None and _fresh(login, now) and login.access_token != self._served:
                # Another process (or `login`) stored a token since this one was served.
                assert login.access_token is not None
                assert login.expires_at is not None
                self._served = login.access_token
                return login.access_token, login.expires_at
            if login is None or not login.refresh_token:
                raise self.__login_required(key, "no login is stored" if login is None else None)
            answer = self.__refresh(held, key, login, login.refresh_token)
        self._served = answer.access_token
        return answer.access_token, answer.expires_at

    def __refresh(
        self, held: HeldLogin, key: LoginKey, login: StoredLogin, refresh_token: str
    ) -> TokenAnswer:
        """Spend ``refresh_token`` and store what the server answered, even when the
        answer is not usable otherwise (its new refresh token is the live one now)."""
        rotated: list[str] = []
        try:
            answer = self._endpoint.grant(
                {"grant_type": "refresh_token", "refresh_token": refresh_token},
                self._secret(),
                self.__wall_time,
                repeatable=False,
                keep_refresh_token=rotated.append,
            )
        except OAuthError as exc:
            if exc.error != "invalid_grant":
                raise
            held.forget_refresh_token(refresh_token)
            if self._unsaved is not None and self._unsaved.refresh_token == refresh_token:
                self._unsaved = None  # refused: nothing of it is worth keeping
            reason = "the server refused the stored refresh token (invalid_grant)"
            raise self.__login_required(key, reason) from None
        except BaseException:
            if rotated:  # the rest of the answer was unusable: keep its refresh token
                import dataclasses  # noqa: PLC0415 - loaded with the login store

                kept = dataclasses.replace(
                    login, refresh_token=rotated[-1], access_token=None, expires_at=None
                )
                self.__save(held, key, kept)
            raise
        self.__save(held, key, self.__stored(answer, login))
        return answer

    def __save(self, held: HeldLogin, key: LoginKey, login: StoredLogin) -> None:
        """Store ``login``; if the store refuses it, keep it in this process (and take
        the spent login out of the store, so no other process spends it again)."""
        try:
            held.save(login)
        except LoginStoreError as exc:
            self._unsaved = login
            with contextlib.suppress(LoginStoreError):
                held.forget()
            logger.error(
                "could not store the renewed login for %s (%s); this process keeps it, "
                "but other processes, and later runs, will need a new login",
                key.label,
                exc,
            )
        else:
            self._unsaved = None

    def __stored(self, answer: TokenAnswer, before: StoredLogin | None) -> StoredLogin:
        """What to keep after ``answer``: a new refresh token replaces the old one; the
        old one is kept when the server sent none (it did not rotate)."""
        from tokenprovider.caches.logins import StoredLogin  # noqa: PLC0415

        refresh = answer.refresh_token or (before.refresh_token if before else None)
        scopes = answer.scopes
        if scopes is None:
            scopes = before.scopes if before else self._endpoint.scopes
        account = _account(answer.id_token) or (before.account if before else None)
        return StoredLogin(
            refresh_token=refresh,
            access_token=answer.access_token,
            expires_at=answer.expires_at,
            scopes=scopes,
            account=account,
            saved_at=self.__wall_time(),
        )

    def __login_required(self, key: LoginKey, reason: str | None) -> LoginRequiredError:
        why = reason or "the stored login has no refresh token to renew its access token"
        command = self.login_command
        how = f"Log in with: {command}" if command else "Log in by calling provider.login()"
        return LoginRequiredError(f"{key.label}: {why}. {how}", command=command)

    # -- logging in and out ---------------------------------------------------------------

    def login(self, *, device: bool | None, open_browser: bool, out: TextIO | None) -> LoginStatus:
        """Log the person in (a browser, or a device code), store the tokens, and say
        where they went. ``device`` None: the configured grant's flow."""
        out = out or sys.stderr
        use_device = self.grant_type == "device_code" if device is None else device
        secret = self._secret()
        store = self.store()  # before the person logs in: a store that cannot work fails now
        if use_device:
            from tokenprovider.providers._device_login import device_login  # noqa: PLC0415

            answer = device_login(
                self._endpoint,
                self.__endpoint_url("device_authorization"),
                self._endpoint.scopes,
                secret,
                out=out,
                wall_time=self.__wall_time,
                audience=self.audience,
            )
        else:
            answer = self.__browser_login(secret, open_browser, out)
        key = self.key()
        saved = self.__stored(answer, None)
        with store.hold(key) as held:
            held.save(saved)  # a login the store cannot keep fails here, loudly
        self._served = None
        self._unsaved = None
        return self.__status(key, saved)

    def __browser_login(self, secret: str | None, open_browser: bool, out: TextIO) -> TokenAnswer:
        from tokenprovider.providers._browser_login import browser_login  # noqa: PLC0415

        code = browser_login(
            self.__endpoint_url("authorization"),
            self._endpoint.client_id,
            self._endpoint.scopes,
            out=out,
            ports=self.redirect_ports,
            open_browser=open_browser,
            extra_params={"audience": self.audience} if self.audience else None,
        )
        with _workers.finish_before_exit():
            return self._endpoint.grant(
                {
                    "grant_type": "authorization_code",
                    "code": code.code,
                    "redirect_uri": code.redirect_uri,
                    "code_verifier": code.verifier,
                },
                secret,
                self.__wall_time,
                repeatable=False,
            )

    def logout(self) -> LogoutResult:
        """Forget the stored login, revoking its tokens first where the server can.

        With ``login_store="auto"``, a login kept in the files while the keyring did not
        work here (another session, say) is revoked and forgotten too.
        """
        key = self.key()
        results = [self.__logout_from(store, key) for store in self.__stores()]
        self._served = None
        self._unsaved = None
        done = [result for result in results if result is not None]
        if not done:
            where = self.store().where(key)
            return LogoutResult(False, None, f"not logged in: no login is kept in {where}")
        revoked = False if any(r is False for r, _ in done) else done[0][0]
        detail = "; ".join(text for _, text in done)
        return LogoutResult(True, revoked, f"logged out of {key.label}; {detail}")

    def __stores(self) -> list[LoginStore]:
        """The store in use, and with ``"auto"`` choosing the keyring, the files too."""
        store = self.store()
        if self.store_setting != "auto" or store.kind == "file":
            return [store]
        from tokenprovider.caches.logins import login_store  # noqa: PLC0415

        return [store, login_store("file", key=self._store_key)]

    def __logout_from(self, store: LoginStore, key: LoginKey) -> tuple[bool | None, str] | None:
        with store.hold(key) as held:
            login = held.current
            if login is None:
                return None
            revoked, detail = self.__revoke(login)
            held.forget()
        return revoked, detail

    def where(self) -> str:
        """Where this login is (or would be) kept, in words."""
        return self.store().where(self.key())

    def __revoke(self, login: StoredLogin) -> tuple[bool | None, str]:
        """Revoke the login's tokens: the refresh token decides (RFC 7009 §2.1 revokes
        its access tokens with it); the access token is revoked too where the server can."""
        url = self.__published("revocation")
        if not isinstance(url, str):
            why = url or "the server publishes no revocation endpoint"
            return None, (
                f"{why}, so its tokens were forgotten here but not revoked (they lapse when "
                "they expire; set revocation_url if the server has one)"
            )
        tokens = [("refresh_token", login.refresh_token), ("access_token", login.access_token)]
        for hint, token in tokens:
            if not token:
                continue
            try:
                self._endpoint.post(
                    url,
                    {"token": token, "token_type_hint": hint},
                    self._secret(),
                    what="revocation endpoint",
                )
            except Exception as exc:  # forgotten here all the same: say what the server said
                if hint == "refresh_token" or not login.refresh_token:
                    logger.warning("could not revoke the tokens at logout: %s", exc)
                    return False, (
                        f"the server did not revoke its tokens ({exc}); they were forgotten here"
                    )
                logger.info("the access token was not revoked at logout: %s", exc)
        return True, "the server revoked its tokens"

    def status(self) -> LoginStatus | None:
        """Who is logged in where (None: nobody); reads the store only."""
        key = self.key()
        login = self.store().load(key) or self._unsaved
        return None if login is None else self.__status(key, login)

    def __status(self, key: LoginKey, login: StoredLogin) -> LoginStatus:
        return LoginStatus(
            account=None if login.account is None else untrusted.quote(login.account, 120),
            client_id=key.client_id,
            host=key.host,
            token_endpoint=self._endpoint.url or key.token_endpoint,
            scopes=tuple(untrusted.quote(scope, 120) for scope in login.scopes),
            expires_at=login.expires_at,
            refreshable=bool(login.refresh_token),
            where=self.store().where(key),
        )

    def __endpoint_url(self, name: str) -> str:
        """The ``NAME_url`` setting, else the server's published ``NAME_endpoint``;
        `ConfigurationError` if there is neither."""
        found = self.__published(name)
        if isinstance(found, str):
            return found
        raise ConfigurationError(
            f"{self.host}: {found or 'the server publishes no ' + name + '_endpoint'}; "
            f"set {name}_url to the server's {name.replace('_', ' ')} endpoint"
        )

    def __published(self, name: str) -> str | DiscoveryError | None:
        """The ``NAME_url`` setting, else the server's published ``NAME_endpoint``
        (discovered once); None if the metadata names none, or why there is none.

        The endpoints that receive a token or a code (device authorization, revocation)
        must be on the token endpoint's origin; endpoints are taken from the metadata only
        when it names the token endpoint this provider uses.
        """
        configured = self.urls.get(f"{name}_url")
        token_url = self._endpoint.token_url
        if configured and (name == "authorization" or token_url):
            found: str | None = configured
        else:
            try:
                metadata = self._endpoint.metadata()
            except DiscoveryError as exc:
                return exc
            token_url = token_url or metadata.token_endpoint
            if configured:
                found = configured
            elif metadata.token_endpoint != token_url:
                return DiscoveryError(
                    f"the server's metadata ({untrusted.quote(metadata.where)}) names another "
                    f"token endpoint than token_url, so its {name}_endpoint is not used"
                )
            else:
                found = getattr(metadata, f"{name}_endpoint")
        if found is None or name == "authorization" or _origin(found) == _origin(token_url):
            return found
        setting = f"{name}_url" if configured else f"the published {name}_endpoint"
        raise ConfigurationError(
            f"{setting} ({untrusted.quote(masked_url(found))}) is not on the token "
            f"endpoint's origin ({untrusted.quote(_origin(token_url))}): it would receive "
            "this login's tokens, so it must be the same server"
        )


def _fresh(login: StoredLogin, now: float) -> bool:
    """Whether ``login``'s access token is unexpired, with a minute (or a tenth of its
    life, and at least two seconds) to spare."""
    if not login.access_token or login.expires_at is None:
        return False
    life = max(0.0, login.expires_at - login.saved_at)
    return login.expires_at - now > max(2.0, min(60.0, life / 10))


def _origin(url: str | None) -> str:
    """``scheme://host:port`` of ``url`` (lower-cased), for comparing servers."""
    parts = urlsplit(url or "")
    try:
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 0)
    except ValueError:
        port = -1
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


def _account(id_token: str | None) -> str | None:
    """Who an ID token names, for display only (the token is not verified: nothing is
    decided on it); None if it is not a readable JWT."""
    if not id_token or id_token.count(".") != 2 or len(id_token) > 16384:
        return None
    payload = id_token.split(".")[1]
    try:
        claims = untrusted.jwt_payload(payload)
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict):
        return None
    for claim in _ACCOUNT_CLAIMS:
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return untrusted.quote(value.strip(), _ACCOUNT_LIMIT)
    return None
