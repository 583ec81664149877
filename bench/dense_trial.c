// The FCN forward (W6: 784 → 50 → 50 → 10, ReLU between) through Borderline's fused dense kernel
// (bk_dense_forward, packed weights) against OpenBLAS's sgemm + separate bias/ReLU passes, on one
// thread (128 rows) and on two threads splitting a batch of 256, to decide the dense path by
// measurement (docs/benchmarks.md).
//
//   cc -O2 -I Sources/Core/Sources/CKernels/include bench/dense_trial.c \
//      Sources/Core/Sources/CKernels/kernels.c -lopenblas -lpthread -lm -o /tmp/dense_trial && /tmp/dense_trial
#include "CKernels.h"
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

enum { LAYERS = 3 };
static const int dims[LAYERS + 1] = {784, 50, 50, 10};
static float *w[LAYERS], *b[LAYERS], *wp[LAYERS];

typedef struct { const float *x; int n; float *h[LAYERS]; int fused; double rate; } job;

static void chain(job *j) {
    const float *in = j->x;
    for (int l = 0; l < LAYERS; l++) {
        const int K = dims[l], O = dims[l + 1], act = l + 1 < LAYERS ? 1 : 0;
        if (j->fused) {
            bk_dense_forward(in, j->n, K, K, wp[l], O, act, 0, j->h[l], O);
        } else {
            for (int r = 0; r < j->n; r++) for (int o = 0; o < O; o++) j->h[l][r * O + o] = b[l][o];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->n, O, K, 1, in, K, w[l], K, 1, j->h[l], O);
            if (act) for (long i = 0; i < (long)j->n * O; i++) if (j->h[l][i] < 0) j->h[l][i] = 0;
        }
        in = j->h[l];
    }
}

/// Images per second of `j`'s chain: best of 7 blocks of 0.3 s.
static void *measure(void *p) {
    job *j = p;
    double best = 0;
    for (int run = 0; run < 7; run++) {
        long calls = 0;
        double t0 = now(), t;
        do { chain(j); calls++; } while ((t = now() - t0) < 0.3);
        double rate = calls * j->n / t;
        if (rate > best) best = rate;
    }
    j->rate = best;
    return NULL;
}

static job make(const float *x, int n, int fused) {
    job j = {x, n, {0}, fused, 0};
    for (int l = 0; l < LAYERS; l++) j.h[l] = malloc(sizeof(float) * n * dims[l + 1]);
    return j;
}

int main(void) {
    openblas_set_num_threads(1);
    srand(1);
    for (int l = 0; l < LAYERS; l++) {
        const int K = dims[l], O = dims[l + 1];
        w[l] = malloc(sizeof(float) * O * K);
        b[l] = malloc(sizeof(float) * O);
        for (int i = 0; i < O * K; i++) w[l][i] = (rand() / (float)RAND_MAX - 0.5f) / sqrtf(K);
        for (int i = 0; i < O; i++) b[l][i] = rand() / (float)RAND_MAX - 0.5f;
        wp[l] = malloc(sizeof(float) * bk_dense_pack(w[l], O, K, b[l], NULL));
        bk_dense_pack(w[l], O, K, b[l], wp[l]);
    }
    float *x = malloc(sizeof(float) * 256 * 784);
    for (int i = 0; i < 256 * 784; i++) x[i] = rand() / (float)RAND_MAX;

    // Agreement first: the fused chain against sgemm + bias + ReLU.
    job f = make(x, 256, 1), s = make(x, 256, 0);
    chain(&f);
    chain(&s);
    double worst = 0;
    for (int i = 0; i < 256 * 10; i++) worst = fmax(worst, fabs(f.h[2][i] - s.h[2][i]));
    printf("isa %d (lanes %d), max |fused − sgemm| over the logits: %.3g\n", bk_isa(), bk_lanes(), worst);

    for (int fused = 0; fused < 2; fused++) {
        job one = make(x, 128, fused);
        measure(&one);
        job halves[2] = {make(x, 128, fused), make(x + 128 * 784, 128, fused)};
        pthread_t t;
        pthread_create(&t, NULL, measure, &halves[1]);
        measure(&halves[0]);
        pthread_join(t, NULL);
        printf("%-22s 1 thread %8.0f images/s   2 threads (split 256) %8.0f images/s\n",
               fused ? "fused bk_dense_forward" : "OpenBLAS + bias/ReLU", one.rate, halves[0].rate + halves[1].rate);
    }
    return 0;
}
