/* Cancellation tokens and per-stage progress of nbc_scene_run / nbc_inpaint, against the emulator
 * (NBCORE_TEST_BASE_URL), on Flash:
 *   - a token raised before the call ends it at once: nothing reaches the server (its request
 *     log and the client's events say so); a scene still returns its (failed) first stage;
 *   - a token raised by another thread while an inpaint's reply is held back 5 s ends the call
 *     with NBC_E_CANCELLED well before then;
 *   - a token raised while a scene's stage 2 waits on the server keeps stage 1, names stage 2 as
 *     the cancelled one, and a resume sends only what is left and completes;
 *   - on_stage is called once per stage run (never for a stage reused from `resume`), with the
 *     stage's index, status and kind and the scene's total, and the payload as given;
 *   - callers built against the first layouts of nbc_scene_options and nbc_inpaint_options (and
 *     a struct_size covering only part of the new field group) are served, the new fields unread. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "emulator_control.h"
#include "nbcore/nbcore.h"

#define FLASH "gemini-2.5-flash-image"

static atomic_int failures;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); ++failures; } } while (0)

static const char *base_url;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the emulator's control routes ---------------------------------------------------------- */

static long control(const char *route, const char *body, control_reply *out) {
    return emulator_control(base_url, route, body, out);
}

static void script(const char *json) { CHECK(control("script", json, NULL) == 200); }

/* Entries in the emulator's request log: one per API request that reached it. */
static int logged_requests(void) {
    control_reply b = {NULL, 0};
    int count = -1;
    if (control("requests", NULL, &b) == 200 && b.data) {
        count = 0;
        for (const char *p = strstr(b.data, "\"method\""); p; p = strstr(p + 1, "\"method\"")) ++count;
    }
    free(b.data);
    return count;
}

/* ---- the client's events and the scene's stage reports -------------------------------------- */

static atomic_int attempts_started;
static void on_event(const nbc_event *ev, void *payload) {
    (void)payload;
    if (ev->kind == NBC_EVENT_ATTEMPT_START) ++attempts_started;
}

#define MAX_REPORTS 8
typedef struct {
    int count;
    int index[MAX_REPORTS];
    int status[MAX_REPORTS];
    int total[MAX_REPORTS];
    char kind[MAX_REPORTS][16];
    int composite_ok[MAX_REPORTS];   /* width/height > 0 exactly when the stage succeeded */
    atomic_int last_index;           /* read by the canceller thread */
} stage_reports;

static void reports_reset(stage_reports *r) {
    memset(r->index, 0, sizeof r->index);
    r->count = 0;
    atomic_store(&r->last_index, -1);
}

static void on_stage(const nbc_scene_stage_info *st, int total_stages, void *payload) {
    stage_reports *r = payload;
    CHECK(st != NULL && st->struct_size >= offsetof(nbc_scene_stage_info, answer_mime) + sizeof(const char *));
    if (r->count < MAX_REPORTS) {
        int i = r->count;
        r->index[i] = st->index;
        r->status[i] = st->status;
        r->total[i] = total_stages;
        snprintf(r->kind[i], sizeof r->kind[i], "%s", st->kind ? st->kind : "(null)");
        r->composite_ok[i] = st->status == NBC_OK ? (st->width > 0 && st->height > 0 && st->answer != NULL)
                                                  : (st->width == 0 && st->height == 0);
        CHECK(st->prompt != NULL && st->prompt[0] != '\0');
    }
    ++r->count;
    atomic_store(&r->last_index, st->index);
}

/* A scene of three stages: background, an edit, a cutout. */
static nbc_scene *three_stage_scene(void) {
    nbc_scene *s = NULL;
    CHECK(nbc_scene_new(&s, "a quiet meadow under a blue sky") == NBC_OK);
    CHECK(nbc_scene_set_aspect_ratio(s, "4:3") == NBC_OK);
    CHECK(nbc_scene_set_model(s, FLASH) == NBC_OK);
    CHECK(nbc_scene_add_element(s, "a red barn", 0.1, 0.4, 0.35, 0.4, 0, NBC_ELEMENT_EDIT) == NBC_OK);
    CHECK(nbc_scene_add_element(s, "a white horse", 0.55, 0.5, 0.3, 0.35, 1, NBC_ELEMENT_CUTOUT) == NBC_OK);
    return s;
}

