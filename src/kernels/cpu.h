/* Instruction-set detection. Optimised kernels exist per ISA; the context picks the best one the
 * CPU supports once, at creation (or the one its options force, for tests and benchmarks). */
#ifndef GN_CPU_H
#define GN_CPU_H

#include <stddef.h>

typedef enum gn_isa {
    GN_ISA_PORTABLE = 0, /* plain C, any CPU                                 */
    GN_ISA_AVX2,         /* x86-64 AVX2 + FMA                                */
    GN_ISA_AVX512,       /* x86-64 AVX-512 F/BW/DQ/VL + FMA                  */
    GN_ISA_NEON,         /* aarch64 Advanced SIMD                            */
    GN_ISA_COUNT
} gn_isa;

/* The best ISA this CPU and OS support (checks XSAVE state for the vector registers). */
gn_isa gn_cpu_detect(void);
const char *gn_isa_name(gn_isa isa);
/* Parses "portable", "avx2", "avx512", "neon"; returns 0 on success. */
int gn_isa_parse(const char *name, gn_isa *out);

/* Asks for the cache lines of count floats at p ahead of a pass that reads them (a hint: no
 * effect on results; nothing on compilers without the builtin). */
static inline void gn_prefetch_floats(const float *p, ptrdiff_t count)
{
#if defined(__GNUC__) || defined(__clang__)
    for (ptrdiff_t i = 0; i < count; i += 16)
        __builtin_prefetch(p + i);
#else
    (void)p;
    (void)count;
#endif
}

#endif
