// Lane kernels: small convolutional and element-wise kernels that run a block of LANES images in
// the lanes of one SIMD register (AVX-512: 16, AVX2: 8, portable: 4), so every image sees exactly the
// scalar arithmetic of a direct convolution and no patch matrix is built. Borderline's `LanePlan`
// (Swift) drives them; docs/benchmarks.md has the measurements that chose them.
//
// Layout. A "lane buffer" holds an image tensor [E elements] for LANES images at a time: element e
// of lane-block b starts at `base + b*bs + e*ld` and its LANES floats (one per image) are contiguous.
// Block-major buffers have ld = LANES, bs = E*LANES; feature-major buffers [E][N] have ld = N, bs =
// LANES (the layout sgemm multiplies). Lane vectors are loaded unaligned.
#ifndef BORDERLINE_CKERNELS_H
#define BORDERLINE_CKERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Which instruction set the kernels use: 3 AVX-512, 2 AVX2+FMA, 1 portable, 4 AVX-512's blocking
/// (16 lanes) compiled for AVX2 (tests only). Chosen once from the CPU (and
/// `BORDERLINE_SIMD=avx512|avx2|portable|avx512-emulated`, for tests), or by `bk_select_isa`.
int bk_isa(void);
/// Lanes per block of the current instruction set.
int bk_lanes(void);
/// Forces an instruction set (0: back to automatic); returns the one in force. Not thread-safe:
/// call it while no kernel runs.
int bk_select_isa(int isa);

/// One part of a parallel loop: `context` as given, `index` in 0..<count.
typedef void (*bk_task_fn)(void *context, long index);
/// Runs fn(context, 0) … fn(context, count − 1) on up to `threads` threads — the caller and the
/// workers of a persistent pool, which poll for the next job for BORDERLINE_SPIN_US (default 2000)
/// after each one before they sleep — and returns when every part has finished. Part i runs on
/// participant i mod P. Called from inside a part, or with threads ≤ 1, the parts run in order on
/// the calling thread. Returns 0 without running anything when another thread is using the pool
/// (the caller then parallelises another way), 1 otherwise.
int bk_parallel_for(long count, int threads, bk_task_fn fn, void *context);
/// A per-thread flag: nonzero while the calling thread runs one part of a concurrent region.
int bk_solo_part(void);
void bk_set_solo_part(int value);

/// A direct convolution with an optional non-overlapping max-pool and activation fused behind it:
///   z[o, oy, ox] = Σ_t W[t, o] · x[pos(oy, ox) + off[t]]             (t runs over the T = C·kh·kw taps)
///   y[o, py, px] = act(bias[o] + max_{wy < PKH, wx < PKW} z[o, py·PSH + wy, px·PSW + wx])
/// which equals pool(act(z + bias)) for ReLU/leaky ReLU (slope ≥ 0) since both are monotone, and
/// pool(z)+bias exactly. A NaN in a window wins, as in PyTorch. `argmax` (may be NULL) receives the
/// window index wy·PKW + wx of the first maximum, as a float.
typedef struct {
    int T;               // taps per output: C·kh·kw
    int O;               // output channels
    int PH, PW;          // output grid (pooled)
    int PKH, PKW;        // pool window (1, 1: no pool)
    long x_rs, x_xs;     // input offset (floats, ×ld included) of conv output row / column step
    long x_bs;           // input block stride (floats)
    long y_cs, y_rs, y_xs, y_bs; // output strides (floats, ×ld included) per channel, row, column, block
    int act;             // 0 none, 1 ReLU, 2 leaky ReLU
    float slope;         // leaky ReLU slope (≥ 0)
} bk_conv_desc;

/// `off[t]` (floats, ×ld included) is tap t's offset from an output position's window origin;
/// `w` is `[T][O]`; `bias` may be NULL; pool stride PSH/PSW: conv rows/columns per pooled step.
void bk_conv_forward(const bk_conv_desc *d, int psh, int psw, int blocks,
                     const float *x, const long *off, const float *w, const float *bias,
                     float *y, float *argmax);

/// Weight (and bias) gradients of a convolution, per lane:
///   gw[o, t, lane] += Σ_{oy, ox} g[o, oy, ox] · x[pos(oy, ox) + off[t]],  gb[o, lane] += Σ g[o, oy, ox]
/// over `blocks` lane-blocks; `gb` may be NULL. g's strides are per channel / row / column / block.
void bk_conv_weight_grad(int T, int O, int OH, int OW, int blocks,
                         const float *x, long x_bs, long x_rs, long x_xs, const long *off,
                         const float *g, long g_bs, long g_cs, long g_rs, long g_xs,
                         float *gw, float *gb);

