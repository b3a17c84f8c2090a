"""`import tokenprovider` stays light: no boto3, botocore, cryptography or httpx."""

from __future__ import annotations

import json
import subprocess
import sys

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
