/* ONE nbc_client shared by eight threads at once, against the emulator whose URL is in
 * NBCORE_TEST_BASE_URL. Every thread, in each of ROUNDS rounds:
 *   - nbc_generate on Flash, where the emulator's script answers some attempts with 503, 500 or
 *     a 429 whose RetryInfo asks for 50 ms: the client retries them and succeeds;
 *   - nbc_submit on Flash, polled as a progress bar does: nbc_job_progress every millisecond,
 *     nbc_job_wait with timeout 0 now and then to take the events;
 *   - nbc_submit on Pro, then nbc_job_cancel (at once, or once the request is at the server);
 *   - nbc_submit on Pro, then nbc_job_free while it runs (the handle cancels it);
 *   - nbc_generate on a model the emulator does not know (404, a message naming the model) and
 *     a bad aspect ratio (a message naming the value): both thread-specific, and read back only
 *     after every thread has failed its own way (a barrier), so a last error shared between
 *     threads, or cleared by another thread's success, cannot go unnoticed;
 *   - nbc_diagnose, nbc_check_image, nbc_client_usage.
 * The event callback counts events with atomics, and per thread. Checked: every request ends
 * exactly once with the outcome expected of it and its DONE event on the thread that waited for
 * it; the retries are exactly the scripted faults (by class, in the results and in the events);
 * and the emulator's request log saw exactly the Flash attempts the results record.
 *
 * It runs in every build, and it is the ThreadSanitizer build's test (ctest label "tsan"). */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "emulator_control.h"
#include "nbcore/nbcore.h"

#define THREADS 8
#define ROUNDS 3
#define FLASH "gemini-2.5-flash-image"
#define PRO "gemini-3-pro-image-preview"

static atomic_int failures;
static _Thread_local int tl_worker = -1;    /* this thread's index; -1 outside the workers */
static _Thread_local int tl_done_events;    /* DONE events delivered on this thread */

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: [thread %d] CHECK failed: %s\n", __FILE__, __LINE__,    \
                    tl_worker, #cond);                                                      \
            atomic_fetch_add(&failures, 1);                                                 \
        }                                                                                   \
    } while (0)

/* ---- the emulator's script ---------------------------------------------------------------- */

/* Only Flash requests consume entries (each entry names the model): the Pro jobs that are
 * cancelled and the requests for unknown models never take a fault meant to cause a retry, so
 * every fault is retried exactly once by some Flash request. Seven breaker-counted failures at
 * most (the default breaker opens after eight in a row), spread between successes. */
enum { N503 = 4, N500 = 3, N429 = 8, NFAULTS = N503 + N500 + N429 };

static const char *const kScript[] = {
    "503_overloaded", "rpm_429", "pass",
    "500",            "rpm_429", "pass",
    "503_overloaded", "rpm_429", "pass",
    "500",            "rpm_429", "pass",
    "503_overloaded", "rpm_429", "pass",
    "500",            "rpm_429", "pass",
    "503_overloaded", "rpm_429", "pass",
    "rpm_429",        "pass",
};

static int script_count(const char *name) {
    int n = 0;
    for (size_t i = 0; i < sizeof kScript / sizeof kScript[0]; ++i) n += strcmp(kScript[i], name) == 0;
    return n;
}

static char *script_json(void) {
    size_t n = sizeof kScript / sizeof kScript[0];
    size_t cap = 128 + n * 128;
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t len = (size_t)snprintf(s, cap, "{\"replies\": [");
    for (size_t i = 0; i < n; ++i) {
        const char *e = kScript[i];
        if (strcmp(e, "pass") == 0)
            len += (size_t)snprintf(s + len, cap - len, "%s{\"pass\": true, \"model\": \"" FLASH "\"}",
                                    i ? ", " : "");
        else if (strcmp(e, "rpm_429") == 0)
            len += (size_t)snprintf(s + len, cap - len,
                                    "%s{\"fault\": \"rpm_429\", \"retry_delay\": 0.05, \"model\": \"" FLASH "\"}",
                                    i ? ", " : "");
        else
            len += (size_t)snprintf(s + len, cap - len, "%s{\"fault\": \"%s\", \"model\": \"" FLASH "\"}",
                                    i ? ", " : "", e);
    }
    snprintf(s + len, cap - len, "], \"then\": \"pass\"}");
    return s;
}

