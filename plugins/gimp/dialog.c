/* The interactive dialogs (dialog.h). GTK2 through libgimpui; everything here runs on the main
 * thread, and the only link to the worker is the job's status and cancel (job.h). */
#include <string.h>

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "dialog.h"

typedef struct dialog_ui {
    nbg_kind kind;
    GtkWidget *dialog;
    GtkWidget *inputs;           /* everything the user edits; insensitive while a run is on */
    GtkTextBuffer *prompt, *elements;
    GtkWidget *model, *aspect, *size, *seed;
    GtkWidget *key_entry, *key_remember;
    GtkWidget *progress, *message;
    nbg_job *job;                /* while a run is on */
    gboolean cancelling;
    const char *screenshot;      /* NBCORE_GIMP_SCREENSHOT: save the dialog here, then close */
    gboolean screenshot_running; /* NBCORE_GIMP_SCREENSHOT_RUN: take it during a run instead */
} dialog_ui;

static const char *const kModels[] = {"gemini-3-pro-image-preview", "gemini-2.5-flash-image"};
static const char *const kSizes[] = {"1K", "2K", "4K"};

static GtkTextBuffer *text_area(GtkWidget *box, const char *label, const char *text, gint height) {
    GtkWidget *l = gtk_label_new_with_mnemonic(label), *sw, *view;
    gtk_misc_set_alignment(GTK_MISC(l), 0.0, 0.5);
    gtk_box_pack_start(GTK_BOX(box), l, FALSE, FALSE, 0);
    sw = gtk_scrolled_window_new(NULL, NULL);
    gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(sw), GTK_POLICY_AUTOMATIC, GTK_POLICY_AUTOMATIC);
    gtk_scrolled_window_set_shadow_type(GTK_SCROLLED_WINDOW(sw), GTK_SHADOW_IN);
    gtk_widget_set_size_request(sw, 420, height);
    view = gtk_text_view_new();
    gtk_text_view_set_wrap_mode(GTK_TEXT_VIEW(view), GTK_WRAP_WORD);
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(GTK_TEXT_VIEW(view)), text, -1);
    gtk_label_set_mnemonic_widget(GTK_LABEL(l), view);
    gtk_container_add(GTK_CONTAINER(sw), view);
    gtk_box_pack_start(GTK_BOX(box), sw, TRUE, TRUE, 0);
    return gtk_text_view_get_buffer(GTK_TEXT_VIEW(view));
}

static void text_of(GtkTextBuffer *buf, gchar *out, gsize out_len) {
    GtkTextIter a, b;
    gchar *s;
    gtk_text_buffer_get_bounds(buf, &a, &b);
    s = gtk_text_buffer_get_text(buf, &a, &b, FALSE);
    g_strlcpy(out, g_strstrip(s), out_len);
    g_free(s);
}

static void table_row(GtkWidget *table, int row, const char *label, GtkWidget *widget, const char *hint) {
    GtkWidget *l = gtk_label_new_with_mnemonic(label);
    gtk_misc_set_alignment(GTK_MISC(l), 0.0, 0.5);
    gtk_label_set_mnemonic_widget(GTK_LABEL(l), widget);
    gtk_table_attach(GTK_TABLE(table), l, 0, 1, row, row + 1, GTK_FILL, GTK_FILL, 0, 0);
    gtk_table_attach(GTK_TABLE(table), widget, 1, 2, row, row + 1, GTK_EXPAND | GTK_FILL, GTK_FILL, 0, 0);
    if (hint) {
        GtkWidget *h = gtk_label_new(hint);
        gtk_misc_set_alignment(GTK_MISC(h), 0.0, 0.5);
        gtk_widget_set_sensitive(h, FALSE);
        gtk_table_attach(GTK_TABLE(table), h, 2, 3, row, row + 1, GTK_FILL, GTK_FILL, 0, 0);
    }
}

static void show_message(dialog_ui *ui, const char *text, gboolean is_error) {
    gchar *markup;
    if (!text || !*text) {
        gtk_widget_hide(ui->message);
        return;
    }
    markup = is_error ? g_markup_printf_escaped("<span foreground=\"#b00020\">%s</span>", text)
                      : g_markup_printf_escaped("%s", text);
    gtk_label_set_markup(GTK_LABEL(ui->message), markup);
    g_free(markup);
    gtk_widget_show(ui->message);
}

