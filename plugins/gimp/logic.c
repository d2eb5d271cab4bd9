/* The plug-in's decisions (logic.h). Plain C99 and POSIX: no GIMP, no GTK. */
#define _POSIX_C_SOURCE 200809L
#include "logic.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const nbg_aspect_ratios[] = {"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"};
const int nbg_aspect_ratio_count = (int)(sizeof nbg_aspect_ratios / sizeof nbg_aspect_ratios[0]);

static void put(char *out, size_t out_len, const char *fmt, ...) {
    va_list ap;
    if (!out || !out_len) return;
    va_start(ap, fmt);
    vsnprintf(out, out_len, fmt, ap);
    va_end(ap);
}

static double ratio_value(const char *ratio) {
    int a = 0, b = 0;
    if (sscanf(ratio, "%d:%d", &a, &b) != 2 || a <= 0 || b <= 0) return 0.0;
    return (double)a / (double)b;
}

const char *nbg_nearest_aspect(int width, int height) {
    const char *best = "1:1";
    double best_distance = HUGE_VAL, target;
    int i;
    if (width <= 0 || height <= 0) return best;
    target = log((double)width / (double)height);
    for (i = 0; i < nbg_aspect_ratio_count; ++i) {
        double d = fabs(log(ratio_value(nbg_aspect_ratios[i])) - target);
        if (d < best_distance) {
            best_distance = d;
            best = nbg_aspect_ratios[i];
        }
    }
    return best;
}

int nbg_aspect_is_valid(const char *ratio) {
    int i;
    if (!ratio) return 0;
    if (!*ratio) return 1;
    for (i = 0; i < nbg_aspect_ratio_count; ++i)
        if (strcmp(ratio, nbg_aspect_ratios[i]) == 0) return 1;
    return 0;
}

int nbg_image_size_is_valid(const char *size) {
    return size && (!*size || !strcmp(size, "1K") || !strcmp(size, "2K") || !strcmp(size, "4K"));
}

void nbg_layer_name(char *out, size_t out_len, const char *prefix, const char *prompt, size_t max_chars) {
    size_t n = 0, last_space = 0, limit;
    const char *p = prompt ? prompt : "";
    int pending_space = 0, cut = 0;
    if (!out || !out_len) return;
    put(out, out_len, "%s", prefix ? prefix : "");
    n = strlen(out);
    limit = n + max_chars < out_len - 1 ? n + max_chars : out_len - 1;
    while (*p && isspace((unsigned char)*p)) ++p;
    for (; *p && *p != '\n' && *p != '\r'; ++p) {
        if (isspace((unsigned char)*p)) {
            pending_space = 1;
            continue;
        }
        if (n + (size_t)pending_space + 1 > limit) {
            cut = 1;
            break;
        }
        if (pending_space) {
            last_space = n;
            out[n++] = ' ';
            pending_space = 0;
        }
        out[n++] = *p;
    }
    if (*p && *p != '\n' && *p != '\r') cut = 1;
    if (cut) {
        /* Back up to a word boundary (and off a split UTF-8 sequence), then add "…" if it fits. */
        if (last_space > strlen(prefix ? prefix : "")) n = last_space;
        if (n > 0) {
            /* Never end inside a UTF-8 sequence. */
            size_t lead = n - 1, need;
            unsigned char c;
            while (lead > 0 && ((unsigned char)out[lead] & 0xC0) == 0x80) --lead;
            c = (unsigned char)out[lead];
            need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            if (lead + need > n) n = lead;
        }
        if (n + 3 < out_len) {
            memcpy(out + n, "\xE2\x80\xA6", 3);
            n += 3;
        }
    }
    out[n] = '\0';
}

/* ---------------------------------------------------------------------------------------------
 * Scene elements: a strict reader for exactly the documented shape. Unknown keys are errors, so a
 * typo ("promt") is reported instead of silently ignored.
 * ------------------------------------------------------------------------------------------- */

typedef struct reader {
    const char *s;
    size_t at;
    char *err;
    size_t err_len;
    int failed;
} reader;

static int fail(reader *r, const char *fmt, ...) {
    va_list ap;
    char what[200];
    if (r->failed) return 0;
    r->failed = 1;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    put(r->err, r->err_len,
        "elements: %s (at character %zu). Give a JSON array such as "
        "[{\"prompt\": \"a red kite\", \"box\": [40, 30, 200, 150]}], boxes in canvas pixels",
        what, r->at + 1);
    return 0;
}