/* Occurrences of needle in the haystack with all whitespace removed (the log is pretty-printed). */
static int count_compact(const char *haystack, const char *needle) {
    size_t n = strlen(haystack);
    char *c = malloc(n + 1);
    if (!c) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; ++i)
        if (haystack[i] != ' ' && haystack[i] != '\n' && haystack[i] != '\r' && haystack[i] != '\t')
            c[k++] = haystack[i];
    c[k] = '\0';
    int count = 0;
    for (const char *p = strstr(c, needle); p; p = strstr(p + 1, needle)) ++count;
    free(c);
    return count;
}

/* ---- events --------------------------------------------------------------------------------- */

typedef struct {
    atomic_int by_kind[16];
    atomic_int total;
    atomic_int off_worker;   /* delivered on a thread that is not one of the workers */
    atomic_int malformed;
} event_counts;

static void on_event(const nbc_event *ev, void *payload) {
    event_counts *c = payload;
    atomic_fetch_add(&c->total, 1);
    if (tl_worker < 0) atomic_fetch_add(&c->off_worker, 1);
    if (ev->struct_size < sizeof(nbc_event) || ev->kind < NBC_EVENT_ATTEMPT_START ||
        ev->kind > NBC_EVENT_BUDGET_ALERT || !ev->reason || !ev->message || !ev->route || !ev->image_size) {
        atomic_fetch_add(&c->malformed, 1);
        return;
    }
    atomic_fetch_add(&c->by_kind[ev->kind], 1);
    if (ev->kind == NBC_EVENT_DONE) ++tl_done_events;
    if (ev->kind == NBC_EVENT_RETRY_SCHEDULED && (ev->delay_ms < 0 || ev->delay_ms > 5000))
        atomic_fetch_add(&c->malformed, 1);
}

/* ---- the workers ---------------------------------------------------------------------------- */

enum { FLASH_GENERATE, FLASH_JOB, PRO_CANCEL, MISSING_MODEL, KINDS };

typedef struct {
    int id;
    nbc_client *client;
    pthread_barrier_t *barrier;
    /* written by the worker, read by main after join */
    int ends[ROUNDS][KINDS];          /* how many times each request ended (must be 1) */
    int flash_attempts;               /* attempts of every Flash request */
    int retried_as[NBC_E_INTERNAL + 1]; /* outcomes of the Flash attempts that were retried */
    int done_events;                  /* DONE events seen on this thread */
    int waited;                       /* requests this thread waited for to the end */
    int saw_retrying;                 /* polls that found a Flash job waiting to retry */
    const nbc_error *last_error_object;
} worker;

/* The attempts of a Flash request that succeeded: faults first, each retried, the last one OK. */
static void tally_flash_attempts(worker *w, const nbc_result *res) {
    int n = nbc_result_attempt_count(res);
    CHECK(n >= 1 && n <= NFAULTS + 1);
    w->flash_attempts += n;
    for (int i = 0; i < n; ++i) {
        nbc_attempt a = NBC_ATTEMPT_INIT;
        CHECK(nbc_result_attempt(&a, res, i) == NBC_OK);
        CHECK(a.number == i + 1);
        CHECK(a.execution == NBC_EXEC_EXECUTED);
        if (i == n - 1) {
            CHECK(a.outcome == NBC_OK && a.http_status == 200);
        } else {
            CHECK(a.outcome == NBC_E_UNAVAILABLE || a.outcome == NBC_E_SERVER_ERROR ||
                  a.outcome == NBC_E_RATE_LIMITED);
            if (a.outcome == NBC_E_RATE_LIMITED) CHECK(a.server_delay_ms == 50 && a.http_status == 429);
            CHECK(a.chosen_delay_ms >= 0 && a.chosen_delay_ms <= 1000);
            if (a.outcome >= 0 && a.outcome <= NBC_E_INTERNAL) ++w->retried_as[a.outcome];
        }
    }
}

