// The lane kernels, compiled once per instruction set: the including file defines LANES, NS(name)
// (a per-ISA suffix), OB_FWD / OB_ARG (output channels per register block of the forward kernel,
// without and with argmax) and OB_WG / TB_WG (channel and tap block of the weight gradient), and
// wraps the include in a `#pragma clang attribute` that sets the target.
#include <math.h>
#include <string.h>

typedef float NS(V) __attribute__((vector_size(LANES * 4), aligned(4)));
typedef int NS(VI) __attribute__((vector_size(LANES * 4), aligned(4)));
#define V NS(V)
#define VI NS(VI)
#define LOAD(p) (*(const V *)(p))
#define STORE(p, v) (*(V *)(p) = (v))
#define SPLAT(s) ((V){} + (float)(s))
#define SELECT(m, a, b) ((V)(((VI)(a) & (m)) | ((VI)(b) & ~(m))))
#define INLINE static inline __attribute__((always_inline))

INLINE V NS(activate)(V z, int act, float slope) {
    if (act == 1) { VI neg = z < SPLAT(0); return SELECT(neg, SPLAT(0), z); }    // NaN stays
    if (act == 2) { VI neg = z < SPLAT(0); return SELECT(neg, z * slope, z); }
    return z;
}

/// One output-channel block [o0, o0 + OB) of one lane-block, every output position.
INLINE void NS(conv_block)(const bk_conv_desc *d, int psh, int psw, const float *xb, const long *off,
                           const float *w, const float *bias, int o0, float *yb, float *ab, const int OB) {
    const int T = d->T, O = d->O, pool = d->PKH * d->PKW;
    V b[OB];
    for (int k = 0; k < OB; k++) b[k] = SPLAT(bias ? bias[o0 + k] : 0.0f);
    for (int py = 0; py < d->PH; py++) {
        for (int px = 0; px < d->PW; px++) {
            V best[OB], arg[OB];
            for (int wy = 0; wy < d->PKH; wy++) {
                for (int wx = 0; wx < d->PKW; wx++) {
                    const float *xp = xb + (long)(py * psh + wy) * d->x_rs + (long)(px * psw + wx) * d->x_xs;
                    // U independent partial sums per channel when there are few channels, so
                    // the FMAs do not wait on each other's latency (one output channel — the
                    // input gradient of a first layer — would otherwise be one serial chain).
                    const int U = 2 * OB <= OB_FWD ? (OB == 1 ? 4 : 2) : 1;
                    V part[OB][U];
                    for (int k = 0; k < OB; k++) for (int u = 0; u < U; u++) part[k][u] = SPLAT(0);
                    const float *wt = w + o0;
                    int t = 0;
                    for (; t + U <= T; t += U, wt += U * O) {
                        for (int u = 0; u < U; u++) {
                            V v = LOAD(xp + off[t + u]);
                            for (int k = 0; k < OB; k++) part[k][u] += wt[u * O + k] * v;
                        }
                    }
                    for (; t < T; t++, wt += O) {
                        V v = LOAD(xp + off[t]);
                        for (int k = 0; k < OB; k++) part[k][0] += wt[k] * v;
                    }
                    V acc[OB];
                    for (int k = 0; k < OB; k++) {
                        acc[k] = part[k][0];
                        for (int u = 1; u < U; u++) acc[k] += part[k][u];
                    }
                    int widx = wy * d->PKW + wx;
                    if (widx == 0) {
                        for (int k = 0; k < OB; k++) { best[k] = acc[k]; arg[k] = SPLAT(0); }
                    } else {
                        V kv = SPLAT(widx);
                        for (int k = 0; k < OB; k++) {
                            VI m = (acc[k] > best[k]) | (acc[k] != acc[k]);   // strictly larger, or NaN
                            best[k] = SELECT(m, acc[k], best[k]);
                            if (ab) arg[k] = SELECT(m, kv, arg[k]);
                        }
                    }
                }
            }
            long o = (long)py * d->y_rs + (long)px * d->y_xs;
            for (int k = 0; k < OB; k++) {
                long at = o + (long)(o0 + k) * d->y_cs;
                STORE(yb + at, NS(activate)(best[k] + b[k], d->act, d->slope));
                if (ab && pool > 1) STORE(ab + at, arg[k]);
            }
        }
    }
}

