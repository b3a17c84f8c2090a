"""The docs cannot drift: every Python block runs, and the configuration reference matches
the registry.

How the Python blocks of README.md and docs/*.md run (tell doc writers: docs/testing.md,
"Docs that run"):

- Every ```python block runs. A page's blocks run in page order in one fresh child process
  (`docs_runner.py`, time-bounded), in one namespace: a block may use what an earlier
  block of the same page defined or imported. Other fences (console, text) are not run
  here: `test_docs_cli.py` and `test_docs_shell.py` cover the commands of shell blocks.
- The hosts in `HOSTS` really answer, over TLS on 127.0.0.1: ``login.example.com`` is a
  `LocalOAuthServer` (client ``reporting``, secret in ``REPORTING_SECRET``, token URL
  ``https://login.example.com/oauth2/token``); the API hosts answer 200 to anything. The
  child trusts a certificate authority made for the test (``REQUESTS_CA_BUNDLE``).
- Nothing goes beyond loopback: resolving any other name, or connecting to an address
  that is not loopback, fails, and any such attempt fails the page even if a snippet
  caught the error.
- The environment: ``REPORTING_SECRET``, ``API_JWT`` (a JWT living a day),
  ``TOKEN_CACHE_KEY`` (32 base64 bytes); ``HOME`` and the XDG directories in a temporary
  directory; no ``TOKENPROVIDER_*``, ``AWS_*`` or proxy variables. The working directory
  is the root of a fresh repository whose ``.tokenprovider.toml`` is `PROJECT_CONFIG`
  (the README's), so ``load_provider()`` works.
- Directives, in an HTML comment on the lines just before a fence (the reader of the
  rendered page does not see them):
  - ``<!-- docs: setup`` ... ``-->``: hidden Python run before the block (to define a
    name the block takes for granted, such as ``provider``);
  - ``<!-- docs: tds -->``: from this block on, a `LocalTokenDispenser` runs (SSM key
    ``/service/token-dispenser/sit``, region ``us-west-2``) and the ``AWS_*`` variables
    point boto3 at it;
  - ``<!-- docs: pytest -->``: the block is a pytest module (test functions using the
    `tokenprovider.testing` fixtures); it runs under pytest (without hypothesis's plugin,
    which no block needs), after any setup. A block that defines a ``test_`` function
    must say so, or it would never run.
- A block that cannot run is listed in `NOT_RUN` with the reason (there are none).
- A ```python block holding only ``--8<-- "examples/NAME.py"`` (the site's examples page
  includes the program there) is not run here: `test_examples.py` runs every example.
- Every ```toml block parses, and one holding a ``[credentials]`` table builds its
  provider with `parse_credentials_config` (a block showing only a provider's table gets
  ``domain = "api.example.com"``), in the same environment as the Python blocks, plus the
  variables a ``<!-- docs: env NAME=VALUE ... -->`` directive before it names (say in the
  text that the reader needs them, e.g. ``AWS_REGION`` for a DynamoDB cache).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from conftest import run_python
from tokenprovider import ConfigurationError, parse_credentials_config
from tokenprovider.config.reference import DOCS_BEGIN, DOCS_END, markdown
from tokenprovider.config.registry import BUILT_INS, Registry

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
EXAMPLES = ROOT / "examples"
RUNNER = Path(__file__).resolve().parent / "docs_runner.py"

#: Host names the snippets may use, and what answers for each.
HOSTS = {
    "api.example.com": "api",
    "login.example.com": "oauth",
    "cmr.earthdata.nasa.gov": "api",
    "cmr.example.com": "api",
}
DIRECTIVES = frozenset({"setup", "tds", "pytest", "env"})
#: (page, line of the opening fence) -> why that block is not run. Keep it empty.
NOT_RUN: dict[tuple[str, int], str] = {}

CLIENT_ID = "reporting"
CLIENT_SECRET = "docs-reporting-secret"
PROJECT_CONFIG = """\
[credentials]
domain = "api.example.com"
[credentials.oauth]
token_url = "https://login.example.com/oauth2/token"
client_id = "reporting"
client_secret = "env:REPORTING_SECRET"
scopes = ["read"]
"""


# -- reading the pages --------------------------------------------------------------------------


@dataclass
class Block:
    """A fenced block: its page, the line of its opening fence, language, text, directives."""

    page: str
    line: int
    language: str
    code: str
    directives: dict[str, str] = field(default_factory=dict)
    directive_lines: dict[str, int] = field(default_factory=dict)


_FENCE = re.compile(r"^```([\w+-]*)\s*$")
_DIRECTIVE = re.compile(r"<!--\s*docs:\s*([\w-]+)(.*?)-->", re.DOTALL)


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a markdown page, each with the directives just before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = _name(path)
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        block = Block(page, i + 1, opening.group(1), "\n".join(lines[i + 1 : end]) + "\n")
        _attach_directives(block, lines, i)
        found.append(block)
        i = end + 1
    return found


def _name(path: Path) -> str:
    """A page's name in messages: its path in the repository (or as given, for a test's)."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _attach_directives(block: Block, lines: list[str], fence: int) -> None:
    """Read the HTML comments that end on the lines just above the fence (index ``fence``)."""
    j = fence - 1
    while j >= 0 and lines[j].rstrip().endswith("-->"):
        start = j
        while start > 0 and "<!--" not in lines[start]:
            start -= 1
        text = "\n".join(lines[start : j + 1])
        match = _DIRECTIVE.search(text)
        if match is None:
            break
        name, body = match.group(1), match.group(2)
        block.directives[name] = (
            body.strip() if name != "setup" else body.strip(" ").removeprefix("\n")
        )
        block.directive_lines[name] = start + 2  # the setup code starts after "<!-- docs: setup"
        j = start - 1