/* recheck: decode and scan the image again with nbc_check_image (the engine did so already; under
 * ThreadSanitizer a 1K scan costs a tenth of a second, so not for every image). */
static void check_image_of(const nbc_result *res, int recheck) {
    nbc_image_info info = NBC_IMAGE_INFO_INIT;
    CHECK(nbc_result_image_count(res) == 1);
    int rc = nbc_result_image(&info, res, 0);
    CHECK(rc == NBC_OK);
    if (rc != NBC_OK) return;
    CHECK(info.width > 0 && info.height > 0 && info.data != NULL && info.size > 100);
    if (recheck) {
        nbc_image_check chk = NBC_IMAGE_CHECK_INIT;
        CHECK(nbc_check_image(&chk, info.data, info.size) == NBC_OK);
        CHECK(chk.ok == 1 && chk.code == NBC_OK && chk.width == info.width && chk.height == info.height);
    }
    nbc_usage u = NBC_USAGE_INIT;
    CHECK(nbc_result_usage(&u, res) == NBC_OK && u.image_output_tokens > 0);
}

static nbc_request *new_request(const char *prompt, const char *model) {
    nbc_request *r = NULL;
    CHECK(nbc_request_new(&r, prompt) == NBC_OK && r != NULL);
    if (r) CHECK(nbc_request_set_model(r, model) == NBC_OK);
    return r;
}

static void flash_generate(worker *w, int round) {
    char prompt[64];
    snprintf(prompt, sizeof prompt, "a lighthouse at dawn, variant %d", round % 2);
    nbc_request *r = new_request(prompt, FLASH);
    if (!r) return;
    int done_before = tl_done_events;
    nbc_result *res = NULL;
    int rc = nbc_generate(&res, w->client, r);
    if (rc != NBC_OK) fprintf(stderr, "[thread %d] Flash generate: %s\n", w->id, nbc_error_message(NULL));
    CHECK(rc == NBC_OK && res != NULL);
    CHECK(nbc_error_code(NULL) == NBC_OK);
    if (res) {
        tally_flash_attempts(w, res);
        check_image_of(res, round == 0);
        CHECK(strcmp(nbc_result_model_version(res), FLASH) == 0);
    }
    CHECK(tl_done_events == done_before + 1);
    ++w->waited;
    ++w->ends[round][FLASH_GENERATE];
    nbc_result_free(res);
    nbc_request_free(r);
}

