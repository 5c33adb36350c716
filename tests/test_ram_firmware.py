"""A model planned for a RAM budget (issue 14) runs bit-exact under QEMU (M4 and M55), and the
painted-stack high-water mark of the inference stays within the reported stack bound."""

from __future__ import annotations

import pytest
from firmware_helpers import load, need_target
from int8_helpers import calibration_digits

from lenetc import quant
from lenetc.codegen.budget import STACK_RESERVE
from lenetc.firmware import make_example, output_checksum, write_example
from lenetc.firmware.bundle import EXAMPLE_RAM_BYTES, EXAMPLE_STACK_BYTES
from lenetc.firmware.digits import synthetic_digits
from lenetc.firmware.run import build_and_run
from lenetc.firmware.size import measure

#: (model, budget): the issue's goals
BUDGETS = [("lenet5", 3072), ("lenet-keras", 8192), ("lenet-caffe", 6144)]


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
@pytest.mark.parametrize("model, budget", BUDGETS)
def test_budget_plan_runs_bit_exact_with_stack_within_bound(tmp_path, model, budget, target):
    need_target(target)
    qnet = quant.quantize(load(model), calibration_digits(48))
    digits = synthetic_digits(3, seed=13)
    bundle = write_example(qnet, tmp_path, digits=digits, target=target, ram_bytes=budget)
    mem = bundle.memory
    assert mem.ram_budget == budget and mem.arena_bytes + mem.stack_bytes <= budget
    assert f"{mem.stack_bytes + EXAMPLE_STACK_BYTES};" in (tmp_path / f"link_{target}.ld").read_text()
    report = measure(bundle.generated, target)
    # the static arena (bss; aligned by hand beyond 4 bytes) and the stack bound the plan was chosen with
    assert mem.arena_bytes <= report.bss < mem.arena_bytes + bundle.plan.dialect.align
    assert report.stack == mem.stack_bytes <= STACK_RESERVE
    # it links into a RAM region of the budget plus the example's own needs, and runs there
    result = build_and_run(bundle, target, make_vars={"RAM_LENGTH": budget + EXAMPLE_RAM_BYTES})
    assert result.ok, result.stdout
    want = quant.forward_int8(qnet, make_example(bundle.plan, digits).inputs)
    assert [[int(v) for v in row] for row in result.outputs] == want.reshape(len(want), -1).tolist()
    assert result.checksum == output_checksum(want)
    # painted stack of the inference (preprocess + run, below main's frame) within the bound
    assert result.stack_bytes is not None and 0 < result.stack_bytes <= mem.stack_bytes


def test_budget_bundle_does_not_link_into_less(tmp_path):
    """The region check is real: the same bundle refuses to link into the budget alone."""
    need_target("cortex-m4")
    qnet = quant.quantize(load("lenet5"), calibration_digits(48))
    bundle = write_example(qnet, tmp_path, digits=synthetic_digits(1), target="cortex-m4", ram_bytes=3072)
    with pytest.raises(Exception, match=r"RAM' overflowed|RAM too small"):
        build_and_run(bundle, "cortex-m4", make_vars={"RAM_LENGTH": 3072})
