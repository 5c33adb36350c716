"""The boards a firmware bundle is built for (:data:`TARGETS`, one entry per board), apart
from the CPU families' dialects (``lenetc/families``), each of which a board holds.

A board says which compiler builds it, with which CPU flags, where its memories are, its
start-up code and linker-script templates, how to run the result (natively, under
``qemu-aarch64``/``qemu-riscv64``, or bare-metal under ``qemu-system-arm``/``qemu-system-riscv32``
with semihosting for output and exit status), which instruction counter its firmware reads
(SysTick on Cortex-M, ``minstret`` on RISC-V, none) and the system packages that provide its
tools (``.ci/run`` installs :func:`apt_packages`). A new board is one entry in :data:`TARGETS`.

Board and dialect names never collide (checked when this module loads), so ``--target`` takes
either by one rule: a dialect name is that dialect, a board name that board's dialect.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace

from ..errors import LenetcError
from ..families import DIALECTS, PORTABLE
from ..variants import Dialect

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
#: picolibc writes its semihosting console with SYS_WRITEC/SYS_WRITE0, which QEMU sends to its
#: stderr unless the console is a character device: this one is QEMU's stdout.
SEMIHOSTING_STDOUT = (
    "-chardev", "stdio,id=semihost0", "-semihosting-config", "enable=on,target=native,chardev=semihost0",
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
    ``1e9 / systick_hz`` instructions. ``dialect`` is the code generator's dialect for this CPU
    (a :mod:`lenetc.families` object: ``cortex-m-dsp`` for the M4/M7/M33, ``cortex-m-mve`` for
    the M55, ``neon`` for Arm64, ``riscv-v`` with the vector unit, else portable); the example's
    host build is portable (the Python build, :func:`lenetc.compile`, detects the host's
    dialect instead).
    """

    name: str
    kind: str
    description: str
    cc: str
    dialect: Dialect = PORTABLE
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
    clang_toolchain: str = ""  # the toolchain file that compiles with clang instead, where one differs
    #: The instruction counter the example reads around each inference: ``systick`` (Cortex-M,
    #: counts down, ``systick_hz``), ``minstret`` (RISC-V machine mode, counts up, one per
    #: instruction under ``-icount shift=0``) or "" (none).
    counter: str = ""
    #: The system emulator of a bare-metal target and its machine arguments after ``-M board``.
    qemu: str = "qemu-system-arm"
    qemu_args: tuple[str, ...] = ()
    #: The example's start-up file and linker-script template ("" when the C library's own do).
    startup: str = ""
    link_template: str = ""
    #: RISC-V vector length in bits the emulator gives by default (0: no vector unit); the
    #: generated code is vector-length agnostic, so ``run_command(vlen=...)`` may change it.
    vlen: int = 0
    #: The compiler writes GCC's ``-fcallgraph-info=su`` call graph (``lenetc size`` then bounds
    #: the stack over the call tree; otherwise from ``-fstack-usage`` frames alone).
    callgraph_info: bool = True

    @property
    def cflags(self) -> tuple[str, ...]:
        return (*COMMON_CFLAGS, *self.cpu_flags)

    @property
    def tools(self) -> tuple[str, ...]:
        """Programs this target needs on PATH to build and run."""
        runner = self.emulator[:1] if self.kind == "linux" else ((self.qemu,) if self.kind == "baremetal" else ())
        linker = tuple(f[len("--ld-path=") :] for f in self.ldflags if f.startswith("--ld-path="))
        return (self.cc, *linker, *runner)

    @property
    def link_options(self) -> tuple[str, ...]:
        """``ldflags`` without the library group (CMake puts link options before the objects)."""
        group = "-Wl,--start-group"
        return self.ldflags[: self.ldflags.index(group)] if group in self.ldflags else self.ldflags

    @property
    def link_libraries(self) -> tuple[str, ...]:
        """The library group of ``ldflags`` and what follows it (after the objects)."""
        return self.ldflags[len(self.link_options) :]

    def missing_tools(self) -> list[str]:
        return [tool for tool in self.tools if shutil.which(tool) is None]

    def run_command(self, exe: str, icount: bool = False, vlen: int | str | None = None) -> list[str]:
        """The command that runs the built program ``exe`` and prints its output; ``vlen``
        replaces the emulated vector length of a RISC-V vector target."""
        v = str(vlen or self.vlen)
        if self.kind == "host":
            return [exe]
        if self.kind == "linux":
            return [*(a.replace("{vlen}", v) for a in self.emulator), exe]
        extra = ["-icount", "shift=0"] if icount else []
        machine = [a.replace("{vlen}", v) for a in self.qemu_args]
        console = QEMU_SYSTEM_ARGS if self.qemu == "qemu-system-arm" else (*QEMU_SYSTEM_ARGS[:6], *SEMIHOSTING_STDOUT)
        return [self.qemu, "-M", self.board, *machine, *extra, *console, "-kernel", exe]

    def with_vlen(self, vlen: int) -> Target:
        """This target with the emulator giving a vector length of ``vlen`` bits."""
        if not self.vlen:
            raise LenetcError(f"target '{self.name}' has no vector unit")
        if vlen < 128 or vlen & (vlen - 1):
            raise LenetcError(f"VLEN {vlen}: the RISC-V vector targets need a power of two >= 128")
        return replace(self, vlen=vlen)

    def probe_flags(self, prefix: str) -> str:
        """The compiler flags that point the model's per-op probe at this target's counter."""
        if self.counter == "minstret":
            return f"-D{prefix}_PROBE_MINSTRET"
        if self.counter == "systick":
            return f"-D{prefix}_PROBE_COUNTER=0xE000E018u"
        raise LenetcError(f"target '{self.name}' has no deterministic instruction counter")

    def instructions_per_tick(self) -> float:
        if self.counter == "minstret":
            return 1.0
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
        clang_toolchain="arm-none-eabi-clang.cmake",
        counter="systick",
        startup="startup.c",
        link_template="firmware/link.ld.j2",
        **kw,
    )