/// Routes the gradient of a fused pool+activation output back to the convolution output:
///   g[o, py·PSH + wy, px·PSW + wx] = act'(y) · dy[o, py, px]  for the window index argmax selected,
/// leaving every other entry of g untouched (the caller zeroes g). `y`, `dy` and `argmax` use the
/// output layout of `d` (with their own block strides); g uses its own strides.
void bk_pool_act_backward(const bk_conv_desc *d, int psh, int psw, int blocks,
                          const float *y, long y_bs, const float *dy, long dy_bs, long dy_cs, long dy_rs, long dy_xs,
                          const float *argmax, long a_bs,
                          float *g, long g_bs, long g_cs, long g_rs, long g_xs);

/// Row-major images `src[n][C][H][W]` (n ≤ blocks·LANES) into block-major lanes with zero padding
/// and zero lanes past n: `dst[b][c][top + h][left + w][lane]`, planes `Hp × Wp`.
void bk_to_lanes(const float *src, int n, int C, int H, int W, int top, int left, int Hp, int Wp,
                 int blocks, float *dst);
/// The inverse crop: lane buffer `src` (element (c, top + h, left + w) at c·cs + (top+h)·rs + (left+w)·xs,
/// ×ld included, block stride bs) into row-major `dst[n][C][H][W]`.
void bk_from_lanes(const float *src, long bs, long cs, long rs, long xs, int n, int C, int H, int W,
                   int top, int left, float *dst);

/// Feature-major `[F][N]` with bias and activation applied in place: `y[f, :] = act(y[f, :] + bias[f])`.
void bk_bias_act(float *y, int F, long N, const float *bias, int act, float slope);
/// `dy ⊙ act'(y)` in place over `count` floats (act 1: [y > 0]; 2: 1 or slope).
void bk_act_backward(float *dy, const float *y, long count, int act, float slope);
/// Element-wise activation in place (3 sigmoid, 4 tanh — the ones a dense head ends with).
void bk_act_apply(float *y, long count, int act);

/// Adam over one flat parameter vector (PyTorch semantics, see `Adam` in Swift):
///   g' = g + wd·θ; m += (1−β₁)(g' − m); v = β₂·v + (1−β₂)·g'²; θ −= step · m / (√v / bc2 + eps)
void bk_adam(float *theta, const float *grad, float *m, float *v, long count,
             float w1, float b2, float w2, float step, float bc2sqrt, float eps, float wd);
/// bk_adam over `count` parameter vectors at the same step in one call (PyTorch's fused Adam):
/// vector i is `theta[i]`, `grad[i]` of `sizes[i]` floats, and its moments are the next `sizes[i]`
/// floats of the flat arrays `m` and `v`, in order.
void bk_adam_many(long count, float *const *theta, const float *const *grad, const long *sizes, float *m, float *v,
                  float w1, float b2, float w2, float step, float bc2sqrt, float eps, float wd);

/// Packs a dense layer's weight `w [O][K]` (row-major, PyTorch's `Linear` layout) and `bias [O]`
/// (may be NULL) for bk_dense_forward, in the current instruction set's panel width. Returns the
/// floats the packed form needs; with `wp` NULL it only returns that.
long bk_dense_pack(const float *w, int O, int K, const float *bias, float *wp);
/// A dense layer with its activation fused, from packed weights (bk_dense_pack, same instruction set):
///   y[r·ldy + o] = act(bias[o] + Σ_k x[r·ldx + k] · W[o][k])   for r < n, o < O,
/// each sum over k in order, the bias added last (as sgemm with β = 1 onto the bias). act: 0 none,
/// 1 ReLU, 2 leaky ReLU (slope), 3 sigmoid, 4 tanh. Single-threaded; rows are independent.
void bk_dense_forward(const float *x, long n, int K, long ldx, const float *wp, int O, int act, float slope,
                      float *y, long ldy);

/// One lane-block of a first convolution evaluated at affine combinations of J ≤ 64 anchor images
/// (lane l is the point Σ_j coef[j·LANES + l] · A_j with Σ_j coef = 1), pooled and activated:
///   y[o, py, px] = act(bias[o] + max_window Σ_j coef_j · Z_j[o, py·PSH + wy, px·PSW + wx])
/// where Z_j = conv(A_j) without bias, element (o, y, x) at z[j][((o·OH + y)·OW + x)·zs]. The
/// convolution is linear, so this equals bk_conv_forward on the combined images up to float
/// rounding. Output strides and pool/activation come from `d` (T and x strides are unused).
void bk_mix_pool_act(const bk_conv_desc *d, int psh, int psw, int OH, int OW, int J, const float *const *z, long zs,
                     const float *coef, const float *bias, float *y);

#ifdef __cplusplus
}
#endif
#endif
