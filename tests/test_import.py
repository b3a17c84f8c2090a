"""`import tokenprovider` stays light: no boto3, botocore, cryptography or httpx."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("boto3", "botocore", "cryptography", "httpx")


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
    assert before == ["tokenprovider"]  # nothing else until a name is used
    assert set(names) <= set(listed)
    assert names["OAuthTokenProvider"] == "ABCMeta"
    assert names["load_provider"] == "function"


def test_unknown_attribute_is_an_attribute_error() -> None:
    import tokenprovider  # noqa: PLC0415 - the module under test, imported where it is used

    with pytest.raises(AttributeError, match="NoSuchThing"):
        tokenprovider.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
