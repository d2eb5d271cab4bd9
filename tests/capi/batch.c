/* The Batch section of the C ABI against the emulator whose URL is in NBCORE_TEST_BASE_URL
 * (started with a short --batch-ms): submit, describe, wait, results in key order, cancel,
 * delete, and argument errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbcore/nbcore.h"

static int failures = 0;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); ++failures; } } while (0)

int main(void) {
    const char *url = getenv("NBCORE_TEST_BASE_URL");
    const char *key = getenv("NBCORE_TEST_KEY");
    nbc_batch_options o = NBC_BATCH_OPTIONS_INIT;
    nbc_batch_client *bc = NULL;
    nbc_request *reqs[3] = {NULL, NULL, NULL};
    const char *keys[3] = {"red", "green", "blue"};
    const char *prompts[3] = {"a red kite", "a green kite", "a blue kite"};
    nbc_batch_job *job = NULL, *done = NULL, *other = NULL;
    nbc_batch_job_info info = NBC_BATCH_JOB_INFO_INIT;
    nbc_batch_results *rs = NULL;
    char name[128];
    int i, rc;
    if (!url || !key) { fprintf(stderr, "set NBCORE_TEST_BASE_URL and NBCORE_TEST_KEY\n"); return 2; }

    CHECK(nbc_batch_client_new(NULL, NULL) == NBC_E_INVALID_ARG);
    o.api_key = key;
    o.base_url = url;
    o.model = "gemini-2.5-flash-image";
    o.poll_initial_ms = 100;
    o.poll_max_ms = 200;
    CHECK(nbc_batch_client_new(&bc, &o) == NBC_OK);

    for (i = 0; i < 3; ++i) CHECK(nbc_request_new(&reqs[i], prompts[i]) == NBC_OK);
    CHECK(nbc_batch_submit(&job, bc, keys, (const nbc_request *const *)reqs, 0, NULL) == NBC_E_INVALID_ARG);
    CHECK(nbc_batch_submit(&job, bc, NULL, (const nbc_request *const *)reqs, 3, NULL) == NBC_E_INVALID_ARG);
    CHECK(strstr(nbc_error_message(NULL), "keys") != NULL);

    rc = nbc_batch_submit(&job, bc, keys, (const nbc_request *const *)reqs, 3, "kites");
    if (rc != NBC_OK) fprintf(stderr, "submit: %s\n%s\n", nbc_error_message(NULL), nbc_error_advice(NULL));
    CHECK(rc == NBC_OK);
    CHECK(nbc_batch_job_describe(&info, job) == NBC_OK);
    CHECK(info.state == NBC_BATCH_STATE_PENDING);
    CHECK(info.done == 0);
    CHECK(info.request_count == 3);
    CHECK(strcmp(info.display_name, "kites") == 0);
    CHECK(strcmp(info.model, "gemini-2.5-flash-image") == 0);
    CHECK(strncmp(info.name, "batches/", 8) == 0);
    snprintf(name, sizeof name, "%s", info.name);

    rc = nbc_batch_wait(&done, bc, name, 30000);
    if (rc != NBC_OK) fprintf(stderr, "wait: %s\n%s\n", nbc_error_message(NULL), nbc_error_advice(NULL));
    CHECK(rc == NBC_OK);
    CHECK(nbc_batch_job_describe(&info, done) == NBC_OK);
    CHECK(info.state == NBC_BATCH_STATE_SUCCEEDED);
    CHECK(info.done == 1);
    CHECK(info.succeeded_count == 3);
    CHECK(nbc_batch_job_status(done) == NBC_OK);

    CHECK(nbc_batch_results_get(&rs, bc, job) != NBC_OK);   /* the PENDING snapshot has no results */
    CHECK(strlen(nbc_error_advice(NULL)) > 0);
    CHECK(nbc_batch_results_get(&rs, bc, done) == NBC_OK);
    CHECK(nbc_batch_results_count(rs) == 3);
    for (i = 0; i < nbc_batch_results_count(rs); ++i) {
        nbc_result *r = NULL;
        nbc_image_info im = NBC_IMAGE_INFO_INIT;
        CHECK(strcmp(nbc_batch_results_key(rs, i), keys[i]) == 0);
        CHECK(nbc_batch_results_entry(&r, rs, i) == NBC_OK);
        CHECK(nbc_result_is_batch(r) == 1);
        CHECK(nbc_result_image_count(r) == 1);
        CHECK(nbc_result_image(&im, r, 0) == NBC_OK);
        CHECK(im.width == 1024 && im.size > 0);
        nbc_result_free(r);
    }
    CHECK(nbc_batch_results_key(rs, 3) == NULL);
    {
        nbc_result *r = NULL;
        CHECK(nbc_batch_results_entry(&r, rs, 3) == NBC_E_INVALID_ARG && r == NULL);
    }
    CHECK(nbc_result_is_batch(NULL) == 0);

    /* Cancel a fresh job, then delete it. */
    CHECK(nbc_batch_submit(&other, bc, keys, (const nbc_request *const *)reqs, 1, NULL) == NBC_OK);
    CHECK(nbc_batch_job_describe(&info, other) == NBC_OK);
    snprintf(name, sizeof name, "%s", info.name);
    CHECK(nbc_batch_cancel(bc, name) == NBC_OK);
    nbc_batch_job_free(other);
    other = NULL;
    CHECK(nbc_batch_get(&other, bc, name) == NBC_OK);
    CHECK(nbc_batch_job_describe(&info, other) == NBC_OK);
    CHECK(info.state == NBC_BATCH_STATE_CANCELLED);
    CHECK(nbc_batch_job_status(other) == NBC_E_CANCELLED);
    CHECK(strlen(nbc_error_advice(NULL)) > 0);
    CHECK(nbc_batch_delete(bc, name) == NBC_OK);
    nbc_batch_job_free(other);
    other = NULL;
    CHECK(nbc_batch_get(&other, bc, name) == NBC_E_INVALID_ARG && other == NULL);
    CHECK(strcmp(nbc_error_reason(NULL), "NOT_FOUND") == 0);
    CHECK(nbc_batch_get(&other, bc, "") == NBC_E_INVALID_ARG);

    nbc_batch_results_free(rs);
    nbc_batch_job_free(done);
    nbc_batch_job_free(job);
    for (i = 0; i < 3; ++i) nbc_request_free(reqs[i]);
    nbc_batch_client_free(bc);
    nbc_batch_results_free(NULL);
    nbc_batch_job_free(NULL);
    nbc_batch_client_free(NULL);
    if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
