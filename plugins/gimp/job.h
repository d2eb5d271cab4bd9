/* One run of the plug-in's network work on a worker thread. The worker only calls nbcore and sets
 * fields under the job's lock; it never touches GIMP or GTK. The main thread starts the job,
 * polls its status for the progress bar, may cancel it at any time, and reads the outcome once
 * nbg_job_finished() says so. */
#ifndef NBGIMP_JOB_H
#define NBGIMP_JOB_H

#include <glib.h>

#include <nbcore/nbcore.h>

#include "logic.h"

typedef enum nbg_kind { NBG_GENERATE = 0, NBG_INPAINT, NBG_SCENE } nbg_kind;

typedef struct nbg_job_input {
    nbg_kind kind;
    const char *prompt;      /* generate, inpaint; the background for a scene */
    const char *model;       /* "" = the client's default */
    const char *aspect;      /* generate, scene: "" = unset */
    const char *image_size;  /* "" = unset */
    gint64 seed;             /* -1 = none */
    /* inpaint: the picture and the selection, both width x height, copied by nbg_job_start */
    const guint8 *rgba;
    const guint8 *mask;
    gint width, height;
    /* scene: the elements in canvas pixels (width x height) */
    const nbg_element *elements;
    gint element_count;
} nbg_job_input;

typedef struct nbg_job nbg_job;

/* Starts the run. On failure returns NULL with *error_text set (g_free it): the client could not
 * be created (no API key, a bad option) or the input is wrong. */
nbg_job *nbg_job_start(const nbg_job_input *input, const char *api_key, gchar **error_text);
/* The progress line and the share done (-1 when unknown: pulse). */
void nbg_job_status(nbg_job *job, char *text, gsize text_len, double *fraction);
/* Asks the run to stop; it ends soon after with NBC_E_CANCELLED. Idempotent; any time. */
void nbg_job_cancel(nbg_job *job);
gboolean nbg_job_finished(nbg_job *job);
/* Waits for the worker (it has finished, or was cancelled) and releases the job. */
void nbg_job_free(nbg_job *job);

/* After nbg_job_finished(): NBC_OK or the failure's code, and for a failure the one-line text
 * ("CLASS: message What to do: advice"). */
int nbg_job_code(nbg_job *job);
const char *nbg_job_error_text(nbg_job *job);
/* The outcome (owned by the job): a generate or inpaint result, or a scene result (also set,
 * partial, when a stage failed). */
nbc_result *nbg_job_result(nbg_job *job);
nbc_scene_result *nbg_job_scene_result(nbg_job *job);

#endif
