// The lane kernels, compiled once per instruction set: the including file defines LANES, NS(name)
// (a per-ISA suffix), OB_POS (output channels per register block of the forward kernel,
// with four positions held) and OB_WG / TB_WG (channel and tap block of the weight gradient), and
// wraps the include in a `#pragma clang attribute` that sets the target; this file undefines them at its end.
#include <math.h>
#include <string.h>

typedef float NS(V) __attribute__((vector_size(LANES * 4), aligned(4)));
typedef int NS(VI) __attribute__((vector_size(LANES * 4), aligned(4)));
#define V NS(V)
#define VI NS(VI)
#define LOAD(p) (*(const V *)(p))
#define STORE(p, v) (*(V *)(p) = (v))
#define SPLAT(s) NS(splat)((float)(s))
#define SELECT(m, a, b) ((V)(((VI)(a) & (m)) | ((VI)(b) & ~(m))))
#define INLINE static inline __attribute__((always_inline))
// Register-block arrays have these fixed sizes: their shape parameters are constants only after
// inlining, and a variable-length array became a stack allocation (with a store and reload of every
// element) inside the innermost loop. MAX_P: positions per block (8 unpooled, ≤ 4 pooled).
#define MAX_P 8
#define MAX_POB (4 * OB_POS > 8 ? 4 * OB_POS : 8)

/// A lane vector of s: one vbroadcastss (`(V){} + s` would add 0 first, which the compiler keeps
/// because −0 + 0 = +0).
INLINE V NS(splat)(float s) {
    V v;
    for (int l = 0; l < LANES; l++) v[l] = s;
    return v;
}

INLINE V NS(activate)(V z, int act, float slope) {
    if (act == 1) { VI neg = z < SPLAT(0); return SELECT(neg, SPLAT(0), z); }    // NaN stays
    if (act == 2) { VI neg = z < SPLAT(0); return SELECT(neg, z * slope, z); }
    return z;
}

/// acc[p·OB + k] = Σ_t w[t·O + o0 + k] · x_p[off[t]] for P output positions and OB output channels,
/// all P·OB sums in registers: each weight broadcast serves P positions and each input load OB
/// channels, so the loop is bound by the FMAs rather than the loads, and the P·OB independent chains
/// hide the FMA latency. Every sum runs over t in order.
INLINE void NS(conv_taps)(int T, int O, const float *const *xp, const long *off, const float *w, int o0,
                          V *acc, const int P, const int OB) {
    V a[MAX_POB];
    for (int i = 0; i < P * OB; i++) a[i] = SPLAT(0);
    const float *wt = w + o0;
    for (int t = 0; t < T; t++, wt += O) {
        const long ot = off[t];
        V wk[OB_POS];
        for (int k = 0; k < OB; k++) wk[k] = SPLAT(wt[k]);
        for (int p = 0; p < P; p++) {
            V v = LOAD(xp[p] + ot);
            for (int k = 0; k < OB; k++) a[p * OB + k] += wk[k] * v;
        }
    }
    for (int i = 0; i < P * OB; i++) acc[i] = a[i];
}