#: Debian's picolibc for RISC-V (one library per ISA/ABI) and GCC's libgcc beside it: clang-19
#: compiles (RVV 1.0 intrinsics; GCC 12 has none) and drives GNU ld (lld-19 cannot read
#: picolibc's scripts; the example brings its own).
PICOLIBC = "/usr/lib/picolibc/riscv64-unknown-elf"
RISCV_LIBGCC = "/usr/lib/gcc/riscv64-unknown-elf/12.2.0"
_RISCV_PACKAGES = ("clang-19", "lld-19", "gcc-riscv64-unknown-elf", "picolibc-riscv64-unknown-elf")


def _riscv_flags(triple: str, march: str, mabi: str) -> tuple[str, ...]:
    return (f"--target={triple}", f"-march={march}", f"-mabi={mabi}", "-mcmodel=medany", "-isystem",
            f"{PICOLIBC}/include", "-ffunction-sections", "-fdata-sections")  # fmt: skip


def _riscv_ld(multilib: str, emulation: str, libs: tuple[str, ...]) -> tuple[str, ...]:
    return ("-nostdlib", "--ld-path=/usr/bin/riscv64-unknown-elf-ld", f"-Wl,-m{emulation}",
            f"-L{PICOLIBC}/lib/{multilib}", f"-L{RISCV_LIBGCC}/{multilib}".rstrip("/."), "-Wl,--start-group",
            *(f"-l{x}" for x in libs), "-lgcc", "-Wl,--end-group", "-Wl,--gc-sections")  # fmt: skip


#: QEMU virt: with -bios none it starts at 0x80000000 (the start-up code is put first);
#: 8 MiB of its RAM as "flash" (code, weights), the next 8 MiB as data.
_VIRT_FLASH = Memory(0x80000000, 8 * 1024 * 1024)
_VIRT_RAM = Memory(0x80800000, 8 * 1024 * 1024)


