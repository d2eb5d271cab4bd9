/* The public header must compile as strict C (C99 and C11) with every warning an error. */
#include "nbcore/nbcore.h"

int main(void) {
    nbc_client_options o = NBC_CLIENT_OPTIONS_INIT;
    nbc_attempt a = NBC_ATTEMPT_INIT;
    nbc_image_info i = NBC_IMAGE_INFO_INIT;
    nbc_usage u = NBC_USAGE_INIT;
    nbc_image_check c = NBC_IMAGE_CHECK_INIT;
    nbc_batch_options bo = NBC_BATCH_OPTIONS_INIT;
    nbc_batch_job_info bi = NBC_BATCH_JOB_INFO_INIT;
    nbc_scene_options so = NBC_SCENE_OPTIONS_INIT;
    nbc_scene_stage_info si = NBC_SCENE_STAGE_INFO_INIT;
    nbc_scene_element_info se = NBC_SCENE_ELEMENT_INFO_INIT;
    nbc_inpaint_options io = NBC_INPAINT_OPTIONS_INIT;
    nbc_scene_stage_fn on_stage = NULL;
    nbc_cancel *cancel = NULL;
    so.on_stage = on_stage;
    so.cancel = cancel;
    io.cancel = cancel;
    (void)o; (void)a; (void)i; (void)u; (void)c; (void)bo; (void)bi; (void)so; (void)si; (void)se; (void)io;
    return NBC_VERSION_NUMBER > 0 ? 0 : 1;
}
