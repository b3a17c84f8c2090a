"""Signatures in the docs match the real constructors and functions.

A signature is written ``Name(param, other=default, *, keyword=default)``, in an inline
code span or as the whole of a fenced block, where ``Name`` is exported by `tokenprovider`,
`tokenprovider.sources` or `tokenprovider.testing`. (A span such as
``Host("api.example.com")`` is a call, not a signature, and is left alone.) Names, their
order, positional or keyword-only, and defaults must be those of the real one; a trailing
``...`` stands for the parameters left out.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tokenprovider
import tokenprovider.sources
import tokenprovider.testing
from tokenprovider.config.params import signature

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_SPAN = re.compile(r"`([A-Za-z_]\w*)\(([^`]*)\)`")
_FENCED = re.compile(r"^```[\w-]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_WHOLE = re.compile(r"\s*([A-Za-z_]\w*)\((.*)\)\s*", re.DOTALL)


def _exported(name: str) -> Any:
    """The class or function ``name`` exported by tokenprovider (exceptions aside: their
    messages come first, and ``Error(status)`` is how the docs name what they carry)."""
    for module in (tokenprovider, tokenprovider.sources, tokenprovider.testing):
        if name in module.__all__:
            value = getattr(module, name)
            if not (isinstance(value, type) and issubclass(value, BaseException)):
                return value
    return None


def signatures(text: str) -> Iterator[tuple[str, str, int]]:
    """(name, parameters, line) of every signature-shaped text in a page."""
    for match in _SPAN.finditer(text):
        yield match.group(1), match.group(2), text.count("\n", 0, match.start()) + 1
    for match in _FENCED.finditer(text):
        body = re.sub(r"#[^\n]*", "", match.group(1))
        whole = _WHOLE.fullmatch(body)
        if whole is not None:
            yield whole.group(1), whole.group(2), text.count("\n", 0, match.start()) + 1


def parse(parameters: str) -> tuple[ast.arguments, bool] | None:
    """The parameters as a ``def`` would take them, and whether a ``...`` ends them;
    None when the text is a call rather than a signature."""
    text = " ".join(parameters.split()).rstrip(", ")
    partial = text == "..." or text.endswith(", ...")
    text = text.removesuffix("...").rstrip(", ").removesuffix("*").rstrip(", ")
    try:
        tree = ast.parse(f"def f({text}): pass")
    except SyntaxError:
        return None
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    arguments = function.args
    defaults = [*arguments.defaults, *(d for d in arguments.kw_defaults if d is not None)]
    if not text or not all(_is_literal(default) for default in defaults):
        return None  # f() or f(x=clock.sleep): a call
    return arguments, partial


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True


def documented(arguments: ast.arguments) -> list[tuple[str, str, ast.expr | None]]:
    """(name, kind, default) of each parameter of ``arguments``."""
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
    defaults += arguments.defaults
    result = [
        (a.arg, "POSITIONAL_OR_KEYWORD", d) for a, d in zip(positional, defaults, strict=True)
    ]
    result += [
        (a.arg, "KEYWORD_ONLY", d)
        for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
    ]
    return result


def mismatches(obj: object, parameters: str) -> list[str]:
    """What differs between a written signature and ``obj``'s real one."""
    parsed = parse(parameters)
    if parsed is None:
        return []
    arguments, partial = parsed
    real_signature = signature(obj)  # **settings: Unpack[RefreshSettings] as its keys
    assert real_signature is not None, f"{obj!r} has no signature"
    real = [
        p
        for p in real_signature.parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    real_by_name = {p.name: p for p in real}
    problems = []
    written = documented(arguments)
    for name, kind, default in written:
        actual = real_by_name.get(name)
        if actual is None:
            problems.append(f"{name}: no such parameter")
            continue
        if actual.kind.name != kind:
            problems.append(f"{name}: is {actual.kind.name}, written {kind}")
        if default is None and actual.default is not actual.empty:
            problems.append(f"{name}: has the default {actual.default!r}")
        elif default is not None and ast.literal_eval(default) != actual.default:
            problems.append(
                f"{name}: the default is {actual.default!r}, not {ast.unparse(default)}"
            )
    names = [name for name, _, _ in written if name in real_by_name]
    if names != [p.name for p in real if p.name in names]:
        problems.append(f"the order is {[p.name for p in real]}")
    missing = [p.name for p in real if p.name not in names]
    if missing and not partial:
        problems.append(f"missing {missing} (or end with ', ...')")
    return problems


def _cases() -> list[tuple[str, str, str, int]]:
    cases = []
    for page in PAGES:
        for name, parameters, line in signatures(page.read_text(encoding="utf-8")):
            if _exported(name) is not None and parse(parameters) is not None:
                cases.append((page.name, name, parameters, line))
    return cases


CASES = _cases()


@pytest.mark.parametrize(
    ("page", "name", "parameters", "line"),
    CASES,
    ids=[f"{page}:{line}:{name}" for page, name, _, line in CASES],
)
def test_signature_matches(page: str, name: str, parameters: str, line: int) -> None:
    problems = mismatches(_exported(name), parameters)
    assert not problems, f"{page}:{line}: {name}({' '.join(parameters.split())}): {problems}"


def test_the_provider_pages_are_checked() -> None:
    checked = {
        (page, name) for page, name, _, _ in CASES if page in ("concepts.md", "jwt.md", "oauth.md")
    }
    assert {
        ("concepts.md", "Host"),
        ("concepts.md", "CachedTokenProvider"),
        ("concepts.md", "RetryPolicy"),
        ("jwt.md", "JWTTokenProvider"),
        ("oauth.md", "OAuthTokenProvider"),
    } <= checked


def test_a_wrong_signature_is_found() -> None:
    def f(host: str, a: int = 1, *, b: None = None, c: str = "x") -> None: ...

    assert mismatches(f, "host, a=1, *, b=None, c='x'") == []
    assert mismatches(f, "host, a=1, *, b=None, ...") == []
    assert mismatches(f, "host, a=2, *, b=None, c='x'") == ["a: the default is 1, not 2"]
    assert mismatches(f, "host, *, a=1, b=None, c='x'")[0].startswith("a: is POSITIONAL")
    assert "missing ['c']" in mismatches(f, "host, a=1, *, b=None")[0]
    assert mismatches(f, "host, a=1, *, b=None, d=None, ...") == ["d: no such parameter"]
    assert mismatches(f, '"api.example.com"') == []  # calls, not signatures
    assert mismatches(f, "host, b=clock.sleep") == []