_INCLUDE = re.compile(r'--8<-- "(examples/[\w-]+\.py)"\n')


def included_example(block: Block) -> str | None:
    """The example a block only includes (``--8<-- "examples/NAME.py"``), or None."""
    match = _INCLUDE.fullmatch(block.code)
    return match.group(1) if match else None


def python_blocks(path: Path) -> list[Block]:
    """The Python blocks of a page that run here (not those including an example)."""
    return [
        block
        for block in blocks(path)
        if block.language == "python" and included_example(block) is None
    ]


def _pages_with_python() -> list[Path]:
    return [page for page in PAGES if python_blocks(page)]


# -- the world a page runs in -------------------------------------------------------------------


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A certificate authority and a server certificate for every name in `HOSTS`:
    returns the CA file, the server's certificate chain and its key."""
    from cryptography import x509  # noqa: PLC0415 - the dev extra has it
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Name | None,
        signer: ec.EllipticCurvePrivateKey,
        ca: bool,
    ) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), False
            )
        )
        if ca:
            usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
            builder = builder.add_extension(usage, critical=True)
        else:
            names = [x509.DNSName(host) for host in HOSTS]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
            usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
            builder = builder.add_extension(usage, critical=True)
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("tokenprovider docs CA", ca_key, None, ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = certificate("docs hosts", server_key, ca.subject, ca_key, ca=False)
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = (
        directory / "ca.pem",
        directory / "cert.pem",
        directory / "key.pem",
    )
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(server.public_bytes(pem))
    key_file.write_bytes(
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_file, cert_file, key_file


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return _certificates(tmp_path_factory.mktemp("docs-tls"))


def _jwt(lifetime: float) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return ".".join([part({"alg": "none"}), part({"exp": int(time.time() + lifetime)}), "c2ln"])


def child_environment(tmp: Path, ca_file: Path) -> dict[str, str]:
    """This process's environment without TOKENPROVIDER_*, AWS_*, XDG_* or proxy
    variables, with a home in ``tmp``, the snippets' secrets and the test CA trusted."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(("TOKENPROVIDER_", "AWS_", "XDG_"))
        and not name.lower().endswith("_proxy")
        and name not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
    }
    home = tmp / "home"
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_CONFIG_DIRS=str(tmp / "etc"),
        AWS_CONFIG_FILE=str(tmp / "missing" / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "missing" / "aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        REQUESTS_CA_BUNDLE=str(ca_file),
        SSL_CERT_FILE=str(ca_file),
        REPORTING_SECRET=CLIENT_SECRET,
        API_JWT=_jwt(86400),
        TOKEN_CACHE_KEY=base64.b64encode(os.urandom(32)).decode(),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def check_directives(block: Block) -> None:
    """Fail for an unknown directive, or a block of tests that would not run as tests."""
    unknown = set(block.directives) - DIRECTIVES
    assert not unknown, f"{block.page}:{block.line}: unknown directive {sorted(unknown)}"
    assert "env" not in block.directives, (
        f"{block.page}:{block.line}: env is for TOML blocks; set os.environ in a setup"
    )
    if re.search(r"^\s*def test_", block.code, flags=re.MULTILINE):
        assert "pytest" in block.directives, (
            f"{block.page}:{block.line} defines a test: put <!-- docs: pytest --> "
            "before it so that it runs"
        )


def plan(page: Path, certs: tuple[Path, Path, Path]) -> dict[str, Any]:
    """What `docs_runner.py` needs to run ``page``'s Python blocks."""
    steps = []
    for block in python_blocks(page):
        if (block.page, block.line) in NOT_RUN:
            continue
        check_directives(block)
        steps.append(
            {
                "path": str(page),
                "line": block.line + 1,
                "code": block.code,
                "directives": sorted(block.directives),
                "setup": block.directives.get("setup", ""),
                "setup_line": block.directive_lines.get("setup", 1),
            }
        )
    return {
        "page": _name(page),
        "cert": str(certs[1]),
        "key": str(certs[2]),
        "hosts": HOSTS,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "steps": steps,
    }


def run_page(page: Path, tmp: Path, certs: tuple[Path, Path, Path]) -> None:
    repo = tmp / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".tokenprovider.toml").write_text(PROJECT_CONFIG, encoding="utf-8")
    (repo / ".tokenprovider.toml").chmod(0o600)
    plan_file = tmp / "plan.json"
    steps = plan(page, certs)
    plan_file.write_text(json.dumps(steps), encoding="utf-8")
    result = run_python(
        str(RUNNER), str(plan_file), timeout=120, env=child_environment(tmp, certs[0]), cwd=repo
    )
    assert result.returncode == 0, f"{page.name}:\n{result.stdout}\n{result.stderr}"
    ran = [line for line in result.stdout.splitlines() if line.startswith("ran ")]
    assert len(ran) == len(steps["steps"]), result.stdout


# -- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("page", _pages_with_python(), ids=lambda page: page.name)
def test_python_blocks_run(
    page: Path, tmp_path: Path, certificates: tuple[Path, Path, Path]
) -> None:
    run_page(page, tmp_path, certificates)


def test_the_examples_page_includes_every_example() -> None:
    included = [included_example(block) for block in blocks(DOCS / "examples.md")]
    assert None not in included, "docs/examples.md: a Python block that is not an include"
    assert sorted(included) == sorted(f"examples/{p.name}" for p in EXAMPLES.glob("*.py"))


def test_only_the_examples_page_includes_examples() -> None:
    elsewhere = [
        f"{block.page}:{block.line}"
        for page in PAGES
        if page.name != "examples.md"
        for block in blocks(page)
        if included_example(block) is not None
    ]
    assert elsewhere == []


def toml_blocks() -> list[Block]:
    return [block for page in PAGES for block in blocks(page) if block.language == "toml"]


@pytest.mark.parametrize("block", toml_blocks(), ids=lambda block: f"{block.page}:{block.line}")
def test_toml_blocks_build(
    block: Block,
    tmp_path: Path,
    certificates: tuple[Path, Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unknown = set(block.directives) - {"env"}
    assert not unknown, f"{block.page}:{block.line}: no {sorted(unknown)} for TOML blocks"
    try:
        document = tomllib.loads(block.code)
    except tomllib.TOMLDecodeError as exc:
        pytest.fail(f"{block.page}:{block.line}: not TOML: {exc}")
    if "credentials" not in document:
        return  # a pyproject.toml table, or profiles only: parsing is all there is
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in child_environment(tmp_path, certificates[0]).items():
        monkeypatch.setenv(name, value)
    for assignment in block.directives.get("env", "").split():
        name, _, value = assignment.partition("=")
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    document["credentials"].setdefault("domain", "api.example.com")
    parse_credentials_config(document)


def test_a_toml_block_that_does_not_build_fails() -> None:
    block = Block("page.md", 1, "toml", '[credentials.oauth]\nclient_idd = "x"\n')
    document = tomllib.loads(block.code)
    document["credentials"].setdefault("domain", "api.example.com")
    with pytest.raises(ConfigurationError, match="client_idd"):
        parse_credentials_config(document)


def test_not_run_names_only_real_blocks() -> None:
    every = {(block.page, block.line) for page in PAGES for block in python_blocks(page)}
    assert set(NOT_RUN) <= every, f"stale NOT_RUN entries: {sorted(set(NOT_RUN) - every)}"


def test_a_failing_block_fails_its_page(
    tmp_path: Path, certificates: tuple[Path, Path, Path]
) -> None:
    page = tmp_path / "broken.md"
    page.write_text("```python\nx = 1\n```\n\n```python\nassert x == 2, 'x is 1'\n```\n")
    with pytest.raises(AssertionError, match="x is 1"):
        run_page(page, tmp_path / "run", certificates)


_GUARD_PROBE = """\
```python
import socket, requests
try:
    socket.create_connection(("93.184.215.14", 80), timeout=5)
except OSError as exc:
    assert "beyond loopback" in str(exc), exc
try:
    requests.get("https://unmapped.example.org/", timeout=5)
except requests.ConnectionError as exc:
    assert "beyond loopback" in str(exc), exc
r = requests.get("https://api.example.com/items", timeout=5)
assert r.status_code == 200, r.status_code
```
"""


def test_nothing_beyond_loopback_is_reached(
    tmp_path: Path, certificates: tuple[Path, Path, Path]
) -> None:
    """Mapped hosts answer over TLS; any other name or address is refused, and an attempt
    fails the page even when the snippet catches the error."""
    page = tmp_path / "probe.md"
    page.write_text(_GUARD_PROBE)
    with pytest.raises(AssertionError, match=r"blocked attempts.*93\.184\.215\.14.*unmapped"):
        run_page(page, tmp_path / "run", certificates)


def test_a_failing_pytest_block_fails_its_page(
    tmp_path: Path, certificates: tuple[Path, Path, Path]
) -> None:
    page = tmp_path / "tests.md"
    page.write_text(
        "<!-- docs: setup\nLIMIT = 1\n-->\n<!-- docs: pytest -->\n```python\n"
        "def test_token_requests(oauth_server):\n    assert LIMIT == 2\n```\n"
    )
    with pytest.raises(AssertionError, match=r"pytest exited 1 for the block at line 6"):
        run_page(page, tmp_path / "run", certificates)


def test_a_test_block_must_say_pytest() -> None:
    block = Block("page.md", 1, "python", "def test_x():\n    pass\n")
    with pytest.raises(AssertionError, match="docs: pytest"):
        check_directives(block)


# -- the configuration reference against the registry -------------------------------------------


def _generated_block(text: str) -> str:
    start = text.index(DOCS_BEGIN)
    end = text.index(DOCS_END) + len(DOCS_END)
    return text[start:end]


def test_provider_reference_matches_the_registry() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert _generated_block(text) == markdown(), (
        "docs/configuration.md is stale: paste in the output of "
        "python -c 'from tokenprovider.config.reference import markdown; print(markdown())'"
    )


def test_reference_covers_every_built_in_and_setting() -> None:
    block = _generated_block((DOCS / "configuration.md").read_text(encoding="utf-8"))
    registry = Registry(group="tokenprovider.no-plugins")
    for name in BUILT_INS:
        assert f"### `{name}`" in block
        cls = registry.get(name)
        assert cls is not None
    assert "| `client_secret` |" in block
    assert "| `retry.max_attempts` | int | 4 |" in block
