/* nbc_client_options.state_fallback_share reaches the Redis state backend, and wins over
 * NBCORE_STATE_FALLBACK_SHARE: with the state at a loopback port nothing listens on, a request
 * is admitted from the local share, and the NBC_EVENT_STATE event and the usage report name it.
 * Needs the emulator (NBCORE_TEST_BASE_URL), not redis-server. */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbcore/nbcore.h"

static int failures = 0;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); ++failures; } } while (0)

/* Port 1 (tcpmux) on loopback: refused at once, so Redis is "unreachable" without waiting. */
#define UNREACHABLE_REDIS "redis://127.0.0.1:1/0"

static char state_message[512];

static void on_event(const nbc_event *ev, void *payload) {
    (void)payload;
    if (ev->kind == NBC_EVENT_STATE && strcmp(ev->reason, "unreachable") == 0 && !state_message[0]) {
        strncpy(state_message, ev->message, sizeof state_message - 1);
    }
}

/* One request through a client with this share; `expect` must be in the state event and usage. */
static void run(const char *url, const char *key, double share, const char *expect) {
    nbc_client_options o = NBC_CLIENT_OPTIONS_INIT;
    nbc_client *c = NULL;
    nbc_request *r = NULL;
    nbc_result *res = NULL;
    char *usage = NULL;
    o.api_key = key;
    o.base_url = url;
    o.rpm_limit = 40;
    o.state_path = UNREACHABLE_REDIS;
    o.state_fallback_share = share;
    o.on_event = on_event;
    state_message[0] = '\0';
    if (nbc_client_new(&c, &o) != NBC_OK) {
        fprintf(stderr, "nbc_client_new: %s\n", nbc_error_message(NULL));
        ++failures;
        return;
    }
    CHECK(nbc_request_new(&r, "a lighthouse") == NBC_OK);
    CHECK(nbc_request_set_image_size(r, "1K") == NBC_OK);
    CHECK(nbc_generate(&res, c, r) == NBC_OK);
    if (!strstr(state_message, expect)) {
        fprintf(stderr, "share %g: state event \"%s\" does not name %s\n", share, state_message, expect);
        ++failures;
    }
    CHECK(nbc_client_usage(&usage, c, NBC_USAGE_TEXT) == NBC_OK);
    if (usage && !strstr(usage, expect)) {
        fprintf(stderr, "share %g: usage does not name %s:\n%s\n", share, expect, usage);
        ++failures;
    }
    nbc_string_free(usage);
    nbc_result_free(res);
    nbc_request_free(r);
    nbc_client_free(c);
}

int main(void) {
    const char *url = getenv("NBCORE_TEST_BASE_URL");
    const char *key = getenv("NBCORE_TEST_KEY");
    if (!url || !key) { fprintf(stderr, "set NBCORE_TEST_BASE_URL and NBCORE_TEST_KEY\n"); return 2; }

    /* Unset everywhere: the default quarter. */
    unsetenv("NBCORE_STATE_FALLBACK_SHARE");
    run(url, key, 0.0, "1/4");
    /* The environment fills in when the option is 0 ... */
    setenv("NBCORE_STATE_FALLBACK_SHARE", "1/8", 1);
    run(url, key, 0.0, "1/8");
    /* ... and an explicit option wins over it. */
    run(url, key, 0.5, "1/2");
    run(url, key, 1.0, "1/1");

    if (failures) fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
