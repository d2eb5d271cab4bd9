/* The plug-in's decisions, as small pure functions: no GIMP, no GTK, no network. Everything here
 * is unit-tested by tests/gimp/logic_test.c; plugin.c, dialog.c and job.c are the glue. */
#ifndef NBGIMP_LOGIC_H
#define NBGIMP_LOGIC_H

#include <stddef.h>
#include <stdint.h>

#include <nbcore/nbcore.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The aspect ratios the image models take, and the one nearest to a w x h canvas (by the log of
 * the ratio, so 2:1 is as far from 1:1 as 1:2 is). Never NULL. */
extern const char *const nbg_aspect_ratios[];
extern const int nbg_aspect_ratio_count;
const char *nbg_nearest_aspect(int width, int height);
/* 1 when `ratio` is "" or one of nbg_aspect_ratios. */
int nbg_aspect_is_valid(const char *ratio);
/* 1 when `size` is "", "1K", "2K" or "4K". */
int nbg_image_size_is_valid(const char *size);

/* A layer name from a prompt: `prefix` then the prompt's first line, whitespace collapsed, cut at
 * a word boundary near `max_chars` with an ellipsis. Always NUL-terminated. */
void nbg_layer_name(char *out, size_t out_len, const char *prefix, const char *prompt, size_t max_chars);

/* Scene elements from the procedure's JSON: [{"prompt": "...", "box": [x, y, w, h]}, ...] in canvas
 * pixels. Each box must lie inside the canvas and be at least 8 px each way. Optional keys:
 * "mode": "edit" | "cutout" (default "edit"), "z": integer (default: the order given). */
typedef struct nbg_element {
    char *prompt;            /* owned; nbg_elements_free releases it */
    double x, y, w, h;       /* canvas pixels */
    int z;
    int mode;                /* NBC_ELEMENT_* */
} nbg_element;

/* Parses `json` into *out (an array of *count elements, release with nbg_elements_free). On error
 * returns 0 and writes a message saying what is wrong and how to fix it into err. An empty array
 * is valid (a background alone). */
int nbg_parse_elements(const char *json, int canvas_w, int canvas_h, nbg_element **out, int *count,
                       char *err, size_t err_len);
void nbg_elements_free(nbg_element *elements, int count);

/* What the run is doing, updated from the client's events (job.c keeps one per run, under a lock). */
typedef enum nbg_phase {
    NBG_PHASE_STARTING = 0,
    NBG_PHASE_GENERATING,    /* a request is out; the model is working */
    NBG_PHASE_WAITING,       /* backing off or held by the quota governor until wait_until_ms */
    NBG_PHASE_COMPOSITING,   /* the answer is in; nbcore is blending it into the picture */
    NBG_PHASE_DONE
} nbg_phase;

typedef struct nbg_status {
    nbg_phase phase;
    int attempt;             /* of the current request */
    int stage, stages;       /* scenes: the stage running (1-based) of how many; 0 otherwise */
    int64_t wait_until_ms;   /* NBG_PHASE_WAITING: when the wait ends (the caller's clock) */
    char why[96];            /* NBG_PHASE_WAITING: "rate limited (per minute)" */
    char note[96];           /* a downgrade or failover, shown after the main text */
} nbg_status;

void nbg_status_init(nbg_status *st);
/* Folds one client event into *st; now_ms is the caller's monotonic clock in ms. */
void nbg_status_on_event(nbg_status *st, const nbc_event *event, int64_t now_ms);
/* The progress bar's line: "Waiting 23 s: rate limited (per minute)", "Generating",
 * "Stage 2 of 4: generating", "Compositing". */
void nbg_status_text(char *out, size_t out_len, const nbg_status *st, int64_t now_ms);
/* Why an attempt that ended with `code` (NBC_E_*) is being waited on, for people; `dimension`
 * (NBC_DIM_*) refines quota waits. */
const char *nbg_wait_reason(int code, int dimension);

/* The one-line PDB error string and the longer message for people:
 * "RATE_LIMITED: <message> What to do: <advice>". */
void nbg_error_text(char *out, size_t out_len, int code, const char *message, const char *advice);

/* The API key file: $XDG_CONFIG_HOME/nbcore/api-key, else $HOME/.config/nbcore/api-key. Returns 0
 * when neither variable is set. */
int nbg_key_file_path(char *out, size_t out_len);
/* Reads the key (first line, trimmed) into out. Refuses a file that others can read (say so in
 * err: "chmod 600 ..."). Returns 1 with a key, 0 when there is none or it was refused (err says
 * which; "" when the file does not exist). */
int nbg_key_file_read(const char *path, char *out, size_t out_len, char *err, size_t err_len);
/* Writes `key` to path, creating the folder (0700) and the file (0600) first so the key is never
 * readable by others, even for an instant. Returns 1, or 0 with err set. */
int nbg_key_file_write(const char *path, const char *key, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
