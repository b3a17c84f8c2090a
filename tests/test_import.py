"""`import tokenprovider` stays light: no boto3, botocore, cryptography or httpx; and an
`OAuthTokenProvider`, imported and built after `requests`, adds almost no module of the
standard library to those `requests` loads."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("boto3", "botocore", "cryptography", "httpx")
#: What building an OAuthTokenProvider after ``import requests`` may load that is not ours:
#: the context variables that mark a provider built from configuration.
OAUTH_EXTRA = {"contextvars", "_contextvars"} | (
    {"typing_extensions"} if sys.version_info < (3, 11) else set()  # for Unpack
)
#: Modules that only some providers need, loaded when one does: `dataclasses` (which
#: brings `inspect`, `ast` and `dis`) for a `TokenEvent`, the sources for a provider given
#: one, `concurrent.futures` for a person's login.
LOADED_WHEN_NEEDED = (
    "dataclasses",
    "inspect",
    "concurrent.futures",
    "tokenprovider.core._token_event",
    "tokenprovider.sources._setting",
    "tokenprovider.sources._plugins",
    "tokenprovider.sources._reading",
    "tokenprovider.sources.github_actions",
    "tokenprovider.sources.file",
    "tokenprovider._registry",
    "tokenprovider._private_files",
)


def test_import_loads_no_optional_dependency() -> None:
    code = (
        "import json, sys, tokenprovider, tokenprovider.cli;"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(result.stdout))
    assert "tokenprovider" in loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded.intersection(HEAVY))


def test_an_oauth_provider_adds_few_modules_to_those_of_requests() -> None:
    code = (
        "import json, sys\n"
        "import requests\n"
        "before = set(sys.modules)\n"
        "from tokenprovider import OAuthTokenProvider\n"
        "OAuthTokenProvider('api.example.com', 'id', 'secret-long-enough',"
        " token_url='https://login.example.com/oauth2/token')\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    added = set(json.loads(result.stdout))
    assert "tokenprovider.providers.oauth" in added
    assert {name for name in added if name.split(".")[0] != "tokenprovider"} <= OAUTH_EXTRA
    early = added.intersection(LOADED_WHEN_NEEDED)
    assert not early, sorted(early)


def test_httpx_loads_only_with_an_httpx_auth() -> None:
    code = (
        "import json, sys\n"
        "from tokenprovider import OAuthTokenProvider\n"
        "provider = OAuthTokenProvider('api.example.com', 'client', 'a-long-secret',"
        " token_url='https://login.example.com/token')\n"
        "provider.session()\n"
        "before = 'httpx' in sys.modules\n"
        "auth = provider.httpx_auth()\n"
        "import httpx\n"
        "print(json.dumps([before, isinstance(auth, httpx.Auth)]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == [False, True]


def test_import_is_lazy_and_every_public_name_resolves() -> None:
    code = (
        "import json, sys, tokenprovider;"
        "before = sorted(m for m in sys.modules if m.startswith('tokenprovider'));"
        "names = {n: type(getattr(tokenprovider, n)).__name__ for n in tokenprovider.__all__};"
        "print(json.dumps([before, names, sorted(dir(tokenprovider))]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    before, names, listed = json.loads(result.stdout)
    assert before == ["tokenprovider", "tokenprovider._lazy"]  # nothing else until a name is used
    assert set(names) <= set(listed)
    assert names["OAuthTokenProvider"] == "ABCMeta"
    assert names["load_provider"] == "function"


def test_unknown_attribute_is_an_attribute_error() -> None:
    import tokenprovider  # noqa: PLC0415 - the module under test, imported where it is used

    with pytest.raises(AttributeError, match="NoSuchThing"):
        tokenprovider.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