/// One output-channel block [o0, o0 + OB) of one lane-block with pooling: per pooled output the
/// window's convolution outputs are computed P at a time (P divides the window) and max-reduced in
/// window order (strictly larger, or NaN, wins; argmax = the window index).
INLINE void NS(conv_block_pooled)(const bk_conv_desc *d, int psh, int psw, const float *xb, const long *off,
                                  const float *w, const float *bias, int o0, float *yb, float *ab,
                                  const int OB, const int P) {
    const int pool = d->PKH * d->PKW;
    for (int py = 0; py < d->PH; py++) {
        for (int px = 0; px < d->PW; px++) {
            V best[OB_POS], arg[OB_POS];
            for (int w0 = 0; w0 < pool; w0 += P) {
                const float *xq[MAX_P];
                for (int p = 0; p < P; p++) {
                    const int widx = w0 + p, wy = widx / d->PKW, wx = widx % d->PKW;
                    xq[p] = xb + (long)(py * psh + wy) * d->x_rs + (long)(px * psw + wx) * d->x_xs;
                }
                V a[MAX_POB];
                NS(conv_taps)(d->T, d->O, xq, off, w, o0, a, P, OB);
                for (int p = 0; p < P; p++) {
                    const int widx = w0 + p;
                    if (widx == 0) {
                        for (int k = 0; k < OB; k++) { best[k] = a[k]; arg[k] = SPLAT(0); }
                        continue;
                    }
                    const V kv = SPLAT(widx);
                    for (int k = 0; k < OB; k++) {
                        VI m = (a[p * OB + k] > best[k]) | (a[p * OB + k] != a[p * OB + k]);
                        best[k] = SELECT(m, a[p * OB + k], best[k]);
                        if (ab) arg[k] = SELECT(m, kv, arg[k]);
                    }
                }
            }
            const long o = (long)py * d->y_rs + (long)px * d->y_xs;
            for (int k = 0; k < OB; k++) {
                const long at = o + (long)(o0 + k) * d->y_cs;
                STORE(yb + at, NS(activate)(best[k] + SPLAT(bias ? bias[o0 + k] : 0.0f), d->act, d->slope));
                if (ab) STORE(ab + at, arg[k]);
            }
        }
    }
}

/// P consecutive outputs (row-major over the output plane, across row ends) of an unpooled block.
INLINE void NS(conv_group_flat)(const bk_conv_desc *d, int psh, int psw, const float *xb, const long *off,
                                const float *w, const float *bias, int o0, float *yb, int i0,
                                const int OB, const int P) {
    const float *xq[MAX_P];
    long yq[MAX_P];
    for (int p = 0; p < P; p++) {
        const int py = (i0 + p) / d->PW, px = (i0 + p) % d->PW;
        xq[p] = xb + (long)(py * psh) * d->x_rs + (long)(px * psw) * d->x_xs;
        yq[p] = (long)py * d->y_rs + (long)px * d->y_xs;
    }
    V a[MAX_POB];
    NS(conv_taps)(d->T, d->O, xq, off, w, o0, a, P, OB);
    for (int k = 0; k < OB; k++) {
        const V b = SPLAT(bias ? bias[o0 + k] : 0.0f);
        for (int p = 0; p < P; p++)
            STORE(yb + yq[p] + (long)(o0 + k) * d->y_cs, NS(activate)(a[p * OB + k] + b, d->act, d->slope));
    }
}

/// One output-channel block [o0, o0 + OB) of one lane-block without pooling: P outputs at a time.
INLINE void NS(conv_block_flat)(const bk_conv_desc *d, int psh, int psw, const float *xb, const long *off,
                                const float *w, const float *bias, int o0, float *yb, const int OB, const int P) {
    const int n = d->PH * d->PW;
    int i = 0;
    for (; i + P <= n; i += P) NS(conv_group_flat)(d, psh, psw, xb, off, w, bias, o0, yb, i, OB, P);
    for (; i < n; i++) NS(conv_group_flat)(d, psh, psw, xb, off, w, bias, o0, yb, i, OB, 1);
}

