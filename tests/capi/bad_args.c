/* Every nbc_* function called with bad arguments: NULL handles and out-pointers, wrong
 * struct_size, out-of-range values. Each must answer (NBC_E_INVALID_ARG with a message naming
 * the argument, or a documented default for accessors), never crash. Needs no server. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "nbcore/nbcore.h"

static int failures = 0;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); ++failures; } } while (0)

/* rc must be NBC_E_INVALID_ARG and the last error's message must mention `needle`. */
static void invalid(int rc, const char *needle, int line) {
    if (rc != NBC_E_INVALID_ARG) {
        fprintf(stderr, "%s:%d: expected NBC_E_INVALID_ARG, got %d\n", __FILE__, line, rc);
        ++failures;
        return;
    }
    if (needle && !strstr(nbc_error_message(NULL), needle)) {
        fprintf(stderr, "%s:%d: message \"%s\" does not name \"%s\"\n", __FILE__, line, nbc_error_message(NULL), needle);
        ++failures;
    }
    if (nbc_error_advice(NULL) == NULL) {
        fprintf(stderr, "%s:%d: advice is NULL\n", __FILE__, line);
        ++failures;
    }
}
#define INVALID(call, needle) invalid((call), (needle), __LINE__)

int main(void) {
    nbc_client *c = NULL;
    nbc_request *r = NULL;
    nbc_result *res = NULL;
    nbc_job *job = NULL;
    nbc_error *e = NULL;
    char *text = NULL;
    int done = 0;

    /* Strings never NULL, whatever the code. */
    CHECK(nbc_strerror(-5) != NULL && nbc_strerror(12345) != NULL);
    CHECK(nbc_status_name(-1) != NULL);
    CHECK(nbc_version_string() != NULL && nbc_version_number() > 0);
    CHECK(nbc_error_last() != NULL);
    INVALID(nbc_prompt_analyze(NULL, "a cat", NULL, NBC_USAGE_TEXT), "out");
    INVALID(nbc_prompt_analyze(&text, NULL, NULL, NBC_USAGE_TEXT), "prompt");
    CHECK(text == NULL);
    INVALID(nbc_prompt_analyze(&text, "a cat", "8K", NBC_USAGE_TEXT), "image_size");
    INVALID(nbc_prompt_analyze(&text, "a cat", NULL, 7), "format");
    CHECK(nbc_prompt_analyze(&text, "a cat, a dog, a parrot and a goldfish", "4K", NBC_USAGE_TEXT) == NBC_OK);
    CHECK(text != NULL && strstr(text, "4 distinct subjects") != NULL && strstr(text, "risk: high") != NULL);
    nbc_string_free(text);
    text = NULL;
    CHECK(nbc_prompt_analyze(&text, "", NULL, NBC_USAGE_JSON) == NBC_OK && text && strstr(text, "\"risk\": \"low\"") != NULL);
    nbc_string_free(text);
    text = NULL;
    {
        nbc_simplify_options so = NBC_SIMPLIFY_OPTIONS_INIT;
        INVALID(nbc_simplify_options_init(NULL, sizeof so), "opts");
        INVALID(nbc_simplify_options_init(&so, 3), "struct_size");
        CHECK(nbc_simplify_options_init(&so, sizeof so) == NBC_OK && so.max_requests == 0);
        INVALID(nbc_simplify(NULL, NULL, "a cat", NULL, NBC_USAGE_TEXT), "out");
        INVALID(nbc_simplify(&text, NULL, "a cat", NULL, NBC_USAGE_TEXT), "client");
        CHECK(text == NULL);
    }
    INVALID(nbc_version_check(0), "header_version");
    INVALID(nbc_version_check(-1), "header_version");
    INVALID(nbc_global_init(7u), "flags");

    /* Errors: NULL means the thread's last error; an index out of range is refused. */
    nbc_attempt a = NBC_ATTEMPT_INIT;
    CHECK(nbc_error_message(NULL) != NULL && nbc_error_advice(NULL) != NULL && nbc_error_reason(NULL) != NULL);
    CHECK(nbc_error_api_status(NULL) != NULL && nbc_error_route(NULL) != NULL);
    (void)nbc_error_code(NULL);
    (void)nbc_error_http_status(NULL);
    (void)nbc_error_retry_after_ms(NULL);
    (void)nbc_error_dimension(NULL);
    (void)nbc_error_safety_layer(NULL);
    (void)nbc_error_retryable(NULL);
    CHECK(nbc_error_attempt_count(NULL) >= 0);
    /* Reading an attempt never overwrites the error it reads: a refusal here sets no message. */
    CHECK(nbc_error_attempt(NULL, NULL, 0) == NBC_E_INVALID_ARG);
    CHECK(nbc_error_attempt(&a, NULL, -1) == NBC_E_INVALID_ARG);
    nbc_error_free(NULL);
    INVALID(nbc_diagnose(NULL, 429, "{}", 2, NULL), "out");
    INVALID(nbc_diagnose(&e, 42, "{}", 2, NULL), "42");
    INVALID(nbc_diagnose(&e, 500, NULL, 3, NULL), "body");
    CHECK(e == NULL);

    /* Options and policies. */
    nbc_retry_policy p;
    p.struct_size = sizeof p;
    INVALID(nbc_retry_policy_preset(NULL, NBC_RETRY_INTERACTIVE), "out");
    INVALID(nbc_retry_policy_preset(&p, 99), "99");
    p.struct_size = 1;
    INVALID(nbc_retry_policy_preset(&p, NBC_RETRY_INTERACTIVE), "struct_size");
    nbc_client_options o = NBC_CLIENT_OPTIONS_INIT;
    INVALID(nbc_client_options_init(NULL, sizeof o), "opts");
    INVALID(nbc_client_options_init(&o, 2), "struct_size");
    INVALID(nbc_client_options_init(&o, sizeof o + 64), "struct_size");
    INVALID(nbc_client_new(NULL, NULL), "out");
    o.struct_size = 7;
    INVALID(nbc_client_new(&c, &o), "struct_size");
    CHECK(c == NULL);
    {
        nbc_client_options bad = NBC_CLIENT_OPTIONS_INIT;
        bad.api_key = "k";
        bad.max_attempts = 1000;
        INVALID(nbc_client_new(&c, &bad), "max_attempts");
        bad.max_attempts = 0;
        bad.tier = "platinum";
        CHECK(nbc_client_new(&c, &bad) == NBC_E_INVALID_ARG);
        bad.tier = NULL;
        bad.budget_daily_usd = -1;
        INVALID(nbc_client_new(&c, &bad), "budget_daily_usd");
        bad.budget_daily_usd = 0;
        bad.rpm_limit = -3;
        INVALID(nbc_client_new(&c, &bad), "rpm_limit");
        bad.rpm_limit = 0;
        bad.max_in_flight = -1;
        INVALID(nbc_client_new(&c, &bad), "max_in_flight");
        bad.max_in_flight = 0;
        bad.prices_json = "{\"models\": 7}";
        CHECK(nbc_client_new(&c, &bad) == NBC_E_INVALID_ARG);
        bad.prices_json = NULL;
        bad.route_count = 2;
        INVALID(nbc_client_new(&c, &bad), "routes");
        bad.route_count = 0;
        bad.backend = 9;
        INVALID(nbc_client_new(&c, &bad), "backend");
        bad.backend = NBC_BACKEND_AI_STUDIO;
        bad.project = "p";
        INVALID(nbc_client_new(&c, &bad), "project");
        bad.backend = NBC_BACKEND_ENV;
        bad.project = NULL;
        bad.preflight = 5;
        INVALID(nbc_client_new(&c, &bad), "preflight");
        bad.preflight = NBC_PREFLIGHT_OFF;
        {
            /* The Redis fallback share: refused outside [0, 1] (and NaN) with the valid range named,
             * with or without a state: 0 / 0 is NaN without <math.h>. */
            volatile double zero = 0.0;
            const double shares[] = {-0.25, 1.5, zero / zero};
            size_t i;
            for (i = 0; i < sizeof shares / sizeof shares[0]; ++i) {
                bad.state_fallback_share = shares[i];
                INVALID(nbc_client_new(&c, &bad), "state_fallback_share");
                CHECK(strstr(nbc_error_message(NULL), "(0, 1]") != NULL);
            }
            bad.state_fallback_share = 0.0;
        }
        CHECK(c == NULL);
    }
    nbc_client_free(NULL);
    {
        /* A caller built against the layout before backend passes its size (which ends where
         * backend now starts, or in its padding): whatever lies there is not read as backend. */
        nbc_client_options older = NBC_CLIENT_OPTIONS_INIT;
        older.struct_size = (uint32_t)offsetof(nbc_client_options, project);
        older.backend = 9;             /* stale padding bytes */
        older.api_key = "k";
        CHECK(nbc_client_new(&c, &older) == NBC_OK);
        nbc_client_free(c);
        c = NULL;
    }
    {
        /* Nor is what lies past the layout before state_fallback_share read as a share. */
        nbc_client_options older = NBC_CLIENT_OPTIONS_INIT;
        older.struct_size = (uint32_t)offsetof(nbc_client_options, state_fallback_share);
        older.state_fallback_share = 7.0;
        older.api_key = "k";
        CHECK(nbc_client_new(&c, &older) == NBC_OK);
        nbc_client_free(c);
        c = NULL;
    }

    /* Requests. */
    INVALID(nbc_request_new(NULL, "x"), "out");
    INVALID(nbc_request_set_prompt(NULL, "x"), "req");
    INVALID(nbc_request_set_model(NULL, "x"), "req");
    INVALID(nbc_request_set_aspect_ratio(NULL, "1:1"), "req");
    INVALID(nbc_request_set_image_size(NULL, "1K"), "req");
    INVALID(nbc_request_set_seed(NULL, 1), "req");
    INVALID(nbc_request_set_temperature(NULL, 1), "req");
    INVALID(nbc_request_set_system_instruction(NULL, "x"), "req");
    INVALID(nbc_request_add_safety_setting(NULL, "a", "b"), "req");
    INVALID(nbc_request_add_image(NULL, (const uint8_t *)"x", 1, NULL), "req");
    CHECK(nbc_request_new(&r, "a lighthouse") == NBC_OK);
    INVALID(nbc_request_set_aspect_ratio(r, "7:3"), "7:3");
    INVALID(nbc_request_set_image_size(r, "8K"), "8K");
    INVALID(nbc_request_set_seed(r, 5000000000LL), "seed");
    INVALID(nbc_request_set_temperature(r, 9.0), "temperature");
    INVALID(nbc_request_add_image(r, NULL, 10, NULL), "data");
    CHECK(nbc_request_add_safety_setting(r, NULL, "BLOCK_NONE") == NBC_E_INVALID_ARG);
    nbc_request_free(NULL);

    /* Generate, jobs and results without a client. */
    INVALID(nbc_generate(NULL, NULL, r), "out");
    INVALID(nbc_generate(&res, NULL, r), "client");
    INVALID(nbc_submit(NULL, NULL, r, NULL), "out");
    INVALID(nbc_submit(&job, NULL, r, NULL), "client");
    INVALID(nbc_job_wait(&done, NULL, 0), "job");
    INVALID(nbc_job_result(NULL, NULL), "out");
    INVALID(nbc_job_result(&res, NULL), "job");
    INVALID(nbc_job_cancel(NULL), "job");
    INVALID(nbc_job_progress(NULL, NULL), "out");
    nbc_job_free(NULL);
    CHECK(nbc_result_image_count(NULL) == 0);
    CHECK(nbc_result_attempt_count(NULL) == 0);
    CHECK(nbc_result_text(NULL) != NULL && nbc_result_model_version(NULL) != NULL);
    CHECK(nbc_result_route(NULL) != NULL && nbc_result_image_size(NULL) != NULL);
    CHECK(nbc_result_cost_usd(NULL) == 0.0);
    (void)nbc_result_is_batch(NULL);
    nbc_image_info info = NBC_IMAGE_INFO_INIT;
    nbc_usage u = NBC_USAGE_INIT;
    INVALID(nbc_result_image(&info, NULL, 0), "res");
    {
        uint8_t px[4];
        INVALID(nbc_result_image_rgba(NULL, 0, px, sizeof px), "res");
    }
    INVALID(nbc_result_image(NULL, NULL, 0), "out");
    INVALID(nbc_result_attempt(&a, NULL, 0), "res");
    INVALID(nbc_result_usage(&u, NULL), "res");
    u.struct_size = 3;
    INVALID(nbc_result_usage(&u, NULL), NULL);
    nbc_result_free(NULL);

    /* A client (no network is touched: nothing is sent). */
    nbc_client_options ok = NBC_CLIENT_OPTIONS_INIT;
    ok.api_key = "bad-args-key";
    ok.base_url = "http://127.0.0.1:9";
    CHECK(nbc_client_new(&c, &ok) == NBC_OK);
    INVALID(nbc_generate(&res, c, NULL), "req");
    INVALID(nbc_submit(&job, c, NULL, NULL), "req");
    {
        nbc_submit_options so = NBC_SUBMIT_OPTIONS_INIT;
        so.struct_size = 1;
        INVALID(nbc_submit(&job, c, r, &so), "struct_size");
        so.struct_size = sizeof so;
        so.deadline_ms = -5;
        CHECK(nbc_submit(&job, c, r, &so) == NBC_E_INVALID_ARG);
        CHECK(job == NULL);
    }
    {
        nbc_simplify_options so = NBC_SIMPLIFY_OPTIONS_INIT;
        INVALID(nbc_simplify(&text, c, NULL, &so, NBC_USAGE_TEXT), "prompt");
        INVALID(nbc_simplify(&text, c, "a cat", &so, 9), "format");
        so.max_requests = -1;
        INVALID(nbc_simplify(&text, c, "a cat", &so, NBC_USAGE_TEXT), "max_requests");
        so.max_requests = 0;
        so.max_cost_usd = -1.0;
        INVALID(nbc_simplify(&text, c, "a cat", &so, NBC_USAGE_TEXT), "max_cost_usd");
        so.max_cost_usd = 0.0;
        so.struct_size = 2;
        INVALID(nbc_simplify(&text, c, "a cat", &so, NBC_USAGE_TEXT), "struct_size");
        INVALID(nbc_simplify(&text, c, "   ", NULL, NBC_USAGE_TEXT), "prompt");
        CHECK(text == NULL);
    }
    INVALID(nbc_client_usage(NULL, c, NBC_USAGE_TEXT), "out");
    INVALID(nbc_client_usage(&text, NULL, NBC_USAGE_TEXT), "client");
    INVALID(nbc_client_usage(&text, c, 7), "format");
    CHECK(text == NULL);
    CHECK(nbc_client_usage(&text, c, NBC_USAGE_JSON) == NBC_OK && text != NULL);
    nbc_string_free(text);
    nbc_string_free(NULL);
    INVALID(nbc_state_usage(NULL, NULL, NBC_USAGE_TEXT), "out");
    INVALID(nbc_state_usage(&text, "/nonexistent-dir/state.db", 9), "format");
    CHECK(nbc_state_usage(&text, "/nonexistent-dir/none.db", NBC_USAGE_TEXT) != NBC_OK && text == NULL);
    CHECK(nbc_error_advice(NULL)[0] != '\0');
    /* Cancellation tokens. */
    {
        nbc_cancel *t = NULL;
        INVALID(nbc_cancel_new(NULL), "out");
        INVALID(nbc_cancel_trigger(NULL), "cancel");
        CHECK(nbc_cancel_is_triggered(NULL) == 0);
        nbc_cancel_free(NULL);
        CHECK(nbc_cancel_new(&t) == NBC_OK && t != NULL && nbc_cancel_is_triggered(t) == 0);
        nbc_cancel_free(t);
    }
    /* Scenes and inpainting. */
    {
        nbc_scene *s = NULL;
        nbc_scene_result *sr = NULL;
        nbc_scene_element_info ei = NBC_SCENE_ELEMENT_INFO_INIT;
        nbc_scene_stage_info si = NBC_SCENE_STAGE_INFO_INIT;
        nbc_scene_options so = NBC_SCENE_OPTIONS_INIT;
        nbc_inpaint_options io = NBC_INPAINT_OPTIONS_INIT;
        nbc_attempt sa = NBC_ATTEMPT_INIT;
        int32_t w = 0, h = 0;
        uint8_t px[4 * 4 * 4] = {0}, mk[4 * 4] = {0}, buf[64];
        INVALID(nbc_scene_new(NULL, "a beach"), "out");
        INVALID(nbc_scene_new(&s, NULL), "background");
        CHECK(s == NULL);
        INVALID(nbc_scene_from_prompt(NULL, "a cat", NBC_ELEMENT_EDIT), "out");
        INVALID(nbc_scene_from_prompt(&s, NULL, NBC_ELEMENT_EDIT), "prompt");
        INVALID(nbc_scene_from_prompt(&s, "a cat", 9), "mode");
        INVALID(nbc_scene_from_prompt(&s, "", NBC_ELEMENT_CUTOUT), "prompt");
        CHECK(s == NULL);
        nbc_scene_free(NULL);
        INVALID(nbc_scene_set_style(NULL, "ink"), "scene");
        INVALID(nbc_scene_set_aspect_ratio(NULL, "1:1"), "scene");
        INVALID(nbc_scene_set_image_size(NULL, "1K"), "scene");
        INVALID(nbc_scene_set_model(NULL, "m"), "scene");
        INVALID(nbc_scene_add_element(NULL, "a cat", 0, 0, 1, 1, 0, NBC_ELEMENT_EDIT), "scene");
        CHECK(nbc_scene_element_count(NULL) == 0);
        CHECK(nbc_scene_background(NULL) != NULL && nbc_scene_style(NULL) != NULL);
        INVALID(nbc_scene_element(NULL, NULL, 0), "out");
        INVALID(nbc_scene_element(&ei, NULL, 0), "scene");
        CHECK(nbc_scene_new(&s, "a beach") == NBC_OK && s != NULL);
        INVALID(nbc_scene_set_aspect_ratio(s, "16:10"), "aspect ratio");
        INVALID(nbc_scene_set_image_size(s, "8k"), "image size");
        INVALID(nbc_scene_add_element(s, NULL, 0, 0, 1, 1, 0, NBC_ELEMENT_EDIT), "prompt");
        INVALID(nbc_scene_add_element(s, "", 0, 0, 1, 1, 0, NBC_ELEMENT_EDIT), "prompt");
        INVALID(nbc_scene_add_element(s, "a cat", 0, 0, 1, 1, 0, 5), "mode");
        INVALID(nbc_scene_add_element(s, "a cat", -0.1, 0, 0.5, 0.5, 0, NBC_ELEMENT_EDIT), "x");
        INVALID(nbc_scene_add_element(s, "a cat", 0, 0, 0, 0.5, 0, NBC_ELEMENT_EDIT), "w");
        INVALID(nbc_scene_add_element(s, "a cat", 0.8, 0, 0.5, 0.5, 0, NBC_ELEMENT_EDIT), "canvas");
        INVALID(nbc_scene_add_element(s, "a cat", 0, 0, 0.5, 2.0, 0, NBC_ELEMENT_EDIT), "box h");
        CHECK(nbc_scene_element_count(s) == 0);
        INVALID(nbc_scene_element(&ei, s, 0), "index");
        ei.struct_size = 3;
        CHECK(nbc_scene_add_element(s, "a cat", 0, 0, 0.5, 0.5, 0, NBC_ELEMENT_EDIT) == NBC_OK);
        INVALID(nbc_scene_element(&ei, s, 0), "struct_size");
        INVALID(nbc_scene_options_init(NULL, sizeof so), "opts");
        INVALID(nbc_scene_options_init(&so, 2), "struct_size");
        INVALID(nbc_scene_run(NULL, c, s, NULL, NULL), "out");
        INVALID(nbc_scene_run(&sr, NULL, s, NULL, NULL), "client");
        INVALID(nbc_scene_run(&sr, c, NULL, NULL, NULL), "scene");
        so.grow_px = -4;
        INVALID(nbc_scene_run(&sr, c, s, &so, NULL), "grow_px");
        so.grow_px = -1;
        so.feather_px = -2;
        INVALID(nbc_scene_run(&sr, c, s, &so, NULL), "feather_px");
        so.feather_px = -1;
        so.colour_match = 2;
        INVALID(nbc_scene_run(&sr, c, s, &so, NULL), "colour_match");
        so.colour_match = -1;
        so.seed = 5000000000LL;
        INVALID(nbc_scene_run(&sr, c, s, &so, NULL), "seed");
        so.seed = -1;
        so.stage_deadline_ms = -1;
        INVALID(nbc_scene_run(&sr, c, s, &so, NULL), "stage_deadline_ms");
        so.struct_size = 1;
        INVALID(nbc_scene_run(&sr, c, s, &so, NULL), "struct_size");
        CHECK(sr == NULL);
        CHECK(nbc_scene_result_stage_count(NULL) == 0 && nbc_scene_result_total_stages(NULL) == 0);
        CHECK(nbc_scene_result_failed_stage(NULL) == -1 && nbc_scene_result_cost_usd(NULL) == 0.0);
        INVALID(nbc_scene_result_stage(NULL, NULL, 0), "out");
        INVALID(nbc_scene_result_stage(&si, NULL, 0), "res");
        si.struct_size = 2;
        INVALID(nbc_scene_result_stage(&si, NULL, 0), "struct_size");
        INVALID(nbc_scene_result_stage_attempt(NULL, NULL, 0, 0), "out");
        INVALID(nbc_scene_result_stage_attempt(&sa, NULL, 0, 0), "res");
        INVALID(nbc_scene_result_stage_error(NULL, NULL, 0), "out");
        INVALID(nbc_scene_result_stage_error(&e, NULL, 0), "res");
        CHECK(e == NULL);
        INVALID(nbc_scene_result_rgba(NULL, -1, buf, sizeof buf, &w, &h), "res");
        nbc_scene_result_free(NULL);
        nbc_scene_free(s);

        INVALID(nbc_inpaint_options_init(NULL, sizeof io), "opts");
        INVALID(nbc_inpaint_options_init(&io, 3), "struct_size");
        mk[5] = 255;
        INVALID(nbc_inpaint(NULL, c, px, 4, 4, 16, mk, 4, "a cat", NULL), "out");
        INVALID(nbc_inpaint(&res, NULL, px, 4, 4, 16, mk, 4, "a cat", NULL), "client");
        INVALID(nbc_inpaint(&res, c, NULL, 4, 4, 16, mk, 4, "a cat", NULL), "image");
        INVALID(nbc_inpaint(&res, c, px, 4, 4, 16, NULL, 4, "a cat", NULL), "mask");
        INVALID(nbc_inpaint(&res, c, px, 4, 4, 16, mk, 4, NULL, NULL), "prompt");
        INVALID(nbc_inpaint(&res, c, px, 4, 4, 16, mk, 4, "", NULL), "prompt");
        INVALID(nbc_result_inpaint_layer(NULL, NULL, 0, NULL, NULL, NULL, NULL), "res");
        INVALID(nbc_inpaint(&res, c, px, 0, 4, 16, mk, 4, "a cat", NULL), "width");
        INVALID(nbc_inpaint(&res, c, px, 4, 4, 15, mk, 4, "a cat", NULL), "stride");
        INVALID(nbc_inpaint(&res, c, px, 4, 4, 16, mk, 3, "a cat", NULL), "mask_stride");
        io.grow_px = -3;
        INVALID(nbc_inpaint(&res, c, px, 4, 4, 16, mk, 4, "a cat", &io), "grow_px");
        io.grow_px = -1;
        io.context_px = -2;
        INVALID(nbc_inpaint(&res, c, px, 4, 4, 16, mk, 4, "a cat", &io), "context_px");
        io.context_px = 0;
        io.image_size = "3K";
        INVALID(nbc_inpaint(&res, c, px, 4, 4, 16, mk, 4, "a cat", &io), "image_size");
        io.image_size = NULL;
        io.deadline_ms = -1;
        INVALID(nbc_inpaint(&res, c, px, 4, 4, 16, mk, 4, "a cat", &io), "deadline_ms");
        io.deadline_ms = 0;
        io.struct_size = 4;
        INVALID(nbc_inpaint(&res, c, px, 4, 4, 16, mk, 4, "a cat", &io), "struct_size");
        mk[5] = 0;
        INVALID(nbc_inpaint(&res, c, px, 4, 4, 16, mk, 4, "a cat", NULL), "mask");
        CHECK(res == NULL);
        /* A raised token hides no argument error; with good arguments it ends the call unsent. */
        {
            nbc_cancel *raised = NULL;
            CHECK(nbc_cancel_new(&raised) == NBC_OK && nbc_cancel_trigger(raised) == NBC_OK);
            nbc_inpaint_options_init(&io, sizeof io);
            io.cancel = raised;
            INVALID(nbc_inpaint(&res, c, px, 4, 4, 16, mk, 4, "a cat", &io), "mask");
            mk[5] = 255;
            CHECK(nbc_inpaint(&res, c, px, 4, 4, 16, mk, 4, "a cat", &io) == NBC_E_CANCELLED && res == NULL);
            nbc_scene_options_init(&so, sizeof so);
            so.cancel = raised;
            INVALID(nbc_scene_run(&sr, c, NULL, &so, NULL), "scene");
            CHECK(sr == NULL);
            nbc_cancel_free(raised);
        }
    }
    nbc_client_free(c);
    nbc_request_free(r);

    /* Image checks. */
    nbc_image_check chk = NBC_IMAGE_CHECK_INIT;
    INVALID(nbc_check_image(NULL, (const uint8_t *)"x", 1), "out");
    INVALID(nbc_check_image(&chk, NULL, 3), "data");
    chk.struct_size = 2;
    INVALID(nbc_check_image(&chk, (const uint8_t *)"x", 1), "struct_size");

    /* Batch. */
    nbc_batch_options bo = NBC_BATCH_OPTIONS_INIT;
    nbc_batch_client *bc = NULL;
    nbc_batch_job *bj = NULL;
    nbc_batch_results *rs = NULL;
    nbc_batch_job_info bi = NBC_BATCH_JOB_INFO_INIT;
    INVALID(nbc_batch_options_init(NULL, sizeof bo), "opts");
    INVALID(nbc_batch_options_init(&bo, 1), "struct_size");
    INVALID(nbc_batch_client_new(NULL, NULL), "out");
    bo.struct_size = 5;
    INVALID(nbc_batch_client_new(&bc, &bo), "struct_size");
    bo.struct_size = sizeof bo;
    bo.poll_initial_ms = -1;
    INVALID(nbc_batch_client_new(&bc, &bo), "poll_initial_ms");
    bo.poll_initial_ms = 0;
    bo.budget_total_usd = -2;
    INVALID(nbc_batch_client_new(&bc, &bo), "budget_total_usd");
    CHECK(bc == NULL);
    INVALID(nbc_batch_submit(NULL, NULL, NULL, NULL, 0, NULL), "out");
    INVALID(nbc_batch_submit(&bj, NULL, NULL, NULL, 1, NULL), "bc");
    INVALID(nbc_batch_get(&bj, NULL, "batches/x"), "bc");
    INVALID(nbc_batch_wait(&bj, NULL, "batches/x", 0), "bc");
    INVALID(nbc_batch_cancel(NULL, "batches/x"), "bc");
    INVALID(nbc_batch_delete(NULL, "batches/x"), "bc");
    INVALID(nbc_batch_job_describe(&bi, NULL), "job");
    INVALID(nbc_batch_job_describe(NULL, NULL), "out");
    (void)nbc_batch_job_status(NULL);
    nbc_batch_job_free(NULL);
    INVALID(nbc_batch_results_get(&rs, NULL, NULL), "bc");
    CHECK(nbc_batch_results_count(NULL) == 0);
    CHECK(nbc_batch_results_key(NULL, 0) == NULL);   /* documented: NULL when out of range */
    INVALID(nbc_batch_results_entry(&res, NULL, 0), "rs");
    nbc_batch_results_free(NULL);
    nbc_batch_client_free(NULL);

    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("every nbc_* function answered its bad arguments\n");
    return 0;
}
