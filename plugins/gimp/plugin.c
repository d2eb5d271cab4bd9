/* nbcore-gimp: Nano Banana generate, inpaint and staged scenes for GIMP 2.10, over nbcore.h only.
 *
 * The PDB procedures, the image side and the run loop. Every GIMP call happens on this (the main)
 * thread; the request runs on a worker (job.c). The image is read when the run starts and changed
 * only once a result is in hand, inside one undo group, so a cancelled or failed run leaves it as
 * it was. */
#include <string.h>

#include <libgimp/gimp.h>

#include "dialog.h"
#include "plugin.h"

static void query(void);
static void run(const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals, GimpParam **return_vals);

const GimpPlugInInfo PLUG_IN_INFO = {NULL, NULL, query, run};

MAIN()

/* ---------------------------------------------------------------------------------------------
 * Registration
 * ------------------------------------------------------------------------------------------- */

#define ARG_RUN_MODE {GIMP_PDB_INT32, "run-mode", "The run mode { RUN-INTERACTIVE (0), RUN-NONINTERACTIVE (1) }"}
#define ARG_IMAGE {GIMP_PDB_IMAGE, "image", "Input image (-1 for none: Generate then makes a new one)"}
#define ARG_DRAWABLE {GIMP_PDB_DRAWABLE, "drawable", "Input drawable; the result goes above it"}
#define ARG_MODEL {GIMP_PDB_STRING, "model", "Model ID; \"\" for the default (gemini-3-pro-image-preview)"}
#define ARG_SIZE {GIMP_PDB_STRING, "image-size", "\"1K\", \"2K\" or \"4K\" (\"\" for the model's default)"}

static void query(void) {
    static GimpParamDef generate_args[] = {
        ARG_RUN_MODE, ARG_IMAGE, ARG_DRAWABLE,
        {GIMP_PDB_STRING, "prompt", "What to draw"},
        ARG_MODEL,
        {GIMP_PDB_STRING, "aspect-ratio", "\"16:9\" and so on; \"\" for the one nearest to the canvas"},
        ARG_SIZE,
        {GIMP_PDB_INT32, "seed", "Seed, or -1 for none"},
    };
    static GimpParamDef generate_image_args[] = {
        ARG_RUN_MODE,
        {GIMP_PDB_STRING, "prompt", "What to draw"},
        ARG_MODEL,
        {GIMP_PDB_STRING, "aspect-ratio", "\"16:9\" and so on; \"\" for 1:1"},
        ARG_SIZE,
        {GIMP_PDB_INT32, "seed", "Seed, or -1 for none"},
    };
    static GimpParamDef generate_image_return[] = {
        {GIMP_PDB_IMAGE, "new-image", "The generated image"},
    };
    static GimpParamDef inpaint_args[] = {
        ARG_RUN_MODE, ARG_IMAGE, ARG_DRAWABLE,
        {GIMP_PDB_STRING, "prompt", "What to put in the selection"},
        ARG_MODEL, ARG_SIZE,
    };
    static GimpParamDef scene_args[] = {
        ARG_RUN_MODE, ARG_IMAGE, ARG_DRAWABLE,
        {GIMP_PDB_STRING, "background", "The background prompt (the first stage)"},
        {GIMP_PDB_STRING, "elements",
         "A JSON array of {\"prompt\": \"...\", \"box\": [x, y, w, h]} in canvas pixels; optional \"mode\": "
         "\"edit\" or \"cutout\", \"z\": order"},
        ARG_MODEL, ARG_SIZE,
    };
    const gchar *author = "The nbcore developers";
    const gchar *year = "2026";

    gimp_install_procedure(NBG_PROC_GENERATE, "Generate an image with Gemini (Nano Banana) as a new layer",
                           "Sends the prompt to Google's Gemini image model through nbcore, which retries rate "
                           "limits and server errors and checks the image. The result becomes a new layer, scaled "
                           "to the canvas, above the active layer. With no image open, a new image is made.",
                           author, author, year, "_Generate…", "RGB*", GIMP_PLUGIN, G_N_ELEMENTS(generate_args), 0,
                           generate_args, NULL);
    gimp_plugin_menu_register(NBG_PROC_GENERATE, "<Image>/Filters/Render/Nano Banana");

    gimp_install_procedure(NBG_PROC_GENERATE_IMAGE, "Generate a new image with Gemini (Nano Banana)",
                           "Sends the prompt to Google's Gemini image model through nbcore and opens the answer "
                           "as a new image.",
                           author, author, year, "Nano Banana _Image…", "", GIMP_PLUGIN,
                           G_N_ELEMENTS(generate_image_args), G_N_ELEMENTS(generate_image_return), generate_image_args,
                           generate_image_return);
    gimp_plugin_menu_register(NBG_PROC_GENERATE_IMAGE, "<Image>/File/Create");

    gimp_install_procedure(NBG_PROC_INPAINT, "Repaint the selection with Gemini (Nano Banana)",
                           "The selection is the mask, soft edges included. nbcore sends the selection with some "
                           "context around it, resizes the answer back, matches its colours to the surroundings "
                           "and blends it through the grown, feathered selection. The change is a new layer with "
                           "that blend as its layer mask; nothing outside it changes.",
                           author, author, year, "_Inpaint Selection…", "RGB*", GIMP_PLUGIN,
                           G_N_ELEMENTS(inpaint_args), 0, inpaint_args, NULL);
    gimp_plugin_menu_register(NBG_PROC_INPAINT, "<Image>/Filters/Render/Nano Banana");

    gimp_install_procedure(NBG_PROC_SCENE, "Build a scene in stages with Gemini (Nano Banana)",
                           "The background first, then one request per element, each placed in its box. Each "
                           "stage is retried on its own. The result is a layer group with one layer per stage "
                           "and the composite on top; if a stage fails, the stages before it are kept.",
                           author, author, year, "_Staged Scene…", "RGB*", GIMP_PLUGIN, G_N_ELEMENTS(scene_args), 0,
                           scene_args, NULL);
    gimp_plugin_menu_register(NBG_PROC_SCENE, "<Image>/Filters/Render/Nano Banana");
}