static void NS(conv_forward)(const bk_conv_desc *d, int psh, int psw, int blocks, const float *x, const long *off,
                             const float *w, const float *bias, float *y, float *argmax) {
    const int pool = d->PKH * d->PKW;
    // Positions per register block: a divisor of the pooling window (≤ 4), or without pooling
    // enough consecutive outputs for ≥ 8 independent chains.
    const int P = pool % 4 == 0 ? 4 : pool % 3 == 0 ? 3 : pool % 2 == 0 ? 2 : 1;
    const int chunks = (d->O + OB_POS - 1) / OB_POS;
    for (int blk = 0; blk < blocks; blk++) {
        const float *xb = x + (long)blk * d->x_bs;
        float *yb = y + (long)blk * d->y_bs, *ab = argmax ? argmax + (long)blk * d->y_bs : 0;
        int o0 = 0;
        for (int c = 0; c < chunks; c++) {
            const int ob = (d->O - o0) / (chunks - c);          // nearly equal blocks
            if (pool > 1) {
                switch (ob * 8 + P) {
#define CASE(n, p) case n * 8 + p: NS(conv_block_pooled)(d, psh, psw, xb, off, w, bias, o0, yb, ab, n, p); break;
#define CASES(n) CASE(n, 1) CASE(n, 2) CASE(n, 3) CASE(n, 4)
                    CASES(1) CASES(2) CASES(3)
#if OB_POS > 3
                    CASES(4) CASES(5)
#endif
#undef CASES
#undef CASE
                }
            } else {
                switch (ob) {
#define CASE(n, p) case n: NS(conv_block_flat)(d, psh, psw, xb, off, w, bias, o0, yb, n, p); break;
                    CASE(1, 8) CASE(2, 4) CASE(3, 4)
#if OB_POS > 3
                    CASE(4, 4) CASE(5, 4)
#endif
#undef CASE
                }
            }
            o0 += ob;
        }
        if (argmax && pool == 1) {
            for (int o = 0; o < d->O; o++)
                for (int py = 0; py < d->PH; py++)
                    for (int px = 0; px < d->PW; px++)
                        STORE(ab + o * d->y_cs + py * d->y_rs + px * d->y_xs, SPLAT(0));
        }
    }
}

/// gw[o, t] += Σ_pos g[o, pos] · x[pos + off[t]] for o in [o0, o0+OB), t in [t0, t0+TB).
INLINE void NS(wgrad_block)(int T, int OH, int OW, const float *xb, long x_rs, long x_xs, const long *off,
                            const float *gb, long g_cs, long g_rs, long g_xs, float *gw, int o0, int t0,
                            const int OB, const int TB) {
    V acc[OB_WG][TB_WG];
    for (int k = 0; k < OB; k++) for (int j = 0; j < TB; j++) acc[k][j] = SPLAT(0);
    for (int oy = 0; oy < OH; oy++) {
        for (int ox = 0; ox < OW; ox++) {
            const float *xp = xb + oy * x_rs + ox * x_xs;
            const float *gp = gb + oy * g_rs + ox * g_xs + o0 * g_cs;
            V xv[TB_WG], gv[OB_WG];
            for (int j = 0; j < TB; j++) xv[j] = LOAD(xp + off[t0 + j]);
            for (int k = 0; k < OB; k++) gv[k] = LOAD(gp + k * g_cs);
            for (int k = 0; k < OB; k++) for (int j = 0; j < TB; j++) acc[k][j] += gv[k] * xv[j];
        }
    }
    for (int k = 0; k < OB; k++)
        for (int j = 0; j < TB; j++) {
            float *p = gw + ((long)(o0 + k) * T + t0 + j) * LANES;
            STORE(p, LOAD(p) + acc[k][j]);
        }
}

static void NS(conv_weight_grad)(int T, int O, int OH, int OW, int blocks, const float *x, long x_bs, long x_rs,
                                 long x_xs, const long *off, const float *g, long g_bs, long g_cs, long g_rs,
                                 long g_xs, float *gw, float *gbias) {
    for (int blk = 0; blk < blocks; blk++) {
        const float *xb = x + (long)blk * x_bs, *gb = g + (long)blk * g_bs;
        for (int o0 = 0; o0 < O; o0 += OB_WG) {
            int ob = O - o0 < OB_WG ? O - o0 : OB_WG;
            int t0 = 0;
            for (; t0 + TB_WG <= T; t0 += TB_WG) {
                switch (ob) {
#define CASE(n) case n: NS(wgrad_block)(T, OH, OW, xb, x_rs, x_xs, off, gb, g_cs, g_rs, g_xs, gw, o0, t0, n, TB_WG); break;
                    CASE(1) CASE(2) CASE(3)
#if OB_WG > 3
                    CASE(4) CASE(5)
#endif
#undef CASE
                }
            }
            for (; t0 < T; t0++) {
                switch (ob) {
#define CASE(n) case n: NS(wgrad_block)(T, OH, OW, xb, x_rs, x_xs, off, gb, g_cs, g_rs, g_xs, gw, o0, t0, n, 1); break;
                    CASE(1) CASE(2) CASE(3)
#if OB_WG > 3
                    CASE(4) CASE(5)
#endif
#undef CASE
                }
            }
        }
        if (gbias) {
            for (int o = 0; o < O; o++) {
                V s = SPLAT(0);
                for (int oy = 0; oy < OH; oy++)
                    for (int ox = 0; ox < OW; ox++) s += LOAD(gb + o * g_cs + oy * g_rs + ox * g_xs);
                STORE(gbias + (long)o * LANES, LOAD(gbias + (long)o * LANES) + s);
            }
        }
    }
}