/* ---- a picture and its mask for inpainting ---------------------------------------------------- */

enum { W = 160, H = 120 };
static uint8_t picture[W * H * 4];
static uint8_t mask[W * H];

static void make_picture(void) {
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
            uint8_t *p = picture + ((size_t)y * W + (size_t)x) * 4;
            p[0] = (uint8_t)(x * 255 / W);
            p[1] = (uint8_t)(y * 255 / H);
            p[2] = 90;
            p[3] = 255;
        }
    for (int y = 40; y < 80; ++y) memset(mask + (size_t)y * W + 50, 255, 60);
}

static int run_inpaint(nbc_result **res, nbc_client *c, const nbc_inpaint_options *o) {
    return nbc_inpaint(res, c, picture, W, H, W * 4, mask, W, "a yellow flower", o);
}

/* ---- a thread that raises a token ------------------------------------------------------------- */

typedef struct {
    nbc_cancel *token;
    const stage_reports *wait_for;   /* NULL: raise after delay_ms; else once this stage index is reported */
    int after_stage;
    long delay_ms;
    int started;                     /* attempts_started to wait for before the delay; 0: none */
    int rc;
} canceller;

static void *canceller_main(void *arg) {
    canceller *k = arg;
    int64_t give_up = now_ms() + 20000;
    if (k->wait_for)
        while (atomic_load(&k->wait_for->last_index) < k->after_stage && now_ms() < give_up) sleep_ms(5);
    while (atomic_load(&attempts_started) < k->started && now_ms() < give_up) sleep_ms(5);
    sleep_ms(k->delay_ms);
    k->rc = nbc_cancel_trigger(k->token);
    return NULL;
}

/* ---- the tests -------------------------------------------------------------------------------- */

static void token_basics(void) {
    nbc_cancel *t = NULL;
    CHECK(nbc_cancel_new(&t) == NBC_OK && t != NULL);
    CHECK(nbc_cancel_is_triggered(t) == 0);
    CHECK(nbc_cancel_trigger(t) == NBC_OK);
    CHECK(nbc_cancel_is_triggered(t) == 1);
    CHECK(nbc_cancel_trigger(t) == NBC_OK);   /* idempotent */
    CHECK(nbc_cancel_is_triggered(t) == 1);
    nbc_cancel_free(t);
    nbc_cancel_free(NULL);
    CHECK(nbc_cancel_is_triggered(NULL) == 0);
}