/* ---------------------------------------------------------------------------------------------
 * Values: defaults, the session's last values, and the settings file across sessions
 * ------------------------------------------------------------------------------------------- */

static const char *kind_group(nbg_kind kind) {
    return kind == NBG_GENERATE ? "generate" : kind == NBG_INPAINT ? "inpaint" : "scene";
}

static const char *kind_proc(nbg_kind kind) {
    return kind == NBG_GENERATE ? NBG_PROC_GENERATE : kind == NBG_INPAINT ? NBG_PROC_INPAINT : NBG_PROC_SCENE;
}

static void values_defaults(nbg_values *v) {
    memset(v, 0, sizeof *v);
    g_strlcpy(v->image_size, "1K", sizeof v->image_size);
    v->seed = -1;
}

static gchar *settings_path(void) { return g_build_filename(gimp_directory(), "nbcore-gimp.ini", NULL); }

static void copy_setting(GKeyFile *kf, const char *group, const char *key, gchar *out, gsize out_len) {
    gchar *s = g_key_file_get_string(kf, group, key, NULL);
    if (s) g_strlcpy(out, s, out_len);
    g_free(s);
}

/* The session's last values if any, else the settings file's, else the defaults. */
static void values_load(nbg_kind kind, nbg_values *v) {
    GKeyFile *kf;
    gchar *path;
    const char *group = kind_group(kind);
    values_defaults(v);
    if (gimp_get_data_size(kind_proc(kind)) == sizeof *v) {
        gimp_get_data(kind_proc(kind), v);
        v->prompt[sizeof v->prompt - 1] = v->elements[sizeof v->elements - 1] = '\0';
        return;
    }
    kf = g_key_file_new();
    path = settings_path();
    if (g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL)) {
        GError *err = NULL;
        gint seed;
        copy_setting(kf, group, "prompt", v->prompt, sizeof v->prompt);
        copy_setting(kf, group, "elements", v->elements, sizeof v->elements);
        copy_setting(kf, group, "model", v->model, sizeof v->model);
        copy_setting(kf, group, "aspect", v->aspect, sizeof v->aspect);
        copy_setting(kf, group, "image-size", v->image_size, sizeof v->image_size);
        seed = g_key_file_get_integer(kf, group, "seed", &err);
        if (!err && seed >= -1) v->seed = seed;
        g_clear_error(&err);
        if (!nbg_aspect_is_valid(v->aspect)) v->aspect[0] = '\0';
        if (!nbg_image_size_is_valid(v->image_size)) g_strlcpy(v->image_size, "1K", sizeof v->image_size);
    }
    g_free(path);
    g_key_file_free(kf);
}

static void values_save(nbg_kind kind, const nbg_values *v) {
    GKeyFile *kf = g_key_file_new();
    gchar *path = settings_path();
    const char *group = kind_group(kind);
    gimp_set_data(kind_proc(kind), v, sizeof *v);
    g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS, NULL);
    g_key_file_set_string(kf, group, "prompt", v->prompt);
    if (kind == NBG_SCENE) g_key_file_set_string(kf, group, "elements", v->elements);
    g_key_file_set_string(kf, group, "model", v->model);
    if (kind == NBG_GENERATE) g_key_file_set_string(kf, group, "aspect", v->aspect);
    g_key_file_set_string(kf, group, "image-size", v->image_size);
    if (kind == NBG_GENERATE) g_key_file_set_integer(kf, group, "seed", v->seed);
    /* Remembering is a convenience: a read-only profile just does not remember. */
    g_key_file_save_to_file(kf, path, NULL);
    g_free(path);
    g_key_file_free(kf);
}