static void NS(pool_act_backward)(const bk_conv_desc *d, int psh, int psw, int blocks, const float *y, long y_bs,
                                  const float *dy, long dy_bs, long dy_cs, long dy_rs, long dy_xs,
                                  const float *argmax, long a_bs, float *g, long g_bs, long g_cs, long g_rs, long g_xs) {
    const int pool = d->PKH * d->PKW;
    for (int blk = 0; blk < blocks; blk++) {
        const float *yb = y + (long)blk * y_bs, *db = dy + (long)blk * dy_bs;
        const float *ab = argmax ? argmax + (long)blk * a_bs : 0;
        float *gb = g + (long)blk * g_bs;
        for (int o = 0; o < d->O; o++) {
            for (int py = 0; py < d->PH; py++) {
                for (int px = 0; px < d->PW; px++) {
                    long at = o * d->y_cs + py * d->y_rs + px * d->y_xs;
                    V gv = LOAD(db + o * dy_cs + py * dy_rs + px * dy_xs);
                    if (d->act) {
                        VI pos = LOAD(yb + at) > SPLAT(0);
                        gv = SELECT(pos, gv, d->act == 2 ? gv * d->slope : SPLAT(0));
                    }
                    float *gp = gb + o * g_cs + (long)(py * psh) * g_rs + (long)(px * psw) * g_xs;
                    if (pool == 1) { STORE(gp, gv); continue; }
                    V a = LOAD(ab + at);
                    for (int wy = 0; wy < d->PKH; wy++)
                        for (int wx = 0; wx < d->PKW; wx++) {
                            VI m = a == SPLAT(wy * d->PKW + wx);
                            STORE(gp + wy * g_rs + wx * g_xs, SELECT(m, gv, SPLAT(0)));
                        }
                }
            }
        }
    }
}

static void NS(to_lanes)(const float *src, int n, int C, int H, int W, int top, int left, int Hp, int Wp,
                         int blocks, float *dst) {
    const long E = (long)C * Hp * Wp;
    const long plane = (long)H * W, image = (long)C * plane;
    for (int b = 0; b < blocks; b++) {
        float *db = dst + b * E * LANES;
        int rows = n - b * LANES;
        if (rows > LANES) rows = LANES;
        if (rows < 0) rows = 0;
        if (top || left || Hp != H || Wp != W || rows < LANES) memset(db, 0, sizeof(float) * E * LANES);
        // Contiguous lane vectors out, LANES sequential streams in.
        const float *sb = src + (long)b * LANES * image;
        for (int c = 0; c < C; c++)
            for (int h = 0; h < H; h++) {
                float *row = db + (((long)c * Hp + top + h) * Wp + left) * LANES;
                const float *in = sb + c * plane + (long)h * W;
                if (rows == LANES) {
                    for (int w = 0; w < W; w++) {
                        float *o = row + (long)w * LANES;
                        for (int l = 0; l < LANES; l++) o[l] = in[l * image + w];
                    }
                } else {
                    for (int w = 0; w < W; w++) {
                        float *o = row + (long)w * LANES;
                        for (int l = 0; l < rows; l++) o[l] = in[l * image + w];
                    }
                }
            }
    }
}

