"""Small helpers for the text lenetc prints: counts with their noun, and signed terms, so that a
message never reads "1 errors" or "q - -4"."""

from __future__ import annotations

_IRREGULAR = {"probability": "probabilities", "log_probability": "log_probabilities", "entry": "entries"}


def plural_noun(word: str) -> str:
    """The plural of ``word`` (the nouns lenetc prints)."""
    return _IRREGULAR.get(word, word + "s")


def count(n: int, word: str) -> str:
    """``"1 error"``, ``"2 errors"``, ``"1,000 digits"``."""
    return f"{n:,} {word if n == 1 else plural_noun(word)}"


def plus(value: float | int, fmt: str = "") -> str:
    """``value`` as a term added to something before it: ``" + 3"`` or ``" - 3"`` (never ``"+ -3"``)."""
    sign = "-" if value < 0 else "+"
    return f" {sign} {format(abs(value), fmt)}"


def minus(value: float | int, fmt: str = "") -> str:
    """``value`` as a term subtracted from something before it: ``" - 3"`` or ``" + 3"`` (never ``"- -3"``)."""
    sign = "+" if value < 0 else "-"
    return f" {sign} {format(abs(value), fmt)}"
