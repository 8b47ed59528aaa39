/* The plane kernels, written once over the vector operations of kernels/infer/vec.h; each
 * plane_<isa>.c defines GN_SIMD_LEVEL and GN_PLANE_TABLE and includes this file. Lane-wise
 * operations in the order plane.h states, so every ISA gives the same bits. */
#include "kernels/infer/vec.h"
#include "kernels/plane/plane.h"

#define GN_PLANE_LANES 16 /* lanes of the float sums, for every ISA */
#define GN_PLANE_VECS (GN_PLANE_LANES / GN_VL)

/* Adds the tail's sums (x and y: its tail floats, in double) and the 16 lanes' sums to the
 * totals. */
GN_INLINE void plane_total(const gn_vf *sx, const gn_vf *sxy, const float *x, const float *y,
                           size_t tail, double *sum_x, double *sum_xy)
{
    double tx = 0.0, txy = 0.0;
    for (size_t i = 0; i < tail; i++) {
        tx += x[i];
        txy += (double)x[i] * y[i];
    }
    float lx[GN_PLANE_LANES], lxy[GN_PLANE_LANES];
    for (int v = 0; v < GN_PLANE_VECS; v++) {
        gn_vstore(lx + v * GN_VL, sx[v]);
        gn_vstore(lxy + v * GN_VL, sxy[v]);
    }
    for (int l = 0; l < GN_PLANE_LANES; l++) {
        tx += lx[l];
        txy += lxy[l];
    }
    *sum_x += tx;
    *sum_xy += txy;
}

/* What a fused ReLU passes back: g where x * scale + shift > 0 (affine's value before its
 * floor: a multiply, then an add), else 0. */
GN_INLINE gn_vf relu_pass(gn_vf x, gn_vf g, gn_vf vs, gn_vf vb)
{
    return gn_vkeep_positive(gn_vadd(gn_vmul(x, vs), vb), g);
}

/* sums(a, b); with relu, of a passed through relu_pass with b as the x. */
GN_INLINE void sums_body(const float *a, const float *b, size_t count, int relu, float scale,
                         float shift, double *sum_a, double *sum_ab)
{
    gn_vf vs = gn_vset1(scale), vb = gn_vset1(shift);
    gn_vf sa[GN_PLANE_VECS], sab[GN_PLANE_VECS];
    for (int v = 0; v < GN_PLANE_VECS; v++)
        sa[v] = sab[v] = gn_vzero();
    size_t i = 0;
    for (; i + GN_PLANE_LANES <= count; i += GN_PLANE_LANES)
        for (int v = 0; v < GN_PLANE_VECS; v++) {
            size_t at = i + v * GN_VL;
            gn_vf vy = gn_vload(b + at), va = gn_vload(a + at);
            if (relu)
                va = relu_pass(vy, va, vs, vb);
            sa[v] = gn_vadd(sa[v], va);
            sab[v] = gn_vadd(sab[v], gn_vmul(va, vy));
        }
    float tail[GN_PLANE_LANES];
    const float *ta = a + i;
    if (relu) {
        for (size_t j = i; j < count; j++) {
            float t = b[j] * scale; /* two statements: never contracted into an FMA */
            t = t + shift;
            tail[j - i] = t > 0.0f ? a[j] : 0.0f;
        }
        ta = tail;
    }
    plane_total(sa, sab, ta, b + i, count - i, sum_a, sum_ab);
}

static void plane_sums(const float *x, const float *y, size_t count, double *sum_x,
                       double *sum_xy)
{
    sums_body(x, y, count, 0, 0.0f, 0.0f, sum_x, sum_xy);
}

static void plane_relu_sums(const float *x, float scale, float shift, const float *g,
                            size_t count, double *sum_g, double *sum_gx)
{
    sums_body(g, x, count, 1, scale, shift, sum_g, sum_gx);
}

static void plane_affine(const float *x, float *y, size_t count, float scale, float shift,
                         float floor)
{
    gn_vf vs = gn_vset1(scale), vb = gn_vset1(shift), vf = gn_vset1(floor);
    size_t i = 0;
    for (; i + GN_VL <= count; i += GN_VL)
        gn_vstore(y + i, gn_vmax(gn_vadd(gn_vmul(gn_vload(x + i), vs), vb), vf));
    if (i < count) {
        gn_vmask m = gn_vmask_first((int)(count - i));
        gn_vstore_m(y + i, m, gn_vmax(gn_vadd(gn_vmul(gn_vload_m(x + i, m), vs), vb), vf));
    }
}

