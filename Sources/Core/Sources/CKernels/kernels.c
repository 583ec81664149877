// Runtime dispatch of the lane kernels (kernels_impl.h) to AVX-512, AVX2+FMA or portable code.
#include "CKernels.h"
#include <stdlib.h>
#include <string.h>

struct bk_table {
    int lanes;
    void (*conv_forward)(const bk_conv_desc *, int, int, int, const float *, const long *, const float *,
                         const float *, float *, float *);
    void (*conv_weight_grad)(int, int, int, int, int, const float *, long, long, long, const long *,
                             const float *, long, long, long, long, float *, float *);
    void (*pool_act_backward)(const bk_conv_desc *, int, int, int, const float *, long, const float *, long, long,
                              long, long, const float *, long, float *, long, long, long, long);
    void (*to_lanes)(const float *, int, int, int, int, int, int, int, int, int, float *);
    void (*from_lanes)(const float *, long, long, long, long, int, int, int, int, int, int, float *);
    void (*bias_act)(float *, int, long, const float *, int, float);
    void (*act_backward)(float *, const float *, long, int, float);
    void (*act_apply)(float *, long, int);
    void (*adam)(float *, const float *, float *, float *, long, float, float, float, float, float, float, float);
    void (*mix_pool_act)(const bk_conv_desc *, int, int, int, int, int, const float *const *, long, const float *,
                         const float *, float *);
    long (*dense_pack)(const float *, int, int, const float *, float *);
    void (*dense_forward)(const float *, long, int, long, const float *, int, int, float, float *, long);
};

// AVX-512 (Skylake-X and later, Zen 4/5): 16 lanes, 32 registers.
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,bmi2"))), apply_to = function)
#define LANES 16
#define NS(x) x##_avx512
#define OB_POS 5
#define OB_WG 5
#define TB_WG 4
#define DENSE_R 8
#define DENSE_NV 2
#include "kernels_impl.h"
#pragma clang attribute pop

// AVX2 + FMA (Haswell and later): 8 lanes, 16 registers.
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define LANES 8
#define NS(x) x##_avx2
#define OB_POS 3
#define OB_WG 3
#define TB_WG 3
#define DENSE_R 6
#define DENSE_NV 2
#include "kernels_impl.h"
#pragma clang attribute pop

// AVX-512's blocking (16 lanes, OB_POS 5, the same source) compiled for AVX2 + FMA, where the compiler
// splits each 16-lane vector into two 8-lane halves. Never chosen automatically: it exists so a machine
// without AVX-512 runs the AVX-512 configuration's block shapes, remainders and lane layout in its tests
// (`BORDERLINE_SIMD=avx512-emulated`, or `bk_select_isa(4)`). Only the instruction encoding differs.
// (-Wpsabi: 16-lane vectors passed without AVX-512 change the calling convention; every kernel
// here is static and inlined, so no call crosses a boundary where that matters.)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpsabi"
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define LANES 16
#define NS(x) x##_avx512emu
#define OB_POS 5
#define OB_WG 5
#define TB_WG 4
#define DENSE_R 8
#define DENSE_NV 2
#include "kernels_impl.h"
#pragma clang attribute pop
#pragma clang diagnostic pop

// Portable (SSE2 on x86-64, NEON on arm64): 4 lanes.
#define LANES 4
#define NS(x) x##_portable
#define OB_POS 3
#define OB_WG 3
#define TB_WG 3
#define DENSE_R 6
#define DENSE_NV 2
#include "kernels_impl.h"

static const struct bk_table *table;
static int current_isa;

