// The machine's float32 FMA peak, for reading the GFLOP/s of docs/benchmarks.md against it:
// each thread runs 12 independent chains of 256-bit fused multiply-adds (enough to cover the FMA
// latency on two pipes), so the loop is bound by FMA throughput alone.
//
//   cc -O2 -mavx2 -mfma -pthread bench/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

enum { ITERATIONS = 2000000000 / 12 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void *chains(void *out) {
    // Twelve named accumulators, so they stay in registers.
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2), a3 = _mm256_set1_ps(3);
    __m256 a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5), a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7);
    __m256 a8 = _mm256_set1_ps(8), a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
    for (long n = 0; n < ITERATIONS; n++) {
        a0 = _mm256_fmadd_ps(a0, m, c); a1 = _mm256_fmadd_ps(a1, m, c); a2 = _mm256_fmadd_ps(a2, m, c);
        a3 = _mm256_fmadd_ps(a3, m, c); a4 = _mm256_fmadd_ps(a4, m, c); a5 = _mm256_fmadd_ps(a5, m, c);
        a6 = _mm256_fmadd_ps(a6, m, c); a7 = _mm256_fmadd_ps(a7, m, c); a8 = _mm256_fmadd_ps(a8, m, c);
        a9 = _mm256_fmadd_ps(a9, m, c); a10 = _mm256_fmadd_ps(a10, m, c); a11 = _mm256_fmadd_ps(a11, m, c);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    *(float *)out = _mm256_cvtss_f32(s);
    return NULL;
}

int main(void) {
    const double flops = 2.0 * 8 * 12 * (double)ITERATIONS;    // per thread
    for (int threads = 1; threads <= 2; threads++) {
        pthread_t t[2];
        float sink[2];
        double t0 = now();
        for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, chains, &sink[i]);
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
        double s = now() - t0;
        printf("%d thread%s: %.1f GFLOP/s float32 FMA (%.3f s; sink %g)\n", threads, threads > 1 ? "s" : "",
               threads * flops / s * 1e-9, s, (double)(sink[0] + (threads > 1 ? sink[1] : 0)));
    }
    return 0;
}
