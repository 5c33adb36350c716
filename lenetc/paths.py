"""Where the Jinja2 templates and hand-written C live: inside the installed package
(``lenetc/templates``, ``lenetc/csrc``) or, in a source checkout, beside it; the CPU
families' headers and kernel templates are in their folders, ``lenetc/families/<family>/``."""

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PKG / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"lenetc installation is incomplete: no '{name}' directory beside {_PKG}")


def templates_dir() -> Path:
    return _find("templates")


def csrc_dir() -> Path:
    return _find("csrc")


def families_dir() -> Path:
    return _PKG / "families"
