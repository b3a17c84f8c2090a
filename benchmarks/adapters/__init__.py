"""The libraries `benchmarks/peers.py` compares, one module each (``peer_*.py`` with an
``ADAPTERS`` tuple): adding a library to the benchmark is adding one file."""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.base import Adapter


def load() -> list[Adapter]:
    """Every adapter, the reference first, then tokenprovider, the seed and the others."""
    found: list[Adapter] = []
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("peer_"):
            found.extend(importlib.import_module(f"{__name__}.{module.name}").ADAPTERS)
    return sorted(found, key=lambda adapter: (adapter.rank, adapter.name))
