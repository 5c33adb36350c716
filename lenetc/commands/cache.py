"""``lenetc cache info`` and ``lenetc cache clear``: look at and empty the build cache."""

from __future__ import annotations

import argparse
import json

from .. import cache


def cmd_info(args: argparse.Namespace) -> int:
    found = cache.summary()
    invalid = sum(not e.valid for e in found.entries)
    if args.json:
        doc = {
            "path": str(found.path),
            "entries": len(found.entries),
            "invalid_entries": invalid,
            "temp_dirs": len(found.temp_dirs),
            "bytes": found.bytes,
        }
        print(json.dumps(doc, indent=2))
        return 0
    print(f"cache    {found.path}{'' if found.path.is_dir() else ' (not created yet)'}")
    why = f" ({invalid} damaged or from an older lenetc: rebuilt when next used)" if invalid else ""
    print(f"entries  {len(found.entries)}{why}")
    if found.temp_dirs:
        print(f"temp     {len(found.temp_dirs)} build directories (running or abandoned builds)")
    print(f"bytes    {found.bytes:,}")
    return 0


def cmd_clear(args: argparse.Namespace) -> int:
    removed = cache.clear()
    print(f"removed {len(removed.entries)} entries, {removed.bytes:,} bytes from {removed.path}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "cache",
        help="show or clear the build cache of compiled models",
        description=f"The cache of compiled models: ${cache.ENV_VAR}, else $XDG_CACHE_HOME/lenetc, "
        "else ~/.cache/lenetc.",
    )
    actions = p.add_subparsers(dest="cache_command", metavar="ACTION")
    actions.required = True
    info = actions.add_parser("info", help="where the cache is, how many entries, how many bytes")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_info)
    clear = actions.add_parser("clear", help="remove every cached build")
    clear.set_defaults(func=cmd_clear)
