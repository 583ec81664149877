// The FCN forward's three products (W6: batch 256, 784 → 50 → 50 → 10, y = x·Wᵀ) through OpenBLAS,
// BLIS and oneDNN's sgemm, on 1 and 2 threads, plus the 784 → 100 → 50 → 784 autoencoder's, to pick
// the library for dense layers by measurement (docs/benchmarks.md). Each library is loaded with
// dlopen so their CBLAS symbols do not collide.
//
//   cc -O2 bench/sgemm_trial.c -ldl -o /tmp/sgemm_trial && /tmp/sgemm_trial
// (needs libopenblas0-pthread; BLIS and oneDNN are optional: apt-get install libblis4 libdnnl2)
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                               float *, int);
typedef int (*dnnl_sgemm_fn)(char, char, long, long, long, float, const float *, long, const float *, long, float,
                             float *, long);
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

typedef struct { int m, n, k; } shape;
static const shape fcn[] = {{256, 50, 784}, {256, 50, 50}, {256, 10, 50}};
static const shape ae[] = {{128, 100, 784}, {128, 50, 100}, {128, 784, 50}};

static cblas_sgemm_fn cblas;
static dnnl_sgemm_fn dnnl;

static void product(const shape *s, const float *a, const float *b, float *c) {
    if (cblas) cblas(ROW_MAJOR, NO_TRANS, TRANS, s->m, s->n, s->k, 1, a, s->k, b, s->k, 0, c, s->n);
    else dnnl('N', 'T', s->m, s->n, s->k, 1, a, s->k, b, s->k, 0, c, s->n);
}

/// Microseconds per chain of products (best of 7 runs of `reps`).
static double time_chain(const shape *chain, int count, float **a, float **b, float **c) {
    int reps = 2000;
    double best = 1e30;
    for (int run = 0; run < 7; run++) {
        double t0 = now();
        for (int r = 0; r < reps; r++)
            for (int i = 0; i < count; i++) product(&chain[i], a[i], b[i], c[i]);
        double us = (now() - t0) / reps * 1e6;
        if (us < best) best = us;
    }
    return best;
}

typedef struct { const shape *chain; float **a, **b, **c; double us; } half_job;

static void *half_chain(void *p) {
    half_job *j = p;
    j->us = time_chain(j->chain, 3, j->a, j->b, j->c);
    return NULL;
}

/// Each of two threads runs the whole FCN chain on half the batch with a one-thread library (how
/// Borderline splits convolutional models); microseconds per full batch.
static double split_chain(float **a, float **b, float **c) {
    static shape halves[3];
    for (int i = 0; i < 3; i++) { halves[i] = fcn[i]; halves[i].m /= 2; }
    float *a2[3], *c2[3];
    for (int i = 0; i < 3; i++) { a2[i] = a[i] + 128 * 784; c2[i] = c[i] + 128 * 784; }
    half_job jobs[2] = {{halves, a, b, c, 0}, {halves, a2, b, c2, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, half_chain, &jobs[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    return jobs[0].us > jobs[1].us ? jobs[0].us : jobs[1].us;
}

static void run(const char *name, int threads) {
    float *a[3], *b[3], *c[3];
    for (int i = 0; i < 3; i++) {
        a[i] = malloc(sizeof(float) * 256 * 784);
        b[i] = malloc(sizeof(float) * 784 * 784);
        c[i] = malloc(sizeof(float) * 256 * 784);
        for (int j = 0; j < 256 * 784; j++) a[i][j] = (float)(((long)j * 7919) % 1000) / 1000.0f;
        for (int j = 0; j < 784 * 784; j++) b[i][j] = (float)(((long)j * 104729) % 2000) / 1000.0f - 1;
    }
    double first = time_chain(fcn, 1, a, b, c), chain = time_chain(fcn, 3, a, b, c);
    double flops = 2.0 * 256 * (784 * 50 + 50 * 50 + 50 * 10);
    double aechain = time_chain(ae, 3, a, b, c);
    printf("%-9s %d thread%s  256×784×50 %7.1f µs (%5.1f GFLOP/s)   FCN chain %7.1f µs = %8.0f images/s (%5.1f GFLOP/s)"
           "   AE chain b128 %7.1f µs\n",
           name, threads, threads > 1 ? "s" : " ", first, 2.0 * 256 * 784 * 50 / first * 1e-3, chain, 256 / chain * 1e6,
           flops / chain * 1e-3, aechain);
    if (threads == 1) {
        double split = split_chain(a, b, c);
        printf("%-9s 2 × 1 thread, batch split: FCN chain %7.1f µs = %8.0f images/s (%5.1f GFLOP/s)\n", name, split,
               256 / split * 1e6, flops / split * 1e-3);
    }
    for (int i = 0; i < 3; i++) { free(a[i]); free(b[i]); free(c[i]); }
}

int main(int argc, char **argv) {
    const char *libs[][2] = {
        {"OpenBLAS", "/usr/lib/x86_64-linux-gnu/libopenblas.so.0"},
        {"BLIS", "libblis.so.4"},
        {"oneDNN", "libdnnl.so.2"},
    };
    for (int l = 0; l < 3; l++) {
        if (argc > 1 && strcmp(argv[1], libs[l][0])) continue;
        void *h = dlopen(libs[l][1], RTLD_NOW | RTLD_LOCAL);
        if (!h) { printf("%-9s not installed (%s)\n", libs[l][0], dlerror()); continue; }
        cblas = l < 2 ? (cblas_sgemm_fn)dlsym(h, "cblas_sgemm") : NULL;
        dnnl = l == 2 ? (dnnl_sgemm_fn)dlsym(h, "dnnl_sgemm") : NULL;
        for (int threads = 1; threads <= 2; threads++) {
            if (l == 0) ((void (*)(int))dlsym(h, "openblas_set_num_threads"))(threads);
            if (l == 1) ((void (*)(long))dlsym(h, "bli_thread_set_num_threads"))(threads);
            if (l == 2) {
                // oneDNN's sgemm threads with OpenMP; its thread count comes from OMP_NUM_THREADS.
                char *env = getenv("OMP_NUM_THREADS");
                if (!env || atoi(env) != threads) { if (threads == 1) printf("oneDNN    (run with OMP_NUM_THREADS=1 and =2)\n"); }
                if (env && atoi(env) != threads) continue;
            }
            run(libs[l][0], threads);
        }
    }
    return 0;
}
