// A fork-join pool whose workers spin briefly between jobs (see bk_parallel_for in CKernels.h).
//
// Why not Dispatch: on the VMs Borderline runs on, waking a parked Dispatch worker costs 150–200 µs
// (`DispatchQueue.concurrentPerform` with two 1 ms parts took 1.18 ms, and two 0.1 ms parts ran one
// after the other), which is most of a 256-image FCN forward and 10–20 % of a CNN forward. OpenBLAS
// and OpenMP runtimes avoid it the same way: a worker that has just finished keeps polling for the
// next job for a while (BORDERLINE_SPIN_US, default 2000 µs) before it sleeps on a condition variable.
//
// Protocol. Each worker has a mailbox: `job` (the sequence number it is asked to run) and `done`
// (the last one it finished). The caller writes the job's fields, publishes `job` with release
// order, runs its own share, and waits for every asked worker's `done`. So no worker is inside a
// job when the caller returns, and the next job's fields can be written without a race. Parts are
// dealt statically (part i goes to participant i mod P): the callers' parts are equal batch chunks.
#define _GNU_SOURCE
#include "CKernels.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

enum { MAX_WORKERS = 255 };

typedef struct {
    _Atomic unsigned long job;    // written by the caller
    _Atomic unsigned long done;   // written by the worker
    _Atomic int sleeping;
    int index;                    // participant number (1…): the caller is 0
} mailbox;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    _Atomic int owner;            // 1 while a caller runs a job
    int workers;
    long spin_ns;
    unsigned long sequence;
    // The current job (written by the owner before it publishes the sequence number).
    bk_task_fn fn;
    void *context;
    long count;
    int participants;
    mailbox *boxes[MAX_WORKERS];
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static _Thread_local int inside_pool_task;

static inline long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static inline void relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void run_share(int participant) {
    for (long i = participant; i < pool.count; i += pool.participants) pool.fn(pool.context, i);
}

static void *worker_main(void *arg) {
    mailbox *box = arg;
    inside_pool_task = 1;
    unsigned long seen = 0;
    for (;;) {
        unsigned long job;
        long start = now_ns();
        for (unsigned spins = 1; (job = atomic_load_explicit(&box->job, memory_order_acquire)) == seen; spins++) {
            if (spins % 256 == 0) {
                if (now_ns() - start > pool.spin_ns) {
                    pthread_mutex_lock(&pool.lock);
                    atomic_store(&box->sleeping, 1);
                    while ((job = atomic_load(&box->job)) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
                    atomic_store(&box->sleeping, 0);
                    pthread_mutex_unlock(&pool.lock);
                    break;
                }
                sched_yield();    // let a runnable thread (an OpenBLAS worker, another process) have the core
            }
            relax();
        }
        seen = job;
        run_share(box->index);
        atomic_store_explicit(&box->done, job, memory_order_release);
    }
    return NULL;
}

static int ensure_workers(int wanted) {
    if (wanted > MAX_WORKERS) wanted = MAX_WORKERS;
    if (pool.workers == 0) {
        const char *env = getenv("BORDERLINE_SPIN_US");
        long us = env ? atol(env) : 2000;
        pool.spin_ns = (us < 0 ? 0 : us) * 1000L;
    }
    while (pool.workers < wanted) {
        mailbox *box = calloc(1, sizeof(mailbox));
        if (!box) break;
        box->index = pool.workers + 1;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 8u << 20);    // the Swift closures run deep call chains
        pthread_t thread;
        int failed = pthread_create(&thread, &attr, worker_main, box);
        pthread_attr_destroy(&attr);
        if (failed) { free(box); break; }
        pthread_detach(thread);
        pool.boxes[pool.workers++] = box;
    }
    return pool.workers;
}

int bk_parallel_for(long count, int threads, bk_task_fn fn, void *context) {
    if (count <= 0) return 1;
    if (threads > count) threads = (int)count;
    if (threads <= 1 || inside_pool_task) {
        for (long i = 0; i < count; i++) fn(context, i);
        return 1;
    }
    int expected = 0;
    if (!atomic_compare_exchange_strong(&pool.owner, &expected, 1)) return 0;    // another caller has it
    int workers = ensure_workers(threads - 1);
    pool.fn = fn;
    pool.context = context;
    pool.count = count;
    pool.participants = workers + 1 < threads ? workers + 1 : threads;
    unsigned long job = ++pool.sequence;
    int asked = pool.participants - 1, wake = 0;
    for (int w = 0; w < asked; w++) {
        atomic_store(&pool.boxes[w]->job, job);    // seq_cst: ordered before the `sleeping` read below
        wake |= atomic_load(&pool.boxes[w]->sleeping);
    }
    if (wake) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    inside_pool_task = 1;
    run_share(0);
    inside_pool_task = 0;
    for (int w = 0; w < asked; w++) {
        for (unsigned spins = 1; atomic_load_explicit(&pool.boxes[w]->done, memory_order_acquire) != job; spins++) {
            if (spins % 256 == 0) sched_yield();
            relax();
        }
    }
    atomic_store(&pool.owner, 0);
    return 1;
}

// Whether the calling thread runs one part of a concurrent region (ComputePolicy.concurrently):
// a C thread-local, because reading Foundation's thread dictionary on every model call cost a
// dictionary lookup and a bridged string.
static _Thread_local int solo_part;
int bk_solo_part(void) { return solo_part; }
void bk_set_solo_part(int value) { solo_part = value; }
