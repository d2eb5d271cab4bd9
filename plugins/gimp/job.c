/* The worker thread (job.h): nbcore calls only, never GIMP or GTK. */
#include "job.h"

#include <string.h>

struct nbg_job {
    nbg_kind kind;
    GThread *thread;
    nbc_client *client;
    nbc_cancel *cancel;
    /* inputs, owned */
    gchar *prompt, *model, *aspect, *image_size;
    gint64 seed;
    guint8 *rgba, *mask;
    gint width, height;
    nbc_scene *scene;
    /* shared with the main thread, under lock */
    GMutex lock;
    nbg_status status;
    gint finished;           /* atomic */
    /* outcome: written by the worker before `finished`, read by the main thread after */
    int code;
    gchar *error_text;
    nbc_result *result;
    nbc_scene_result *scene_result;
};

static gint64 now_ms(void) { return g_get_monotonic_time() / 1000; }

/* Runs on whichever thread waits for the request: here, always the worker. */
static void on_event(const nbc_event *event, void *payload) {
    nbg_job *job = payload;
    g_mutex_lock(&job->lock);
    nbg_status_on_event(&job->status, event, now_ms());
    g_mutex_unlock(&job->lock);
}

static void on_stage(const nbc_scene_stage_info *stage, int total_stages, void *payload) {
    nbg_job *job = payload;
    g_mutex_lock(&job->lock);
    job->status.stages = total_stages;
    if (stage->index + 2 <= total_stages) {
        job->status.stage = stage->index + 2;
        job->status.phase = NBG_PHASE_STARTING;
        job->status.attempt = 0;
        job->status.note[0] = '\0';
    }
    g_mutex_unlock(&job->lock);
}

/* The calling thread's last nbcore error as one line (the last error is per thread). */
static gchar *last_error_text(int code) {
    const nbc_error *e = nbc_error_last();
    char text[1024];
    nbg_error_text(text, sizeof text, code, e ? nbc_error_message(e) : "", e ? nbc_error_advice(e) : "");
    return g_strdup(text);
}

static void fail_from_last_error(nbg_job *job, int code) {
    job->code = code;
    job->error_text = last_error_text(code);
}

static void run_generate(nbg_job *job) {
    nbc_request *req = NULL;
    nbc_job *handle = NULL;
    int rc = nbc_request_new(&req, job->prompt), done = 0;
    if (rc == NBC_OK && *job->model) rc = nbc_request_set_model(req, job->model);
    if (rc == NBC_OK && *job->aspect) rc = nbc_request_set_aspect_ratio(req, job->aspect);
    if (rc == NBC_OK && *job->image_size) rc = nbc_request_set_image_size(req, job->image_size);
    if (rc == NBC_OK && job->seed >= 0) rc = nbc_request_set_seed(req, job->seed);
    if (rc == NBC_OK) rc = nbc_submit(&handle, job->client, req, NULL);
    if (rc != NBC_OK) {
        fail_from_last_error(job, rc);
        nbc_request_free(req);
        return;
    }
    /* Wait in short slices so a cancel from the main thread is passed on at once; events are
     * delivered inside nbc_job_wait, on this thread. */
    while (!done) {
        if (nbc_cancel_is_triggered(job->cancel)) nbc_job_cancel(handle);
        nbc_job_wait(&done, handle, 100);
    }
    rc = nbc_job_result(&job->result, handle);
    if (rc != NBC_OK) fail_from_last_error(job, rc);
    nbc_job_free(handle);
    nbc_request_free(req);
}

static void run_inpaint(nbg_job *job) {
    nbc_inpaint_options o = NBC_INPAINT_OPTIONS_INIT;
    int rc;
    o.model = *job->model ? job->model : NULL;
    o.image_size = *job->image_size ? job->image_size : NULL;
    o.seed = job->seed;
    o.cancel = job->cancel;
    rc = nbc_inpaint(&job->result, job->client, job->rgba, job->width, job->height, (size_t)job->width * 4, job->mask,
                     (size_t)job->width, job->prompt, &o);
    if (rc != NBC_OK) fail_from_last_error(job, rc);
}

static void run_scene(nbg_job *job) {
    nbc_scene_options o = NBC_SCENE_OPTIONS_INIT;
    int rc;
    o.seed = job->seed;
    o.cancel = job->cancel;
    o.on_stage = on_stage;
    o.stage_payload = job;
    rc = nbc_scene_run(&job->scene_result, job->client, job->scene, &o, NULL);
    if (rc != NBC_OK) fail_from_last_error(job, rc);
}

static gpointer worker(gpointer data) {
    nbg_job *job = data;
    job->code = NBC_OK;
    switch (job->kind) {
    case NBG_GENERATE: run_generate(job); break;
    case NBG_INPAINT: run_inpaint(job); break;
    case NBG_SCENE: run_scene(job); break;
    }
    g_mutex_lock(&job->lock);
    job->status.phase = NBG_PHASE_DONE;
    g_mutex_unlock(&job->lock);
    g_atomic_int_set(&job->finished, 1);
    return NULL;
}