static void NS(from_lanes)(const float *src, long bs, long cs, long rs, long xs, int n, int C, int H, int W,
                           int top, int left, float *dst) {
    for (int s = 0; s < n; s++) {
        const float *sb = src + (s / LANES) * bs + (s % LANES);
        float *out = dst + (long)s * C * H * W;
        for (int c = 0; c < C; c++)
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++)
                    *out++ = sb[c * cs + (top + h) * rs + (left + w) * xs];
    }
}

static void NS(bias_act)(float *y, int F, long N, const float *bias, int act, float slope) {
    for (int f = 0; f < F; f++) {
        float b = bias ? bias[f] : 0.0f;
        float *row = y + (long)f * N;
        for (long j = 0; j < N; j++) {
            float z = row[j] + b;
            row[j] = act == 1 ? (z < 0 ? 0 : z) : act == 2 ? (z < 0 ? z * slope : z) : z;
        }
    }
}

static void NS(act_backward)(float *dy, const float *y, long count, int act, float slope) {
    if (act == 1) { for (long i = 0; i < count; i++) dy[i] = y[i] > 0 ? dy[i] : 0; }
    else if (act == 2) { for (long i = 0; i < count; i++) dy[i] = y[i] > 0 ? dy[i] : dy[i] * slope; }
    else if (act == 3) { for (long i = 0; i < count; i++) dy[i] = dy[i] * y[i] * (1 - y[i]); }
    else if (act == 4) { for (long i = 0; i < count; i++) dy[i] = dy[i] * (1 - y[i] * y[i]); }
}

/// e^x for x in [−87, 0] (Cephes' expf: x = n·ln 2 + r, |r| ≤ ln 2 / 2, a degree-6 polynomial in
/// r, then ·2ⁿ through the exponent bits), within 2 ulp of expf.
INLINE V NS(exp_nonpositive)(V x) {
    V fx = __builtin_elementwise_floor(x * 1.44269504088896341f + 0.5f);
    x = x - fx * 0.693359375f - fx * -2.12194440e-4f;
    V z = x * x;
    V p = SPLAT(1.9875691500e-4f);
    p = p * x + 1.3981999507e-3f;
    p = p * x + 8.3334519073e-3f;
    p = p * x + 4.1665795894e-2f;
    p = p * x + 1.6666665459e-1f;
    p = p * x + 5.0000001201e-1f;
    p = p * z + x + 1.0f;
    VI n = __builtin_convertvector(fx, VI);
    return p * (V)((n + 127) << 23);
}

static void NS(sigmoid_scalar)(float *y, long count) {
    for (long i = 0; i < count; i++) {
        float x = y[i];
        if (x >= 0) y[i] = 1 / (1 + expf(-x)); else { float e = expf(x); y[i] = e / (1 + e); }
    }
}

static void NS(act_apply)(float *y, long count, int act) {
    if (act == 3) {
        // σ(x) = 1 / (1 + e^−x) for x ≥ 0, e^x / (1 + e^x) below: e^−|x| never overflows. Whole
        // registers with |x| ≤ 87 use the vector exp; a register with a larger |x| or a NaN takes
        // expf, so far tails (σ ≈ 1e−38 and below) and NaN behave exactly as the scalar loop.
        long i = 0;
        for (; i + LANES <= count; i += LANES) {
            V x = LOAD(y + i);
            V a = SELECT(x < SPLAT(0), -x, x);
            VI ok = a <= SPLAT(87);
            int all = 1;
            for (int l = 0; l < LANES; l++) all &= ok[l] != 0;
            if (!all) { NS(sigmoid_scalar)(y + i, LANES); continue; }
            V e = NS(exp_nonpositive)(-a);
            V r = SPLAT(1) / (SPLAT(1) + e);
            STORE(y + i, SELECT(x < SPLAT(0), e * r, r));
        }
        NS(sigmoid_scalar)(y + i, count - i);
    } else if (act == 4) {
        for (long i = 0; i < count; i++) y[i] = tanhf(y[i]);
    }
}

