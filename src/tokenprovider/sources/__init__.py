"""Assertion sources: where a client assertion or a grant's subject token comes from.

>>> source = source_from_setting("file:/var/run/secrets/tokens/azure-identity")
>>> token = read_assertion(source, None, timeout=10.0)  # doctest: +SKIP

A source (`AssertionSource`) yields a token on demand, fresh on every token request.
Built in: `FileSource` (read again every time: Kubernetes and Azure renew the file),
`EnvSource` (a variable, read every time: a CI job's OIDC token),
`GitHubActionsSource` (the job's OIDC token), `ProviderSource` (another provider's
token, such as a configured profile's). Integrators add their own with `register_source`
or an entry point in `SOURCE_ENTRY_POINT_GROUP`. A provider reads every source through
`read_assertion`, bounded in time; errors (`AssertionSourceError`) name the source,
never the token.

The names load on first use, so a provider given no source does not import them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenprovider._lazy import lazy
from tokenprovider.errors import AssertionSourceError
from tokenprovider.sources.base import AssertionSource

if TYPE_CHECKING:
    from tokenprovider.sources._plugins import SOURCE_ENTRY_POINT_GROUP, register_source
    from tokenprovider.sources._reading import MAX_TOKEN_BYTES, read_assertion
    from tokenprovider.sources._setting import source_from_setting, source_problem
    from tokenprovider.sources.environment import EnvSource
    from tokenprovider.sources.file import FileSource
    from tokenprovider.sources.github_actions import GitHubActionsSource
    from tokenprovider.sources.provider import ProviderSource

_HOMES = {
    "SOURCE_ENTRY_POINT_GROUP": "tokenprovider.sources._plugins",
    "register_source": "tokenprovider.sources._plugins",
    "MAX_TOKEN_BYTES": "tokenprovider.sources._reading",
    "read_assertion": "tokenprovider.sources._reading",
    "source_from_setting": "tokenprovider.sources._setting",
    "source_problem": "tokenprovider.sources._setting",
    "EnvSource": "tokenprovider.sources.environment",
    "FileSource": "tokenprovider.sources.file",
    "GitHubActionsSource": "tokenprovider.sources.github_actions",
    "ProviderSource": "tokenprovider.sources.provider",
}

__all__ = [
    "MAX_TOKEN_BYTES",
    "SOURCE_ENTRY_POINT_GROUP",
    "AssertionSource",
    "AssertionSourceError",
    "EnvSource",
    "FileSource",
    "GitHubActionsSource",
    "ProviderSource",
    "read_assertion",
    "register_source",
    "source_from_setting",
    "source_problem",
]


__getattr__, __dir__ = lazy(globals(), _HOMES)