void nbg_key_find(nbg_key *key) {
    static const char *const vars[] = {"GOOGLE_API_KEY", "GEMINI_API_KEY"};
    size_t i;
    memset(key, 0, sizeof *key);
    nbg_key_file_path(key->path, sizeof key->path);
    for (i = 0; i < G_N_ELEMENTS(vars); ++i) {
        const char *v = g_getenv(vars[i]);
        if (v && *v) {
            key->source = NBG_KEY_ENV;
            g_strlcpy(key->env_name, vars[i], sizeof key->env_name);
            return;
        }
    }
    if (key->path[0] && nbg_key_file_read(key->path, key->key, sizeof key->key, key->problem, sizeof key->problem))
        key->source = NBG_KEY_FILE;
}

/* ---------------------------------------------------------------------------------------------
 * The image side
 * ------------------------------------------------------------------------------------------- */

typedef struct run_context {
    nbg_kind kind;
    GimpRunMode run_mode;
    gint32 image;            /* -1: none (Generate makes a new image) */
    gint32 drawable;
    /* Snapshot for inpaint, taken when the run starts */
    guint8 *rgba, *mask;
    gint width, height;
    nbg_element *elements;
    gint element_count;
} run_context;

static void write_rgba(gint32 drawable, const guint8 *px, gint w, gint h, const char *format) {
    GeglBuffer *buf = gimp_drawable_get_buffer(drawable);
    gegl_buffer_set(buf, GEGL_RECTANGLE(0, 0, w, h), 0, babl_format(format), px, GEGL_AUTO_ROWSTRIDE);
    gegl_buffer_flush(buf);
    g_object_unref(buf);
    gimp_drawable_update(drawable, 0, 0, w, h);
}