static gboolean build_scene(nbg_job *job, const nbg_job_input *in, gchar **error_text) {
    int rc = nbc_scene_new(&job->scene, in->prompt), i;
    if (rc == NBC_OK && *in->aspect) rc = nbc_scene_set_aspect_ratio(job->scene, in->aspect);
    if (rc == NBC_OK && *in->image_size) rc = nbc_scene_set_image_size(job->scene, in->image_size);
    if (rc == NBC_OK && *in->model) rc = nbc_scene_set_model(job->scene, in->model);
    for (i = 0; rc == NBC_OK && i < in->element_count; ++i) {
        const nbg_element *e = &in->elements[i];
        rc = nbc_scene_add_element(job->scene, e->prompt, e->x / in->width, e->y / in->height, e->w / in->width,
                                   e->h / in->height, e->z, e->mode);
    }
    if (rc != NBC_OK) {
        *error_text = last_error_text(rc);
        return FALSE;
    }
    return TRUE;
}

nbg_job *nbg_job_start(const nbg_job_input *in, const char *api_key, gchar **error_text) {
    nbc_client_options o = NBC_CLIENT_OPTIONS_INIT;
    nbg_job *job;
    int rc;
    *error_text = NULL;
    job = g_new0(nbg_job, 1);
    g_mutex_init(&job->lock);
    nbg_status_init(&job->status);
    job->kind = in->kind;
    job->prompt = g_strdup(in->prompt ? in->prompt : "");
    job->model = g_strdup(in->model ? in->model : "");
    job->aspect = g_strdup(in->aspect ? in->aspect : "");
    job->image_size = g_strdup(in->image_size ? in->image_size : "");
    job->seed = in->seed;
    job->width = in->width;
    job->height = in->height;
    if (in->kind == NBG_INPAINT) {
        job->rgba = g_memdup2(in->rgba, (gsize)in->width * (gsize)in->height * 4);
        job->mask = g_memdup2(in->mask, (gsize)in->width * (gsize)in->height);
    }
    if (in->kind == NBG_SCENE) {
        job->status.stage = 1;
        job->status.stages = 1 + in->element_count;
        if (!build_scene(job, in, error_text)) {
            nbg_job_free(job);
            return NULL;
        }
    }

    /* The key: the caller's (from the key file), else GOOGLE_API_KEY / GEMINI_API_KEY, which
     * nbcore reads itself; GOOGLE_GEMINI_BASE_URL likewise. Interactive waits are short and
     * a 4K timeout falls back to 2K, then 1K, and says so. */
    o.api_key = api_key && *api_key ? api_key : NULL;
    o.retry_preset = NBC_RETRY_INTERACTIVE;
    o.flags = NBC_CLIENT_DOWNGRADE_ON_TIMEOUT;
    o.on_event = on_event;
    o.event_payload = job;
    rc = nbc_client_new(&job->client, &o);
    if (rc == NBC_OK) rc = nbc_cancel_new(&job->cancel);
    if (rc != NBC_OK) {
        *error_text = last_error_text(rc);
        nbg_job_free(job);
        return NULL;
    }
    job->thread = g_thread_new("nbcore-request", worker, job);
    return job;
}

void nbg_job_status(nbg_job *job, char *text, gsize text_len, double *fraction) {
    nbg_status st;
    g_mutex_lock(&job->lock);
    st = job->status;
    g_mutex_unlock(&job->lock);
    nbg_status_text(text, text_len, &st, now_ms());
    if (fraction) *fraction = st.stages > 1 ? (double)(st.stage - 1) / (double)st.stages : -1.0;
}

void nbg_job_cancel(nbg_job *job) {
    if (job && job->cancel) nbc_cancel_trigger(job->cancel);
}

gboolean nbg_job_finished(nbg_job *job) { return g_atomic_int_get(&job->finished) != 0; }

void nbg_job_free(nbg_job *job) {
    if (!job) return;
    if (job->thread) {
        nbg_job_cancel(job);
        g_thread_join(job->thread);
    }
    nbc_result_free(job->result);
    nbc_scene_result_free(job->scene_result);
    nbc_scene_free(job->scene);
    nbc_client_free(job->client);
    nbc_cancel_free(job->cancel);
    g_free(job->prompt);
    g_free(job->model);
    g_free(job->aspect);
    g_free(job->image_size);
    g_free(job->rgba);
    g_free(job->mask);
    g_free(job->error_text);
    g_mutex_clear(&job->lock);
    g_free(job);
}

int nbg_job_code(nbg_job *job) { return job->code; }
const char *nbg_job_error_text(nbg_job *job) { return job->error_text ? job->error_text : ""; }
nbc_result *nbg_job_result(nbg_job *job) { return job->result; }
nbc_scene_result *nbg_job_scene_result(nbg_job *job) { return job->scene_result; }
