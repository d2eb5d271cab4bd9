/* The staged scenes and inpainting section against the emulator (NBCORE_TEST_BASE_URL), on Flash,
 * whose answers are PNG:
 *   - a two-element scene (an edit and a cutout) completes: three stages, each with a composite;
 *   - a scripted image_safety on the 3rd request gives a partial result: failed_stage 2, the
 *     earlier stages kept, the failed stage's code and advice; a resume sends one more request;
 *   - an inpaint leaves every pixel far from the mask bit-identical and changes the masked part. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator_control.h"
#include "nbcore/nbcore.h"

#define FLASH "gemini-2.5-flash-image"

static int failures = 0;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); ++failures; } } while (0)

static int requests_sent = 0;
static void on_event(const nbc_event *ev, void *payload) {
    (void)payload;
    if (ev->kind == NBC_EVENT_ATTEMPT_START) ++requests_sent;
}

static int post_script(const char *base, const char *json) { return emulator_control(base, "script", json, NULL) == 200; }

static nbc_scene *two_element_scene(void) {
    nbc_scene *s = NULL;
    CHECK(nbc_scene_new(&s, "a quiet meadow under a blue sky") == NBC_OK);
    CHECK(nbc_scene_set_style(s, "watercolour") == NBC_OK);
    CHECK(nbc_scene_set_aspect_ratio(s, "4:3") == NBC_OK);
    CHECK(nbc_scene_set_model(s, FLASH) == NBC_OK);
    CHECK(nbc_scene_add_element(s, "a red barn", 0.1, 0.4, 0.35, 0.4, 0, NBC_ELEMENT_EDIT) == NBC_OK);
    CHECK(nbc_scene_add_element(s, "a white horse", 0.55, 0.5, 0.3, 0.35, 1, NBC_ELEMENT_CUTOUT) == NBC_OK);
    return s;
}

static void check_good_stage(const nbc_scene_result *res, int i, const char *kind) {
    nbc_scene_stage_info st = NBC_SCENE_STAGE_INFO_INIT;
    CHECK(nbc_scene_result_stage(&st, res, i) == NBC_OK);
    CHECK(st.index == i && st.status == NBC_OK && strcmp(st.kind, kind) == 0);
    CHECK(st.prompt && st.prompt[0] != '\0');
    CHECK(st.width > 0 && st.height > 0 && st.placed_w > 0 && st.placed_h > 0);
    CHECK(st.answer != NULL && st.answer_size > 8 && strcmp(st.answer_mime, "image/png") == 0);
    CHECK(st.attempt_count == 1);
    nbc_attempt a = NBC_ATTEMPT_INIT;
    CHECK(nbc_scene_result_stage_attempt(&a, res, i, 0) == NBC_OK && a.outcome == NBC_OK);
    nbc_error *e = NULL;
    CHECK(nbc_scene_result_stage_error(&e, res, i) == NBC_OK && e && nbc_error_code(e) == NBC_OK);
    nbc_error_free(e);
}

static void scene_tests(nbc_client *c, const char *url) {
    nbc_scene *s = two_element_scene();
    CHECK(nbc_scene_element_count(s) == 2);
    nbc_scene_element_info el = NBC_SCENE_ELEMENT_INFO_INIT;
    CHECK(nbc_scene_element(&el, s, 1) == NBC_OK);
    CHECK(el.mode == NBC_ELEMENT_CUTOUT && el.z == 1 && strcmp(el.prompt, "a white horse") == 0 && el.w == 0.3);
    CHECK(strcmp(nbc_scene_background(s), "a quiet meadow under a blue sky") == 0);
    CHECK(strcmp(nbc_scene_style(s), "watercolour") == 0);

    /* A complete run: three stages, the final image is the last composite. */
    nbc_scene_result *res = NULL;
    requests_sent = 0;
    int rc = nbc_scene_run(&res, c, s, NULL, NULL);
    if (rc != NBC_OK) fprintf(stderr, "scene: %s\n", nbc_error_message(NULL));
    CHECK(rc == NBC_OK && res != NULL);
    CHECK(requests_sent == 3);
    if (res) {
        CHECK(nbc_scene_result_stage_count(res) == 3 && nbc_scene_result_total_stages(res) == 3);
        CHECK(nbc_scene_result_failed_stage(res) == -1);
        check_good_stage(res, 0, "background");
        check_good_stage(res, 1, "edit");
        check_good_stage(res, 2, "cutout");
        CHECK(nbc_scene_result_cost_usd(res) > 0.0);
        int32_t w = 0, h = 0, w2 = 0, h2 = 0;
        CHECK(nbc_scene_result_rgba(res, -1, NULL, 0, &w, &h) == NBC_OK && w > 0 && h > 0);
        size_t len = (size_t)w * (size_t)h * 4;
        uint8_t *last = malloc(len), *fin = malloc(len);
        CHECK(last && fin);
        if (last && fin) {
            CHECK(nbc_scene_result_rgba(res, -1, fin, len - 1, &w, &h) == NBC_E_INVALID_ARG);
            CHECK(nbc_scene_result_rgba(res, -1, fin, len, &w, &h) == NBC_OK);
            CHECK(nbc_scene_result_rgba(res, 2, last, len, &w2, &h2) == NBC_OK && w2 == w && h2 == h);
            CHECK(memcmp(last, fin, len) == 0);
            CHECK(nbc_scene_result_rgba(res, 0, last, len, &w2, &h2) == NBC_OK);
            CHECK(memcmp(last, fin, len) != 0);   /* the elements changed the background */
        }
        free(last);
        free(fin);
    }
    nbc_scene_result_free(res);
    res = NULL;

    /* The 3rd request is blocked: a partial result, stage 2 failed, the rest kept. */
    CHECK(post_script(url, "{\"replies\": [\"pass\", \"pass\", \"image_safety\"]}"));
    requests_sent = 0;
    rc = nbc_scene_run(&res, c, s, NULL, NULL);
    CHECK(rc == NBC_E_BLOCKED_POLICY);
    CHECK(strstr(nbc_error_message(NULL), "stage 2") != NULL);
    CHECK(nbc_error_advice(NULL)[0] != '\0');
    CHECK(requests_sent == 3);
    CHECK(res != NULL);
    if (res) {
        CHECK(nbc_scene_result_failed_stage(res) == 2);
        CHECK(nbc_scene_result_stage_count(res) == 3 && nbc_scene_result_total_stages(res) == 3);
        check_good_stage(res, 0, "background");
        check_good_stage(res, 1, "edit");
        nbc_scene_stage_info st = NBC_SCENE_STAGE_INFO_INIT;
        CHECK(nbc_scene_result_stage(&st, res, 2) == NBC_OK);
        CHECK(st.status == NBC_E_BLOCKED_POLICY && st.width == 0 && strcmp(st.kind, "cutout") == 0);
        nbc_error *e = NULL;
        CHECK(nbc_scene_result_stage_error(&e, res, 2) == NBC_OK && e != NULL);
        if (e) {
            CHECK(nbc_error_code(e) == NBC_E_BLOCKED_POLICY);
            CHECK(strcmp(nbc_error_reason(e), "IMAGE_SAFETY") == 0);
            CHECK(nbc_error_safety_layer(e) == 2);
            CHECK(nbc_error_attempt_count(e) == 1);
        }
        nbc_error_free(e);
        int32_t w = 0, h = 0;
        CHECK(nbc_scene_result_rgba(res, 2, NULL, 0, &w, &h) == NBC_E_INVALID_ARG);
        CHECK(nbc_scene_result_rgba(res, -1, NULL, 0, &w, &h) == NBC_OK && w > 0);

        /* Resume: only the failed stage is sent again. */
        nbc_scene_result *again = NULL;
        requests_sent = 0;
        rc = nbc_scene_run(&again, c, s, NULL, res);
        CHECK(rc == NBC_OK && again != NULL);
        CHECK(requests_sent == 1);
        if (again) {
            CHECK(nbc_scene_result_failed_stage(again) == -1 && nbc_scene_result_stage_count(again) == 3);
            check_good_stage(again, 2, "cutout");
        }
        /* A resume of another scene is refused before anything is sent. */
        nbc_scene *other = NULL;
        nbc_scene_result *none = NULL;
        CHECK(nbc_scene_new(&other, "a desert") == NBC_OK);
        requests_sent = 0;
        CHECK(nbc_scene_run(&none, c, other, NULL, res) == NBC_E_INVALID_ARG && none == NULL);
        CHECK(requests_sent == 0);
        nbc_scene_free(other);
        nbc_scene_result_free(again);
    }
    nbc_scene_result_free(res);

    /* Options: grow, feather and colour match are read; a bad one is named. */
    nbc_scene_options so;
    CHECK(nbc_scene_options_init(&so, sizeof so) == NBC_OK && so.grow_px == -1 && so.seed == -1);
    so.colour_match = 0;
    so.grow_px = 2;
    so.seed = 7;
    res = NULL;
    CHECK(nbc_scene_run(&res, c, s, &so, NULL) == NBC_OK && res != NULL);
    nbc_scene_result_free(res);
    nbc_scene_free(s);

    /* A plan from one prompt: background plus one element per subject. */
    nbc_scene *planned = NULL;
    CHECK(nbc_scene_from_prompt(&planned, "a cat, a dog, a parrot and a goldfish in a sunny kitchen",
                                NBC_ELEMENT_EDIT) == NBC_OK);
    CHECK(planned && nbc_scene_element_count(planned) >= 2);
    CHECK(nbc_scene_background(planned)[0] != '\0');
    nbc_scene_free(planned);
}