/// The best instruction set the CPU has (3, 2 or 1).
static int hardware(void) {
    int best = 1;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = 2;
    if (best == 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")) best = 3;
#endif
    return best;
}

/// The automatic choice: the hardware's best, capped by `BORDERLINE_SIMD` (which may also ask for
/// the emulated AVX-512 blocking, 4, where AVX2 exists).
static int detect(void) {
    const char *env = getenv("BORDERLINE_SIMD");
    int best = hardware();
    if (env) {
        if (!strcmp(env, "avx512-emulated")) return best >= 2 ? 4 : best;
        int want = !strcmp(env, "avx512") ? 3 : !strcmp(env, "avx2") ? 2 : !strcmp(env, "portable") ? 1 : best;
        if (want < best) best = want;
    }
    return best;
}

int bk_select_isa(int isa) {
    if (isa <= 0) isa = detect();
    int best = hardware();
    if (isa == 4) isa = best >= 2 ? 4 : best;
    else if (isa > best) isa = best;
    current_isa = isa;
    table = isa == 4 ? &table_avx512emu : isa == 3 ? &table_avx512 : isa == 2 ? &table_avx2 : &table_portable;
    return isa;
}

static inline const struct bk_table *T(void) {
    if (!table) bk_select_isa(0);
    return table;
}

int bk_isa(void) { T(); return current_isa; }
int bk_lanes(void) { return T()->lanes; }

void bk_conv_forward(const bk_conv_desc *d, int psh, int psw, int blocks, const float *x, const long *off,
                     const float *w, const float *bias, float *y, float *argmax) {
    T()->conv_forward(d, psh, psw, blocks, x, off, w, bias, y, argmax);
}
void bk_conv_weight_grad(int T_, int O, int OH, int OW, int blocks, const float *x, long x_bs, long x_rs, long x_xs,
                         const long *off, const float *g, long g_bs, long g_cs, long g_rs, long g_xs, float *gw,
                         float *gb) {
    T()->conv_weight_grad(T_, O, OH, OW, blocks, x, x_bs, x_rs, x_xs, off, g, g_bs, g_cs, g_rs, g_xs, gw, gb);
}
void bk_pool_act_backward(const bk_conv_desc *d, int psh, int psw, int blocks, const float *y, long y_bs,
                          const float *dy, long dy_bs, long dy_cs, long dy_rs, long dy_xs, const float *argmax,
                          long a_bs, float *g, long g_bs, long g_cs, long g_rs, long g_xs) {
    T()->pool_act_backward(d, psh, psw, blocks, y, y_bs, dy, dy_bs, dy_cs, dy_rs, dy_xs, argmax, a_bs, g, g_bs, g_cs,
                           g_rs, g_xs);
}
void bk_to_lanes(const float *src, int n, int C, int H, int W, int top, int left, int Hp, int Wp, int blocks,
                 float *dst) {
    T()->to_lanes(src, n, C, H, W, top, left, Hp, Wp, blocks, dst);
}
void bk_from_lanes(const float *src, long bs, long cs, long rs, long xs, int n, int C, int H, int W, int top,
                   int left, float *dst) {
    T()->from_lanes(src, bs, cs, rs, xs, n, C, H, W, top, left, dst);
}
void bk_bias_act(float *y, int F, long N, const float *bias, int act, float slope) { T()->bias_act(y, F, N, bias, act, slope); }
void bk_act_backward(float *dy, const float *y, long count, int act, float slope) { T()->act_backward(dy, y, count, act, slope); }
void bk_act_apply(float *y, long count, int act) { T()->act_apply(y, count, act); }
void bk_adam(float *theta, const float *grad, float *m, float *v, long count, float w1, float b2, float w2, float step,
             float bc2sqrt, float eps, float wd) {
    T()->adam(theta, grad, m, v, count, w1, b2, w2, step, bc2sqrt, eps, wd);
}
void bk_mix_pool_act(const bk_conv_desc *d, int psh, int psw, int OH, int OW, int J, const float *const *z, long zs,
                     const float *coef, const float *bias, float *y) {
    T()->mix_pool_act(d, psh, psw, OH, OW, J, z, zs, coef, bias, y);
}
long bk_dense_pack(const float *w, int O, int K, const float *bias, float *wp) { return T()->dense_pack(w, O, K, bias, wp); }
void bk_dense_forward(const float *x, long n, int K, long ldx, const float *wp, int O, int act, float slope, float *y,
                      long ldy) {
    T()->dense_forward(x, n, K, ldx, wp, O, act, slope, y, ldy);
}
void bk_adam_many(long count, float *const *theta, const float *const *grad, const long *sizes, float *m, float *v,
                  float w1, float b2, float w2, float step, float bc2sqrt, float eps, float wd) {
    const struct bk_table *t = T();
    for (long i = 0; i < count; i++) {
        t->adam(theta[i], grad[i], m, v, sizes[i], w1, b2, w2, step, bc2sqrt, eps, wd);
        m += sizes[i];
        v += sizes[i];
    }
}