static void flash_job(worker *w, int round) {
    nbc_request *r = new_request("a harbour at night", FLASH);
    if (!r) return;
    nbc_submit_options so = NBC_SUBMIT_OPTIONS_INIT;
    so.priority = w->id % 3;
    nbc_job *job = NULL;
    int done_before = tl_done_events;
    CHECK(nbc_submit(&job, w->client, r, &so) == NBC_OK && job != NULL);
    nbc_request_free(r);   /* the job holds its own copy */
    if (!job) return;
    int done = 0, last_attempt = 0;
    int64_t last_elapsed = 0;
    /* Poll as a progress bar does: progress every millisecond, events (nbc_job_wait with 0)
     * every tenth time, so most reads are not ordered by the lock wait takes: a progress()
     * that reads without the job's lock races with the I/O thread's writes, and TSan says so. */
    for (int polls = 0; !done && polls < 30000; ++polls) {
        if (polls % 10 == 0) CHECK(nbc_job_wait(&done, job, 0) == NBC_OK);
        nbc_progress p = NBC_PROGRESS_INIT;
        CHECK(nbc_job_progress(&p, job) == NBC_OK);
        CHECK(p.stage >= NBC_JOB_QUEUED && p.stage <= NBC_JOB_DONE);
        CHECK(p.attempt >= last_attempt);
        CHECK(p.elapsed_ms >= last_elapsed);
        CHECK(p.text[0] != '\0');
        if (p.stage == NBC_JOB_RETRYING) ++w->saw_retrying;
        last_attempt = p.attempt;
        last_elapsed = p.elapsed_ms;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    CHECK(done == 1);
    CHECK(tl_done_events == done_before + 1);
    nbc_progress p = NBC_PROGRESS_INIT;
    CHECK(nbc_job_progress(&p, job) == NBC_OK && p.stage == NBC_JOB_DONE && p.last_outcome == NBC_OK);
    nbc_result *res = NULL;
    int rc = nbc_job_result(&res, job);
    if (rc != NBC_OK) fprintf(stderr, "[thread %d] Flash job: %s\n", w->id, nbc_error_message(NULL));
    CHECK(rc == NBC_OK && res != NULL);
    if (res) {
        tally_flash_attempts(w, res);
        CHECK(p.attempt == nbc_result_attempt_count(res));
        check_image_of(res, 0);
    }
    nbc_result_free(res);
    /* Finished means finished: waiting again delivers nothing more. */
    CHECK(nbc_job_wait(&done, job, 0) == NBC_OK && done == 1);
    CHECK(tl_done_events == done_before + 1);
    ++w->waited;
    ++w->ends[round][FLASH_JOB];
    nbc_job_free(job);
}

static void pro_cancel(worker *w, int round) {
    nbc_request *r = new_request("a quiet forest", PRO);
    if (!r) return;
    nbc_job *job = NULL;
    int done_before = tl_done_events;
    CHECK(nbc_submit(&job, w->client, r, NULL) == NBC_OK && job != NULL);
    nbc_request_free(r);
    if (!job) return;
    int done = 0;
    if ((round + w->id) % 2 == 0) {
        /* The emulator takes 300 ms per answer: 20 ms in, the request is still at the server. */
        CHECK(nbc_job_wait(&done, job, 20) == NBC_OK && done == 0);
    }
    CHECK(nbc_job_cancel(job) == NBC_OK);
    CHECK(nbc_job_cancel(job) == NBC_OK);   /* idempotent */
    CHECK(nbc_job_wait(&done, job, -1) == NBC_OK && done == 1);
    CHECK(tl_done_events == done_before + 1);
    nbc_result *res = NULL;
    CHECK(nbc_job_result(&res, job) == NBC_E_CANCELLED && res == NULL);
    CHECK(nbc_error_code(NULL) == NBC_E_CANCELLED);
    CHECK(strstr(nbc_error_message(NULL), "cancelled") != NULL);
    CHECK(nbc_error_advice(NULL)[0] != '\0');
    CHECK(nbc_error_attempt_count(NULL) <= 1);
    nbc_progress p = NBC_PROGRESS_INIT;
    CHECK(nbc_job_progress(&p, job) == NBC_OK && p.stage == NBC_JOB_DONE);
    ++w->waited;
    ++w->ends[round][PRO_CANCEL];
    nbc_job_free(job);
}

/* A job released while it runs: the handle cancels it; nobody waits, nothing is counted. */
static void pro_abandon(worker *w) {
    nbc_request *r = new_request("an empty beach", PRO);
    if (!r) return;
    nbc_job *job = NULL;
    CHECK(nbc_submit(&job, w->client, r, NULL) == NBC_OK && job != NULL);
    nbc_request_free(r);
    nbc_job_free(job);
}

static void missing_model(worker *w, int round) {
    char model[64];
    snprintf(model, sizeof model, "nbcore-missing-model-t%d-r%d", w->id, round);
    nbc_request *r = new_request("a lighthouse at dawn", model);
    if (!r) return;
    int done_before = tl_done_events;
    nbc_result *res = NULL;
    int rc = nbc_generate(&res, w->client, r);
    nbc_request_free(r);   /* not an nbcore call that can fail: the last error stays */
    CHECK(rc == NBC_E_MODEL_NOT_FOUND && res == NULL);

    /* Every thread has now failed with its own message; each must still read its own. */
    pthread_barrier_wait(w->barrier);
    const nbc_error *e = nbc_error_last();
    CHECK(e != NULL);
    if (!w->last_error_object) w->last_error_object = e;
    CHECK(e == w->last_error_object);   /* one object per thread, for the thread's life */
    CHECK(nbc_error_code(e) == NBC_E_MODEL_NOT_FOUND);
    CHECK(nbc_error_code(NULL) == NBC_E_MODEL_NOT_FOUND);
    if (!strstr(nbc_error_message(NULL), model))
        fprintf(stderr, "[thread %d] expected \"%s\" in \"%s\"\n", w->id, model, nbc_error_message(NULL));
    CHECK(strstr(nbc_error_message(NULL), model) != NULL);
    CHECK(nbc_error_http_status(NULL) == 404);
    CHECK(strcmp(nbc_error_api_status(NULL), "NOT_FOUND") == 0);
    CHECK(nbc_error_advice(NULL)[0] != '\0');
    CHECK(nbc_error_retryable(NULL) == 0);
    CHECK(nbc_error_route(NULL)[0] != '\0');
    CHECK(nbc_error_attempt_count(NULL) == 1);
    nbc_attempt a = NBC_ATTEMPT_INIT;
    CHECK(nbc_error_attempt(&a, NULL, 0) == NBC_OK && a.outcome == NBC_E_MODEL_NOT_FOUND && a.http_status == 404);
    CHECK(nbc_error_attempt(&a, NULL, 1) == NBC_E_INVALID_ARG);
    CHECK(nbc_error_code(NULL) == NBC_E_MODEL_NOT_FOUND);   /* reading attempts changed nothing */
    CHECK(tl_done_events == done_before + 1);
    ++w->waited;
    ++w->ends[round][MISSING_MODEL];

    /* An argument error, named by a value no other thread uses. */
    char ratio[32];
    snprintf(ratio, sizeof ratio, "%d:77", 100 + w->id * ROUNDS + round);
    nbc_request *q = new_request("x", PRO);
    if (q) CHECK(nbc_request_set_aspect_ratio(q, ratio) == NBC_E_INVALID_ARG);
    pthread_barrier_wait(w->barrier);
    CHECK(nbc_error_last() == w->last_error_object);
    CHECK(nbc_error_code(NULL) == NBC_E_INVALID_ARG);
    CHECK(strstr(nbc_error_message(NULL), ratio) != NULL);
    CHECK(nbc_error_attempt_count(NULL) == 0 && nbc_error_http_status(NULL) == 0);
    nbc_request_free(q);
    /* A success clears this thread's error, whatever the others are doing. */
    nbc_retry_policy none;
    memset(&none, 0, sizeof none);
    none.struct_size = sizeof none;
    CHECK(nbc_retry_policy_preset(&none, NBC_RETRY_NONE) == NBC_OK && none.max_attempts == 1);
    CHECK(nbc_error_code(NULL) == NBC_OK);
}

static void odds_and_ends(worker *w) {
    /* nbc_diagnose: an owned object, independent of the last error. */
    static const char body[] =
        "{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted (e.g. check quota).\","
        "\"status\":\"RESOURCE_EXHAUSTED\"}}";
    char headers[64];
    snprintf(headers, sizeof headers, "Retry-After: %d\n", w->id + 1);
    nbc_error *d = NULL;
    CHECK(nbc_diagnose(&d, 429, body, sizeof body - 1, headers) == NBC_OK && d != NULL);
    if (d) {
        CHECK(nbc_error_code(d) == NBC_E_RATE_LIMITED);
        CHECK(nbc_error_retry_after_ms(d) == (int64_t)(w->id + 1) * 1000);
        CHECK(nbc_error_advice(d)[0] != '\0');
        CHECK(d != nbc_error_last());
    }
    nbc_error_free(d);

    static const unsigned char junk[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    nbc_image_check chk = NBC_IMAGE_CHECK_INIT;
    CHECK(nbc_check_image(&chk, junk, sizeof junk) == NBC_OK);
    CHECK(chk.ok == 0 && chk.code == NBC_E_BAD_RESPONSE && chk.reason[0] != '\0');

    for (int format = NBC_USAGE_TEXT; format <= NBC_USAGE_JSON; ++format) {
        char *text = NULL;
        CHECK(nbc_client_usage(&text, w->client, format) == NBC_OK && text != NULL);
        if (text) CHECK(format == NBC_USAGE_TEXT ? text[0] != '\0' : text[0] == '{');
        nbc_string_free(text);
    }
    CHECK(nbc_client_usage(NULL, w->client, NBC_USAGE_TEXT) == NBC_E_INVALID_ARG);
    CHECK(strstr(nbc_error_message(NULL), "out") != NULL);
}

static void *run_worker(void *arg) {
    worker *w = arg;
    tl_worker = w->id;
    for (int round = 0; round < ROUNDS; ++round) {
        pthread_barrier_wait(w->barrier);   /* start each round together: the most contention */
        if (w->id % 2) {
            flash_job(w, round);
            pro_cancel(w, round);
            flash_generate(w, round);
        } else {
            flash_generate(w, round);
            pro_cancel(w, round);
            flash_job(w, round);
        }
        odds_and_ends(w);
        pro_abandon(w);
        missing_model(w, round);
    }
    w->done_events = tl_done_events;
    return NULL;
}

int main(void) {
    const char *url = getenv("NBCORE_TEST_BASE_URL");
    const char *key = getenv("NBCORE_TEST_KEY");
    if (!url || !key) {
        fprintf(stderr, "set NBCORE_TEST_BASE_URL and NBCORE_TEST_KEY\n");
        return 2;
    }
    if (script_count("503_overloaded") != N503 || script_count("500") != N500 || script_count("rpm_429") != N429) {
        fprintf(stderr, "kScript and N503 / N500 / N429 disagree\n");
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);

    char *script = script_json();
    control_reply reply = {NULL, 0};
    long status = script ? emulator_control(url, "script", script, &reply) : 0;
    if (status != 200) {
        fprintf(stderr, "loading the script: HTTP %ld %s\n", status, reply.data ? reply.data : "");
        return 1;
    }
    free(reply.data);
    free(script);

    /* Short waits (the test takes seconds), enough attempts for any share of the faults, and no
     * retry budget: which request meets which fault is up to the scheduler, the totals are not. */
    nbc_retry_policy retry;
    memset(&retry, 0, sizeof retry);
    retry.struct_size = sizeof retry;
    CHECK(nbc_retry_policy_preset(&retry, NBC_RETRY_INTERACTIVE) == NBC_OK);
    retry.max_attempts = NFAULTS + 1;
    retry.server_base_ms = 5;
    retry.server_cap_ms = 20;
    retry.gateway_base_ms = 5;
    retry.gateway_cap_ms = 20;
    retry.rate_base_ms = 5;
    retry.rate_cap_ms = 20;
    retry.max_wait_ms = 5000;
    retry.jitter_ratio = 0.1;

    static event_counts events;
    nbc_client_options o = NBC_CLIENT_OPTIONS_INIT;
    o.api_key = key;
    o.base_url = url;
    o.retry = &retry;
    o.flags = NBC_CLIENT_NO_RETRY_BUDGET;
    o.deadline_ms = 60000;
    o.on_event = on_event;
    o.event_payload = &events;
    /* Limits this test never reaches: a 429 then teaches only its 50 ms, not a lower rate. */
    o.rpm_limit = 1000000;
    o.tpm_limit = 1000000000;
    o.ipm_limit = 1000000;
    o.rpd_limit = 100000000;
    nbc_client *client = NULL;
    if (nbc_client_new(&client, &o) != NBC_OK) {
        fprintf(stderr, "nbc_client_new: %s\n", nbc_error_message(NULL));
        return 1;
    }

    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, THREADS);
    static worker workers[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; ++t) {
        workers[t].id = t;
        workers[t].client = client;
        workers[t].barrier = &barrier;
        if (pthread_create(&threads[t], NULL, run_worker, &workers[t]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    for (int t = 0; t < THREADS; ++t) pthread_join(threads[t], NULL);
    pthread_barrier_destroy(&barrier);

    /* Every request ended exactly once, each DONE on the thread that waited for it. */
    int flash_attempts = 0, flash_requests = 0, waited = 0, saw_retrying = 0;
    int retried_as[NBC_E_INTERNAL + 1] = {0};
    for (int t = 0; t < THREADS; ++t) {
        const worker *w = &workers[t];
        for (int round = 0; round < ROUNDS; ++round)
            for (int k = 0; k < KINDS; ++k)
                if (w->ends[round][k] != 1) {
                    fprintf(stderr, "thread %d round %d request %d ended %d times\n", t, round, k, w->ends[round][k]);
                    atomic_fetch_add(&failures, 1);
                }
        CHECK(w->done_events == w->waited);
        CHECK(w->last_error_object != NULL);
        for (int u = 0; u < t; ++u) CHECK(w->last_error_object != workers[u].last_error_object);
        flash_attempts += w->flash_attempts;
        waited += w->waited;
        saw_retrying += w->saw_retrying;
        for (int c = 0; c <= NBC_E_INTERNAL; ++c) retried_as[c] += w->retried_as[c];
    }
    flash_requests = THREADS * ROUNDS * 2;
    CHECK(waited == THREADS * ROUNDS * KINDS);

    /* Each scripted fault was met once and retried once, as the class it is. */
    CHECK(flash_attempts == flash_requests + NFAULTS);
    CHECK(retried_as[NBC_E_UNAVAILABLE] == N503);
    CHECK(retried_as[NBC_E_SERVER_ERROR] == N500);
    CHECK(retried_as[NBC_E_RATE_LIMITED] == N429);

    int ev_start = atomic_load(&events.by_kind[NBC_EVENT_ATTEMPT_START]);
    int ev_end = atomic_load(&events.by_kind[NBC_EVENT_ATTEMPT_END]);
    int ev_retry = atomic_load(&events.by_kind[NBC_EVENT_RETRY_SCHEDULED]);
    int ev_done = atomic_load(&events.by_kind[NBC_EVENT_DONE]);
    CHECK(atomic_load(&events.off_worker) == 0);
    CHECK(atomic_load(&events.malformed) == 0);
    CHECK(ev_done == waited);
    CHECK(ev_start == ev_end);
    CHECK(ev_retry == NFAULTS);
    /* Flash attempts + one per missing model + at most one per cancelled Pro job. */
    CHECK(ev_start >= flash_attempts + THREADS * ROUNDS && ev_start <= flash_attempts + 2 * THREADS * ROUNDS);

    /* The server saw each Flash attempt once: no request was sent twice or lost. */
    reply.data = NULL;
    reply.size = 0;
    status = emulator_control(url, "requests", NULL, &reply);
    CHECK(status == 200 && reply.data != NULL);
    if (reply.data) {
        int seen_flash = count_compact(reply.data, "\"model\":\"" FLASH "\"");
        int seen_missing = count_compact(reply.data, "\"model\":\"nbcore-missing-model-");
        int seen_503 = count_compact(reply.data, "\"fault\":\"503_overloaded\"");
        int seen_500 = count_compact(reply.data, "\"fault\":\"500\"");
        int seen_429 = count_compact(reply.data, "\"fault\":\"rpm_429\"");
        if (seen_flash != flash_attempts)
            fprintf(stderr, "the emulator saw %d Flash requests, the results record %d attempts\n", seen_flash,
                    flash_attempts);
        CHECK(seen_flash == flash_attempts);
        CHECK(seen_missing == THREADS * ROUNDS);
        CHECK(seen_503 == N503 && seen_500 == N500 && seen_429 == N429);
    }
    free(reply.data);

    /* Freeing the client cancels and waits for the abandoned jobs. */
    nbc_client_free(client);
    curl_global_cleanup();

    printf("%d threads x %d rounds: %d requests waited for, %d Flash attempts (%d scripted faults), "
           "%d events (%d retries), %d polls saw a retry wait\n",
           THREADS, ROUNDS, waited, flash_attempts, NFAULTS, atomic_load(&events.total), ev_retry, saw_retrying);
    if (atomic_load(&failures)) {
        fprintf(stderr, "%d checks failed\n", atomic_load(&failures));
        return 1;
    }
    printf("threads test passed\n");
    return 0;
}
