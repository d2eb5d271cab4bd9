/* Classify an error reply obtained anywhere (a log, another SDK) the way nbcore would, with the
 * advice a person can act on. Reads the body from a file, or standard input with "-".
 *
 *   diagnose 429 body.json */
#include <stdio.h>
#include <stdlib.h>

#include <nbcore/nbcore.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s HTTP_STATUS BODY_FILE|-\n", argv[0]);
        return 2;
    }
    FILE *f = argv[2][0] == '-' && argv[2][1] == '\0' ? stdin : fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    static char body[1 << 20];
    size_t n = fread(body, 1, sizeof body, f);
    if (f != stdin) fclose(f);

    nbc_error *d = NULL;
    if (nbc_diagnose(&d, atoi(argv[1]), body, n, NULL) != NBC_OK) {
        fprintf(stderr, "%s\nadvice: %s\n", nbc_error_message(NULL), nbc_error_advice(NULL));
        return 2;
    }
    printf("class:     %s\n", nbc_status_name(nbc_error_code(d)));
    printf("message:   %s\n", nbc_error_message(d));
    if (nbc_error_retry_after_ms(d) >= 0) printf("retry in:  %.1f s\n", (double)nbc_error_retry_after_ms(d) / 1000.0);
    printf("retryable: %s\n", nbc_error_retryable(d) ? "yes" : "no");
    printf("advice:    %s\n", nbc_error_advice(d));
    nbc_error_free(d);
    return 0;
}
