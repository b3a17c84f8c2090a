"""The package's import graph has no cycles: each module can be read after the ones it
imports. Imports inside functions count too (a lazy import is still a dependency); only
``if TYPE_CHECKING:`` blocks, which never run, are left out."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "tokenprovider"


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``path`` imports, outside ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {  # the body only: an ``else:`` of ``if TYPE_CHECKING:`` does run
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(_module_of(alias.name, modules) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:  # a submodule by name, else the module it is from
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else _module_of(node.module, modules))
    found.discard("")
    return found


def _module_of(name: str, modules: dict[str, Path]) -> str:
    """The package's module that importing ``name`` loads, or "" (not ours)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, or with a self-loop."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for target in graph[module]:
            if target not in order:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], order[target])
        if low[module] == order[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return found


def test_the_package_has_no_import_cycles() -> None:
    modules = module_names()
    graph = {name: imports_of(path, modules) - {name} for name, path in modules.items()}
    assert len(graph) > 50  # the walk found the package
    assert graph["tokenprovider.providers.oauth"] >= {"tokenprovider.core.cached"}
    assert graph["tokenprovider.compat.tds"] >= {"tokenprovider._aws", "tokenprovider._untrusted"}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


#: The layers of docs/architecture.md, outermost first: a module imports only modules of
#: its own layer or of layers further in (further down this list).
LAYERS = (
    ("cli", "compat", "testing", "__main__"),
    ("config",),
    ("providers", "sources"),
    ("core",),
    ("transports", "caches"),
    (
        "errors",
        "retry",
        "secret_refs",
        "_after_fork",
        "_aws",
        "_aws_secrets",
        "_extras",
        "_http_reading",
        "_masking",
        "_private_files",
        "_registry",
        "_suggest",
        "_untrusted",
        "_urllib3_retry",
        "_value",
        "_lazy",
    ),
)
#: Imports against the direction, each for a reason docs/architecture.md gives.
AGAINST_THE_DIRECTION = {
    # The clock, a leaf, for lease times.
    ("tokenprovider.caches.dynamodb", "tokenprovider.core.clock"),
    # References borrow the size limit for secret files.
    ("tokenprovider.secret_refs", "tokenprovider.config.files"),
}


def layer_of(module: str) -> int:
    """The index in LAYERS of ``module``; the package's own __init__, which imports its
    names only when they are used, counts as innermost."""
    if module == "tokenprovider":
        return len(LAYERS) - 1
    part = module.split(".")[1]
    for index, names in enumerate(LAYERS):
        if part in names:
            return index
    raise AssertionError(f"{module} is in no layer of tests/test_layout.py: add it to LAYERS")


def test_imports_run_from_the_outside_in() -> None:
    modules = module_names()
    against = sorted(
        (name, target)
        for name, path in modules.items()
        for target in imports_of(path, modules)
        if layer_of(target) < layer_of(name) and (name, target) not in AGAINST_THE_DIRECTION
    )
    assert against == []


def test_the_transports_import_nothing_of_the_core_at_run_time() -> None:
    modules = module_names()
    for name, path in modules.items():
        if name.startswith("tokenprovider.transports"):
            assert not {t for t in imports_of(path, modules) if ".core" in t}, name
