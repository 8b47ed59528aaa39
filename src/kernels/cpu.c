/* CPU feature detection through CPUID and XGETBV (x86-64) or the build target (aarch64). */
#include "kernels/cpu.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

static unsigned long long read_xcr0(void)
{
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

gn_isa gn_cpu_detect(void)
{
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return GN_ISA_PORTABLE;
    int osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, fma = (ecx >> 12) & 1;
    if (!osxsave || !avx || !fma)
        return GN_ISA_PORTABLE;
    unsigned long long xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) /* the OS saves XMM and YMM state */
        return GN_ISA_PORTABLE;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
        return GN_ISA_PORTABLE;
    int avx2 = (ebx >> 5) & 1;
    int avx512 = ((ebx >> 16) & 1) && ((ebx >> 17) & 1) && ((ebx >> 30) & 1) && ((ebx >> 31) & 1);
    if (avx512 && (xcr0 & 0xe6) == 0xe6) /* and opmask + ZMM state */
        return GN_ISA_AVX512;
    return avx2 ? GN_ISA_AVX2 : GN_ISA_PORTABLE;
}
#elif defined(__aarch64__)
gn_isa gn_cpu_detect(void)
{
    return GN_ISA_NEON; /* Advanced SIMD is part of every aarch64 CPU */
}
#else
gn_isa gn_cpu_detect(void)
{
    return GN_ISA_PORTABLE;
}
#endif

static const char *const isa_names[GN_ISA_COUNT] = {"portable", "avx2", "avx512", "neon"};

const char *gn_isa_name(gn_isa isa)
{
    return (unsigned)isa < GN_ISA_COUNT ? isa_names[isa] : "unknown";
}

int gn_isa_parse(const char *name, gn_isa *out)
{
    for (int i = 0; i < GN_ISA_COUNT; i++)
        if (strcmp(name, isa_names[i]) == 0) {
            *out = (gn_isa)i;
            return 0;
        }
    return -1;
}