static void skip_ws(reader *r) {
    while (r->s[r->at] && isspace((unsigned char)r->s[r->at])) ++r->at;
}

static int expect(reader *r, char c) {
    skip_ws(r);
    if (r->s[r->at] != c) return fail(r, "expected '%c'", c);
    ++r->at;
    return 1;
}

static int peek_is(reader *r, char c) {
    skip_ws(r);
    return r->s[r->at] == c;
}

static void append_utf8(char *buf, size_t *n, unsigned cp) {
    if (cp < 0x80) {
        buf[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        buf[(*n)++] = (char)(0xC0 | (cp >> 6));
        buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        buf[(*n)++] = (char)(0xE0 | (cp >> 12));
        buf[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        buf[(*n)++] = (char)(0xF0 | (cp >> 18));
        buf[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        buf[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static int hex4(reader *r, unsigned *out) {
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; ++i) {
        char c = r->s[r->at + (size_t)i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return fail(r, "bad \\u escape");
    }
    r->at += 4;
    *out = v;
    return 1;
}

/* A string into a new malloc'd buffer (UTF-8). */
static char *read_string(reader *r) {
    size_t cap, n = 0, start;
    char *buf;
    if (!expect(r, '"')) return NULL;
    start = r->at;
    while (r->s[r->at] && r->s[r->at] != '"') r->at += r->s[r->at] == '\\' && r->s[r->at + 1] ? 2 : 1;
    if (!r->s[r->at]) {
        fail(r, "a string is not closed");
        return NULL;
    }
    cap = (r->at - start) * 2 + 1; /* \uXXXX (6 bytes) never grows past 4 bytes of UTF-8 */
    r->at = start;
    buf = malloc(cap);
    if (!buf) {
        fail(r, "out of memory");
        return NULL;
    }
    while (r->s[r->at] != '"') {
        unsigned char c = (unsigned char)r->s[r->at++];
        if (c < 0x20) {
            free(buf);
            fail(r, "a control character inside a string; write it as an escape such as \\n");
            return NULL;
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            continue;
        }
        c = (unsigned char)r->s[r->at++];
        switch (c) {
        case '"': case '\\': case '/': buf[n++] = (char)c; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u': {
            unsigned cp = 0, lo = 0;
            if (!hex4(r, &cp)) { free(buf); return NULL; }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (r->s[r->at] != '\\' || r->s[r->at + 1] != 'u') { free(buf); fail(r, "a lone UTF-16 surrogate"); return NULL; }
                r->at += 2;
                if (!hex4(r, &lo) || lo < 0xDC00 || lo > 0xDFFF) { free(buf); fail(r, "a lone UTF-16 surrogate"); return NULL; }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(buf);
                fail(r, "a lone UTF-16 surrogate");
                return NULL;
            }
            if (cp == 0) { free(buf); fail(r, "\\u0000 inside a string"); return NULL; }
            append_utf8(buf, &n, cp);
            break;
        }
        default:
            free(buf);
            fail(r, "unknown escape \\%c", c);
            return NULL;
        }
    }
    ++r->at;
    buf[n] = '\0';
    return buf;
}

static int read_number(reader *r, double *out) {
    char *end = NULL;
    const char *start;
    skip_ws(r);
    start = r->s + r->at;
    if (!(*start == '-' || isdigit((unsigned char)*start))) return fail(r, "expected a number");
    errno = 0;
    *out = strtod(start, &end);
    if (end == start || errno == ERANGE || !isfinite(*out)) return fail(r, "expected a finite number");
    r->at += (size_t)(end - start);
    return 1;
}

static int read_element(reader *r, nbg_element *e, int index, int canvas_w, int canvas_h) {
    int have_box = 0, have_z = 0, i;
    double box[4] = {0, 0, 0, 0};
    e->mode = NBC_ELEMENT_EDIT;
    e->z = index;
    if (!expect(r, '{')) return 0;
    if (!peek_is(r, '}')) {
        for (;;) {
            char *key = read_string(r);
            if (!key) return 0;
            if (!expect(r, ':')) { free(key); return 0; }
            if (!strcmp(key, "prompt")) {
                free(e->prompt);
                e->prompt = read_string(r);
                if (!e->prompt) { free(key); return 0; }
            } else if (!strcmp(key, "box")) {
                if (!expect(r, '[')) { free(key); return 0; }
                for (i = 0; i < 4; ++i) {
                    if ((i && !expect(r, ',')) || !read_number(r, &box[i])) { free(key); return 0; }
                }
                if (!peek_is(r, ']')) { free(key); return fail(r, "element %d: a box has exactly 4 numbers [x, y, w, h]", index + 1); }
                ++r->at;
                have_box = 1;
            } else if (!strcmp(key, "mode")) {
                char *mode = read_string(r);
                if (!mode) { free(key); return 0; }
                if (!strcmp(mode, "edit")) e->mode = NBC_ELEMENT_EDIT;
                else if (!strcmp(mode, "cutout")) e->mode = NBC_ELEMENT_CUTOUT;
                else {
                    free(mode);
                    free(key);
                    return fail(r, "element %d: mode must be \"edit\" or \"cutout\"", index + 1);
                }
                free(mode);
            } else if (!strcmp(key, "z")) {
                double z = 0;
                if (!read_number(r, &z)) { free(key); return 0; }
                if (z != floor(z) || fabs(z) > 1e6) { free(key); return fail(r, "element %d: z must be a whole number", index + 1); }
                e->z = (int)z;
                have_z = 1;
            } else {
                int ok = fail(r, "element %d: unknown key \"%s\" (the keys are prompt, box, mode and z)", index + 1, key);
                free(key);
                return ok;
            }
            free(key);
            if (peek_is(r, ',')) { ++r->at; continue; }
            break;
        }
    }
    if (!expect(r, '}')) return 0;
    (void)have_z;
    if (!e->prompt || !*e->prompt) return fail(r, "element %d has no \"prompt\"", index + 1);
    if (!have_box) return fail(r, "element %d has no \"box\": [x, y, w, h]", index + 1);
    if (box[2] < 8 || box[3] < 8)
        return fail(r, "element %d: the box is %gx%g px; make it at least 8 px each way", index + 1, box[2], box[3]);
    if (box[0] < 0 || box[1] < 0 || box[0] + box[2] > canvas_w + 1e-9 || box[1] + box[3] > canvas_h + 1e-9)
        return fail(r, "element %d: the box [%g, %g, %g, %g] is not inside the %dx%d canvas", index + 1, box[0], box[1],
                    box[2], box[3], canvas_w, canvas_h);
    e->x = box[0];
    e->y = box[1];
    e->w = box[2];
    e->h = box[3];
    return 1;
}

int nbg_parse_elements(const char *json, int canvas_w, int canvas_h, nbg_element **out, int *count, char *err,
                       size_t err_len) {
    reader r;
    nbg_element *list = NULL;
    int n = 0, cap = 0;
    put(err, err_len, "%s", "");
    if (!out || !count) return 0;
    *out = NULL;
    *count = 0;
    r.s = json ? json : "";
    r.at = 0;
    r.err = err;
    r.err_len = err_len;
    r.failed = 0;
    if (canvas_w <= 0 || canvas_h <= 0) return fail(&r, "the canvas is empty");
    skip_ws(&r);
    if (!r.s[r.at]) return 1; /* nothing given: a background alone */
    if (!expect(&r, '[')) return 0;
    if (!peek_is(&r, ']')) {
        for (;;) {
            if (n == cap) {
                nbg_element *grown;
                cap = cap ? cap * 2 : 4;
                grown = realloc(list, (size_t)cap * sizeof *list);
                if (!grown) { fail(&r, "out of memory"); break; }
                list = grown;
            }
            memset(&list[n], 0, sizeof list[n]);
            if (!read_element(&r, &list[n], n, canvas_w, canvas_h)) { ++n; break; }
            ++n;
            if (n > 64) { fail(&r, "more than 64 elements; split the scene"); break; }
            if (peek_is(&r, ',')) { ++r.at; continue; }
            break;
        }
    }
    if (!r.failed && expect(&r, ']')) {
        skip_ws(&r);
        if (r.s[r.at]) fail(&r, "unexpected text after the array");
    }
    if (r.failed) {
        nbg_elements_free(list, n);
        return 0;
    }
    *out = list;
    *count = n;
    return 1;
}

void nbg_elements_free(nbg_element *elements, int count) {
    int i;
    if (!elements) return;
    for (i = 0; i < count; ++i) free(elements[i].prompt);
    free(elements);
}

/* ---------------------------------------------------------------------------------------------
 * Progress
 * ------------------------------------------------------------------------------------------- */

void nbg_status_init(nbg_status *st) {
    memset(st, 0, sizeof *st);
    st->phase = NBG_PHASE_STARTING;
}

const char *nbg_wait_reason(int code, int dimension) {
    switch (code) {
    case NBC_E_RATE_LIMITED:
        switch (dimension) {
        case NBC_DIM_TPM: return "rate limited (tokens per minute)";
        case NBC_DIM_IPM: return "rate limited (images per minute)";
        case NBC_DIM_RPD: return "daily quota";
        default: return "rate limited (per minute)";
        }
    case NBC_E_QUOTA_EXHAUSTED: return "quota exhausted";
    case NBC_E_SERVER_ERROR: return "server error (500)";
    case NBC_E_BAD_GATEWAY: return "bad gateway (502)";
    case NBC_E_UNAVAILABLE: return "the model is overloaded (503)";
    case NBC_E_TIMEOUT: return "the request timed out";
    case NBC_E_NETWORK: return "network error";
    case NBC_E_NO_IMAGE: return "the reply had no image";
    case NBC_E_BLANK_IMAGE: return "the image came back blank";
    case NBC_E_BAD_RESPONSE: return "the reply was malformed";
    default: return "retrying";
    }
}

static const char *quota_wait_reason(int dimension) {
    switch (dimension) {
    case NBC_DIM_RPM: return "quota (requests per minute)";
    case NBC_DIM_TPM: return "quota (tokens per minute)";
    case NBC_DIM_IPM: return "quota (images per minute)";
    case NBC_DIM_RPD: return "quota (requests per day)";
    default: return "quota";
    }
}

void nbg_status_on_event(nbg_status *st, const nbc_event *e, int64_t now_ms) {
    if (!st || !e) return;
    switch (e->kind) {
    case NBC_EVENT_ATTEMPT_START:
        st->phase = NBG_PHASE_GENERATING;
        st->attempt = e->attempt;
        break;
    case NBC_EVENT_RETRY_SCHEDULED:
        st->phase = NBG_PHASE_WAITING;
        st->wait_until_ms = now_ms + (e->delay_ms > 0 ? e->delay_ms : 0);
        put(st->why, sizeof st->why, "%s", nbg_wait_reason(e->outcome, e->dimension));
        break;
    case NBC_EVENT_QUOTA_WAIT:
        st->phase = NBG_PHASE_WAITING;
        st->wait_until_ms = now_ms + (e->delay_ms > 0 ? e->delay_ms : 0);
        put(st->why, sizeof st->why, "%s", quota_wait_reason(e->dimension));
        break;
    case NBC_EVENT_DOWNGRADE:
        put(st->note, sizeof st->note, "asking for %s after a timeout", e->image_size ? e->image_size : "a smaller image");
        break;
    case NBC_EVENT_FAILOVER:
        put(st->note, sizeof st->note, "trying %s", e->route && *e->route ? e->route : "another route");
        break;
    case NBC_EVENT_DONE:
        /* The request is over; what follows locally (decoding, blending) is the compositing. */
        if (e->outcome == NBC_OK) st->phase = NBG_PHASE_COMPOSITING;
        break;
    default:
        break;
    }
}

void nbg_status_text(char *out, size_t out_len, const nbg_status *st, int64_t now_ms) {
    char main_text[192], stage[48] = "";
    if (!out || !out_len) return;
    if (!st) { put(out, out_len, "%s", ""); return; }
    if (st->stages > 1) put(stage, sizeof stage, "Stage %d of %d: ", st->stage, st->stages);
    switch (st->phase) {
    case NBG_PHASE_STARTING:
        put(main_text, sizeof main_text, "%s", stage[0] ? "starting" : "Starting");
        break;
    case NBG_PHASE_GENERATING:
        if (st->attempt > 1) put(main_text, sizeof main_text, "%s (attempt %d)", stage[0] ? "generating" : "Generating", st->attempt);
        else put(main_text, sizeof main_text, "%s", stage[0] ? "generating" : "Generating");
        break;
    case NBG_PHASE_WAITING: {
        int64_t left = st->wait_until_ms - now_ms;
        long secs = left <= 0 ? 0 : (long)((left + 999) / 1000);
        put(main_text, sizeof main_text, "%s %ld s: %s", stage[0] ? "waiting" : "Waiting", secs, st->why);
        break;
    }
    case NBG_PHASE_COMPOSITING:
        put(main_text, sizeof main_text, "%s", stage[0] ? "compositing" : "Compositing");
        break;
    case NBG_PHASE_DONE:
        put(main_text, sizeof main_text, "%s", stage[0] ? "done" : "Done");
        break;
    }
    if (st->note[0]) put(out, out_len, "%s%s (%s)", stage, main_text, st->note);
    else put(out, out_len, "%s%s", stage, main_text);
}

void nbg_error_text(char *out, size_t out_len, int code, const char *message, const char *advice) {
    const char *name = nbc_status_name(code);
    if (advice && *advice)
        put(out, out_len, "%s: %s What to do: %s", name ? name : "ERROR", message && *message ? message : nbc_strerror(code),
            advice);
    else
        put(out, out_len, "%s: %s", name ? name : "ERROR", message && *message ? message : nbc_strerror(code));
}

/* ---------------------------------------------------------------------------------------------
 * The key file
 * ------------------------------------------------------------------------------------------- */

int nbg_key_file_path(char *out, size_t out_len) {
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg == '/') put(out, out_len, "%s/nbcore/api-key", xdg);
    else if (home && *home) put(out, out_len, "%s/.config/nbcore/api-key", home);
    else return 0;
    return 1;
}

int nbg_key_file_read(const char *path, char *out, size_t out_len, char *err, size_t err_len) {
    struct stat sb;
    FILE *f;
    char line[512];
    size_t n;
    put(err, err_len, "%s", "");
    if (out && out_len) out[0] = '\0';
    if (!path || !out || out_len < 2) return 0;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT) put(err, err_len, "cannot read the key file %s: %s", path, strerror(errno));
        return 0;
    }
    if (!S_ISREG(sb.st_mode)) {
        put(err, err_len, "the key file %s is not a regular file; remove it", path);
        return 0;
    }
    if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
        put(err, err_len, "the key file %s can be read by other users, so it was not used; run: chmod 600 %s", path, path);
        return 0;
    }
    f = fopen(path, "r");
    if (!f) {
        put(err, err_len, "cannot read the key file %s: %s", path, strerror(errno));
        return 0;
    }
    if (!fgets(line, sizeof line, f)) line[0] = '\0';
    fclose(f);
    n = strlen(line);
    while (n && isspace((unsigned char)line[n - 1])) line[--n] = '\0';
    {
        const char *p = line;
        while (*p && isspace((unsigned char)*p)) ++p;
        if (!*p) {
            put(err, err_len, "the key file %s is empty; paste your API key into it, or set GOOGLE_API_KEY", path);
            return 0;
        }
        put(out, out_len, "%s", p);
    }
    memset(line, 0, sizeof line);
    return 1;
}

