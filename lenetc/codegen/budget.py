"""Fitting a RAM budget: among the stage modes of :mod:`lenetc.codegen.streaming`, the plan
whose arena plus worst-case stack of ``<P>_run`` fits ``ram_bytes`` with the fewest stages
moved off their fastest mode (``fused``); none fits: one error naming the smallest budget any
plan meets.

The stack comes from ``stack_of(plan)``: ``lenetc size`` and the firmware commands measure it
on the target's compiled object (:mod:`lenetc.firmware.size`); the API without a target uses
:data:`STACK_RESERVE`, an upper bound of every measured ``<P>_run`` stack (the tests check it).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from ..errors import LenetcError
from ..families import PORTABLE, get_dialect
from ..network import Network
from ..quant.qnetwork import QuantizedNetwork
from ..variants import Dialect
from .plan import Plan, make_plan
from .streaming import window_choices

#: Bytes of stack the API's budget reserves for ``<P>_run`` when it cannot measure it.
STACK_RESERVE = 512


def reserved_stack(plan: Plan) -> int:
    """The API's stack allowance (no compiler at hand)."""
    return STACK_RESERVE


def candidate_plans(model: Network | QuantizedNetwork, prefix: str | None, dialect: str | Dialect) -> Iterator[Plan]:
    """Plans from fastest to smallest: first every stage fused, then with 1, 2, ... of the
    stages that have a window kernel in window order (the wide window, two im2col rows, before
    the narrow one where a kernel has both)."""
    fastest = make_plan(model, prefix, dialect)
    yield fastest
    ops = [op for op in fastest.ops if window_choices(op)]
    choices = {op.layer: window_choices(op) for op in ops}
    for k in range(1, len(ops) + 1):
        plans = []
        for names in itertools.combinations(choices, k):
            for picked in itertools.product(*(choices[n] for n in names)):
                plans.append(
                    (picked.count("window-narrow"), make_plan(model, prefix, dialect, modes=dict(zip(names, picked))))
                )
        yield from (p for _, p in sorted(plans, key=lambda np_: (np_[0], np_[1].arena_bytes)))


def fit(
    model: Network | QuantizedNetwork,
    ram_bytes: int,
    prefix: str | None = None,
    dialect: str | Dialect = PORTABLE,
    stack_of: Callable[[Plan], int] = reserved_stack,
) -> tuple[Plan, int]:
    """The fastest plan with ``arena + stack_of(plan) <= ram_bytes`` and its stack bytes."""
    if ram_bytes < 1:
        raise LenetcError(f"RAM budget must be a positive number of bytes, got {ram_bytes}")
    smallest: tuple[int, int, int, str] | None = None
    name = ""
    # The family's own kernels first (faster), then the portable ones, which every target runs
    # too and which can need less memory (no packed scratch): every kernel the target can run.
    dialects = list(dict.fromkeys([get_dialect(dialect).name, PORTABLE.name]))
    for d in dialects:
        for plan in candidate_plans(model, prefix, d):
            name = f"{plan.net.name} ({plan.dtype})"
            stack = stack_of(plan)
            need = plan.arena_bytes + stack
            if need <= ram_bytes:
                return plan, stack
            if smallest is None or need < smallest[0]:
                smallest = (need, plan.arena_bytes, stack, d)
    assert smallest is not None
    need, arena, stack, best = smallest
    raise LenetcError(
        f"{name} does not fit {ram_bytes:,} bytes of RAM: the smallest plan needs {need:,} "
        f"(arena {arena:,} + stack {stack:,}, {best} kernels; {' and '.join(dialects)} kernels counted); "
        f"use --ram-bytes {need} or more"
    )
