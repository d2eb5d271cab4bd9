/* The plug-in's decisions (plugins/gimp/logic.c) without GIMP: one table per function. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logic.h"

static int failures = 0;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            ++failures;                                                     \
            fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);           \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

static void nearest_aspect(void) {
    static const struct { int w, h; const char *want; } cases[] = {
        {640, 480, "4:3"}, {1920, 1080, "16:9"}, {1080, 1920, "9:16"}, {1000, 1000, "1:1"},
        {2560, 1080, "21:9"}, {5000, 1000, "21:9"}, {800, 1000, "4:5"}, {1200, 800, "3:2"},
        {0, 100, "1:1"}, {100, -1, "1:1"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        const char *got = nbg_nearest_aspect(cases[i].w, cases[i].h);
        CHECK(strcmp(got, cases[i].want) == 0, "nearest_aspect(%d, %d) = %s, want %s", cases[i].w, cases[i].h, got,
              cases[i].want);
    }
    CHECK(nbg_aspect_is_valid("") && nbg_aspect_is_valid("21:9") && !nbg_aspect_is_valid("7:5") &&
              !nbg_aspect_is_valid(NULL),
          "aspect validity");
    CHECK(nbg_image_size_is_valid("") && nbg_image_size_is_valid("4K") && !nbg_image_size_is_valid("8K") &&
              !nbg_image_size_is_valid("1k"),
          "image size validity");
}

static void layer_names(void) {
    static const struct { const char *prompt; size_t max; const char *want; } cases[] = {
        {"a lighthouse at dawn", 60, "NB: a lighthouse at dawn"},
        {"  a   lighthouse\tat  dawn  ", 60, "NB: a lighthouse at dawn"},
        {"a lighthouse at dawn, oil painting", 20, "NB: a lighthouse at\xE2\x80\xA6"},
        {"first line\nsecond line", 60, "NB: first line"},
        {"", 60, "NB: "},
        {"supercalifragilistic", 5, "NB: super\xE2\x80\xA6"},
    };
    size_t i;
    char out[128];
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        nbg_layer_name(out, sizeof out, "NB: ", cases[i].prompt, cases[i].max);
        CHECK(strcmp(out, cases[i].want) == 0, "layer_name(%s) = [%s], want [%s]", cases[i].prompt, out, cases[i].want);
    }
    /* A tiny buffer still ends in NUL and never splits a UTF-8 sequence. */
    nbg_layer_name(out, 8, "", "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 60);
    CHECK(strlen(out) < 8, "short buffer: %zu bytes", strlen(out));
}

