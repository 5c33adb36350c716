/* Counts the instructions one inference retires (PMU INST_RETIRED, exact under -icount shift=0),
 * in total and per op through the model's probe hook, and prints them with the output checksum
 * over semihosting. The model (m.c) and its input (input.h) are written by arm64_icount.py. */
#include <stddef.h>
#include <stdint.h>

static uint64_t lenetc_bench_inst(void)
{
    uint64_t v;
    __asm__ volatile("isb\n\tmrs %0, pmevcntr0_el0" : "=r"(v));
    return v;
}
uint64_t m_probe_inst[64];
#define M_PROBE(i) (m_probe_inst[i] = lenetc_bench_inst())

/* the C library routines the compiler may call; the attribute keeps GCC from turning these
 * loops back into calls of themselves */
#define LENETC_NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))
void *memcpy(void *d, const void *s, size_t n) LENETC_NO_LIBCALL;
void *memset(void *d, int c, size_t n) LENETC_NO_LIBCALL;
void *memmove(void *d, const void *s, size_t n) LENETC_NO_LIBCALL;
void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *a = d;
    const unsigned char *b = s;
    while (n--) {
        *a++ = *b++;
    }
    return d;
}
void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *a = d;
    const unsigned char *b = s;
    if (a < b) {
        while (n--) {
            *a++ = *b++;
        }
    } else {
        while (n--) {
            a[n] = b[n];
        }
    }
    return d;
}
void *memset(void *d, int c, size_t n)
{
    unsigned char *a = d;
    while (n--) {
        *a++ = (unsigned char)c;
    }
    return d;
}

#include "m.c"
#include "input.h"

static void put(const char *s)
{
    register uint64_t w0 __asm__("w0") = 4;
    register const char *x1 __asm__("x1") = s;
    __asm__ volatile("hlt #0xf000" : "+r"(w0) : "r"(x1) : "memory");
}
static void put_u64(uint64_t v)
{
    char buf[24];
    int i = 22;
    buf[23] = 0;
    do {
        buf[i--] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    put(buf + i + 1);
}

static unsigned char ws[M_ARENA_BYTES + 64] __attribute__((aligned(64)));

int main(void)
{
    static OUT_T out[M_OUTPUT_SIZE];
    uint64_t t0, t1, sum = 1469598103934665603u;
    const unsigned char *bytes = (const unsigned char *)out;
    size_t i;
    int k;
    /* one warm-up run, then the measured one (the count does not depend on caches) */
    m_run_ws(bench_input, out, ws);
    t0 = lenetc_bench_inst();
    k = m_run_ws(bench_input, out, ws);
    t1 = lenetc_bench_inst();
    for (i = 0; i < sizeof out; ++i) {
        sum = (sum ^ bytes[i]) * 1099511628211u;
    }
    put("total ");
    put_u64(t1 - t0);
    put("\nops");
    for (i = 1; i <= M_OPS; ++i) {
        put(" ");
        put_u64(m_probe_inst[i] - m_probe_inst[i - 1]);
    }
    put("\nchecksum ");
    put_u64(sum);
    put("\n");
    return k;
}
