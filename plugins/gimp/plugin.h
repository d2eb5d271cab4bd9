/* Shared between plugin.c (the PDB procedures and the image) and dialog.c (the dialogs). */
#ifndef NBGIMP_PLUGIN_H
#define NBGIMP_PLUGIN_H

#include <libgimp/gimp.h>

#include "job.h"

#define NBG_PROC_GENERATE "plug-in-nbcore-generate"
#define NBG_PROC_GENERATE_IMAGE "plug-in-nbcore-generate-image"
#define NBG_PROC_INPAINT "plug-in-nbcore-inpaint"
#define NBG_PROC_SCENE "plug-in-nbcore-scene"

/* The values a run takes, remembered between runs (gimp_set_data for the session, a settings
 * file under gimp_directory() across sessions). Fixed-size strings because gimp_set_data stores
 * bytes. Never holds the API key. */
typedef struct nbg_values {
    gchar prompt[4096];      /* the scene's background for NBG_SCENE */
    gchar elements[16384];   /* NBG_SCENE: the JSON array */
    gchar model[128];
    gchar aspect[16];        /* "" = nearest to the canvas */
    gchar image_size[8];     /* "1K" "2K" "4K" ("" = the model's default) */
    gint32 seed;             /* -1 = none */
} nbg_values;

/* Where the API key comes from, for the dialog to say. */
typedef enum nbg_key_source { NBG_KEY_NONE = 0, NBG_KEY_ENV, NBG_KEY_FILE } nbg_key_source;

typedef struct nbg_key {
    nbg_key_source source;
    gchar env_name[32];      /* NBG_KEY_ENV: which variable */
    gchar path[1024];        /* the key file's path ("" when no HOME) */
    gchar key[512];          /* NBG_KEY_FILE: the key itself, kept in memory only */
    gchar problem[512];      /* why the key file was not used, "" when it was fine or absent */
} nbg_key;

void nbg_key_find(nbg_key *key);

/* Starts the run for `values` on the image (snapshotting its pixels now); the dialog calls it when
 * the user presses the action button. api_key NULL: the environment's. */
typedef nbg_job *(*nbg_start_fn)(const nbg_values *values, const char *api_key, gpointer data, gchar **error_text);

/* Shows the job's state on GIMP's progress (the dialog's bar when one is installed). */
void nbg_progress_tick(nbg_job *job);

#endif
