/* Picks the plane kernels for an ISA (the context's, chosen once from CPUID). */
#include "kernels/plane/plane.h"

extern const gn_plane_kernels gn_plane_kernels_portable;
#if defined(GN_X86_KERNELS)
extern const gn_plane_kernels gn_plane_kernels_avx2;
extern const gn_plane_kernels gn_plane_kernels_avx512;
#endif
#if defined(__aarch64__)
extern const gn_plane_kernels gn_plane_kernels_neon;
#endif

const gn_plane_kernels *gn_plane_kernels_for(gn_isa isa)
{
#if defined(GN_X86_KERNELS)
    if (isa == GN_ISA_AVX512)
        return &gn_plane_kernels_avx512;
    if (isa == GN_ISA_AVX2)
        return &gn_plane_kernels_avx2;
#endif
#if defined(__aarch64__)
    if (isa == GN_ISA_NEON)
        return &gn_plane_kernels_neon;
#endif
    (void)isa;
    return &gn_plane_kernels_portable;
}