static void NS(adam)(float *theta, const float *grad, float *m, float *v, long count, float w1, float b2, float w2,
                     float step, float bc2sqrt, float eps, float wd) {
    long i = 0;
    // Whole registers first (the same operations per element as the tail, so the same results).
    for (; i + LANES <= count; i += LANES) {
        V gi = LOAD(grad + i) + wd * LOAD(theta + i);
        V mi = LOAD(m + i);
        mi = mi + w1 * (gi - mi);
        V vi = LOAD(v + i) * b2 + w2 * gi * gi;
        STORE(m + i, mi);
        STORE(v + i, vi);
        STORE(theta + i, LOAD(theta + i) - step * mi / (__builtin_elementwise_sqrt(vi) / bc2sqrt + eps));
    }
    for (; i < count; i++) {
        float gi = grad[i] + wd * theta[i];
        float mi = m[i] + w1 * (gi - m[i]);
        float vi = v[i] * b2 + w2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        theta[i] -= step * mi / (sqrtf(vi) / bc2sqrt + eps);
    }
}

/// How a dense layer's O columns are laid out: P panels of PW = DENSE_NV·LANES columns (the last
/// one zero-padded), and D ≤ 4 leftover columns computed as dot products along k instead, when
/// fewer than 5 columns are left over a whole panel (O = 50 on AVX2: 3 panels and 2 dot columns,
/// where a padded fourth panel would compute 8 columns for 2).
INLINE void NS(dense_layout)(int O, int *P, int *D) {
    const int PW = DENSE_NV * LANES, full = O / PW, rem = O - full * PW;
    if (rem > 0 && rem <= 4) { *P = full; *D = rem; }
    else { *P = full + (rem > 0); *D = 0; }
}

/// Packed dense weights (see bk_dense_pack): the P panels of Wᵀ, wp[(p·K + k)·PW + j] =
/// W[p·PW + j][k] (zero past O), then the D dot columns' rows of W as they are, then the bias
/// padded to P·PW + D (zeros when NULL).
static long NS(dense_pack)(const float *w, int O, int K, const float *bias, float *wp) {
    const int PW = DENSE_NV * LANES;
    int P, D;
    NS(dense_layout)(O, &P, &D);
    const long size = (long)P * PW * K + (long)D * K + (long)P * PW + D;
    if (!wp) return size;
    for (int p = 0; p < P; p++) {
        float *panel = wp + (long)p * PW * K;
        for (int k = 0; k < K; k++) {
            for (int j = 0; j < PW; j++) {
                const int o = p * PW + j;
                panel[(long)k * PW + j] = o < O ? w[(long)o * K + k] : 0.0f;
            }
        }
    }
    float *rows = wp + (long)P * PW * K;
    memcpy(rows, w + (long)P * PW * K, sizeof(float) * (size_t)D * (size_t)K);
    float *b = rows + (long)D * K;
    for (int j = 0; j < P * PW + D; j++) b[j] = bias && j < O ? bias[j] : 0.0f;
    return size;
}

/// One R × (NV·LANES) tile of y = act(x Wᵀ + b): the R·NV sums stay in registers for the whole
/// k loop (each weight vector serves R rows, each broadcast x[r][k] NV vectors), so the loop is
/// bound by the FMAs; every sum runs over k in order, then adds the bias, as sgemm with β = 1 does.
/// Columns from `cols` on are not stored (the panel's zero padding).
INLINE void NS(dense_tile)(const float *x, long ldx, int K, const float *panel, const float *bias, int cols,
                           int act, float slope, float *y, long ldy, const int R, const int NV) {
    const int PW = DENSE_NV * LANES;
    V acc[DENSE_R * DENSE_NV];
    for (int i = 0; i < R * NV; i++) acc[i] = SPLAT(0);
    const float *w = panel;
    for (int k = 0; k < K; k++, w += PW) {
        V wv[DENSE_NV];
        for (int v = 0; v < NV; v++) wv[v] = LOAD(w + v * LANES);
        for (int r = 0; r < R; r++) {
            const V a = SPLAT(x[r * ldx + k]);
            for (int v = 0; v < NV; v++) acc[r * NV + v] += a * wv[v];
        }
    }
    for (int v = 0; v < NV; v++) {
        const V b = LOAD(bias + v * LANES);
        const int c0 = v * LANES;
        for (int r = 0; r < R; r++) {
            const V z = NS(activate)(acc[r * NV + v] + b, act, slope);
            float *yr = y + r * ldy + c0;
            if (c0 + LANES <= cols) { STORE(yr, z); continue; }
            for (int l = 0; c0 + l < cols; l++) yr[l] = z[l];
        }
    }
}

