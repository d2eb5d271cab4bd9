/* The prompt doctor through the C ABI, against an emulator started with
 * --blank-when owl --mime png: nbc_prompt_analyze, the pre-flight check (warning event and strict
 * refusal) and nbc_simplify finding the one requirement that blanks the prompt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbcore/nbcore.h"

static int failures = 0;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); ++failures; } } while (0)

static int warnings = 0;
static char warning_reason[32];

static void on_event(const nbc_event *ev, void *payload) {
    (void)payload;
    if (ev->kind == NBC_EVENT_PROMPT_WARNING) {
        ++warnings;
        snprintf(warning_reason, sizeof warning_reason, "%s", ev->reason ? ev->reason : "");
    }
}

static const char kCrowded[] = "a red fox, a wooden cabin, a pine tree, a snowman, an owl, a lantern";

int main(void) {
    const char *url = getenv("NBCORE_TEST_BASE_URL");
    const char *key = getenv("NBCORE_TEST_KEY");
    if (!url || !key) { fprintf(stderr, "set NBCORE_TEST_BASE_URL and NBCORE_TEST_KEY\n"); return 2; }

    nbc_client_options o = NBC_CLIENT_OPTIONS_INIT;
    o.api_key = key;
    o.base_url = url;
    o.model = "gemini-2.5-flash-image";
    o.preflight = NBC_PREFLIGHT_WARN;
    o.on_event = on_event;
    nbc_client *c = NULL;
    CHECK(nbc_client_new(&c, &o) == NBC_OK);

    /* Warn: the crowded prompt is sent (and blanked by the emulator's owl rule), with a warning
     * first and the analysis cited in the failure's advice. */
    nbc_request *r = NULL;
    nbc_result *res = NULL;
    CHECK(nbc_request_new(&r, kCrowded) == NBC_OK);
    CHECK(nbc_generate(&res, c, r) == NBC_E_BLANK_IMAGE);
    CHECK(strstr(nbc_error_advice(NULL), "6 distinct subjects") != NULL);
    CHECK(warnings == 1 && strcmp(warning_reason, "high") == 0);
    nbc_request_free(r);
    nbc_client_free(c);

    /* Strict: refused unsent. */
    o.preflight = NBC_PREFLIGHT_STRICT;
    CHECK(nbc_client_new(&c, &o) == NBC_OK);
    CHECK(nbc_request_new(&r, kCrowded) == NBC_OK);
    CHECK(nbc_generate(&res, c, r) == NBC_E_INVALID_ARG);
    CHECK(strcmp(nbc_error_reason(NULL), "PROMPT_TOO_COMPLEX") == 0);
    CHECK(res == NULL);
    nbc_request_free(r);

    /* The simplifier finds the owl within ceil(log2 5) + 2 = 5 steps and reports every step. */
    nbc_simplify_options so = NBC_SIMPLIFY_OPTIONS_INIT;
    so.max_requests = 10;
    so.max_cost_usd = 5.0;
    char *report = NULL;
    CHECK(nbc_simplify(&report, c, kCrowded, &so, NBC_USAGE_JSON) == NBC_OK);
    CHECK(report != NULL);
    if (report) {
        CHECK(strstr(report, "\"found\": true") != NULL);
        CHECK(strstr(report, "\"minimal_failing_prompt\": \"a red fox, an owl\"") != NULL);
        const char *rounds = strstr(report, "\"rounds_to_find\": ");
        CHECK(rounds != NULL && atoi(rounds + strlen("\"rounds_to_find\": ")) <= 5);
        nbc_string_free(report);
    }
    report = NULL;
    CHECK(nbc_simplify(&report, c, kCrowded, NULL, NBC_USAGE_TEXT) == NBC_OK);
    CHECK(report != NULL && strstr(report, "Minimal failing set: \"an owl\"") != NULL);
    nbc_string_free(report);
    nbc_client_free(c);

    if (failures) { fprintf(stderr, "%d checks failed\n", failures); return 1; }
    printf("C prompt doctor test passed\n");
    return 0;
}