static void NS(conv_forward)(const bk_conv_desc *d, int psh, int psw, int blocks, const float *x, const long *off,
                             const float *w, const float *bias, float *y, float *argmax) {
    const int maxOB = argmax ? OB_ARG : OB_FWD;
    const int chunks = (d->O + maxOB - 1) / maxOB;
    for (int blk = 0; blk < blocks; blk++) {
        const float *xb = x + (long)blk * d->x_bs;
        float *yb = y + (long)blk * d->y_bs, *ab = argmax ? argmax + (long)blk * d->y_bs : 0;
        int o0 = 0;
        for (int c = 0; c < chunks; c++) {
            int ob = (d->O - o0) / (chunks - c);          // nearly equal blocks
            switch (ob) {
#define CASE(n) case n: NS(conv_block)(d, psh, psw, xb, off, w, bias, o0, yb, ab, n); break;
                CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6)
#if OB_FWD > 6
                CASE(7) CASE(8) CASE(9) CASE(10) CASE(11) CASE(12)
#endif
#undef CASE
            }
            o0 += ob;
        }
        if (argmax && d->PKH * d->PKW == 1) {
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
    V acc[OB][TB];
    for (int k = 0; k < OB; k++) for (int j = 0; j < TB; j++) acc[k][j] = SPLAT(0);
    for (int oy = 0; oy < OH; oy++) {
        for (int ox = 0; ox < OW; ox++) {
            const float *xp = xb + oy * x_rs + ox * x_xs;
            const float *gp = gb + oy * g_rs + ox * g_xs + o0 * g_cs;
            V xv[TB], gv[OB];
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

static void NS(act_apply)(float *y, long count, int act) {
    if (act == 3) {
        for (long i = 0; i < count; i++) {
            float x = y[i];
            if (x >= 0) y[i] = 1 / (1 + expf(-x)); else { float e = expf(x); y[i] = e / (1 + e); }
        }
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

/// One lane-block of a first convolution at affine combinations of J anchors (see bk_mix_pool_act):
///   y[o, py, px] = act(bias[o] + max_window Σ_j c_j · Z_j[o, y, x]),  c_j a lane vector.
/// JN > 0 is a compile-time J (registers); JN = 0 reads J at run time.
INLINE void NS(mix_block)(const bk_conv_desc *d, int psh, int psw, int OH, int OW, int J, const float *const *z, long zs,
                          const float *coef, const float *bias, float *y, const int JN) {
    const int O = d->O, n = JN > 0 ? JN : J;
    V c[64];
    const float *zp[64];
    for (int j = 0; j < n; j++) { c[j] = LOAD(coef + (long)j * LANES); zp[j] = z[j]; }
    for (int o = 0; o < O; o++) {
        const V b = SPLAT(bias ? bias[o] : 0.0f);
        const long plane = (long)o * OH * OW;
        for (int py = 0; py < d->PH; py++) {
            for (int px = 0; px < d->PW; px++) {
                V best = SPLAT(0);
                for (int wy = 0; wy < d->PKH; wy++) {
                    for (int wx = 0; wx < d->PKW; wx++) {
                        const long e = (plane + (long)(py * psh + wy) * OW + (px * psw + wx)) * zs;
                        V acc = c[0] * zp[0][e];
                        for (int j = 1; j < n; j++) acc += c[j] * zp[j][e];
                        if (wy == 0 && wx == 0) { best = acc; continue; }
                        VI m = (acc > best) | (acc != acc);      // strictly larger, or NaN (as conv_forward)
                        best = SELECT(m, acc, best);
                    }
                }
                STORE(y + (long)py * d->y_rs + (long)px * d->y_xs + (long)o * d->y_cs, NS(activate)(best + b, d->act, d->slope));
            }
        }
    }
}

static void NS(mix_pool_act)(const bk_conv_desc *d, int psh, int psw, int OH, int OW, int J,
                             const float *const *z, long zs, const float *coef, const float *bias, float *y) {
    switch (J) {
    case 1: NS(mix_block)(d, psh, psw, OH, OW, J, z, zs, coef, bias, y, 1); break;
    case 2: NS(mix_block)(d, psh, psw, OH, OW, J, z, zs, coef, bias, y, 2); break;
    case 3: NS(mix_block)(d, psh, psw, OH, OW, J, z, zs, coef, bias, y, 3); break;
    case 4: NS(mix_block)(d, psh, psw, OH, OW, J, z, zs, coef, bias, y, 4); break;
    default: NS(mix_block)(d, psh, psw, OH, OW, J, z, zs, coef, bias, y, 0); break;
    }
}

static const struct bk_table NS(table) = {
    LANES, NS(conv_forward), NS(conv_weight_grad), NS(pool_act_backward), NS(to_lanes), NS(from_lanes),
    NS(bias_act), NS(act_backward), NS(act_apply), NS(adam), NS(mix_pool_act),
};

#undef V
#undef VI
#undef LOAD
#undef STORE
#undef SPLAT
#undef SELECT
#undef INLINE