static void build(dialog_ui *ui, const nbg_values *v, const nbg_key *key, gint32 image) {
    const char *title = ui->kind == NBG_GENERATE ? "Nano Banana: Generate"
                        : ui->kind == NBG_INPAINT ? "Nano Banana: Inpaint Selection"
                                                  : "Nano Banana: Staged Scene";
    const char *action = ui->kind == NBG_GENERATE ? "_Generate" : ui->kind == NBG_INPAINT ? "_Inpaint" : "_Build Scene";
    GtkWidget *vbox, *table, *label;
    gint row = 0, i, cw = 0, ch = 0;
    gchar *text;

    ui->dialog = gimp_dialog_new(title, "nbcore-gimp", NULL, 0, NULL, NULL, "_Cancel",
                                 GTK_RESPONSE_CANCEL, action, GTK_RESPONSE_OK, NULL);
    gtk_dialog_set_alternative_button_order(GTK_DIALOG(ui->dialog), GTK_RESPONSE_OK, GTK_RESPONSE_CANCEL, -1);
    gtk_dialog_set_default_response(GTK_DIALOG(ui->dialog), GTK_RESPONSE_OK);
    gimp_window_set_transient(GTK_WINDOW(ui->dialog));

    vbox = gtk_vbox_new(FALSE, 6);
    gtk_container_set_border_width(GTK_CONTAINER(vbox), 12);
    gtk_box_pack_start(GTK_BOX(gtk_dialog_get_content_area(GTK_DIALOG(ui->dialog))), vbox, TRUE, TRUE, 0);
    ui->inputs = gtk_vbox_new(FALSE, 6);
    gtk_box_pack_start(GTK_BOX(vbox), ui->inputs, TRUE, TRUE, 0);

    if (image > 0) {
        cw = gimp_image_width(image);
        ch = gimp_image_height(image);
    }
    ui->prompt = text_area(ui->inputs, ui->kind == NBG_SCENE ? "_Background (the whole picture, drawn first):"
                                       : ui->kind == NBG_INPAINT ? "_Prompt (what the selection should show):"
                                                                 : "_Prompt:",
                           v->prompt, ui->kind == NBG_SCENE ? 60 : 100);
    if (ui->kind == NBG_SCENE) {
        text = g_strdup_printf("_Elements, one request each (JSON; boxes [x, y, w, h] in pixels of the %d×%d canvas):",
                               cw, ch);
        ui->elements = text_area(ui->inputs, text, v->elements[0] ? v->elements
                                                 : "[\n  {\"prompt\": \"a red kite\", \"box\": [40, 30, 200, 150]}\n]",
                                 140);
        g_free(text);
    }

    table = gtk_table_new(5, 3, FALSE);
    gtk_table_set_col_spacings(GTK_TABLE(table), 6);
    gtk_table_set_row_spacings(GTK_TABLE(table), 4);
    gtk_box_pack_start(GTK_BOX(ui->inputs), table, FALSE, FALSE, 0);

    ui->model = gtk_combo_box_entry_new_text();
    for (i = 0; i < (gint)G_N_ELEMENTS(kModels); ++i) gtk_combo_box_append_text(GTK_COMBO_BOX(ui->model), kModels[i]);
    gtk_entry_set_text(GTK_ENTRY(gtk_bin_get_child(GTK_BIN(ui->model))), v->model);
    table_row(table, row++, "_Model:", ui->model, "empty: Nano Banana Pro");

    if (ui->kind == NBG_GENERATE) {
        gint active = 0;
        ui->aspect = gtk_combo_box_new_text();
        text = image > 0 ? g_strdup_printf("Nearest to the canvas (%s)", nbg_nearest_aspect(cw, ch))
                         : g_strdup("The model's default (1:1)");
        gtk_combo_box_append_text(GTK_COMBO_BOX(ui->aspect), text);
        g_free(text);
        for (i = 0; i < nbg_aspect_ratio_count; ++i) {
            gtk_combo_box_append_text(GTK_COMBO_BOX(ui->aspect), nbg_aspect_ratios[i]);
            if (strcmp(v->aspect, nbg_aspect_ratios[i]) == 0) active = i + 1;
        }
        gtk_combo_box_set_active(GTK_COMBO_BOX(ui->aspect), active);
        table_row(table, row++, "_Aspect ratio:", ui->aspect, NULL);
    }

    ui->size = gtk_combo_box_new_text();
    gtk_combo_box_append_text(GTK_COMBO_BOX(ui->size), "The model's default");
    for (i = 0; i < (gint)G_N_ELEMENTS(kSizes); ++i) {
        gtk_combo_box_append_text(GTK_COMBO_BOX(ui->size), kSizes[i]);
        if (strcmp(v->image_size, kSizes[i]) == 0) gtk_combo_box_set_active(GTK_COMBO_BOX(ui->size), i + 1);
    }
    if (gtk_combo_box_get_active(GTK_COMBO_BOX(ui->size)) < 0) gtk_combo_box_set_active(GTK_COMBO_BOX(ui->size), 0);
    table_row(table, row++, "Image _size:", ui->size, "4K is slow; 1K and 2K are safer");

    if (ui->kind == NBG_GENERATE) {
        ui->seed = gtk_spin_button_new_with_range(-1, G_MAXINT32, 1);
        gtk_spin_button_set_value(GTK_SPIN_BUTTON(ui->seed), v->seed);
        table_row(table, row++, "S_eed:", ui->seed, "-1: none");
    }

    /* The key: where it comes from, never what it is. */
    if (key->source == NBG_KEY_ENV) {
        text = g_strdup_printf("API key: from %s", key->env_name);
    } else if (key->source == NBG_KEY_FILE) {
        text = g_strdup_printf("API key: from %s", key->path);
    } else {
        text = NULL;
        ui->key_entry = gtk_entry_new();
        gtk_entry_set_visibility(GTK_ENTRY(ui->key_entry), FALSE);
        table_row(table, row++, "API _key:", ui->key_entry, NULL);
        if (key->path[0]) {
            gchar *remember = g_strdup_printf("Remember it in %s (readable by you only)", key->path);
            ui->key_remember = gtk_check_button_new_with_label(remember);
            gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(ui->key_remember), TRUE);
            gtk_table_attach(GTK_TABLE(table), ui->key_remember, 1, 3, row, row + 1, GTK_FILL, GTK_FILL, 0, 0);
            ++row;
            g_free(remember);
        }
    }
    if (text) {
        label = gtk_label_new(text);
        gtk_misc_set_alignment(GTK_MISC(label), 0.0, 0.5);
        gtk_box_pack_start(GTK_BOX(ui->inputs), label, FALSE, FALSE, 0);
        g_free(text);
    }
    if (key->problem[0]) {
        label = gtk_label_new(key->problem);
        gtk_label_set_line_wrap(GTK_LABEL(label), TRUE);
        gtk_misc_set_alignment(GTK_MISC(label), 0.0, 0.5);
        gtk_box_pack_start(GTK_BOX(ui->inputs), label, FALSE, FALSE, 0);
    }

    if (ui->kind == NBG_INPAINT) {
        gboolean non_empty = FALSE;
        gint x1 = 0, y1 = 0, x2 = 0, y2 = 0;
        gimp_selection_bounds(image, &non_empty, &x1, &y1, &x2, &y2);
        text = non_empty ? g_strdup_printf("Selection: %d×%d at %d, %d. Only it changes; its edge is blended.", x2 - x1,
                                           y2 - y1, x1, y1)
                         : g_strdup("Nothing is selected: close this, select the region to change, and run it again.");
        label = gtk_label_new(text);
        gtk_misc_set_alignment(GTK_MISC(label), 0.0, 0.5);
        gtk_box_pack_start(GTK_BOX(ui->inputs), label, FALSE, FALSE, 0);
        g_free(text);
        gtk_dialog_set_response_sensitive(GTK_DIALOG(ui->dialog), GTK_RESPONSE_OK, non_empty);
    }

    /* Driven from the main loop directly (on_tick), not through GIMP's progress calls, which go to
     * the image window's status bar as well. */
    ui->progress = gtk_progress_bar_new();
    gtk_progress_bar_set_pulse_step(GTK_PROGRESS_BAR(ui->progress), 0.05);
    gtk_box_pack_start(GTK_BOX(vbox), ui->progress, FALSE, FALSE, 0);
    ui->message = gtk_label_new(NULL);
    gtk_label_set_line_wrap(GTK_LABEL(ui->message), TRUE);
    gtk_label_set_selectable(GTK_LABEL(ui->message), TRUE);
    gtk_misc_set_alignment(GTK_MISC(ui->message), 0.0, 0.5);
    gtk_widget_set_size_request(ui->message, 420, -1);
    gtk_box_pack_start(GTK_BOX(vbox), ui->message, FALSE, FALSE, 0);

    gtk_widget_show_all(ui->dialog);
    gtk_widget_hide(ui->progress);
    gtk_widget_hide(ui->message);
}

