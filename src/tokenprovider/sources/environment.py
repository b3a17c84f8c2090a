"""`EnvSource`: a token in an environment variable, read again on every token request
(a CI job's OIDC token: GitLab's ``id_tokens``, Buildkite's, a runner's own)."""

from __future__ import annotations

import os

from tokenprovider.errors import AssertionSourceError, ConfigurationError
from tokenprovider.sources.base import AssertionSource


class EnvSource(AssertionSource):
    """The token in the environment variable ``name``, read at every `read`."""

    expired_hint = "whatever sets the variable gave a token that has run out: start the job again"

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name or not name.replace("_", "a").isalnum():
            raise ConfigurationError(
                "an env: source must name an environment variable: letters, digits and _"
            )
        self.name = name
        self.description = f"environment variable {name}"

    def read(self, audience: str | None) -> str:
        """The variable's value (``audience`` is unused: whoever set it chose it)."""
        value = os.environ.get(self.name, "")
        if not value.strip():
            state = "is empty" if self.name in os.environ else "is not set"
            raise AssertionSourceError(f"{self.description} {state}")
        if value.startswith("/") and len(value) < 4096 and os.path.lexists(value):
            # Such as AZURE_FEDERATED_TOKEN_FILE: it names the file, not the token.
            raise AssertionSourceError(
                f"{self.description} holds a path, not a token: name the file instead "
                f"(file:PATH, or in the environment TOKENPROVIDER_CREDENTIALS__OAUTH__"
                f"ASSERTION=file:${self.name})"
            )
        return value
