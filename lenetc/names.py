"""Names that reach generated C: identifiers derived from user-supplied names, and the check
that a model or layer name can be written verbatim into comments, strings and Makefiles.

A name appears raw in C comments (``/* conv1: ... */``), in a C string literal (the firmware
example prints the model name) and in Makefile/CMake comments. So a name may hold only
letters, digits, space and ``_ - + : ( ) [ ] , /``: no ``*`` (no ``*/`` or ``/*``), no quote
or backslash (string literals, line splices), no ``?`` (C99 trigraphs such as ``??/``), no
control or non-ASCII character, at most :data:`MAX_NAME_LENGTH` characters.
"""

import re

#: Longest model or layer name accepted; importers shorten longer framework names to it.
MAX_NAME_LENGTH = 64

_SAFE_CHARS = r"A-Za-z0-9_ +:()\[\],/-"
_SAFE_NAME = re.compile(rf"[{_SAFE_CHARS}]+")
_UNSAFE_CHAR = re.compile(rf"[^{_SAFE_CHARS}]")


def unique_identifier(raw: str, taken: set[str], max_length: int | None = None) -> str:
    """``raw`` with every character but letters, digits and '_' replaced, shortened to
    ``max_length`` if given, suffixed ``_2``, ``_3``... until it is not in ``taken``; the
    result is added to ``taken``."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", raw)
    if max_length is not None:
        base = base[: max_length - 8]  # room for a "_<k>" suffix within max_length
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be written into generated C verbatim, or None if it can."""
    if not isinstance(name, str):
        return f"is a {type(name).__name__}, not a string"
    if not name:
        return "is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long (at most {MAX_NAME_LENGTH})"
    if not _SAFE_NAME.fullmatch(name):
        bad = _UNSAFE_CHAR.search(name).group()  # type: ignore[union-attr]
        return f"holds {bad!r}: names may use only letters, digits, space and _ - + : ( ) [ ] , /"
    return None


def shown(name: object) -> str:
    """``name`` quoted for an error message, with control characters escaped and cut to 80 characters."""
    text = repr(name) if isinstance(name, str) else repr(str(name))
    return text if len(text) <= 80 else text[:77] + "..."


def safe_name(raw: str, fallback: str) -> str:
    """``raw`` (a file name, a framework's model name) made acceptable to :func:`name_problem`:
    every other character becomes '_', and the result is shortened to :data:`MAX_NAME_LENGTH`."""
    name = _UNSAFE_CHAR.sub("_", raw)[:MAX_NAME_LENGTH]
    return name if name.strip() else fallback