static void inpaint_tests(nbc_client *c) {
    enum { W = 320, H = 240, MX = 120, MY = 90, MW = 60, MH = 50, FAR = 24 };
    size_t stride = W * 4 + 16;   /* padded rows */
    uint8_t *img = calloc(stride * H, 1), *mask = calloc((size_t)(W + 3) * H, 1), *out = malloc((size_t)W * H * 4);
    CHECK(img && mask && out);
    if (!img || !mask || !out) { free(img); free(mask); free(out); return; }
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
            uint8_t *p = img + (size_t)y * stride + (size_t)x * 4;
            p[0] = (uint8_t)(x * 255 / W);
            p[1] = (uint8_t)(y * 255 / H);
            p[2] = (uint8_t)((x + y) & 0xff);
            p[3] = 255;
        }
    for (int y = MY; y < MY + MH; ++y) memset(mask + (size_t)y * (W + 3) + MX, 255, MW);

    nbc_inpaint_options o;
    CHECK(nbc_inpaint_options_init(&o, sizeof o) == NBC_OK && o.grow_px == -1 && o.context_px == 0);
    o.model = FLASH;
    nbc_result *res = NULL;
    requests_sent = 0;
    int rc = nbc_inpaint(&res, c, img, W, H, stride, mask, W + 3, "a yellow flower", &o);
    if (rc != NBC_OK) fprintf(stderr, "inpaint: %s\n", nbc_error_message(NULL));
    CHECK(rc == NBC_OK && res != NULL);
    CHECK(requests_sent == 1);
    if (res) {
        nbc_image_info info = NBC_IMAGE_INFO_INIT;
        CHECK(nbc_result_image_count(res) == 1);
        CHECK(nbc_result_image(&info, res, 0) == NBC_OK && info.width == W && info.height == H);
        CHECK(strcmp(info.mime, "image/png") == 0 && info.size > 8);
        CHECK(nbc_result_attempt_count(res) == 1);
        CHECK(nbc_result_cost_usd(res) > 0.0);
        CHECK(nbc_result_image_rgba(res, 0, out, (size_t)W * H * 4) == NBC_OK);
        long far_diff = 0, inside_diff = 0;
        for (int y = 0; y < H; ++y)
            for (int x = 0; x < W; ++x) {
                const uint8_t *a = img + (size_t)y * stride + (size_t)x * 4, *b = out + ((size_t)y * W + (size_t)x) * 4;
                int differs = memcmp(a, b, 4) != 0;
                int far = x < MX - FAR || x >= MX + MW + FAR || y < MY - FAR || y >= MY + MH + FAR;
                int inside = x >= MX && x < MX + MW && y >= MY && y < MY + MH;
                if (far && differs) ++far_diff;
                if (inside && differs) ++inside_diff;
            }
        CHECK(far_diff == 0);
        CHECK(inside_diff > (long)MW * MH / 2);

        /* The same change as a layer: laid over the input through its alpha, in sRGB with the
         * composite's rounding, it gives the result exactly, and it covers the mask. */
        int32_t lx = -1, ly = -1, lw = 0, lh = 0;
        CHECK(nbc_result_inpaint_layer(res, NULL, 0, &lx, &ly, &lw, &lh) == NBC_OK);
        CHECK(lx >= 0 && ly >= 0 && lw > 0 && lh > 0 && lx + lw <= W && ly + lh <= H);
        CHECK(lx <= MX && ly <= MY && lx + lw >= MX + MW && ly + lh >= MY + MH);
        size_t layer_len = (size_t)(lw > 0 ? lw : 1) * (size_t)(lh > 0 ? lh : 1) * 4;
        uint8_t *layer = malloc(layer_len);
        CHECK(layer != NULL);
        CHECK(nbc_result_inpaint_layer(res, layer, layer_len - 1, NULL, NULL, NULL, NULL) == NBC_E_INVALID_ARG);
        CHECK(nbc_result_inpaint_layer(res, NULL, 4, NULL, NULL, NULL, NULL) == NBC_E_INVALID_ARG);
        if (layer && nbc_result_inpaint_layer(res, layer, layer_len, NULL, NULL, NULL, NULL) == NBC_OK) {
            long mismatched = 0;
            for (int y = 0; y < H; ++y)
                for (int x = 0; x < W; ++x) {
                    const uint8_t *a = img + (size_t)y * stride + (size_t)x * 4, *b = out + ((size_t)y * W + (size_t)x) * 4;
                    uint8_t want[4] = {a[0], a[1], a[2], a[3]};
                    if (x >= lx && x < lx + lw && y >= ly && y < ly + lh) {
                        const uint8_t *l = layer + ((size_t)(y - ly) * (size_t)lw + (size_t)(x - lx)) * 4;
                        unsigned w = l[3];
                        for (int k = 0; k < 4; ++k) {
                            unsigned src = k < 3 ? l[k] : 255u;
                            if (w) want[k] = (uint8_t)((a[k] * (255u - w) + src * w + 127u) / 255u);
                        }
                    }
                    if (memcmp(want, b, 4) != 0) ++mismatched;
                }
            CHECK(mismatched == 0);
        }
        free(layer);
    }
    nbc_result_free(res);
    CHECK(nbc_result_inpaint_layer(NULL, NULL, 0, NULL, NULL, NULL, NULL) == NBC_E_INVALID_ARG);

    /* An empty mask is refused before anything is sent. */
    memset(mask, 0, (size_t)(W + 3) * H);
    res = NULL;
    requests_sent = 0;
    CHECK(nbc_inpaint(&res, c, img, W, H, stride, mask, W + 3, "a flower", &o) == NBC_E_INVALID_ARG);
    CHECK(res == NULL && requests_sent == 0);
    free(img);
    free(mask);
    free(out);
}

int main(void) {
    const char *url = getenv("NBCORE_TEST_BASE_URL");
    const char *key = getenv("NBCORE_TEST_KEY");
    if (!url || !key) { fprintf(stderr, "set NBCORE_TEST_BASE_URL and NBCORE_TEST_KEY\n"); return 2; }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    nbc_client_options o = NBC_CLIENT_OPTIONS_INIT;
    o.api_key = key;
    o.base_url = url;
    o.model = FLASH;
    o.on_event = on_event;
    nbc_client *c = NULL;
    CHECK(nbc_client_new(&c, &o) == NBC_OK);
    if (c) {
        scene_tests(c, url);
        inpaint_tests(c);
    }
    nbc_client_free(c);
    curl_global_cleanup();
    if (failures) { fprintf(stderr, "%d checks failed\n", failures); return 1; }
    printf("C scene and inpaint test passed\n");
    return 0;
}
