#include "emulator_control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata) {
    control_reply *r = userdata;
    size_t n = size * nmemb;
    char *grown = realloc(r->data, r->size + n + 1);
    if (!grown) return 0;   /* curl ends the transfer: the caller sees status 0 */
    memcpy(grown + r->size, ptr, n);
    r->data = grown;
    r->size += n;
    r->data[r->size] = '\0';
    return n;
}

long emulator_control(const char *base_url, const char *route, const char *body, control_reply *out) {
    char url[512];
    if (snprintf(url, sizeof url, "%s/_emulator/%s", base_url, route) >= (int)sizeof url) return 0;
    CURL *h = curl_easy_init();
    if (!h) return 0;
    control_reply ignored = {NULL, 0};
    long status = 0;
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out ? out : &ignored);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (body) curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    free(ignored.data);
    return status;
}