/* Raised before the call: nothing is sent, and the call returns at once. */
static void pre_triggered(nbc_client *c) {
    nbc_cancel *t = NULL;
    CHECK(nbc_cancel_new(&t) == NBC_OK);
    CHECK(nbc_cancel_trigger(t) == NBC_OK);
    CHECK(control("reset", "", NULL) == 200);
    CHECK(logged_requests() == 0);
    atomic_store(&attempts_started, 0);

    nbc_inpaint_options io = NBC_INPAINT_OPTIONS_INIT;
    io.model = FLASH;
    io.cancel = t;
    nbc_result *res = NULL;
    int64_t t0 = now_ms();
    int rc = run_inpaint(&res, c, &io);
    int64_t took = now_ms() - t0;
    CHECK(rc == NBC_E_CANCELLED && res == NULL);
    CHECK(nbc_error_code(NULL) == NBC_E_CANCELLED && nbc_error_attempt_count(NULL) == 0);
    CHECK(strstr(nbc_error_message(NULL), "before it was sent") != NULL);
    CHECK(took < 250);

    /* A scene: its first stage fails unsent, reported as any failed stage is. */
    nbc_scene *s = three_stage_scene();
    stage_reports rep;
    reports_reset(&rep);
    nbc_scene_options so = NBC_SCENE_OPTIONS_INIT;
    so.cancel = t;
    so.on_stage = on_stage;
    so.stage_payload = &rep;
    nbc_scene_result *sr = NULL;
    t0 = now_ms();
    rc = nbc_scene_run(&sr, c, s, &so, NULL);
    took = now_ms() - t0;
    CHECK(rc == NBC_E_CANCELLED);
    CHECK(strstr(nbc_error_message(NULL), "stage 0") != NULL);
    CHECK(took < 250);
    CHECK(sr != NULL);
    if (sr) {
        CHECK(nbc_scene_result_stage_count(sr) == 1 && nbc_scene_result_failed_stage(sr) == 0);
        CHECK(nbc_scene_result_total_stages(sr) == 3);
        nbc_scene_stage_info st = NBC_SCENE_STAGE_INFO_INIT;
        CHECK(nbc_scene_result_stage(&st, sr, 0) == NBC_OK && st.status == NBC_E_CANCELLED && st.attempt_count == 0);
    }
    CHECK(rep.count == 1 && rep.index[0] == 0 && rep.status[0] == NBC_E_CANCELLED && rep.total[0] == 3);
    nbc_scene_result_free(sr);
    nbc_scene_free(s);

    CHECK(atomic_load(&attempts_started) == 0);
    CHECK(logged_requests() == 0);
    nbc_cancel_free(t);
}

/* Raised from another thread while the reply is held back 5 s. */
static void inpaint_cancelled_midway(nbc_client *c) {
    script("{\"replies\": [{\"pass\": true, \"delay_ms\": 5000}]}");
    nbc_cancel *t = NULL;
    CHECK(nbc_cancel_new(&t) == NBC_OK);
    atomic_store(&attempts_started, 0);
    canceller k = {t, NULL, 0, 300, 1, -1};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, canceller_main, &k) == 0);
    nbc_inpaint_options io;
    CHECK(nbc_inpaint_options_init(&io, sizeof io) == NBC_OK && io.cancel == NULL);
    io.model = FLASH;
    io.cancel = t;
    nbc_result *res = NULL;
    int64_t t0 = now_ms();
    int rc = run_inpaint(&res, c, &io);
    int64_t took = now_ms() - t0;
    pthread_join(th, NULL);
    CHECK(k.rc == NBC_OK);
    CHECK(rc == NBC_E_CANCELLED && res == NULL);
    CHECK(nbc_error_code(NULL) == NBC_E_CANCELLED);
    CHECK(nbc_error_attempt_count(NULL) == 1);
    if (took >= 2000) fprintf(stderr, "the cancelled inpaint took %lld ms\n", (long long)took);
    CHECK(took < 2000);   /* the reply would have come after 5.3 s */
    CHECK(nbc_cancel_is_triggered(t) == 1);
    nbc_cancel_free(t);
}

