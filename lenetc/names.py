"""Identifiers derived from user-supplied names (layer names, C function names)."""

import re


def unique_identifier(raw: str, taken: set[str]) -> str:
    """``raw`` with every character but letters, digits and '_' replaced, suffixed ``_2``,
    ``_3``... until it is not in ``taken``; the result is added to ``taken``."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", raw)
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name