int nbg_key_file_write(const char *path, const char *key, char *err, size_t err_len) {
    char dir[1024];
    char *slash;
    int fd;
    size_t len;
    put(err, err_len, "%s", "");
    if (!path || !key || !*key) {
        put(err, err_len, "no key to save");
        return 0;
    }
    if (strchr(key, '\n') || strchr(key, '\r')) {
        put(err, err_len, "the key has a line break in it; paste the key alone");
        return 0;
    }
    put(dir, sizeof dir, "%s", path);
    slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        char *p;
        *slash = '\0';
        /* Create each missing folder, the last one private. */
        for (p = dir + 1; *p; ++p) {
            if (*p != '/') continue;
            *p = '\0';
            if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
                put(err, err_len, "cannot create %s: %s", dir, strerror(errno));
                return 0;
            }
            *p = '/';
        }
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            put(err, err_len, "cannot create %s: %s", dir, strerror(errno));
            return 0;
        }
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        put(err, err_len, "cannot write the key file %s: %s", path, strerror(errno));
        return 0;
    }
    /* An existing file keeps its mode through O_CREAT: narrow it before the key goes in. */
    if (fchmod(fd, 0600) != 0) {
        put(err, err_len, "cannot make %s private: %s", path, strerror(errno));
        close(fd);
        return 0;
    }
    len = strlen(key);
    if (write(fd, key, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
        put(err, err_len, "cannot write the key file %s: %s", path, strerror(errno));
        close(fd);
        return 0;
    }
    if (close(fd) != 0) {
        put(err, err_len, "cannot write the key file %s: %s", path, strerror(errno));
        return 0;
    }
    return 1;
}