/* Raised while stage 2 (the edit) waits on the server; then a resume finishes the scene. */
static void scene_cancelled_in_stage_2(nbc_client *c) {
    script("{\"replies\": [\"pass\", {\"pass\": true, \"delay_ms\": 5000}]}");
    nbc_scene *s = three_stage_scene();
    nbc_cancel *t = NULL;
    CHECK(nbc_cancel_new(&t) == NBC_OK);
    stage_reports rep;
    reports_reset(&rep);
    atomic_store(&attempts_started, 0);
    canceller k = {t, &rep, 0, 300, 2, -1};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, canceller_main, &k) == 0);
    nbc_scene_options so = NBC_SCENE_OPTIONS_INIT;
    so.cancel = t;
    so.on_stage = on_stage;
    so.stage_payload = &rep;
    nbc_scene_result *sr = NULL;
    int64_t t0 = now_ms();
    int rc = nbc_scene_run(&sr, c, s, &so, NULL);
    int64_t took = now_ms() - t0;
    pthread_join(th, NULL);
    CHECK(k.rc == NBC_OK);
    CHECK(rc == NBC_E_CANCELLED);
    CHECK(strstr(nbc_error_message(NULL), "stage 1 (edit)") != NULL);
    if (took >= 3000) fprintf(stderr, "the cancelled scene took %lld ms\n", (long long)took);
    CHECK(took < 3000);   /* stage 1 takes ~0.3 s; stage 2's reply would have come after 5.3 s more */
    CHECK(atomic_load(&attempts_started) == 2);
    CHECK(sr != NULL);
    if (sr) {
        CHECK(nbc_scene_result_stage_count(sr) == 2 && nbc_scene_result_failed_stage(sr) == 1);
        nbc_scene_stage_info st = NBC_SCENE_STAGE_INFO_INIT;
        CHECK(nbc_scene_result_stage(&st, sr, 0) == NBC_OK && st.status == NBC_OK && st.width > 0);
        CHECK(nbc_scene_result_stage(&st, sr, 1) == NBC_OK && st.status == NBC_E_CANCELLED && st.width == 0);
        CHECK(st.attempt_count == 1);
        int32_t w = 0, h = 0;
        CHECK(nbc_scene_result_rgba(sr, -1, NULL, 0, &w, &h) == NBC_OK && w > 0 && h > 0);
    }
    CHECK(rep.count == 2);
    CHECK(rep.index[0] == 0 && rep.status[0] == NBC_OK && rep.total[0] == 3 && strcmp(rep.kind[0], "background") == 0);
    CHECK(rep.index[1] == 1 && rep.status[1] == NBC_E_CANCELLED && rep.total[1] == 3 && strcmp(rep.kind[1], "edit") == 0);
    CHECK(rep.composite_ok[0] && rep.composite_ok[1]);

    /* Resume with a fresh token: stages 2 and 3 are sent and reported; stage 1 is reused, unreported. */
    nbc_cancel *t2 = NULL;
    CHECK(nbc_cancel_new(&t2) == NBC_OK);
    so.cancel = t2;
    reports_reset(&rep);
    atomic_store(&attempts_started, 0);
    nbc_scene_result *again = NULL;
    rc = nbc_scene_run(&again, c, s, &so, sr);
    if (rc != NBC_OK) fprintf(stderr, "resume: %s\n", nbc_error_message(NULL));
    CHECK(rc == NBC_OK && again != NULL);
    CHECK(atomic_load(&attempts_started) == 2);
    if (again) {
        CHECK(nbc_scene_result_stage_count(again) == 3 && nbc_scene_result_failed_stage(again) == -1);
    }
    CHECK(rep.count == 2);
    CHECK(rep.index[0] == 1 && rep.status[0] == NBC_OK && rep.total[0] == 3 && strcmp(rep.kind[0], "edit") == 0);
    CHECK(rep.index[1] == 2 && rep.status[1] == NBC_OK && rep.total[1] == 3 && strcmp(rep.kind[1], "cutout") == 0);
    CHECK(rep.composite_ok[0] && rep.composite_ok[1]);
    nbc_scene_result_free(again);
    nbc_scene_result_free(sr);
    nbc_cancel_free(t2);
    nbc_cancel_free(t);
    nbc_scene_free(s);
}

/* Callers built against the first layouts: struct_size ends before the new fields, so a raised
 * token and a callback sitting beyond it are never read. The same for a struct_size that covers
 * `cancel` but not the rest of its group. */