static void read_back(dialog_ui *ui, nbg_values *v) {
    gint active;
    text_of(ui->prompt, v->prompt, sizeof v->prompt);
    if (ui->elements) text_of(ui->elements, v->elements, sizeof v->elements);
    g_strlcpy(v->model, gtk_entry_get_text(GTK_ENTRY(gtk_bin_get_child(GTK_BIN(ui->model)))), sizeof v->model);
    g_strstrip(v->model);
    if (ui->aspect) {
        active = gtk_combo_box_get_active(GTK_COMBO_BOX(ui->aspect));
        g_strlcpy(v->aspect, active > 0 ? nbg_aspect_ratios[active - 1] : "", sizeof v->aspect);
    }
    active = gtk_combo_box_get_active(GTK_COMBO_BOX(ui->size));
    g_strlcpy(v->image_size, active > 0 ? kSizes[active - 1] : "", sizeof v->image_size);
    if (ui->seed) v->seed = (gint32)gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(ui->seed));
}

/* Saves the dialog's window to ui->screenshot (documentation; see scripts/gimp-screenshots.sh). */
static gboolean take_screenshot(gpointer data) {
    dialog_ui *ui = data;
    GdkWindow *win = gtk_widget_get_window(ui->dialog);
    gint w = 0, h = 0;
    GdkPixbuf *shot;
    gdk_drawable_get_size(GDK_DRAWABLE(win), &w, &h);
    shot = gdk_pixbuf_get_from_drawable(NULL, GDK_DRAWABLE(win), NULL, 0, 0, 0, 0, w, h);
    if (shot) {
        GError *err = NULL;
        if (!gdk_pixbuf_save(shot, ui->screenshot, "png", &err, NULL)) {
            g_printerr("nbcore-gimp: cannot save the screenshot %s: %s\n", ui->screenshot, err->message);
            g_error_free(err);
        }
        g_object_unref(shot);
    }
    ui->screenshot = NULL;
    gtk_dialog_response(GTK_DIALOG(ui->dialog), GTK_RESPONSE_CANCEL);
    return FALSE;
}

