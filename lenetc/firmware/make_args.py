"""Checking every value lenetc hands to ``make``.

A variable given on make's command line is expanded by make (``$(shell ...)`` runs a command)
and then pasted into recipe lines that a shell runs (``;``, quotes, backquotes). So nothing
from the user reaches make unchecked: the optimisation level must be one of
:data:`OPT_FLAGS`, and every other value must be words of characters that mean nothing to make
or a shell (no ``$``, quotes, backslash, ``;&|<>()`` ``*?[]#~`` or control characters).
"""

from __future__ import annotations

import os
import re
import shlex

from ..errors import LenetcError
from ..names import shown

#: Optimisation levels ``profile``/``count_instructions`` accept; no ``-Ofast``: it implies
#: ``-ffast-math``, which would break the bit-identical float results the firmware checks.
OPT_FLAGS = ("-O0", "-O1", "-O2", "-O3", "-Os", "-Og")

_VAR = re.compile(r"[A-Z][A-Z0-9_]*")
_WORD = re.compile(r"[A-Za-z0-9_+=.,:/@%-]+")


def check_opt(opt: object) -> str:
    """``opt`` if it is one of :data:`OPT_FLAGS`; LenetcError otherwise."""
    if opt not in OPT_FLAGS:
        raise LenetcError(f"optimisation flag {shown(opt)} is not one of {', '.join(OPT_FLAGS)}")
    return str(opt)


def check_words(value: object, what: str) -> str:
    """``value`` if it is space-separated words of make- and shell-inert characters."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # a byte count such as FLASH_LENGTH=65536 given as a number
    if not isinstance(value, str):
        raise LenetcError(f"{what} must be a string, not {type(value).__name__}")
    for word in value.split(" "):
        if word and not _WORD.fullmatch(word):
            raise LenetcError(
                f"{what} {shown(value)} holds a character make or the shell would interpret; "
                "use only letters, digits and _ + = . , : / @ % -"
            )
    return value


def make_arguments(variables: dict[str, object]) -> list[str]:
    """``NAME=value`` arguments for make, each name and value checked (``OPT`` against
    :data:`OPT_FLAGS`); the compiler from ``$CC``, which the Makefile's host target uses, too."""
    args = []
    for name, value in variables.items():
        if not isinstance(name, str) or not _VAR.fullmatch(name):
            raise LenetcError(f"make variable name {shown(name)} is not an upper-case identifier")
        text = check_opt(value) if name == "OPT" else check_words(value, name)
        args.append(f"{name}={text}")
    if "CC" not in variables and os.environ.get("CC", "").strip():
        try:
            words = shlex.split(os.environ["CC"])
        except ValueError as exc:
            raise LenetcError(f"cannot parse $CC ({shown(os.environ['CC'])}): {exc}") from None
        args.append("CC=" + check_words(" ".join(words), "$CC"))
    return args
