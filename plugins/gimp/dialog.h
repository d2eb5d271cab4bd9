/* The interactive dialogs (libgimpui, GTK2), main thread only. */
#ifndef NBGIMP_DIALOG_H
#define NBGIMP_DIALOG_H

#include "plugin.h"

/* Shows the dialog for `kind` filled from *values; when the user presses the action button,
 * reads the widgets back into *values and starts the run with `start`, showing its progress in the
 * dialog with a Cancel that works at any time. An input the run refuses (an empty prompt, bad
 * elements) is shown in the dialog for the user to fix.
 * Returns the finished job (failed, cancelled or not: the caller looks), or NULL with *cancelled
 * TRUE when the user closed the dialog before starting. */
nbg_job *nbg_dialog_run(nbg_kind kind, nbg_values *values, const nbg_key *key, gint32 image, nbg_start_fn start,
                        gpointer start_data, gchar **error_text, gboolean *cancelled);

#endif