def _riscv32(name: str, desc: str, march: str, mabi: str, multilib: str, cpu: str, **kw) -> Target:
    return Target(
        name=name,
        kind="baremetal",
        description=desc,
        cc="clang-19",
        cpu_flags=_riscv_flags("riscv32-unknown-elf", march, mabi),
        ldflags=_riscv_ld(multilib, "elf32lriscv", ("c", "m", "semihost")),
        packages=(*_RISCV_PACKAGES, "qemu-system-misc"),
        board="virt",
        qemu="qemu-system-riscv32",
        qemu_args=("-cpu", cpu, "-bios", "none"),
        flash=_VIRT_FLASH,
        ram=_VIRT_RAM,
        size_tool="riscv64-unknown-elf-size",
        toolchain="riscv-clang.cmake",
        counter="minstret",
        startup="startup_riscv.c",
        link_template="firmware/link_riscv.ld.j2",
        callgraph_info=False,
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
            flash=_MPS2_FLASH, ram=_MPS2_RAM, systick_hz=25_000_000, dialect=DIALECTS["cortex-m-dsp"],
        ),
        _cortex_m(
            "cortex-m7", "Cortex-M7, MPS2 AN500", "mps2-an500",
            ("-mcpu=cortex-m7", "-mfloat-abi=hard", "-mfpu=fpv5-d16"),
            flash=_MPS2_FLASH, ram=_MPS2_RAM, systick_hz=25_000_000, dialect=DIALECTS["cortex-m-dsp"],
        ),
        _cortex_m(
            "cortex-m55", "Cortex-M55 with MVE, MPS3 AN547", "mps3-an547",
            ("-mcpu=cortex-m55", "-mfloat-abi=hard"),
            # QEMU's AN547 boots from the 512 KiB ITCM at 0; code and weights go to the
            # 2 MiB SRAM (big enough for the Caffe LeNet's float32 weights), data to the DTCM.
            boot=Memory(0x00000000, 1024), flash=Memory(0x01000000, 2 * 1024 * 1024),
            ram=Memory(0x20000000, 512 * 1024), systick_hz=32_000_000, dialect=DIALECTS["cortex-m-mve"],
        ),
        _cortex_m(
            "cortex-m33", "Cortex-M33 with DSP (Armv8-M Mainline), MPS2 AN505", "mps2-an505",
            ("-mcpu=cortex-m33", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"),
            # The AN505's M33 boots in the Secure state from the Secure VTOR at 0x10000000: the
            # IoTKit's Secure alias of the 4 MiB SSRAM1 (code, weights). Data goes to the Secure
            # alias of SSRAM2/3 (2 x 2 MiB, contiguous at 0x28000000, Secure at 0x38000000). The
            # memory protection controllers reset to all-Secure, so no SAU/MPC set-up is needed.
            flash=Memory(0x10000000, 4 * 1024 * 1024), ram=Memory(0x38000000, 4 * 1024 * 1024),
            systick_hz=20_000_000, dialect=DIALECTS["cortex-m-dsp"],
        ),
        _cortex_m(
            "cortex-m3", "Cortex-M3 without FPU (soft float), MPS2 AN385", "mps2-an385",
            ("-mcpu=cortex-m3", "-mfloat-abi=soft"),
            flash=_MPS2_FLASH, ram=_MPS2_RAM, systick_hz=25_000_000, has_fpu=False,
        ),
        _cortex_m(
            # ARMv6-M (RP2040, STM32G0, nRF51 class): 16 KiB of RAM, so a small stack and heap
            # (newlib-nano's printf buffers); SysTick runs at the nRF51's 16 MHz system clock
            "cortex-m0", "Cortex-M0, BBC micro:bit (nRF51, 256 KiB flash, 16 KiB RAM)", "microbit",
            ("-mcpu=cortex-m0", "-mfloat-abi=soft"),
            flash=Memory(0x00000000, 256 * 1024), ram=Memory(0x20000000, 16 * 1024), systick_hz=16_000_000,
            has_fpu=False, stack_bytes=3 * 1024, heap_bytes=2 * 1024, dialect=DIALECTS["scalar-mcu"],
        ),
        Target(
            "aarch64-linux", "linux", "Arm64 Linux, static binary under qemu-aarch64",
            cc="aarch64-linux-gnu-gcc", ldflags=("-static", "-lm"),
            packages=("gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross", "qemu-user"),
            emulator=("qemu-aarch64",), size_tool="aarch64-linux-gnu-size", dialect=DIALECTS["neon"],
            toolchain="aarch64-linux-gnu.cmake",
        ),
        _riscv32(
            "riscv32", "RV32IMC microcontroller (ESP32-C3 class), QEMU virt", "rv32imc", "ilp32", "rv32im/ilp32",
            "rv32,f=false,d=false,a=false,v=false", has_fpu=False, dialect=DIALECTS["scalar-mcu"],
        ),
        _riscv32(
            "riscv32-v", "RV32 with F and RVV (Zve32f, VLEN >= 128), QEMU virt",
            "rv32imafc_zve32f_zvl128b", "ilp32f", "rv32imafc/ilp32f",
            "rv32,v=true,vlen={vlen},elen=32,vext_spec=v1.0", vlen=128, dialect=DIALECTS["riscv-v"],
        ),
        Target(
            "riscv64-linux", "linux", "RV64GCV Linux user mode under qemu-riscv64 (static, picolibc)",
            cc="clang-19", cpu_flags=_riscv_flags("riscv64-unknown-elf", "rv64gcv", "lp64d"),
            ldflags=("-static", "-T", "link_riscv64-linux.ld",
                     *_riscv_ld("", "elf64lriscv", ("c", "m"))),
            packages=(*_RISCV_PACKAGES, "qemu-user"),
            emulator=("qemu-riscv64", "-cpu", "rv64,v=true,vlen={vlen},vext_spec=v1.0"), vlen=128,
            size_tool="riscv64-unknown-elf-size", dialect=DIALECTS["riscv-v"], toolchain="riscv-clang.cmake",
            startup="startup_riscv_linux.c", link_template="firmware/link_riscv_linux.ld.j2",
            callgraph_info=False,
        ),
    )
}  # fmt: skip

_CLASH = set(TARGETS) & set(DIALECTS)
if _CLASH:  # --target's one rule (a dialect name, else a board's dialect) needs distinct names
    raise AssertionError(f"board and dialect names collide: {sorted(_CLASH)}")

#: Bare-metal targets in the order the docs and tests list them.
BAREMETAL = tuple(name for name, t in TARGETS.items() if t.kind == "baremetal")
#: Targets whose example brings its own linker script (link_<name>.ld).
LINKED = tuple(name for name, t in TARGETS.items() if t.link_template)


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
