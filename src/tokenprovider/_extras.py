"""Optional dependencies: import one, or fail with an error that names the extra to install.

`require` is the one way the library loads boto3, botocore, cryptography, httpx or moto, so a
missing extra is always a `MissingExtraError` (a `ConfigurationError`, exit code 3 in the
CLI) saying what to ``pip install``, never a traceback or a silent fallback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from tokenprovider.errors import MissingExtraError

#: The extra that installs each optional top-level module.
EXTRA_OF = {
    "boto3": "aws",
    "botocore": "aws",
    "cryptography": "crypto",
    "httpx": "httpx",
    "jwt": "jwt",
    "keyring": "keyring",
    "moto": "testing",
}


def require(module: str, needed_by: str) -> ModuleType:
    """Import ``module`` (e.g. ``"boto3"``) for ``needed_by`` (e.g. ``"the DynamoDB token
    cache"``); raise `MissingExtraError` naming the extra when it is not installed."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = (exc.name or module).partition(".")[0]
        extra = EXTRA_OF.get(missing)
        if extra is None:
            raise
        raise MissingExtraError(missing_text(needed_by, missing, extra)) from None


def require_installed(module: str, needed_by: str, extra: str | None = None) -> None:
    """Like `require`, without importing ``module``: `MissingExtraError` naming ``extra``
    (default: the one that installs it) when it cannot be found, so that a setting that
    will need it fails when it is made, not later."""
    import importlib.util  # noqa: PLC0415

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingExtraError(missing_text(needed_by, module, extra or EXTRA_OF[module]))


def missing_text(needed_by: str, module: str, extra: str) -> str:
    """The message for ``module`` missing: what needs it and the command that installs it."""
    install = f"pip install 'tokenprovider[{extra}]'"
    return f"{needed_by} needs {module}, which is not installed: {install}"