static void elements(void) {
    static const struct { const char *json; int ok; int count; const char *err_has; } cases[] = {
        {"", 1, 0, NULL},
        {"[]", 1, 0, NULL},
        {"[{\"prompt\": \"a red kite\", \"box\": [40, 30, 200, 150]}]", 1, 1, NULL},
        {"[{\"prompt\": \"a\", \"box\": [0, 0, 640, 480]}, {\"prompt\": \"b\\u00e9\", \"box\": [1.5, 2, 8, 8], "
         "\"mode\": \"cutout\", \"z\": 3}]", 1, 2, NULL},
        {"[{\"promt\": \"a\", \"box\": [0, 0, 10, 10]}]", 0, 0, "unknown key \"promt\""},
        {"[{\"prompt\": \"a\"}]", 0, 0, "no \"box\""},
        {"[{\"box\": [0, 0, 10, 10]}]", 0, 0, "no \"prompt\""},
        {"[{\"prompt\": \"a\", \"box\": [600, 0, 100, 10]}]", 0, 0, "not inside the 640x480 canvas"},
        {"[{\"prompt\": \"a\", \"box\": [0, 0, 4, 10]}]", 0, 0, "at least 8 px"},
        {"[{\"prompt\": \"a\", \"box\": [0, 0, 10]}]", 0, 0, "expected ','"},
        {"[{\"prompt\": \"a\", \"box\": [0, 0, 10, 10, 5]}]", 0, 0, "exactly 4 numbers"},
        {"[{\"prompt\": \"a\", \"box\": [0, 0, 10, 10], \"mode\": \"paste\"}]", 0, 0, "\"edit\" or \"cutout\""},
        {"[{\"prompt\": \"a\", \"box\": [0, 0, 10, 10], \"z\": 1.5}]", 0, 0, "whole number"},
        {"[{\"prompt\": \"a\", \"box\": [0, 0, 10, 10]}", 0, 0, "expected ']'"},
        {"[{\"prompt\": \"a\", \"box\": [0, 0, 10, 10]}] extra", 0, 0, "after the array"},
        {"{\"prompt\": \"a\"}", 0, 0, "expected '['"},
        {"[{\"prompt\": \"a\\ud800\", \"box\": [0, 0, 10, 10]}]", 0, 0, "surrogate"},
        {"[{\"prompt\": \"unterminated, \"box\": [0, 0, 10, 10]}]", 0, 0, "expected '}'"},
        {"[{\"prompt\": \"a\", \"box\": [0, 0, 1e999, 10]}]", 0, 0, "finite number"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        nbg_element *list = NULL;
        int count = -1;
        char err[512];
        int ok = nbg_parse_elements(cases[i].json, 640, 480, &list, &count, err, sizeof err);
        CHECK(ok == cases[i].ok, "parse(%s) = %d, want %d (%s)", cases[i].json, ok, cases[i].ok, err);
        if (ok) CHECK(count == cases[i].count, "parse(%s): %d elements, want %d", cases[i].json, count, cases[i].count);
        if (!ok) {
            CHECK(list == NULL && count == 0, "a failed parse returns nothing");
            CHECK(strstr(err, cases[i].err_has) != NULL, "parse(%s): error [%s] lacks [%s]", cases[i].json, err,
                  cases[i].err_has);
            CHECK(strstr(err, "Give a JSON array") != NULL, "the error shows the expected shape: %s", err);
        }
        nbg_elements_free(list, count);
    }
    {
        nbg_element *list = NULL;
        int count = 0;
        char err[256];
        nbg_parse_elements("[{\"prompt\": \"b\\u00e9\\n\", \"box\": [1.5, 2, 8, 9], \"mode\": \"cutout\", \"z\": -3}]",
                           640, 480, &list, &count, err, sizeof err);
        CHECK(count == 1 && strcmp(list[0].prompt, "b\xC3\xA9\n") == 0 && list[0].x == 1.5 && list[0].h == 9 &&
                  list[0].mode == NBC_ELEMENT_CUTOUT && list[0].z == -3,
              "element fields read back");
        nbg_elements_free(list, count);
    }
}

static nbc_event event(int kind, int outcome, int64_t delay_ms, int dimension) {
    nbc_event e;
    memset(&e, 0, sizeof e);
    e.struct_size = sizeof e;
    e.kind = kind;
    e.outcome = outcome;
    e.attempt = 1;
    e.delay_ms = delay_ms;
    e.dimension = dimension;
    return e;
}

static void progress(void) {
    static const struct { int kind, outcome; int64_t delay; int dim; int64_t now; const char *want; } steps[] = {
        {NBC_EVENT_ATTEMPT_START, 0, 0, 0, 0, "Generating"},
        {NBC_EVENT_RETRY_SCHEDULED, NBC_E_RATE_LIMITED, 23000, NBC_DIM_NONE, 0, "Waiting 23 s: rate limited (per minute)"},
        {-1, 0, 0, 0, 10500, "Waiting 13 s: rate limited (per minute)"},
        {NBC_EVENT_RETRY_SCHEDULED, NBC_E_UNAVAILABLE, 1500, NBC_DIM_NONE, 0, "Waiting 2 s: the model is overloaded (503)"},
        {NBC_EVENT_QUOTA_WAIT, 0, 4000, NBC_DIM_IPM, 0, "Waiting 4 s: quota (images per minute)"},
        {-1, 0, 0, 0, 9000, "Waiting 0 s: quota (images per minute)"},
        {NBC_EVENT_DOWNGRADE, NBC_E_TIMEOUT, 0, 0, 9000, "Waiting 0 s: quota (images per minute) (asking for 2K after a timeout)"},
        {NBC_EVENT_DONE, NBC_OK, 0, 0, 0, "Compositing (asking for 2K after a timeout)"},
    };
    nbg_status st;
    size_t i;
    char text[256];
    nbg_status_init(&st);
    nbg_status_text(text, sizeof text, &st, 0);
    CHECK(strcmp(text, "Starting") == 0, "initial text [%s]", text);
    for (i = 0; i < sizeof steps / sizeof steps[0]; ++i) {
        if (steps[i].kind >= 0) {
            nbc_event e = event(steps[i].kind, steps[i].outcome, steps[i].delay, steps[i].dim);
            e.image_size = "2K";
            nbg_status_on_event(&st, &e, steps[i].now);
        }
        nbg_status_text(text, sizeof text, &st, steps[i].now);
        CHECK(strcmp(text, steps[i].want) == 0, "step %zu: [%s], want [%s]", i, text, steps[i].want);
    }
    /* Scenes say which stage. */
    nbg_status_init(&st);
    st.stage = 2;
    st.stages = 4;
    {
        nbc_event e = event(NBC_EVENT_ATTEMPT_START, 0, 0, 0);
        e.attempt = 2;
        nbg_status_on_event(&st, &e, 0);
    }
    nbg_status_text(text, sizeof text, &st, 0);
    CHECK(strcmp(text, "Stage 2 of 4: generating (attempt 2)") == 0, "scene text [%s]", text);
    CHECK(strcmp(nbg_wait_reason(NBC_E_RATE_LIMITED, NBC_DIM_TPM), "rate limited (tokens per minute)") == 0, "tpm");
}

static void error_text(void) {
    char out[512];
    nbg_error_text(out, sizeof out, NBC_E_BLOCKED_SAFETY, "The prompt was blocked.", "Rephrase it.");
    CHECK(strcmp(out, "BLOCKED_SAFETY: The prompt was blocked. What to do: Rephrase it.") == 0, "[%s]", out);
    nbg_error_text(out, sizeof out, NBC_E_NETWORK, "", "");
    CHECK(strncmp(out, "NETWORK: ", 9) == 0 && strlen(out) > 9, "a missing message falls back to strerror: [%s]", out);
}

static void key_file(void) {
    char dir[] = "/tmp/nbgimp-keyXXXXXX", path[512], key[256], err[512];
    struct stat sb;
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/cfg/nbcore/api-key", dir);
    CHECK(!nbg_key_file_read(path, key, sizeof key, err, sizeof err) && err[0] == '\0', "absent file: no key, no error");
    CHECK(nbg_key_file_write(path, "test-key-123", err, sizeof err), "write: %s", err);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "the file is 0600 (%o)", (unsigned)(sb.st_mode & 0777));
    {
        char folder[512];
        snprintf(folder, sizeof folder, "%s/cfg/nbcore", dir);
        CHECK(stat(folder, &sb) == 0 && (sb.st_mode & 0777) == 0700, "the folder is 0700 (%o)", (unsigned)(sb.st_mode & 0777));
    }
    CHECK(nbg_key_file_read(path, key, sizeof key, err, sizeof err) && strcmp(key, "test-key-123") == 0, "read back");
    chmod(path, 0644);
    CHECK(!nbg_key_file_read(path, key, sizeof key, err, sizeof err) && strstr(err, "chmod 600") && key[0] == '\0',
          "a file others can read is refused: %s", err);
    /* Rewriting an existing, too-open file narrows it first. */
    CHECK(nbg_key_file_write(path, "test-key-456", err, sizeof err), "rewrite: %s", err);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "rewritten file is 0600");
    CHECK(!nbg_key_file_write(path, "two\nlines", err, sizeof err) && strstr(err, "line break"), "a multi-line key: %s", err);
    CHECK(!nbg_key_file_write(path, "", err, sizeof err), "an empty key is refused");
    {
        FILE *f = fopen(path, "w");
        fputs("   \n", f);
        fclose(f);
        chmod(path, 0600);
        CHECK(!nbg_key_file_read(path, key, sizeof key, err, sizeof err) && strstr(err, "is empty"), "empty file: %s", err);
    }
    unlink(path);
    {
        char p[512];
        snprintf(p, sizeof p, "%s/cfg/nbcore", dir);
        rmdir(p);
        snprintf(p, sizeof p, "%s/cfg", dir);
        rmdir(p);
        rmdir(dir);
    }
    setenv("XDG_CONFIG_HOME", "/x/cfg", 1);
    CHECK(nbg_key_file_path(path, sizeof path) && strcmp(path, "/x/cfg/nbcore/api-key") == 0, "XDG path [%s]", path);
    setenv("XDG_CONFIG_HOME", "relative", 1);
    setenv("HOME", "/home/u", 1);
    CHECK(nbg_key_file_path(path, sizeof path) && strcmp(path, "/home/u/.config/nbcore/api-key") == 0,
          "a relative XDG_CONFIG_HOME is ignored [%s]", path);
}

int main(void) {
    nearest_aspect();
    layer_names();
    elements();
    progress();
    error_text();
    key_file();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("gimp logic: all checks passed\n");
    return 0;
}