/// C ≤ 2 leftover columns for R rows as dot products along k: x's rows and W's rows are both
/// contiguous in k, so each lane holds every LANES-th term; the lanes are summed at the end, then
/// the k remainder, then the bias.
INLINE void NS(dense_dot)(const float *x, long ldx, int K, const float *wrows, const float *bias, int act, float slope,
                          float *y, long ldy, const int R, const int C) {
    V acc[DENSE_R * 2];
    for (int i = 0; i < R * C; i++) acc[i] = SPLAT(0);
    int k = 0;
    for (; k + LANES <= K; k += LANES) {
        V wv[2];
        for (int c = 0; c < C; c++) wv[c] = LOAD(wrows + (long)c * K + k);
        for (int r = 0; r < R; r++) {
            const V xv = LOAD(x + r * ldx + k);
            for (int c = 0; c < C; c++) acc[r * C + c] += xv * wv[c];
        }
    }
    for (int r = 0; r < R; r++) {
        for (int c = 0; c < C; c++) {
            float z = 0;
            for (int l = 0; l < LANES; l++) z += acc[r * C + c][l];
            for (int j = k; j < K; j++) z += x[r * ldx + j] * wrows[(long)c * K + j];
            z += bias[c];
            if (act == 1) z = z < 0 ? 0 : z;
            else if (act == 2) z = z < 0 ? z * slope : z;
            y[r * ldy + c] = z;
        }
    }
}

/// Rows [0, R) of y against every panel and dot column (the R rows of x stay in L1 across them).
INLINE void NS(dense_rows)(const float *x, long ldx, int K, const float *wp, int O, int act, float slope,
                           float *y, long ldy, const int R) {
    const int PW = DENSE_NV * LANES;
    int P, D;
    NS(dense_layout)(O, &P, &D);
    const float *rows = wp + (long)P * PW * K, *bias = rows + (long)D * K;
    const int tail_act = act == 1 || act == 2 ? act : 0;
    for (int p = 0; p < P; p++) {
        const int c0 = p * PW, cols = O - c0 < PW ? O - c0 : PW;
        const float *panel = wp + (long)p * PW * K;
        if (cols > (DENSE_NV - 1) * LANES)
            NS(dense_tile)(x, ldx, K, panel, bias + c0, cols, tail_act, slope, y + c0, ldy, R, DENSE_NV);
        else
            NS(dense_tile)(x, ldx, K, panel, bias + c0, cols, tail_act, slope, y + c0, ldy, R, 1);
    }
    for (int c = 0; c < D; c += 2) {
        const int c0 = P * PW + c;
        if (D - c >= 2)
            NS(dense_dot)(x, ldx, K, rows + (long)c * K, bias + c0, tail_act, slope, y + c0, ldy, R, 2);
        else
            NS(dense_dot)(x, ldx, K, rows + (long)c * K, bias + c0, tail_act, slope, y + c0, ldy, R, 1);
    }
    if (act == 3 || act == 4)
        for (int r = 0; r < R; r++) NS(act_apply)(y + r * ldy, O, act);
}

static void NS(dense_forward)(const float *x, long n, int K, long ldx, const float *wp, int O, int act, float slope,
                              float *y, long ldy) {
    long r = 0;
    for (; r + DENSE_R <= n; r += DENSE_R)
        NS(dense_rows)(x + r * ldx, ldx, K, wp, O, act, slope, y + r * ldy, ldy, DENSE_R);
    switch (n - r) {
#define TAIL(k) case k: NS(dense_rows)(x + r * ldx, ldx, K, wp, O, act, slope, y + r * ldy, ldy, k); break;
    TAIL(1) TAIL(2) TAIL(3) TAIL(4) TAIL(5)
#if DENSE_R > 6
    TAIL(6) TAIL(7)
#endif
#undef TAIL
    default: break;
    }
}