static void first_layouts(nbc_client *c) {
    const size_t scene_v1 = offsetof(nbc_scene_options, stage_deadline_ms) + sizeof(int64_t);
    const size_t inpaint_v1 = offsetof(nbc_inpaint_options, deadline_ms) + sizeof(int64_t);
    nbc_cancel *raised = NULL;
    CHECK(nbc_cancel_new(&raised) == NBC_OK && nbc_cancel_trigger(raised) == NBC_OK);
    stage_reports rep;
    reports_reset(&rep);

    /* _init with the old size writes no further than it. */
    nbc_scene_options so;
    memset(&so, 0xAB, sizeof so);
    CHECK(nbc_scene_options_init(&so, scene_v1) == NBC_OK);
    CHECK(so.struct_size == scene_v1 && so.grow_px == -1 && so.stage_deadline_ms == 0);
    {
        const unsigned char *tail = (const unsigned char *)&so + scene_v1;
        int untouched = 1;
        for (size_t i = 0; i < sizeof so - scene_v1; ++i) untouched &= tail[i] == 0xAB;
        CHECK(untouched);
    }
    nbc_inpaint_options io;
    memset(&io, 0xAB, sizeof io);
    CHECK(nbc_inpaint_options_init(&io, inpaint_v1) == NBC_OK);
    CHECK(io.struct_size == inpaint_v1 && io.context_px == 0 && io.seed == -1);
    CHECK(((const unsigned char *)&io)[inpaint_v1] == 0xAB);
    CHECK(nbc_scene_options_init(&so, sizeof so) == NBC_OK && so.cancel == NULL && so.on_stage == NULL);
    CHECK(nbc_inpaint_options_init(&io, sizeof io) == NBC_OK && io.cancel == NULL);

    nbc_scene *s = three_stage_scene();
    const size_t sizes[2] = {scene_v1, offsetof(nbc_scene_options, on_stage)};
    for (int i = 0; i < 2; ++i) {
        nbc_scene_options o = NBC_SCENE_OPTIONS_INIT;
        o.struct_size = (uint32_t)sizes[i];
        o.cancel = raised;
        o.on_stage = on_stage;
        o.stage_payload = &rep;
        nbc_scene_result *sr = NULL;
        int rc = nbc_scene_run(&sr, c, s, &o, NULL);
        if (rc != NBC_OK) fprintf(stderr, "scene with struct_size %zu: %s\n", sizes[i], nbc_error_message(NULL));
        CHECK(rc == NBC_OK && sr != NULL && nbc_scene_result_stage_count(sr) == 3);
        nbc_scene_result_free(sr);
    }
    CHECK(rep.count == 0);
    nbc_scene_free(s);

    nbc_inpaint_options o = NBC_INPAINT_OPTIONS_INIT;
    o.struct_size = (uint32_t)inpaint_v1;
    o.model = FLASH;
    o.cancel = raised;
    nbc_result *res = NULL;
    int rc = run_inpaint(&res, c, &o);
    if (rc != NBC_OK) fprintf(stderr, "inpaint with the first layout: %s\n", nbc_error_message(NULL));
    CHECK(rc == NBC_OK && res != NULL);
    nbc_result_free(res);
    nbc_cancel_free(raised);
}

int main(void) {
    base_url = getenv("NBCORE_TEST_BASE_URL");
    const char *key = getenv("NBCORE_TEST_KEY");
    if (!base_url || !key) { fprintf(stderr, "set NBCORE_TEST_BASE_URL and NBCORE_TEST_KEY\n"); return 2; }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    make_picture();
    nbc_client_options o = NBC_CLIENT_OPTIONS_INIT;
    o.api_key = key;
    o.base_url = base_url;
    o.model = FLASH;
    o.on_event = on_event;
    nbc_client *c = NULL;
    CHECK(nbc_client_new(&c, &o) == NBC_OK);
    token_basics();
    if (c) {
        pre_triggered(c);   /* first: later tests leave held-back requests that the log records late */
        inpaint_cancelled_midway(c);
        scene_cancelled_in_stage_2(c);
        first_layouts(c);
    }
    nbc_client_free(c);
    curl_global_cleanup();
    if (failures) { fprintf(stderr, "%d checks failed\n", (int)failures); return 1; }
    printf("C cancellation and stage progress test passed\n");
    return 0;
}
