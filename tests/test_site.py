"""The documentation site builds with ``--strict``, and its API reference names every
public name.

`make docs` (run by `make test`) builds the same site; here it is built into a temporary
directory so that the generated inventory (``objects.inv``, every object the reference
documents) can be read, and a copy with a broken link and a page left out of the
navigation shows that ``--strict`` really fails for them.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import shutil
import zlib
from pathlib import Path

import pytest

from conftest import run_python

ROOT = Path(__file__).resolve().parent.parent

#: The modules a program imports from, with their public names (``__all__``).
FACADES = (
    "tokenprovider",
    "tokenprovider.caches",
    "tokenprovider.config",
    "tokenprovider.sources",
    "tokenprovider.testing",
    "tokenprovider.core.provider",
    "tokenprovider.core.refresh_settings",
    "tokenprovider.providers.oauth",
    "tokenprovider.providers.tds",
    "tokenprovider.cli",
)
#: The drop-ins have no ``__all__``: their public names are the documented APIs they copy.
DROP_INS = ("tokenprovider.compat.tds", "tokenprovider.compat.metadata_bank")
#: Names the guides import from modules without ``__all__``, and the hooks an extension
#: implements.
ALSO = (
    "tokenprovider.transports.httpx.ProviderAuth",
    "tokenprovider.core.events.add_listener",
    "tokenprovider.core.events.remove_listener",
    "tokenprovider.secret_refs.reveal",
    "tokenprovider.config.registry.registry",
    "tokenprovider.caches.base.Hold",
    "tokenprovider.caches.base.unshared",
    "tokenprovider.caches.base.attributes_problem",
    "tokenprovider.caches.logins.login_store",
    "tokenprovider.caches.logins.LoginKey",
    "tokenprovider.caches.logins.StoredLogin",
    "tokenprovider.CachedTokenProvider._request_token",
    "tokenprovider.CachedTokenProvider._async_request_token",
    "tokenprovider.CachedTokenProvider._cache_identity",
    "tokenprovider.CachedTokenProvider._cache_secret",
    "tokenprovider.CachedTokenProvider._wall_time",
    "tokenprovider.TokenProvider._format_authorization",
    "tokenprovider.TokenProvider._carrier",
    "tokenprovider.TokenProvider._credential",
    "tokenprovider.caches.TokenCache._hold",
    "tokenprovider.caches.TokenCache._salt",
)


def build(config: Path, site: Path) -> str:
    """Build the site of ``config`` into ``site``; fail with mkdocs' output if it fails."""
    result = run_python(
        "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
        "--site-dir", str(site),
        timeout=180,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("site")
    build(ROOT / "mkdocs.yml", directory)
    return directory


def inventory(site: Path) -> set[str]:
    """The names in a Sphinx inventory (version 2): four header lines, then zlib."""
    data = (site / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = data.index(b"\n", header_end) + 1
    lines = zlib.decompress(data[header_end:]).decode().splitlines()
    return {line.split(" ", 1)[0] for line in lines}


def public_names() -> dict[str, set[str]]:
    """Each public name, with the paths under which the reference may document it: where
    it is imported from, and where it is defined."""
    names: dict[str, set[str]] = {}
    for module_name in FACADES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if name.startswith("__"):
                continue
            value = getattr(module, name)
            home = getattr(value, "__module__", "") or ""
            if home in ("typing", "typing_extensions"):
                continue  # a re-export for annotations (Unpack), not ours to document
            paths = {f"{module_name}.{name}"}
            if inspect.isclass(value) or inspect.isfunction(value):
                paths.add(f"{home}.{value.__qualname__}")
            names[f"{module_name}.{name}"] = paths
    for module_name in DROP_INS:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if name.startswith("_") or getattr(value, "__module__", None) != module_name:
                continue
            names[f"{module_name}.{name}"] = {f"{module_name}.{name}"}
    for name in ALSO:
        names[name] = {name}
    return names


def test_the_site_builds(site: Path) -> None:
    assert (site / "index.html").is_file()
    assert (site / "reference" / "providers.html").is_file()  # opens from disk too
    assert (site / "search" / "search_index.js").is_file()  # and searches there


def test_every_public_name_is_in_the_reference(site: Path) -> None:
    documented = inventory(site)
    missing = sorted(name for name, paths in public_names().items() if not paths & documented)
    assert missing == []


def test_the_reference_shows_docstrings(site: Path) -> None:
    page = (site / "reference" / "providers.html").read_text(encoding="utf-8")
    assert "A scheme and domain (optionally with a port) that tokens may be sent to" in page


def test_a_broken_link_or_a_page_left_out_fails_the_build(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "src").symlink_to(ROOT / "src")
    shutil.copy(ROOT / "CHANGELOG.md", tmp_path)
    shutil.copy(ROOT / "mkdocs.yml", tmp_path)
    with (tmp_path / "docs" / "concepts.md").open("a", encoding="utf-8") as page:
        page.write("\nSee [a missing page](no-such-page.md) and [an anchor](oauth.md#nowhere).\n")
    (tmp_path / "docs" / "orphan.md").write_text("# Left out of the navigation\n")
    with pytest.raises(AssertionError) as failed:
        build(tmp_path / "mkdocs.yml", tmp_path / "site")
    output = str(failed.value)
    assert "no-such-page.md" in output
    assert "#nowhere" in output
    assert "orphan.md" in output
    assert "Aborted" in output


def _anchors(page: Path) -> set[str]:
    """The anchors of a Markdown page's headings, as the site makes them (lower case,
    punctuation dropped, spaces as hyphens)."""
    headings = re.findall(r"^#{1,6} (.+?)\s*$", page.read_text(encoding="utf-8"), re.MULTILINE)
    return {re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", h.lower())).strip("-") for h in headings}


def test_every_link_in_the_readme_leads_to_a_file_and_heading() -> None:
    # mkdocs checks the links of docs/ (the build is strict); the README is not built.
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert len(links) >= 20
    broken = []
    for link in links:
        if link.startswith(("http://", "https://", "mailto:")):
            continue
        target, _, anchor = link.partition("#")
        path = ROOT / target
        if not path.is_file() or (anchor and anchor not in _anchors(path)):
            broken.append(link)
    assert broken == []


def test_every_module_with_public_names_is_a_facade_checked_above() -> None:
    src = ROOT / "src"
    declaring = sorted(
        path.relative_to(src).with_suffix("").as_posix().removesuffix("/__init__").replace("/", ".")
        for path in (src / "tokenprovider").rglob("*.py")
        if re.search(r"^__all__\b", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    )
    assert len(declaring) >= 8
    assert [name for name in declaring if name not in FACADES] == []
