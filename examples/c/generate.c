/* Generate one image and save it, printing every attempt; on failure, the class and the advice.
 *
 *   generate "a lighthouse at dawn" out.png [1K|2K|4K]
 *
 * The key comes from GOOGLE_API_KEY or GEMINI_API_KEY; GOOGLE_GEMINI_BASE_URL points it at
 * another endpoint (the bundled emulator: `nbcore emulator --port 8080`). */
#include <stdio.h>
#include <stdlib.h>

#include <nbcore/nbcore.h>

static void on_event(const nbc_event *ev, void *payload) {
    (void)payload;
    if (ev->kind == NBC_EVENT_ATTEMPT_END)
        fprintf(stderr, "attempt %d: %s\n", (int)ev->attempt, nbc_status_name(ev->outcome));
    else if (ev->kind == NBC_EVENT_RETRY_SCHEDULED || ev->kind == NBC_EVENT_QUOTA_WAIT)
        fprintf(stderr, "waiting %.1f s: %s\n", (double)ev->delay_ms / 1000.0, ev->message);
}

static int fail(const char *what) {
    const nbc_error *e = nbc_error_last();
    fprintf(stderr, "%s: %s: %s\nadvice: %s\n", what, nbc_status_name(nbc_error_code(e)), nbc_error_message(e),
            nbc_error_advice(e));
    return 10 + nbc_error_code(e);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s PROMPT OUT.png [1K|2K|4K]\n", argv[0]);
        return 2;
    }
    nbc_client_options o = NBC_CLIENT_OPTIONS_INIT;   /* the key from the environment */
    o.on_event = on_event;
    o.budget_daily_usd = 5.0;                          /* never spend more than $5 a day */
    nbc_client *client = NULL;
    if (nbc_client_new(&client, &o) != NBC_OK) return fail("client");

    nbc_request *req = NULL;
    if (nbc_request_new(&req, argv[1]) != NBC_OK) return fail("request");
    if (argc > 3 && nbc_request_set_image_size(req, argv[3]) != NBC_OK) return fail("image size");

    nbc_result *res = NULL;
    int rc = nbc_generate(&res, client, req);
    if (rc != NBC_OK) {
        rc = fail("generate");
    } else {
        nbc_image_info img = NBC_IMAGE_INFO_INIT;
        nbc_result_image(&img, res, 0);
        FILE *f = fopen(argv[2], "wb");
        if (!f || fwrite(img.data, 1, img.size, f) != img.size) {
            perror(argv[2]);
            rc = 1;
        } else {
            printf("wrote %s: %dx%d %s, %zu bytes, $%.3f\n", argv[2], (int)img.width, (int)img.height, img.mime,
                   img.size, nbc_result_cost_usd(res));
        }
        if (f) fclose(f);
    }
    nbc_result_free(res);
    nbc_request_free(req);
    nbc_client_free(client);
    return rc;
}
