"""The "did you mean" hint every configuration error offers for a misspelt name."""

from __future__ import annotations

from collections.abc import Iterable


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'closest'?)`` for the closest candidate, or an empty string."""
    import difflib  # noqa: PLC0415 - only on error paths

    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
