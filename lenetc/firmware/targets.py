"""The machines a firmware bundle is built for: one object per target describing its dialect.

A target says which compiler builds it, with which CPU flags, where its memories are and
how to run the result (natively, under ``qemu-aarch64``, or bare-metal under
``qemu-system-arm`` with semihosting for output and exit status).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from ..errors import LenetcError

#: Flags every build of the example uses. ``-ffp-contract=off`` forbids fused multiply-adds,
#: which round once instead of twice and so change float bits on FMA hardware
#: (Cortex-M4F/M7/M55, Arm64); without them float32 outputs are bit-identical everywhere.
COMMON_CFLAGS = ("-std=c99", "-O2", "-ffp-contract=off")
#: The project's strict warning set; the tests add -Werror.
WARN_CFLAGS = ("-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion")
#: The semihosting console of QEMU: no display, no serial, no monitor, stdin closed.
QEMU_SYSTEM_ARGS = (
    "-display", "none", "-serial", "null", "-monitor", "none",
    "-semihosting-config", "enable=on,target=native",
)  # fmt: skip


@dataclass(frozen=True)
class Memory:
    """A memory region of a board: where it starts and how many bytes it has."""

    origin: int
    length: int


@dataclass(frozen=True)
class Target:
    """One machine the example firmware builds for.

    ``kind`` is ``host`` (the machine running lenetc), ``linux`` (a Linux user-mode binary,
    run under ``emulator``) or ``baremetal`` (a Cortex-M board image run under
    ``qemu-system-arm -M board``). ``flash``/``ram`` are the board's memories the linker
    script fills; ``boot`` is where the vector table must sit when it is not the start of
    ``flash`` (the AN547's 512 KiB ITCM at address 0). ``systick_hz`` is the SysTick clock:
    with ``-icount shift=0`` one guest instruction takes 1 ns, so one tick is
    ``1e9 / systick_hz`` instructions. ``dialect`` names the code generator's dialect for
    this CPU (:mod:`lenetc.families`): ``portable``, ``cortex-m-dsp`` (SMLAD, M4/M7/M33),
    ``cortex-m-mve`` (Helium, M55) or ``neon`` (Arm64); the example's host build is portable
    (the Python build, :func:`lenetc.compile`, detects the host's dialect instead).
    """

    name: str
    kind: str
    description: str
    cc: str
    dialect: str = "portable"
    cpu_flags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    board: str = ""
    emulator: tuple[str, ...] = ()
    flash: Memory | None = None
    ram: Memory | None = None
    boot: Memory | None = None
    stack_bytes: int = 16 * 1024
    heap_bytes: int = 8 * 1024
    systick_hz: int = 0
    has_fpu: bool = True
    size_tool: str = "size"
    toolchain: str = ""  # the example's CMake toolchain file for a cross target

    @property
    def cflags(self) -> tuple[str, ...]:
        return (*COMMON_CFLAGS, *self.cpu_flags)

    @property
    def tools(self) -> tuple[str, ...]:
        """Programs this target needs on PATH to build and run."""
        runner = (
            self.emulator[:1] if self.kind == "linux" else (("qemu-system-arm",) if self.kind == "baremetal" else ())
        )
        return (self.cc, *runner)

    def missing_tools(self) -> list[str]:
        return [tool for tool in self.tools if shutil.which(tool) is None]

    def run_command(self, exe: str, icount: bool = False) -> list[str]:
        """The command that runs the built program ``exe`` and prints its output."""
        if self.kind == "host":
            return [exe]
        if self.kind == "linux":
            return [*self.emulator, exe]
        extra = ["-icount", "shift=0"] if icount else []
        return ["qemu-system-arm", "-M", self.board, *extra, *QEMU_SYSTEM_ARGS, "-kernel", exe]

    def instructions_per_tick(self) -> float:
        if not self.systick_hz:
            raise LenetcError(f"target '{self.name}' has no deterministic instruction counter")
        return 1e9 / self.systick_hz


_ARM_LD = ("--specs=nano.specs", "--specs=rdimon.specs", "-nostartfiles", "-Wl,--gc-sections")
_ARM_PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "qemu-system-arm")
_MPS2_FLASH = Memory(0x00000000, 4 * 1024 * 1024)  # ZBT SSRAM1, the code memory
_MPS2_RAM = Memory(0x20000000, 4 * 1024 * 1024)  # ZBT SSRAM2/3


def _cortex_m(name: str, desc: str, board: str, cpu: tuple[str, ...], **kw) -> Target:
    return Target(
        name=name,
        kind="baremetal",
        description=desc,
        cc="arm-none-eabi-gcc",
        cpu_flags=("-mthumb", *cpu, "-ffunction-sections", "-fdata-sections"),
        ldflags=_ARM_LD,
        packages=_ARM_PACKAGES,
        board=board,
        size_tool="arm-none-eabi-size",
        toolchain="arm-none-eabi.cmake",
        **kw,
    )


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "host", "host", "this machine, native compiler",
            cc="cc", ldflags=("-lm",), packages=("gcc",),
        ),
        _cortex_m(
            "cortex-m4", "Cortex-M4F, MPS2 AN386", "mps2-an386",
            ("-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
            flash=_MPS2_FLASH, ram=_MPS2_RAM, systick_hz=25_000_000, dialect="cortex-m-dsp",
        ),
        _cortex_m(
            "cortex-m7", "Cortex-M7, MPS2 AN500", "mps2-an500",
            ("-mcpu=cortex-m7", "-mfloat-abi=hard", "-mfpu=fpv5-d16"),
            flash=_MPS2_FLASH, ram=_MPS2_RAM, systick_hz=25_000_000, dialect="cortex-m-dsp",
        ),
        _cortex_m(
            "cortex-m55", "Cortex-M55 with MVE, MPS3 AN547", "mps3-an547",
            ("-mcpu=cortex-m55", "-mfloat-abi=hard"),
            # QEMU's AN547 boots from the 512 KiB ITCM at 0; code and weights go to the
            # 2 MiB SRAM (big enough for the Caffe LeNet's float32 weights), data to the DTCM.
            boot=Memory(0x00000000, 1024), flash=Memory(0x01000000, 2 * 1024 * 1024),
            ram=Memory(0x20000000, 512 * 1024), systick_hz=32_000_000, dialect="cortex-m-mve",
        ),
        _cortex_m(
            "cortex-m33", "Cortex-M33 with DSP (Armv8-M Mainline), MPS2 AN505", "mps2-an505",
            ("-mcpu=cortex-m33", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"),
            # The AN505's M33 boots in the Secure state from the Secure VTOR at 0x10000000: the
            # IoTKit's Secure alias of the 4 MiB SSRAM1 (code, weights). Data goes to the Secure
            # alias of SSRAM2/3 (2 x 2 MiB, contiguous at 0x28000000, Secure at 0x38000000). The
            # memory protection controllers reset to all-Secure, so no SAU/MPC set-up is needed.
            flash=Memory(0x10000000, 4 * 1024 * 1024), ram=Memory(0x38000000, 4 * 1024 * 1024),
            systick_hz=20_000_000, dialect="cortex-m-dsp",
        ),
        _cortex_m(
            "cortex-m3", "Cortex-M3 without FPU (soft float), MPS2 AN385", "mps2-an385",
            ("-mcpu=cortex-m3", "-mfloat-abi=soft"),
            flash=_MPS2_FLASH, ram=_MPS2_RAM, systick_hz=25_000_000, has_fpu=False,
        ),
        Target(
            "aarch64-linux", "linux", "Arm64 Linux, static binary under qemu-aarch64",
            cc="aarch64-linux-gnu-gcc", ldflags=("-static", "-lm"),
            packages=("gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross", "qemu-user"),
            emulator=("qemu-aarch64",), size_tool="aarch64-linux-gnu-size", dialect="neon",
            toolchain="aarch64-linux-gnu.cmake",
        ),
    )
}  # fmt: skip

#: Bare-metal targets in the order the docs and tests list them.
BAREMETAL = tuple(name for name, t in TARGETS.items() if t.kind == "baremetal")


def get_target(name: str) -> Target:
    """The target called ``name``; a :class:`LenetcError` listing the known ones otherwise."""
    try:
        return TARGETS[name]
    except KeyError:
        raise LenetcError(f"unknown target '{name}' (known: {', '.join(TARGETS)})") from None


def apt_packages() -> list[str]:
    """The Debian packages that provide every cross target's tools."""
    seen: dict[str, None] = {}
    for t in TARGETS.values():
        if t.kind != "host":
            seen.update(dict.fromkeys(t.packages))
    return list(seen)
