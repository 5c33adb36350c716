"""The host's single-core FMA peak, measured by a small C microbenchmark compiled in this run.

``fma_peak()`` compiles (``cc -O2 -march=native``) and runs a loop of 12 independent chains of
vector FMAs per width the compiler enables (AVX2 256-bit, AVX-512 512-bit), timed with the
thread's CPU clock, and returns {width: GFMA/s} (one FMA = one multiply-add on one float lane).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

_SOURCE = r"""
#define _POSIX_C_SOURCE 199309L
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define CHAINS 12
#define ITERS 20000000L
/* twelve named accumulators (an array would be kept in memory), each one FMA chain */
#define EACH(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define PEAK(NAME, T, PFX, C, LANES, REDUCE)                                                   \
    static double NAME(void)                                                                   \
    {                                                                                          \
        EACH(DECL_##PFX)                                                                       \
        const T b = PFX##_set1_ps(0.999999f), c = PFX##_set1_ps(1e-7f);                        \
        T s = PFX##_setzero_ps();                                                              \
        long i;                                                                                \
        double t = now();                                                                      \
        for (i = 0; i < ITERS; ++i) {                                                          \
            EACH(STEP_##PFX)                                                                   \
            __asm__ volatile("" : "+" C(a0), "+" C(a1), "+" C(a2), "+" C(a3), "+" C(a4), "+" C(a5)); \
            __asm__ volatile("" : "+" C(a6), "+" C(a7), "+" C(a8), "+" C(a9), "+" C(a10), "+" C(a11)); \
        }                                                                                      \
        t = now() - t;                                                                         \
        EACH(SUM_##PFX)                                                                        \
        if (REDUCE(s) == 12345.0f) puts("");                                                   \
        return (double)ITERS * CHAINS * LANES / t / 1e9;                                       \
    }
#define DECL__mm256(k) __m256 a##k = _mm256_set1_ps((float)k);
#define STEP__mm256(k) a##k = _mm256_fmadd_ps(a##k, b, c);
#define SUM__mm256(k) s = _mm256_add_ps(s, a##k);
PEAK(avx2, __m256, _mm256, "x", 8, _mm256_cvtss_f32)
#ifdef __AVX512F__
#define DECL__mm512(k) __m512 a##k = _mm512_set1_ps((float)k);
#define STEP__mm512(k) a##k = _mm512_fmadd_ps(a##k, b, c);
#define SUM__mm512(k) s = _mm512_add_ps(s, a##k);
PEAK(avx512, __m512, _mm512, "v", 16, _mm512_reduce_add_ps)
#endif

int main(void)
{
    printf("avx2 %f\n", avx2());
#ifdef __AVX512F__
    printf("avx512 %f\n", avx512());
#endif
    return 0;
}
"""


def fma_peak(cc: str | None = None) -> dict[str, float]:
    """GFMA/s per core for each vector width the host compiler enables ({} when it cannot build)."""
    cc = cc or os.environ.get("CC", "cc")
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = Path(tmp) / "peak.c", Path(tmp) / "peak"
        src.write_text(_SOURCE)
        built = subprocess.run([cc, "-O2", "-march=native", str(src), "-o", str(exe)], capture_output=True, text=True)
        if built.returncode != 0:
            return {}
        out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120).stdout
    return {name: float(v) for name, v in (line.split() for line in out.splitlines() if line.strip())}


def cpu_vector_features() -> str:
    """The vector features of this CPU that matter here, from /proc/cpuinfo."""
    wanted = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512fp16")
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags, model = set(), ""
    for line in text.splitlines():
        if line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
        elif line.startswith("model name") and not model:
            model = line.split(":", 1)[1].strip()
    return f"{model}: {' '.join(f for f in wanted if f in flags)}"


if __name__ == "__main__":
    print(cpu_vector_features())
    print(fma_peak())