/* The visible picture and the selection, as the model should see them. */
static gboolean snapshot_inpaint(run_context *ctx, gchar **error_text) {
    gboolean non_empty = FALSE;
    gint x1, y1, x2, y2;
    gint32 visible, selection;
    GeglBuffer *buf;
    gsize n;
    if (!gimp_selection_bounds(ctx->image, &non_empty, &x1, &y1, &x2, &y2) || !non_empty) {
        *error_text = g_strdup("INVALID_ARG: nothing is selected, so there is nothing to inpaint; the image was not "
                               "changed. What to do: select the region to change (any selection tool; feathered "
                               "edges are kept), then run Inpaint Selection again.");
        return FALSE;
    }
    ctx->width = gimp_image_width(ctx->image);
    ctx->height = gimp_image_height(ctx->image);
    n = (gsize)ctx->width * (gsize)ctx->height;
    ctx->rgba = g_malloc(n * 4);
    ctx->mask = g_malloc(n);
    /* A free-floating copy of the projection: read, then dropped, never inserted. */
    visible = gimp_layer_new_from_visible(ctx->image, ctx->image, "nbcore snapshot");
    buf = gimp_drawable_get_buffer(visible);
    gegl_buffer_get(buf, GEGL_RECTANGLE(0, 0, ctx->width, ctx->height), 1.0, babl_format("R'G'B'A u8"), ctx->rgba,
                    GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
    g_object_unref(buf);
    gimp_item_delete(visible);
    selection = gimp_image_get_selection(ctx->image);
    buf = gimp_drawable_get_buffer(selection);
    gegl_buffer_get(buf, GEGL_RECTANGLE(0, 0, ctx->width, ctx->height), 1.0, babl_format("Y u8"), ctx->mask,
                    GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
    g_object_unref(buf);
    return TRUE;
}

static nbg_job *start_run(const nbg_values *v, const char *api_key, gpointer data, gchar **error_text) {
    run_context *ctx = data;
    nbg_job_input in;
    char err[1024];
    memset(&in, 0, sizeof in);
    in.kind = ctx->kind;
    in.prompt = v->prompt;
    in.model = v->model;
    in.image_size = v->image_size;
    in.seed = v->seed;
    in.aspect = "";
    if (ctx->kind == NBG_GENERATE) {
        in.aspect = v->aspect[0] ? v->aspect
                    : ctx->image > 0 ? nbg_nearest_aspect(gimp_image_width(ctx->image), gimp_image_height(ctx->image))
                                     : "";
    } else if (ctx->kind == NBG_INPAINT) {
        g_clear_pointer(&ctx->rgba, g_free);
        g_clear_pointer(&ctx->mask, g_free);
        if (!snapshot_inpaint(ctx, error_text)) return NULL;
        in.rgba = ctx->rgba;
        in.mask = ctx->mask;
        in.width = ctx->width;
        in.height = ctx->height;
    } else {
        ctx->width = gimp_image_width(ctx->image);
        ctx->height = gimp_image_height(ctx->image);
        nbg_elements_free(ctx->elements, ctx->element_count);
        ctx->elements = NULL;
        ctx->element_count = 0;
        if (!nbg_parse_elements(v->elements, ctx->width, ctx->height, &ctx->elements, &ctx->element_count, err,
                                sizeof err)) {
            *error_text = g_strdup_printf("INVALID_ARG: %s.", err);
            return NULL;
        }
        in.aspect = nbg_nearest_aspect(ctx->width, ctx->height);
        in.width = ctx->width;
        in.height = ctx->height;
        in.elements = ctx->elements;
        in.element_count = ctx->element_count;
    }
    if (!v->prompt[0]) {
        *error_text = g_strdup(ctx->kind == NBG_SCENE ? "INVALID_ARG: the background prompt is empty. What to do: say "
                                                        "what the whole picture shows, then add elements."
                                                      : "INVALID_ARG: the prompt is empty. What to do: say what to draw.");
        return NULL;
    }
    return nbg_job_start(&in, api_key, error_text);
}

void nbg_progress_tick(nbg_job *job) {
    char text[256];
    double fraction = -1.0;
    nbg_job_status(job, text, sizeof text, &fraction);
    gimp_progress_set_text(text);
    if (fraction >= 0.0) gimp_progress_update(fraction);
    else gimp_progress_pulse();
}

/* Non-interactive runs: GIMP's own progress, whose Cancel ends this process (harmless: the image
 * is changed only at the very end). */
static void wait_for(nbg_job *job) {
    while (!nbg_job_finished(job)) {
        nbg_progress_tick(job);
        g_usleep(100 * 1000);
    }
}

/* A new RGBA layer holding `px` (w x h), not yet in the image. */
static gint32 new_layer(gint32 image, const char *name, const guint8 *px, gint w, gint h) {
    gint32 layer = gimp_layer_new(image, name, w, h, GIMP_RGBA_IMAGE, 100.0, gimp_image_get_default_new_layer_mode(image));
    write_rgba(layer, px, w, h, "R'G'B'A u8");
    return layer;
}

/* The model's output is at the model's sizes: fit the layer to the canvas it belongs to. */
static void scale_to_canvas(gint32 layer, gint x, gint y, gint w, gint h, double sx, double sy) {
    gint nw = MAX(1, (gint)(w * sx + 0.5)), nh = MAX(1, (gint)(h * sy + 0.5));
    if (nw != w || nh != h) gimp_layer_scale(layer, nw, nh, TRUE);
    gimp_layer_set_offsets(layer, (gint)(x * sx + 0.5), (gint)(y * sy + 0.5));
}

static gboolean apply_generate(run_context *ctx, const nbg_values *v, nbc_result *res, gint32 *new_image,
                               gchar **error_text) {
    nbc_image_info info = NBC_IMAGE_INFO_INIT;
    guint8 *px;
    gsize len;
    gint32 image = ctx->image, layer;
    char name[160];
    gboolean made_image = FALSE;
    if (nbc_result_image(&info, res, 0) != NBC_OK) {
        *error_text = g_strdup("NO_IMAGE: the answer had no image. What to do: run it again.");
        return FALSE;
    }
    len = (gsize)info.width * (gsize)info.height * 4;
    px = g_malloc(len);
    if (nbc_result_image_rgba(res, 0, px, len) != NBC_OK) {
        g_free(px);
        *error_text = g_strdup("BAD_RESPONSE: the image could not be decoded. What to do: run it again.");
        return FALSE;
    }
    nbg_layer_name(name, sizeof name, "Nano Banana: ", v->prompt, 60);
    if (image <= 0 || !gimp_image_is_valid(image)) {
        image = gimp_image_new(info.width, info.height, GIMP_RGB);
        gimp_image_undo_disable(image);
        made_image = TRUE;
    } else {
        gimp_image_undo_group_start(image);
    }
    layer = new_layer(image, name, px, info.width, info.height);
    g_free(px);
    gimp_image_insert_layer(image, layer, -1, -1);
    if (!made_image)
        scale_to_canvas(layer, 0, 0, info.width, info.height, (double)gimp_image_width(image) / info.width,
                        (double)gimp_image_height(image) / info.height);
    if (made_image) {
        gimp_image_undo_enable(image);
        if (ctx->run_mode == GIMP_RUN_INTERACTIVE) gimp_display_new(image);
    } else {
        gimp_image_undo_group_end(image);
    }
    if (new_image) *new_image = image;
    return TRUE;
}

static gboolean apply_inpaint(run_context *ctx, const nbg_values *v, nbc_result *res, gchar **error_text) {
    gint32 x = 0, y = 0, w = 0, h = 0, layer, mask;
    guint8 *px, *alpha;
    gsize n, i;
    char name[160];
    if (nbc_result_inpaint_layer(res, NULL, 0, &x, &y, &w, &h) != NBC_OK || w <= 0 || h <= 0) {
        *error_text = g_strdup("INTERNAL: the inpaint result has no layer. What to do: report this as a bug.");
        return FALSE;
    }
    n = (gsize)w * (gsize)h;
    px = g_malloc(n * 4);
    alpha = g_malloc(n);
    nbc_result_inpaint_layer(res, px, n * 4, &x, &y, &w, &h);
    /* The layer is opaque; the blend alpha becomes its layer mask, so it can be repainted. */
    for (i = 0; i < n; ++i) {
        alpha[i] = px[i * 4 + 3];
        px[i * 4 + 3] = 255;
    }
    nbg_layer_name(name, sizeof name, "Inpaint: ", v->prompt, 60);
    gimp_image_undo_group_start(ctx->image);
    layer = new_layer(ctx->image, name, px, w, h);
    gimp_layer_set_offsets(layer, x, y);
    /* nbcore blends in sRGB; so must GIMP, for the layer to show exactly nbcore's result. */
    gimp_layer_set_composite_space(layer, GIMP_LAYER_COLOR_SPACE_RGB_PERCEPTUAL);
    gimp_image_insert_layer(ctx->image, layer, -1, -1);
    mask = gimp_layer_create_mask(layer, GIMP_ADD_MASK_BLACK);
    gimp_layer_add_mask(layer, mask);
    write_rgba(mask, alpha, w, h, "Y u8");
    gimp_image_undo_group_end(ctx->image);
    g_free(px);
    g_free(alpha);
    return TRUE;
}

/* Bounds of the pixels where `a` and `b` (RGBA, w x h) differ; FALSE when none do. */
static gboolean diff_bounds(const guint8 *a, const guint8 *b, gint w, gint h, gint *x0, gint *y0, gint *x1, gint *y1) {
    gint x, y;
    *x0 = w;
    *y0 = h;
    *x1 = -1;
    *y1 = -1;
    for (y = 0; y < h; ++y) {
        const guint8 *ra = a + (gsize)y * w * 4, *rb = b + (gsize)y * w * 4;
        for (x = 0; x < w; ++x)
            if (memcmp(ra + x * 4, rb + x * 4, 4) != 0) {
                if (x < *x0) *x0 = x;
                if (x > *x1) *x1 = x;
                if (y < *y0) *y0 = y;
                if (y > *y1) *y1 = y;
            }
    }
    return *x1 >= 0;
}

/* A stage's own layer: the pixels it changed, at their place; transparent elsewhere. Laid over the
 * stages before it, it gives this stage's composite exactly. */
static gint32 stage_layer(gint32 image, const char *name, const guint8 *prev, const guint8 *cur, gint w, gint h) {
    gint x0, y0, x1, y1, x, y, lw, lh;
    guint8 *px;
    gint32 layer;
    if (!diff_bounds(prev, cur, w, h, &x0, &y0, &x1, &y1)) return -1;
    lw = x1 - x0 + 1;
    lh = y1 - y0 + 1;
    px = g_malloc0((gsize)lw * lh * 4);
    for (y = 0; y < lh; ++y)
        for (x = 0; x < lw; ++x) {
            gsize at = ((gsize)(y0 + y) * w + (x0 + x)) * 4;
            if (memcmp(prev + at, cur + at, 4) != 0) memcpy(px + ((gsize)y * lw + x) * 4, cur + at, 4);
        }
    layer = new_layer(image, name, px, lw, lh);
    g_free(px);
    gimp_layer_set_offsets(layer, x0, y0);
    return layer;
}

static gboolean apply_scene(run_context *ctx, const nbg_values *v, nbc_scene_result *sr, int code) {
    int count = nbc_scene_result_stage_count(sr), failed = nbc_scene_result_failed_stage(sr), k;
    int good = failed >= 0 ? failed : count;
    gint32 w = 0, h = 0, group;
    guint8 *prev = NULL, *cur = NULL;
    gsize len;
    double sx, sy;
    char name[200];
    if (good <= 0 || nbc_scene_result_rgba(sr, -1, NULL, 0, &w, &h) != NBC_OK) return FALSE;
    len = (gsize)w * (gsize)h * 4;
    sx = (double)gimp_image_width(ctx->image) / w;
    sy = (double)gimp_image_height(ctx->image) / h;
    gimp_image_undo_group_start(ctx->image);
    group = gimp_layer_group_new(ctx->image);
    if (code == NBC_OK) nbg_layer_name(name, sizeof name, "Scene: ", v->prompt, 60);
    else g_snprintf(name, sizeof name, "Scene: stages 1-%d of %d (stage %d failed: %s)", good,
                    nbc_scene_result_total_stages(sr), good + 1, nbc_status_name(code));
    gimp_item_set_name(group, name);
    gimp_image_insert_layer(ctx->image, group, -1, -1);
    prev = g_malloc0(len);
    cur = g_malloc(len);
    /* Stage layers bottom-up (each new layer goes to the top of the group), then the composite. */
    for (k = 0; k < good; ++k) {
        nbc_scene_stage_info info = NBC_SCENE_STAGE_INFO_INIT;
        gint32 sw = 0, sh = 0, layer;
        guint8 *swap;
        char label[48];
        if (nbc_scene_result_stage(&info, sr, k) != NBC_OK || nbc_scene_result_rgba(sr, k, cur, len, &sw, &sh) != NBC_OK ||
            sw != w || sh != h)
            break;
        if (k == 0) g_snprintf(label, sizeof label, "Stage 1, background: ");
        else g_snprintf(label, sizeof label, "Stage %d, %s: ", k + 1, info.kind);
        nbg_layer_name(name, sizeof name, label, info.prompt, 50);
        layer = k == 0 ? new_layer(ctx->image, name, cur, w, h) : stage_layer(ctx->image, name, prev, cur, w, h);
        if (layer > 0) {
            gint ox = 0, oy = 0;
            gimp_image_insert_layer(ctx->image, layer, group, 0);
            gimp_drawable_offsets(layer, &ox, &oy);
            scale_to_canvas(layer, ox, oy, gimp_drawable_width(layer), gimp_drawable_height(layer), sx, sy);
        }
        swap = prev;
        prev = cur;
        cur = swap;
    }
    /* prev holds the last good composite now. */
    {
        gint32 layer = new_layer(ctx->image, code == NBC_OK ? "Composite" : "Composite (so far)", prev, w, h);
        gimp_image_insert_layer(ctx->image, layer, group, 0);
        scale_to_canvas(layer, 0, 0, w, h, sx, sy);
    }
    gimp_image_undo_group_end(ctx->image);
    g_free(prev);
    g_free(cur);
    return TRUE;
}

/* ---------------------------------------------------------------------------------------------
 * run()
 * ------------------------------------------------------------------------------------------- */

static GimpParam return_values[3];

static void set_return(gint *nreturn_vals, GimpParam **return_vals, GimpPDBStatusType status, const gchar *error) {
    static gchar *kept = NULL;
    return_values[0].type = GIMP_PDB_STATUS;
    return_values[0].data.d_status = status;
    *nreturn_vals = 1;
    *return_vals = return_values;
    if (error && *error) {
        g_free(kept);
        kept = g_strdup(error);
        return_values[1].type = GIMP_PDB_STRING;
        return_values[1].data.d_string = kept;
        *nreturn_vals = 2;
    }
}

/* Reads the procedure's arguments after run-mode (and image, drawable) into *v; FALSE with a
 * message when one is wrong. */
static gboolean read_args(const gchar *name, gint nparams, const GimpParam *param, nbg_values *v, gchar **error_text) {
    const gint32 seed_max = G_MAXINT32;
    gint first = strcmp(name, NBG_PROC_GENERATE_IMAGE) == 0 ? 1 : 3;
    gint expected = strcmp(name, NBG_PROC_GENERATE) == 0   ? 8
                    : strcmp(name, NBG_PROC_SCENE) == 0    ? 7
                                                           : 6; /* generate-image, inpaint */
    const gchar *s;
    values_defaults(v);
    if (nparams != expected) {
        *error_text = g_strdup_printf("INVALID_ARG: %s takes %d arguments, not %d. What to do: see its entry in the "
                                      "Procedure Browser.", name, expected, nparams);
        return FALSE;
    }
#define ARG_STR(i) (param[(i)].data.d_string ? param[(i)].data.d_string : "")
    g_strlcpy(v->prompt, ARG_STR(first), sizeof v->prompt);
    if (strcmp(name, NBG_PROC_SCENE) == 0) {
        g_strlcpy(v->elements, ARG_STR(first + 1), sizeof v->elements);
        if (strlen(ARG_STR(first + 1)) >= sizeof v->elements) {
            *error_text = g_strdup("INVALID_ARG: the elements JSON is longer than 16 KB. What to do: shorten the prompts "
                                   "or split the scene.");
            return FALSE;
        }
        g_strlcpy(v->model, ARG_STR(first + 2), sizeof v->model);
        s = ARG_STR(first + 3);
    } else if (strcmp(name, NBG_PROC_INPAINT) == 0) {
        g_strlcpy(v->model, ARG_STR(first + 1), sizeof v->model);
        s = ARG_STR(first + 2);
    } else {
        g_strlcpy(v->model, ARG_STR(first + 1), sizeof v->model);
        s = ARG_STR(first + 3);
        if (!nbg_aspect_is_valid(ARG_STR(first + 2))) {
            *error_text = g_strdup_printf("INVALID_ARG: aspect-ratio \"%s\" is not one the models take. What to do: use "
                                          "\"\" (nearest to the canvas) or one of 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, "
                                          "9:16, 16:9, 21:9.", ARG_STR(first + 2));
            return FALSE;
        }
        g_strlcpy(v->aspect, ARG_STR(first + 2), sizeof v->aspect);
        v->seed = param[first + 4].data.d_int32;
        if (v->seed < -1 || v->seed > seed_max) {
            *error_text = g_strdup_printf("INVALID_ARG: seed %d is out of range. What to do: use -1 (none) or 0..%d.",
                                          v->seed, seed_max);
            return FALSE;
        }
    }
    if (!nbg_image_size_is_valid(s)) {
        *error_text = g_strdup_printf("INVALID_ARG: image-size \"%s\" is not supported. What to do: use \"1K\", \"2K\" "
                                      "or \"4K\" (\"\" for the model's default).", s);
        return FALSE;
    }
    g_strlcpy(v->image_size, s, sizeof v->image_size);
    if (strlen(ARG_STR(first)) >= sizeof v->prompt) {
        *error_text = g_strdup("INVALID_ARG: the prompt is longer than 4 KB. What to do: shorten it.");
        return FALSE;
    }
#undef ARG_STR
    return TRUE;
}

static void run(const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals, GimpParam **return_vals) {
    run_context ctx;
    nbg_values v;
    nbg_job *job = NULL;
    gchar *error_text = NULL;
    gint32 new_image = -1;
    gboolean ok = FALSE, cancelled = FALSE;
    gint code = NBC_OK;

    memset(&ctx, 0, sizeof ctx);
    set_return(nreturn_vals, return_vals, GIMP_PDB_CALLING_ERROR, NULL);
    if (nparams < 1) return;
    ctx.run_mode = (GimpRunMode)param[0].data.d_int32;
    ctx.image = -1;
    ctx.drawable = -1;
    if (strcmp(name, NBG_PROC_GENERATE_IMAGE) == 0) ctx.kind = NBG_GENERATE;
    else if (strcmp(name, NBG_PROC_GENERATE) == 0) ctx.kind = NBG_GENERATE;
    else if (strcmp(name, NBG_PROC_INPAINT) == 0) ctx.kind = NBG_INPAINT;
    else if (strcmp(name, NBG_PROC_SCENE) == 0) ctx.kind = NBG_SCENE;
    else return;
    if (strcmp(name, NBG_PROC_GENERATE_IMAGE) != 0 && nparams >= 3) {
        ctx.image = param[1].data.d_image;
        ctx.drawable = param[2].data.d_drawable;
    }
    if (ctx.kind != NBG_GENERATE && (ctx.image <= 0 || !gimp_image_is_valid(ctx.image))) {
        set_return(nreturn_vals, return_vals, GIMP_PDB_CALLING_ERROR,
                   "INVALID_ARG: this needs an open image. What to do: open or create an image first.");
        return;
    }
    if (ctx.image > 0 && gimp_image_is_valid(ctx.image) && gimp_image_base_type(ctx.image) != GIMP_RGB) {
        set_return(nreturn_vals, return_vals, GIMP_PDB_CALLING_ERROR,
                   "INVALID_ARG: the image is greyscale or indexed, and the models answer in colour. What to do: "
                   "convert it with Image > Mode > RGB first.");
        return;
    }

    gegl_init(NULL, NULL);
    if (nbc_version_check(NBC_VERSION_NUMBER) != NBC_OK) {
        gchar *msg = g_strdup_printf("INTERNAL: the plug-in was built for nbcore %s but libnbcore is %s. What to do: "
                                     "reinstall the plug-in with the library it was built with.",
                                     NBC_VERSION_STRING, nbc_version_string());
        if (ctx.run_mode == GIMP_RUN_INTERACTIVE) g_message("%s", msg);
        set_return(nreturn_vals, return_vals, GIMP_PDB_EXECUTION_ERROR, msg);
        g_free(msg);
        return;
    }

    switch (ctx.run_mode) {
    case GIMP_RUN_INTERACTIVE: {
        nbg_values passed;
        nbg_key key;
        values_load(ctx.kind, &v);
        /* A script that opens the dialog with arguments gets them filled in. */
        if (read_args(name, nparams, param, &passed, &error_text) && passed.prompt[0]) v = passed;
        g_clear_pointer(&error_text, g_free);
        nbg_key_find(&key);
        job = nbg_dialog_run(ctx.kind, &v, &key, ctx.image, start_run, &ctx, &error_text, &cancelled);
        memset(key.key, 0, sizeof key.key);
        if (cancelled) {
            set_return(nreturn_vals, return_vals, GIMP_PDB_CANCEL, NULL);
            goto out;
        }
        break;
    }
    case GIMP_RUN_NONINTERACTIVE:
    case GIMP_RUN_WITH_LAST_VALS: {
        nbg_key key;
        if (ctx.run_mode == GIMP_RUN_NONINTERACTIVE) {
            if (!read_args(name, nparams, param, &v, &error_text)) {
                set_return(nreturn_vals, return_vals, GIMP_PDB_CALLING_ERROR, error_text);
                goto out;
            }
        } else {
            values_load(ctx.kind, &v);
        }
        nbg_key_find(&key);
        if (key.source == NBG_KEY_NONE && key.problem[0]) {
            /* A key file exists but was refused: say why rather than send without a key. */
            error_text = g_strdup_printf("AUTH: %s.", key.problem);
            break;
        }
        gimp_progress_init(ctx.kind == NBG_SCENE ? "Nano Banana: building the scene" : "Nano Banana");
        job = start_run(&v, key.source == NBG_KEY_FILE ? key.key : NULL, &ctx, &error_text);
        memset(key.key, 0, sizeof key.key);
        if (job) wait_for(job);
        break;
    }
    default:
        goto out;
    }

    if (!job) {
        /* The run never started: a bad input, or no client. */
        if (!error_text) error_text = g_strdup("INTERNAL: the run did not start. What to do: report this as a bug.");
    } else {
        code = nbg_job_code(job);
        if (code != NBC_OK) error_text = g_strdup(nbg_job_error_text(job));
        if (ctx.image > 0 && !gimp_image_is_valid(ctx.image) && ctx.kind != NBG_GENERATE) {
            g_free(error_text);
            error_text = g_strdup("INVALID_ARG: the image was closed while Nano Banana was working, so the result was "
                                  "dropped. What to do: keep the image open until the run ends.");
        } else if (code == NBC_OK || ctx.kind == NBG_SCENE) {
            gchar *apply_error = NULL;
            if (ctx.kind == NBG_GENERATE) {
                if (ctx.image > 0 && !gimp_image_is_valid(ctx.image)) ctx.image = -1;
                ok = apply_generate(&ctx, &v, nbg_job_result(job), &new_image, &apply_error);
            } else if (ctx.kind == NBG_INPAINT) {
                ok = apply_inpaint(&ctx, &v, nbg_job_result(job), &apply_error);
            } else if (nbg_job_scene_result(job)) {
                /* A failed stage keeps the stages before it: they are paid for. */
                ok = apply_scene(&ctx, &v, nbg_job_scene_result(job), code) && code == NBC_OK;
            }
            if (apply_error) {
                g_free(error_text);
                error_text = apply_error;
                ok = FALSE;
            }
        }
        /* Remember what was run, failed or not: after a block the user edits the prompt. */
        values_save(ctx.kind, &v);
    }

    if (ctx.run_mode != GIMP_RUN_NONINTERACTIVE) {
        if (!ok && error_text && code != NBC_E_CANCELLED) g_message("%s", error_text);
        if (ok) gimp_displays_flush();
    }
    gimp_progress_end();
    if (ok) {
        set_return(nreturn_vals, return_vals, GIMP_PDB_SUCCESS, NULL);
        if (strcmp(name, NBG_PROC_GENERATE_IMAGE) == 0) {
            return_values[1].type = GIMP_PDB_IMAGE;
            return_values[1].data.d_image = new_image;
            *nreturn_vals = 2;
        }
    } else {
        set_return(nreturn_vals, return_vals, code == NBC_E_CANCELLED ? GIMP_PDB_CANCEL : GIMP_PDB_EXECUTION_ERROR,
                   error_text);
        /* GIMP prints nothing for a failed non-interactive run; scripts and logs get this line. */
        if (ctx.run_mode == GIMP_RUN_NONINTERACTIVE && error_text) g_printerr("nbcore-gimp: %s\n", error_text);
    }
out:
    nbg_job_free(job);
    g_free(error_text);
    g_free(ctx.rgba);
    g_free(ctx.mask);
    nbg_elements_free(ctx.elements, ctx.element_count);
}
