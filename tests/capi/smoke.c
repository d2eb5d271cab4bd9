/* C smoke test over the installed-style ABI: version check, argument errors, a generate call
 * against the emulator whose URL is in NBCORE_TEST_BASE_URL, and a scripted failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbcore/nbcore.h"

static int failures = 0;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); ++failures; } } while (0)

static int events_seen = 0;
static void on_event(const nbc_event *ev, void *payload) {
    (void)payload;
    CHECK(ev->struct_size >= sizeof(nbc_event));
    ++events_seen;
}

int main(void) {
    const char *url = getenv("NBCORE_TEST_BASE_URL");
    const char *key = getenv("NBCORE_TEST_KEY");
    if (!url || !key) { fprintf(stderr, "set NBCORE_TEST_BASE_URL and NBCORE_TEST_KEY\n"); return 2; }

    CHECK(nbc_version_number() == NBC_VERSION_NUMBER);
    CHECK(strcmp(nbc_version_string(), NBC_VERSION_STRING) == 0);
    CHECK(NBC_VERSION_CHECK() == NBC_OK);
    CHECK(nbc_version_check(NBC_VERSION_NUMBER - NBC_VERSION_PATCH) == NBC_OK);     /* older patch */
    CHECK(nbc_version_check(NBC_VERSION_NUMBER + 100) == NBC_E_INVALID_ARG);        /* newer minor */
    CHECK(strstr(nbc_error_message(NULL), NBC_VERSION_STRING) != NULL);
    CHECK(nbc_version_check(NBC_VERSION_NUMBER + 10000) == NBC_E_INVALID_ARG);      /* other major */
    CHECK(nbc_global_init(NBC_GLOBAL_DEFAULT) == NBC_OK);
    CHECK(nbc_global_init(NBC_GLOBAL_DEFAULT) == NBC_OK);                           /* idempotent */
    CHECK(strcmp(nbc_status_name(NBC_E_RATE_LIMITED), "RATE_LIMITED") == 0);
    CHECK(strstr(nbc_strerror(NBC_E_BLANK_IMAGE), "BLANK_IMAGE") != NULL);
    CHECK(strcmp(nbc_status_name(9999), "UNKNOWN_STATUS") == 0);

    /* Argument errors are typed and name the argument. */
    CHECK(nbc_client_new(NULL, NULL) == NBC_E_INVALID_ARG);
    CHECK(strstr(nbc_error_message(nbc_error_last()), "out") != NULL);
    nbc_client_options bad = NBC_CLIENT_OPTIONS_INIT;
    bad.struct_size = 3;
    nbc_client *c = NULL;
    CHECK(nbc_client_new(&c, &bad) == NBC_E_INVALID_ARG && c == NULL);
    CHECK(strstr(nbc_error_message(NULL), "struct_size") != NULL);
    CHECK(nbc_generate(NULL, NULL, NULL) == NBC_E_INVALID_ARG);
    nbc_client_free(NULL);
    nbc_request_free(NULL);
    nbc_result_free(NULL);

    nbc_client_options o = NBC_CLIENT_OPTIONS_INIT;
    o.api_key = key;
    o.base_url = url;
    o.on_event = on_event;
    CHECK(nbc_client_new(&c, &o) == NBC_OK);

    nbc_request *r = NULL;
    CHECK(nbc_request_new(&r, "a lighthouse at dawn") == NBC_OK);
    CHECK(nbc_request_set_aspect_ratio(r, "16:10") == NBC_E_INVALID_ARG);
    CHECK(strstr(nbc_error_advice(NULL), "") != NULL);
    CHECK(nbc_request_set_aspect_ratio(r, "16:9") == NBC_OK);
    CHECK(nbc_request_set_image_size(r, "2K") == NBC_OK);
    CHECK(nbc_request_set_seed(r, 5000000000LL) == NBC_E_INVALID_ARG);

    nbc_result *res = NULL;
    int rc = nbc_generate(&res, c, r);
    if (rc != NBC_OK) fprintf(stderr, "generate: %s\n%s\n", nbc_error_message(NULL), nbc_error_advice(NULL));
    CHECK(rc == NBC_OK);
    if (res) {
        nbc_image_info info = NBC_IMAGE_INFO_INIT;
        CHECK(nbc_result_image_count(res) == 1);
        CHECK(nbc_result_image(&info, res, 0) == NBC_OK);
        CHECK(info.width == 2752 && info.height == 1536);
        CHECK(info.size > 1000 && info.data != NULL);
        CHECK(nbc_result_image(&info, res, 1) == NBC_E_INVALID_ARG);
        /* RGBA8 on request: the caller's buffer, 4 bytes a pixel, opaque alpha from an RGB PNG. */
        size_t rgba_len = (size_t)info.width * (size_t)info.height * 4;
        uint8_t *rgba = (uint8_t *)malloc(rgba_len);
        CHECK(rgba != NULL);
        if (rgba) {
            CHECK(nbc_result_image_rgba(res, 0, rgba, rgba_len - 1) == NBC_E_INVALID_ARG);
            CHECK(strstr(nbc_error_message(NULL), "buf_len") != NULL);
            memset(rgba, 0, rgba_len);
            CHECK(nbc_result_image_rgba(res, 0, rgba, rgba_len) == NBC_OK);
            int opaque = 1, varied = 0;
            for (size_t i = 0; i < rgba_len; i += 4) {
                if (rgba[i + 3] != 255) opaque = 0;
                if (rgba[i] != rgba[0] || rgba[i + 1] != rgba[1] || rgba[i + 2] != rgba[2]) varied = 1;
            }
            CHECK(opaque && varied);
            free(rgba);
        }
        nbc_image_check chk = NBC_IMAGE_CHECK_INIT;
        CHECK(nbc_check_image(&chk, info.data, info.size) == NBC_OK);
        CHECK(chk.ok == 1 && chk.width == 2752);
        nbc_attempt a = NBC_ATTEMPT_INIT;
        CHECK(nbc_result_attempt_count(res) == 1);
        CHECK(nbc_result_attempt(&a, res, 0) == NBC_OK && a.outcome == NBC_OK && a.number == 1);
        nbc_usage u = NBC_USAGE_INIT;
        CHECK(nbc_result_usage(&u, res) == NBC_OK && u.image_output_tokens == 1120);
    }
    CHECK(events_seen >= 3);
    nbc_result_free(res);
    res = NULL;

    /* Jobs: submit returns at once, progress is readable while it runs, wait then result. */
    CHECK(nbc_submit(NULL, c, r, NULL) == NBC_E_INVALID_ARG);
    nbc_job *job = NULL;
    nbc_submit_options so = NBC_SUBMIT_OPTIONS_INIT;
    so.struct_size = 2;
    CHECK(nbc_submit(&job, c, r, &so) == NBC_E_INVALID_ARG && job == NULL);
    so.struct_size = sizeof so;
    so.priority = 3;
    CHECK(nbc_submit(&job, c, r, &so) == NBC_OK && job != NULL);
    if (job) {
        nbc_progress p = NBC_PROGRESS_INIT;
        int done = 0;
        CHECK(nbc_job_progress(&p, job) == NBC_OK);
        CHECK(p.stage >= NBC_JOB_QUEUED && p.stage <= NBC_JOB_DONE);
        CHECK(nbc_job_result(&res, job) == NBC_E_INVALID_ARG || p.stage == NBC_JOB_DONE);
        nbc_result_free(res);
        res = NULL;
        CHECK(nbc_job_wait(&done, job, -1) == NBC_OK && done == 1);
        CHECK(nbc_job_progress(&p, job) == NBC_OK && p.stage == NBC_JOB_DONE && p.attempt == 1);
        CHECK(nbc_job_result(&res, job) == NBC_OK && res != NULL);
        if (res) CHECK(nbc_result_image_count(res) == 1);
        nbc_result_free(res);
        res = NULL;
        nbc_job_free(job);
    }
    /* A job cancelled at once ends CANCELLED. */
    job = NULL;
    CHECK(nbc_submit(&job, c, r, NULL) == NBC_OK);
    if (job) {
        int done = 0;
        CHECK(nbc_job_cancel(job) == NBC_OK);
        CHECK(nbc_job_cancel(job) == NBC_OK);
        CHECK(nbc_job_wait(&done, job, 2000) == NBC_OK && done == 1);
        CHECK(nbc_job_result(&res, job) == NBC_E_CANCELLED && res == NULL);
        CHECK(strstr(nbc_error_advice(NULL), "") != NULL);
        nbc_job_free(job);
    }
    CHECK(nbc_job_wait(NULL, NULL, 0) == NBC_E_INVALID_ARG);
    CHECK(nbc_job_cancel(NULL) == NBC_E_INVALID_ARG);
    CHECK(nbc_job_progress(NULL, NULL) == NBC_E_INVALID_ARG);
    nbc_job_free(NULL);

    nbc_request_free(r);
    nbc_client_free(c);

    /* Vertex AI chosen in the options, as GOOGLE_GENAI_USE_VERTEXAI would: no project means
     * express mode, where the API key authenticates on the publishers/google/models path. */
    {
        nbc_client_options vo = NBC_CLIENT_OPTIONS_INIT;
        vo.api_key = key;
        vo.base_url = url;
        vo.backend = NBC_BACKEND_VERTEX;
        nbc_client *vc = NULL;
        nbc_request *vr = NULL;
        nbc_result *vres = NULL;
        CHECK(nbc_client_new(&vc, &vo) == NBC_OK);
        CHECK(nbc_request_new(&vr, "a lighthouse at dusk") == NBC_OK);
        rc = nbc_generate(&vres, vc, vr);
        if (rc != NBC_OK) fprintf(stderr, "vertex generate: %s\n", nbc_error_message(NULL));
        CHECK(rc == NBC_OK);
        CHECK(vres && strncmp(nbc_result_route(vres), "vertex", 6) == 0);
        nbc_result_free(vres);
        nbc_request_free(vr);
        nbc_client_free(vc);
    }

    /* A corrupt buffer is a verdict, not a crash. */
    static const unsigned char junk[] = {0x89, 'P', 'N', 'G', 1, 2, 3};
    nbc_image_check chk = NBC_IMAGE_CHECK_INIT;
    CHECK(nbc_check_image(&chk, junk, sizeof junk) == NBC_OK);
    CHECK(chk.ok == 0 && chk.code == NBC_E_BAD_RESPONSE && chk.reason[0] != '\0');
    CHECK(nbc_check_image(&chk, NULL, 5) == NBC_E_INVALID_ARG);

    /* Diagnose a body from anywhere: an owned error object, read with the same accessors. */
    static const char body429[] =
        "{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted (e.g. check quota).\","
        "\"status\":\"RESOURCE_EXHAUSTED\"}}";
    nbc_error *diag = NULL;
    CHECK(nbc_diagnose(&diag, 429, body429, sizeof body429 - 1, "Retry-After: 9\n") == NBC_OK);
    CHECK(diag != NULL);
    if (diag) {
        CHECK(nbc_error_code(diag) == NBC_E_RATE_LIMITED);
        CHECK(nbc_error_retry_after_ms(diag) == 9000);
        CHECK(nbc_error_advice(diag)[0] != '\0');
    }
    nbc_error_free(diag);
    nbc_error_free(NULL);
    nbc_error_free((nbc_error *)nbc_error_last());   /* ignored, not freed */
    CHECK(nbc_diagnose(&diag, 42, "x", 1, NULL) == NBC_E_INVALID_ARG && diag == NULL);
    CHECK(nbc_diagnose(&diag, 500, NULL, 3, NULL) == NBC_E_INVALID_ARG);

    if (failures) { fprintf(stderr, "%d checks failed\n", failures); return 1; }
    printf("C smoke test passed\n");
    return 0;
}