/// One lane-block of a first convolution at affine combinations of J anchors (see bk_mix_pool_act):
///   y[o, py, px] = act(bias[o] + max_window Σ_j c_j · Z_j[o, y, x]),  c_j a lane vector.
/// JN > 0 is a compile-time J (registers); JN = 0 reads J at run time. KH, KW > 0 are a
/// compile-time pooling window (the loops unroll into independent chains); 0 reads it from d.
INLINE void NS(mix_block)(const bk_conv_desc *d, int psh, int psw, int OH, int OW, int J, const float *const *z, long zs,
                          const float *coef, const float *bias, float *y, const int JN, const int KH, const int KW) {
    const int O = d->O, n = JN > 0 ? JN : J, PH = d->PH, PW = d->PW;
    const int PKH = KH > 0 ? KH : d->PKH, PKW = KW > 0 ? KW : d->PKW, act = d->act;
    const float slope = d->slope;
    const long y_rs = d->y_rs, y_xs = d->y_xs, y_cs = d->y_cs;
    V c[64];
    const float *zp[64];
    for (int j = 0; j < n; j++) { c[j] = LOAD(coef + (long)j * LANES); zp[j] = z[j]; }
    for (int o = 0; o < O; o++) {
        const V b = SPLAT(bias ? bias[o] : 0.0f);
        const long plane = (long)o * OH * OW;
        for (int py = 0; py < PH; py++) {
            const long row = plane + (long)(py * psh) * OW;
            float *yrow = y + (long)py * y_rs + (long)o * y_cs;
            for (int px = 0; px < PW; px++) {
                const long base = row + (long)px * psw;
                V best = SPLAT(0);
                for (int wy = 0; wy < PKH; wy++) {
                    for (int wx = 0; wx < PKW; wx++) {
                        const long e = (base + (long)wy * OW + wx) * zs;
                        V acc = c[0] * zp[0][e];
                        for (int j = 1; j < n; j++) acc += c[j] * zp[j][e];
                        if (wy == 0 && wx == 0) { best = acc; continue; }
                        VI m = (acc > best) | (acc != acc);      // strictly larger, or NaN (as conv_forward)
                        best = SELECT(m, acc, best);
                    }
                }
                STORE(yrow + (long)px * y_xs, NS(activate)(best + b, act, slope));
            }
        }
    }
}

static void NS(mix_pool_act)(const bk_conv_desc *d, int psh, int psw, int OH, int OW, int J,
                             const float *const *z, long zs, const float *coef, const float *bias, float *y) {
    const int two = d->PKH == 2 && d->PKW == 2;
#define MIX(jn) (two ? NS(mix_block)(d, psh, psw, OH, OW, J, z, zs, coef, bias, y, jn, 2, 2) \
                     : NS(mix_block)(d, psh, psw, OH, OW, J, z, zs, coef, bias, y, jn, 0, 0))
    switch (J) {
    case 1: MIX(1); break;
    case 2: MIX(2); break;
    case 3: MIX(3); break;
    case 4: MIX(4); break;
    default: MIX(0); break;
    }
#undef MIX
}

static const struct bk_table NS(table) = {
    LANES, NS(conv_forward), NS(conv_weight_grad), NS(pool_act_backward), NS(to_lanes), NS(from_lanes),
    NS(bias_act), NS(act_backward), NS(act_apply), NS(adam), NS(mix_pool_act), NS(dense_pack), NS(dense_forward),
};

#undef V
#undef VI
#undef LOAD
#undef STORE
#undef SPLAT
#undef SELECT
#undef INLINE
#undef MAX_P
#undef MAX_POB
// The including file's parameters, so the next instruction set can define its own.
#undef LANES
#undef NS
#undef OB_POS
#undef OB_WG
#undef TB_WG
#undef DENSE_R
#undef DENSE_NV
