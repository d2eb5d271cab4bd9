/* The emulator's control routes (/_emulator/script, /requests, /reset, ...) for the C tests: a
 * little blocking HTTP over libcurl, kept apart from nbcore so a test never checks nbcore with
 * nbcore. Call from one thread at a time; curl_global_init is the caller's. */
#ifndef NBCORE_TESTS_EMULATOR_CONTROL_H
#define NBCORE_TESTS_EMULATOR_CONTROL_H

#include <stddef.h>

/* A reply body, NUL-terminated once anything arrived; free(data) when done. */
typedef struct {
    char *data;
    size_t size;
} control_reply;

/* GET (body NULL) or POST a JSON body to <base_url>/_emulator/<route>. Returns the HTTP status,
 * 0 on a transport failure. `out` may be NULL when the reply does not matter. */
long emulator_control(const char *base_url, const char *route, const char *body, control_reply *out);

#endif
