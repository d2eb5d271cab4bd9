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
    (void)o; (void)a; (void)i; (void)u; (void)c; (void)bo; (void)bi;
    return NBC_VERSION_NUMBER > 0 ? 0 : 1;
}
