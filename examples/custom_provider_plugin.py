"""Write your own provider and name it in TOML configuration, like the built-in ones.

A provider for a token source of your own is a small `CachedTokenProvider` subclass:
implement ``_request_token() -> (token, expiry in epoch seconds)`` and the base class
does the rest (caching, one fetch however many threads ask, refreshing ahead of expiry,
the host rule, the 401 retry). Registering it gives it a name that configuration files
can use: ``[credentials.signed]`` below.

This one stands for an in-house scheme: the client signs a short-lived token itself with
a shared key (HMAC-SHA256), and the API checks the signature. The API is a local
`RecordingHTTPServer` on 127.0.0.1 that records the headers it receives.

Registering, two ways:

- in code, as here: ``@register_provider("signed")`` (or
  ``tokenprovider.config.registry.registry.register("signed", cls)``), in a module that
  is imported before the configuration is loaded;
- from an installed package, with no import needed, through the entry-point group
  ``tokenprovider.providers`` in the package's pyproject.toml::

      [project.entry-points."tokenprovider.providers"]
      signed = "acme_tokens:SignedTokenProvider"

  ``tokenprovider providers`` then lists it, and every program (and the CLI) can use it.

Needs: tokenprovider only (no extras). Run: ``python examples/custom_provider_plugin.py``
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from tokenprovider import (
    CachedTokenProvider,
    Host,
    SecretReference,
    load_provider,
    register_provider,
)
from tokenprovider.secret_refs import reveal
from tokenprovider.testing import RecordingHTTPServer


@register_provider("signed")
class SignedTokenProvider(CachedTokenProvider):
    """Signs ``<key_id>.<expiry>.<signature>`` tokens living ``lifetime`` seconds."""

    # The constructor's parameters after ``host`` are the settings of [credentials.signed]:
    # configuration converts values to the annotated types ("900" -> 900) and rejects
    # unknown keys with a "did you mean". ``**kwargs`` passes on clock_skew, cache, etc.
    def __init__(
        self,
        host: Host | str,
        key_id: str,
        signing_secret: str | SecretReference,  # a reference stays unread until needed
        lifetime: int = 900,
        **kwargs: Any,
    ) -> None:
        super().__init__(host, **kwargs)
        self.key_id = key_id  # public attributes are shown in repr()
        self._signing_secret = signing_secret  # _private ones only as <set> / <not set>
        self.lifetime = lifetime
        self.signed = 0  # for this example only: how many tokens were made

    def _request_token(self) -> tuple[str, float]:
        expires_at = int(time.time()) + self.lifetime
        message = f"{self.key_id}.{expires_at}"
        key = reveal(self._signing_secret).encode()  # resolves env:/file:/aws-... once
        signature = hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
        self.signed += 1
        return f"{message}.{signature}", expires_at

    # Optional: define _cache_identity() (what makes tokens differ, no secret) and
    # _cache_secret() to let providers, processes (FileTokenCache) and hosts share tokens.
    # Without them, each provider keeps its tokens to itself, which is safe.


CONFIG = """\
[credentials]
domain = "{domain}"
scheme = "http"                       # loopback only; real APIs use https

[credentials.signed]                  # the registered name
key_id = "reporting"
signing_secret = "env:SIGNING_SECRET" # a secret reference, read when a token is needed
lifetime = "600"                      # strings convert to the declared int
"""


def main() -> None:
    # Normally set by the deployment; never written into the configuration file.
    os.environ.setdefault("SIGNING_SECRET", "example-signing-secret")

    with RecordingHTTPServer() as api, tempfile.TemporaryDirectory() as directory:
        config = Path(directory, "config.toml")
        config.write_text(CONFIG.format(domain=api.domain))

        provider = load_provider(config_file=config)  # or TOKENPROVIDER_CONFIG=...
        assert isinstance(provider, SignedTokenProvider)
        print(f"configuration built: {type(provider).__name__} (lifetime {provider.lifetime} s)")

        with provider.session() as session:
            for _ in range(3):
                session.get(api.url + "/items", timeout=10)

        sent = {r.headers.get("authorization", "") for r in api.requests}
        print(f"API calls: {len(api.requests)}, distinct tokens sent: {len(sent)}")
        print(f"tokens signed: {provider.signed}")  # one for all three calls
        print(f"repr: {provider!r}")  # the secret never shows


if __name__ == "__main__":
    main()
