"""`GitHubActionsSource`: the job's OIDC ID token, asked for from the Actions runtime.

A job with ``permissions: id-token: write`` gets ``ACTIONS_ID_TOKEN_REQUEST_URL`` (which
already has a query, ``?api-version=2.0``) and ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``. The
source GETs the URL with ``audience`` added, the request token as a bearer, and answers
the ``value`` of the JSON reply. The variables are read at every read; the call is
retried, bounded and never redirected (`OAuthCalls`); the request token is redacted from
any server text quoted.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Mapping
from typing import ClassVar

from tokenprovider import _untrusted as untrusted
from tokenprovider._masking import masked_url, redact, secret_forms
from tokenprovider.errors import AssertionSourceError
from tokenprovider.providers._oauth_http import (
    Answer,
    FixedAuthorization,
    OAuthCalls,
    json_object,
)
from tokenprovider.providers._oauth_metadata import is_loopback
from tokenprovider.retry import RetryPolicy
from tokenprovider.sources._reading import MAX_TOKEN_BYTES
from tokenprovider.sources.base import AssertionSource

URL_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_URL"
TOKEN_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
_PERMISSION_HINT = (
    "the workflow (or the job) needs `permissions: id-token: write`, and this must run in a "
    "GitHub Actions job"
)
#: The reply is a small JSON object around the token.
_MAX_REPLY_BYTES = 4 * MAX_TOKEN_BYTES


class GitHubActionsSource(AssertionSource):
    """The GitHub Actions OIDC token for the read's audience. ``environ`` (default
    `os.environ`, looked at on every read) holds the runner's two variables; ``retry``
    bounds and retries the call (429 and 5xx are retried)."""

    _hidden_attributes: ClassVar[frozenset[str]] = frozenset({"_environ"})
    expired_hint = "check this machine's clock"

    def __init__(
        self, *, environ: Mapping[str, str] | None = None, retry: RetryPolicy | None = None
    ) -> None:
        self._environ = environ
        self.retry = RetryPolicy() if retry is None else retry
        self._own_retry = retry is not None
        self.description = f"GitHub Actions OIDC ({URL_VARIABLE})"

    def under(self, retry: RetryPolicy) -> GitHubActionsSource:
        """This source, retried and bounded by ``retry`` (the provider's, so its clock
        and deadline), unless it was given a policy of its own."""
        if self._own_retry:
            return self
        return GitHubActionsSource(environ=self._environ, retry=retry)

    def read(self, audience: str | None) -> str:
        """A fresh ID token whose ``aud`` is ``audience`` (None: GitHub's default)."""
        environ = os.environ if self._environ is None else self._environ
        url = self._variable(environ, URL_VARIABLE)
        request_token = self._variable(environ, TOKEN_VARIABLE)
        shown = untrusted.quote(masked_url(url))
        problem = _url_problem(url)
        if problem:
            raise AssertionSourceError(f"{self.description}: the URL {shown} {problem}")
        secrets = secret_forms([request_token])

        def text(server_text: str) -> str:
            return untrusted.quote(redact(server_text, secrets))

        with OAuthCalls(self.retry, _MAX_REPLY_BYTES, text) as calls:
            answer = calls.get(
                with_audience(url, audience),
                headers={"Accept": "application/json"},
                auth=FixedAuthorization(f"bearer {request_token}"),
            )
        where = f"{self.description} at {shown}"
        if not isinstance(answer, Answer):
            raise AssertionSourceError(
                f"no token from {where}: {answer.detail} ({self.retry.limits()})"
            )
        return _value(answer, where, text)

    def _variable(self, environ: Mapping[str, str], name: str) -> str:
        value = environ.get(name, "").strip()
        if not value:
            raise AssertionSourceError(f"{self.description}: {name} is not set; {_PERMISSION_HINT}")
        return value


def with_audience(url: str, audience: str | None) -> str:
    """``url`` with ``audience=AUDIENCE`` (URL-encoded) added to its query, after ``&`` if
    it has one; ``url`` as is without an audience."""
    if not audience:
        return url
    parts = urllib.parse.urlsplit(url)
    added = "audience=" + urllib.parse.quote(audience, safe="")
    query = f"{parts.query}&{added}" if parts.query else added
    return urllib.parse.urlunsplit(parts._replace(query=query))


def _url_problem(url: str) -> str | None:
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "is not a URL"
    if parts.username is not None or parts.password is not None:
        return "must not hold a user name or password"
    if not host:
        return "has no host"
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host)):
        return None
    return "must be https (http only to a loopback host)"


def _value(answer: Answer, where: str, text: Callable[[str], str]) -> str:
    """The token in the reply, or an error quoting the status and server text."""
    if answer.status != 200:
        said = answer.body.decode("utf-8", errors="replace")
        hint = ""
        if answer.status in (401, 403):
            hint = f"; the request token is valid only during its job, and {_PERMISSION_HINT}"
        raise AssertionSourceError(
            f"{where} answered HTTP {answer.status} {untrusted.quote(answer.reason)}: "
            f"{text(said)}{hint}"
        )
    body, reason = json_object(answer.body)
    if body is None:
        raise AssertionSourceError(
            f"{where} answered HTTP 200 with a body that is not a JSON object ({reason})"
        )
    value = body.get("value")
    if not isinstance(value, str):
        found = "no" if value is None else f"{untrusted.a_type(value)} as its"
        raise AssertionSourceError(f'{where} answered HTTP 200 with {found} "value", not a token')
    return value