static gboolean press_action(gpointer data) {
    dialog_ui *ui = data;
    gtk_dialog_response(GTK_DIALOG(ui->dialog), GTK_RESPONSE_OK);
    return FALSE;
}

static void on_response_while_running(GtkDialog *dialog, gint response, gpointer data) {
    dialog_ui *ui = data;
    (void)dialog;
    if (response == GTK_RESPONSE_OK || !ui->job || ui->cancelling) return;
    ui->cancelling = TRUE;
    nbg_job_cancel(ui->job);
    gtk_dialog_set_response_sensitive(GTK_DIALOG(ui->dialog), GTK_RESPONSE_CANCEL, FALSE);
    show_message(ui, "Cancelling…", FALSE);
}

static gboolean on_tick(gpointer data) {
    dialog_ui *ui = data;
    char text[256];
    double fraction = -1.0;
    if (nbg_job_finished(ui->job)) {
        gtk_main_quit();
        return FALSE;
    }
    nbg_progress_tick(ui->job);   /* the image window's status bar too */
    nbg_job_status(ui->job, text, sizeof text, &fraction);
    gtk_progress_bar_set_text(GTK_PROGRESS_BAR(ui->progress), text);
    if (fraction >= 0.0) gtk_progress_bar_set_fraction(GTK_PROGRESS_BAR(ui->progress), fraction);
    else gtk_progress_bar_pulse(GTK_PROGRESS_BAR(ui->progress));
    return TRUE;
}