static void plane_affine_add(const float *x, const float *r, float *y, size_t count,
                             float scale, float shift, float floor)
{
    gn_vf vs = gn_vset1(scale), vb = gn_vset1(shift), vf = gn_vset1(floor);
    size_t i = 0;
    for (; i + GN_VL <= count; i += GN_VL) {
        gn_vf a = gn_vadd(gn_vmul(gn_vload(x + i), vs), vb);
        gn_vstore(y + i, gn_vmax(gn_vadd(a, gn_vload(r + i)), vf));
    }
    if (i < count) {
        gn_vmask m = gn_vmask_first((int)(count - i));
        gn_vf a = gn_vadd(gn_vmul(gn_vload_m(x + i, m), vs), vb);
        gn_vstore_m(y + i, m, gn_vmax(gn_vadd(a, gn_vload_m(r + i, m)), vf));
    }
}

GN_INLINE gn_vf bn_dx_lanes(gn_vf x, gn_vf g, gn_vf dx, gn_vf mean, gn_vf invstd, gn_vf k,
                            gn_vf mean_g, gn_vf mean_gxhat)
{
    gn_vf xhat = gn_vmul(gn_vsub(x, mean), invstd);
    gn_vf u = gn_vsub(gn_vsub(g, mean_g), gn_vmul(xhat, mean_gxhat));
    return gn_vadd(dx, gn_vmul(k, u));
}

/* bn_dx, with g first passed through relu_pass when relu (bn_relu_dx). */
GN_INLINE void bn_dx_body(const float *x, const float *g, float *dx, size_t count, float mean,
                          float invstd, float k, float mean_g, float mean_gxhat, int relu,
                          float scale, float shift, int fresh)
{
    gn_vf vm = gn_vset1(mean), vi = gn_vset1(invstd), vk = gn_vset1(k);
    gn_vf vg = gn_vset1(mean_g), vx = gn_vset1(mean_gxhat), zero = gn_vzero();
    gn_vf vs = gn_vset1(scale), vb = gn_vset1(shift);
    size_t i = 0;
    for (; i + GN_VL <= count; i += GN_VL) {
        gn_vf xv = gn_vload(x + i), gv = gn_vload(g + i);
        if (relu)
            gv = relu_pass(xv, gv, vs, vb);
        gn_vstore(dx + i, bn_dx_lanes(xv, gv, fresh ? zero : gn_vload(dx + i), vm, vi, vk, vg,
                                      vx));
    }
    if (i < count) {
        gn_vmask m = gn_vmask_first((int)(count - i));
        gn_vf xv = gn_vload_m(x + i, m), gv = gn_vload_m(g + i, m);
        if (relu)
            gv = relu_pass(xv, gv, vs, vb);
        gn_vf old = fresh ? zero : gn_vload_m(dx + i, m);
        gn_vstore_m(dx + i, m, bn_dx_lanes(xv, gv, old, vm, vi, vk, vg, vx));
    }
}

static void plane_bn_dx(const float *x, const float *g, float *dx, size_t count, float mean,
                        float invstd, float k, float mean_g, float mean_gxhat, int fresh)
{
    if (fresh)
        bn_dx_body(x, g, dx, count, mean, invstd, k, mean_g, mean_gxhat, 0, 0.0f, 0.0f, 1);
    else
        bn_dx_body(x, g, dx, count, mean, invstd, k, mean_g, mean_gxhat, 0, 0.0f, 0.0f, 0);
}

static void plane_bn_relu_dx(const float *x, const float *g, float *dx, size_t count,
                             float mean, float invstd, float k, float mean_g, float mean_gxhat,
                             float scale, float shift, int fresh)
{
    if (fresh)
        bn_dx_body(x, g, dx, count, mean, invstd, k, mean_g, mean_gxhat, 1, scale, shift, 1);
    else
        bn_dx_body(x, g, dx, count, mean, invstd, k, mean_g, mean_gxhat, 1, scale, shift, 0);
}

const gn_plane_kernels GN_PLANE_TABLE = {
    .sums = plane_sums,
    .relu_sums = plane_relu_sums,
    .affine = plane_affine,
    .affine_add = plane_affine_add,
    .bn_dx = plane_bn_dx,
    .bn_relu_dx = plane_bn_relu_dx,
};