static gboolean on_delete_while_running(GtkWidget *widget, GdkEvent *event, gpointer data) {
    (void)widget;
    (void)event;
    on_response_while_running(NULL, GTK_RESPONSE_DELETE_EVENT, data);
    return TRUE; /* stay open until the worker has stopped */
}

/* Runs the job with the dialog open: progress in its bar, its Cancel cancels. */
static void follow(dialog_ui *ui) {
    gulong response_id, delete_id;
    guint tick;
    gtk_widget_set_sensitive(ui->inputs, FALSE);
    gtk_dialog_set_response_sensitive(GTK_DIALOG(ui->dialog), GTK_RESPONSE_OK, FALSE);
    show_message(ui, NULL, FALSE);
    gtk_widget_show(ui->progress);
    gtk_progress_bar_set_text(GTK_PROGRESS_BAR(ui->progress), "Starting");
    gimp_progress_init("Nano Banana");
    response_id = g_signal_connect(ui->dialog, "response", G_CALLBACK(on_response_while_running), ui);
    delete_id = g_signal_connect(ui->dialog, "delete-event", G_CALLBACK(on_delete_while_running), ui);
    tick = g_timeout_add(100, on_tick, ui);
    if (ui->screenshot && ui->screenshot_running) g_timeout_add(1500, take_screenshot, ui);
    gtk_main();
    g_source_remove_by_user_data(ui);
    (void)tick;
    g_signal_handler_disconnect(ui->dialog, response_id);
    g_signal_handler_disconnect(ui->dialog, delete_id);
}

nbg_job *nbg_dialog_run(nbg_kind kind, nbg_values *values, const nbg_key *key, gint32 image, nbg_start_fn start,
                        gpointer start_data, gchar **error_text, gboolean *cancelled) {
    dialog_ui ui;
    nbg_job *job = NULL;
    memset(&ui, 0, sizeof ui);
    ui.kind = kind;
    ui.screenshot = g_getenv("NBCORE_GIMP_SCREENSHOT");
    if (ui.screenshot && !*ui.screenshot) ui.screenshot = NULL;
    ui.screenshot_running = ui.screenshot && g_getenv("NBCORE_GIMP_SCREENSHOT_RUN") != NULL;
    *cancelled = FALSE;
    *error_text = NULL;

    gimp_ui_init("nbcore-gimp", FALSE);
    build(&ui, values, key, image);
    if (ui.screenshot) g_timeout_add(800, ui.screenshot_running ? press_action : take_screenshot, &ui);

    for (;;) {
        gchar *start_error = NULL, key_error[512] = "";
        const char *api_key = NULL;
        gint response = gimp_dialog_run(GIMP_DIALOG(ui.dialog));
        if (response != GTK_RESPONSE_OK) {
            *cancelled = TRUE;
            break;
        }
        read_back(&ui, values);
        if (ui.key_entry && *gtk_entry_get_text(GTK_ENTRY(ui.key_entry))) {
            api_key = gtk_entry_get_text(GTK_ENTRY(ui.key_entry));
            if (ui.key_remember && gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(ui.key_remember)) &&
                !nbg_key_file_write(key->path, api_key, key_error, sizeof key_error)) {
                show_message(&ui, key_error, TRUE);
                continue;
            }
        } else if (key->source == NBG_KEY_FILE) {
            api_key = key->key;
        }
        job = start(values, api_key, start_data, &start_error);
        if (!job) {
            /* Fixable here: say what is wrong and let the user correct it. */
            show_message(&ui, start_error, TRUE);
            g_free(start_error);
            continue;
        }
        ui.job = job;
        follow(&ui);
        break;
    }
    gtk_widget_destroy(ui.dialog);
    return job;
}
