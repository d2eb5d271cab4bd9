/*
 * nbcore.h -- the stable C ABI of nbcore: dependable image generation with Google's Gemini image
 * models ("Nano Banana" gemini-2.5-flash-image, "Nano Banana Pro" gemini-3-pro-image-preview).
 *
 * This header is the whole public contract. Conventions:
 *   - every fallible function returns an int status: NBC_OK (0) or an NBC_E_* code;
 *   - out-parameters come first; objects returned through them are owned by the caller and are
 *     released with the matching *_free function, which accepts NULL;
 *   - after a failure, nbc_error_last() describes it (thread-local, never NULL);
 *   - options structs start with struct_size; initialise them with the *_INIT macro or the
 *     *_init() function (for FFI). New fields are only ever added at the end, and fields added
 *     together count only when struct_size covers all of them (so a caller built against an
 *     older layout never has its tail padding read as a new field);
 *   - strings are UTF-8 and borrowed for the duration of the call unless stated otherwise;
 *     strings returned by accessors live as long as the object they came from.
 *
 * A minimal program:
 *
 *     nbc_client *c = NULL;
 *     nbc_client_options o = NBC_CLIENT_OPTIONS_INIT;   // key from GOOGLE_API_KEY / GEMINI_API_KEY
 *     if (nbc_client_new(&c, &o) != NBC_OK) die(nbc_error_last());
 *     nbc_request *r = NULL;
 *     nbc_request_new(&r, "a lighthouse at dawn, oil painting");
 *     nbc_request_set_aspect_ratio(r, "16:9");
 *     nbc_result *res = NULL;
 *     if (nbc_generate(&res, c, r) != NBC_OK) {
 *         const nbc_error *e = nbc_error_last();
 *         fprintf(stderr, "%s\n%s\n", nbc_error_message(e), nbc_error_advice(e));
 *     }
 *     nbc_result_free(res); nbc_request_free(r); nbc_client_free(c);
 */
#ifndef NBCORE_NBCORE_H
#define NBCORE_NBCORE_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  define NBC_EXTERN_DECL __declspec(dllimport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define NBC_EXTERN_DECL __attribute__((visibility("default")))
#else
#  define NBC_EXTERN_DECL
#endif
#define NBC_API(type) NBC_EXTERN_DECL type

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version ----------------------------------------------------------------------------- */

#define NBC_VERSION_MAJOR 0
#define NBC_VERSION_MINOR 2
#define NBC_VERSION_PATCH 0
#define NBC_VERSION_STRING "0.2.0"
#define NBC_VERSION_NUMBER (NBC_VERSION_MAJOR * 10000 + NBC_VERSION_MINOR * 100 + NBC_VERSION_PATCH)

/* The library's version; compare with NBC_VERSION_NUMBER to catch header/library mismatches. */
NBC_API(int) nbc_version_number(void);
NBC_API(const char *) nbc_version_string(void);

/* NBC_OK when this library serves callers compiled against `header_version` (pass
 * NBC_VERSION_NUMBER): the same major version and a minor no newer than the library's. Otherwise
 * NBC_E_INVALID_ARG, naming both versions. NBC_VERSION_CHECK() does it for the header in use. */
NBC_API(int) nbc_version_check(int header_version);
#define NBC_VERSION_CHECK() nbc_version_check(NBC_VERSION_NUMBER)

/* ---- process-wide setup ------------------------------------------------------------------ */

#define NBC_GLOBAL_DEFAULT 0u

/* Optional. Does the process-wide setup ahead of time: libcurl's global init (not thread-safe in
 * some libcurl builds, so call this from main() before starting threads if other code in the
 * process also uses libcurl), and the shared I/O thread and image workers. Without it the first
 * client does the same lazily. Idempotent and thread-safe within nbcore; flags must be
 * NBC_GLOBAL_DEFAULT. The threads live until the process exits. */
NBC_API(int) nbc_global_init(uint32_t flags);

/* ---- status codes (append only; the values never change) --------------------------------- */

#define NBC_OK                0
#define NBC_E_RATE_LIMITED    1   /* 429 per-minute quota: wait retry_after, then retry */
#define NBC_E_QUOTA_EXHAUSTED 2   /* 429 per-day / zero quota / billing: will not clear soon */
#define NBC_E_SERVER_ERROR    3   /* 500 */
#define NBC_E_BAD_GATEWAY     4   /* 502 */
#define NBC_E_UNAVAILABLE     5   /* 503 overloaded */
#define NBC_E_TIMEOUT         6   /* 504 or a client-side timeout */
#define NBC_E_NETWORK         7   /* DNS, connect, reset, TLS */
#define NBC_E_AUTH            8   /* key invalid / missing / suspended, API disabled */
#define NBC_E_LOCATION        9   /* location or billing precondition */
#define NBC_E_MODEL_NOT_FOUND 10  /* 404 */
#define NBC_E_BAD_REQUEST     11  /* other 400 */
#define NBC_E_BLOCKED_SAFETY  12  /* safety layer 1 (configurable thresholds) */
#define NBC_E_BLOCKED_POLICY  13  /* safety layer 2 (output filter, not configurable) */
#define NBC_E_NO_IMAGE        14  /* reply without an image */
#define NBC_E_BLANK_IMAGE     15  /* image decodes but is blank */
#define NBC_E_BAD_RESPONSE    16  /* malformed reply or corrupt image */
#define NBC_E_BUDGET          17  /* a spending cap would be crossed */
#define NBC_E_DEADLINE        18  /* the total deadline ran out */
#define NBC_E_CANCELLED       19  /* cancelled by the caller */
#define NBC_E_INVALID_ARG     20  /* bad argument or impossible option */
#define NBC_E_INTERNAL        21  /* a bug in nbcore */

/* Text for a code ("RATE_LIMITED: rate limited ..."); never NULL. It lives in a per-thread buffer
 * until the next nbc_strerror call on the same thread. */
NBC_API(const char *) nbc_strerror(int code);
/* The code's name alone ("RATE_LIMITED"); "UNKNOWN_STATUS" for values this library predates. */
NBC_API(const char *) nbc_status_name(int code);

/* Quota dimension of a rate or quota error. */
#define NBC_DIM_NONE    0
#define NBC_DIM_RPM     1
#define NBC_DIM_TPM     2
#define NBC_DIM_IPM     3
#define NBC_DIM_RPD     4
#define NBC_DIM_ZERO    5   /* limit 0: no quota for this model on this tier */
#define NBC_DIM_UNKNOWN 6

/* ---- errors ------------------------------------------------------------------------------ */

typedef struct nbc_error nbc_error;

/* One attempt of a request: what was sent where, what came back, how long we waited. */
typedef struct nbc_attempt {
    uint32_t struct_size;
    int32_t number;              /* 1-based */
    int32_t outcome;             /* NBC_OK or NBC_E_* */
    int32_t http_status;         /* 0 when no reply arrived */
    int64_t server_delay_ms;     /* what the server asked for; -1 when it said nothing */
    int64_t chosen_delay_ms;     /* what was waited before the next attempt */
    int64_t duration_ms;
    const char *route;           /* valid while the owning result/error lives */
    const char *reason;
    const char *image_size;      /* what the attempt asked for: "", "1K", "2K", "4K" */
    int32_t execution;           /* NBC_EXEC_*: could it have run (and been billed)? */
} nbc_attempt;
#define NBC_ATTEMPT_INIT { sizeof(nbc_attempt), 0, 0, 0, -1, 0, 0, NULL, NULL, NULL, 0 }

#define NBC_EXEC_NOT_SENT          0   /* never left this machine */
#define NBC_EXEC_POSSIBLY_EXECUTED 1   /* sent, no reply: the server may have run (and billed) it */
#define NBC_EXEC_EXECUTED          2   /* the server answered */

/* The last failure on this thread. Never NULL: after a success it describes NBC_OK. The pointer
 * is valid for the thread's life; what it describes (and the strings read from it) changes at the
 * next call on the same thread that returns a status. The nbc_error_* accessors, nbc_strerror,
 * nbc_status_name, the counts and the *_free functions leave it as it is. Every accessor also
 * accepts NULL, meaning nbc_error_last(). */
NBC_API(const nbc_error *) nbc_error_last(void);
NBC_API(int) nbc_error_code(const nbc_error *e);
NBC_API(const char *) nbc_error_message(const nbc_error *e);   /* never NULL */
NBC_API(const char *) nbc_error_advice(const nbc_error *e);    /* what to do next; never NULL */
NBC_API(int) nbc_error_http_status(const nbc_error *e);
NBC_API(const char *) nbc_error_api_status(const nbc_error *e); /* "RESOURCE_EXHAUSTED" or "" */
NBC_API(const char *) nbc_error_reason(const nbc_error *e);     /* quotaId, finishReason, ... */
NBC_API(int64_t) nbc_error_retry_after_ms(const nbc_error *e);  /* -1 when unknown */
NBC_API(int) nbc_error_dimension(const nbc_error *e);           /* NBC_DIM_* */
NBC_API(int) nbc_error_safety_layer(const nbc_error *e);        /* 0, 1 or 2 */
NBC_API(int) nbc_error_retryable(const nbc_error *e);
NBC_API(int) nbc_error_attempt_count(const nbc_error *e);
NBC_API(const char *) nbc_error_route(const nbc_error *e);      /* "" when none */
/* NBC_E_INVALID_ARG for a NULL out or an index out of range, without touching the error read. */
NBC_API(int) nbc_error_attempt(nbc_attempt *out, const nbc_error *e, int index);

/* Classifies an HTTP status and body obtained anywhere (a log, another SDK) exactly as nbc_generate
 * would, with advice. `headers` is optional: "Name: value" lines separated by "\n" (Retry-After and
 * Content-Type are read). On NBC_OK, *out is a new error object, read with the nbc_error_*
 * accessors and released with nbc_error_free; its code is NBC_OK when the body is a good reply.
 * Its texts never hold a key: anything shaped like a Google API key, and the keys in
 * GOOGLE_API_KEY and GEMINI_API_KEY, become "[REDACTED]". */
NBC_API(int) nbc_diagnose(nbc_error **out, int http_status, const char *body, size_t body_len,
                          const char *headers);
/* Releases an object from nbc_diagnose. NULL is accepted; nbc_error_last()'s object is ignored. */
NBC_API(void) nbc_error_free(nbc_error *e);

/* ---- client ------------------------------------------------------------------------------ */

typedef struct nbc_client nbc_client;

#define NBC_RETRY_INTERACTIVE 0   /* 1 s base, 60 s cap, 5 attempts */
#define NBC_RETRY_PATIENT     1   /* 30 s base doubling to 5 min, 5 attempts */
#define NBC_RETRY_NONE        2   /* one attempt */

#define NBC_EVENT_ATTEMPT_START   1
#define NBC_EVENT_ATTEMPT_END     2
#define NBC_EVENT_RETRY_SCHEDULED 3
#define NBC_EVENT_DONE            4
#define NBC_EVENT_BREAKER         5   /* a route's circuit breaker changed state; message says how */
#define NBC_EVENT_FAILOVER        6   /* the next attempt goes to another route (route) */
#define NBC_EVENT_DOWNGRADE       7   /* the next attempt asks for a smaller image (image_size) */
#define NBC_EVENT_QUOTA_WAIT      8   /* held by the quota governor for delay_ms (dimension binds) */
#define NBC_EVENT_QUOTA_WARNING   9   /* use of `dimension` crossed `percent` (80) of its limit */
#define NBC_EVENT_BUDGET_ALERT   10   /* spend crossed `percent` (50, 80, 100) of a cap; message names it */
#define NBC_EVENT_PROMPT_WARNING 11   /* the pre-flight check found the prompt risky: reason is the risk
                                         ("medium", "high"), message the reasons */
#define NBC_EVENT_STATE          12   /* the shared quota state (Redis) changed health: reason is
                                         "unreachable" or "reconciled", message says more */

typedef struct nbc_event {
    uint32_t struct_size;
    int32_t kind;                /* NBC_EVENT_* */
    int32_t attempt;
    int32_t outcome;             /* NBC_OK or NBC_E_*: of the attempt (ATTEMPT_END, RETRY_SCHEDULED,
                                    FAILOVER, DOWNGRADE, BREAKER) or the request (DONE) */
    int32_t http_status;
    int64_t server_delay_ms;     /* -1 when the server gave no delay */
    int64_t delay_ms;            /* RETRY_SCHEDULED, QUOTA_WAIT: the wait chosen */
    int64_t elapsed_ms;          /* since the request started */
    const char *reason;          /* valid during the callback only */
    const char *message;
    const char *route;
    const char *image_size;
    int32_t dimension;           /* NBC_DIM_* (QUOTA_WAIT, QUOTA_WARNING), else NBC_DIM_NONE */
    int32_t percent;             /* QUOTA_WARNING, BUDGET_ALERT */
} nbc_event;

/* Called on the thread that waits for the request (nbc_generate, nbc_job_wait, nbc_job_result),
 * so possibly on several threads at once: make it thread-safe. It must not call into the same
 * client or its jobs. event_payload must outlive the client and every handle of its jobs. */
typedef void (*nbc_event_fn)(const nbc_event *event, void *payload);

/* Retry policy: how long to back off per class, and how many attempts to make. Start from a preset
 * with nbc_retry_policy_preset() and change what you need. */
typedef struct nbc_retry_policy {
    uint32_t struct_size;
    int32_t max_attempts;              /* including the first, 1..100 */
    int64_t server_base_ms;            /* 500 / 503 / 504 / network: full-jitter exponential backoff */
    int64_t server_cap_ms;
    int64_t gateway_base_ms;           /* 502 */
    int64_t gateway_cap_ms;
    int64_t rate_base_ms;              /* 429 per-minute when the server gives no delay */
    int64_t rate_cap_ms;
    int64_t max_wait_ms;               /* one wait longer than this fails at once (with retry_after) */
    int32_t max_billed_retries;        /* NO_IMAGE / BLANK_IMAGE retries (each one is billed) */
    int32_t max_bad_response_retries;  /* malformed replies, corrupt images */
    double jitter_ratio;               /* positive jitter added to server-given waits, 0..1 */
} nbc_retry_policy;

/* Fills *out from NBC_RETRY_INTERACTIVE / _PATIENT / _NONE. Set out->struct_size first
 * (sizeof(nbc_retry_policy)). */
NBC_API(int) nbc_retry_policy_preset(nbc_retry_policy *out, int preset);

#define NBC_CLIENT_STREAM               1u  /* use streamGenerateContent (SSE) */
#define NBC_CLIENT_DOWNGRADE_ON_TIMEOUT 2u  /* a TIMEOUT at 4K retries at 2K, then 1K (recorded) */
#define NBC_CLIENT_NO_RETRY_BUDGET      4u  /* do not bound retries to a share of requests */

/* Where requests go. A client takes an ordered list (preference order) and fails over between
 * them on capacity errors, never on auth or safety (unless asked). */
#define NBC_ROUTE_AI_STUDIO 0
#define NBC_ROUTE_VERTEX    1     /* regional, global (location "global"), "us"/"eu", or express */
#define NBC_ROUTE_CUSTOM    2     /* any base URL serving the Gemini API paths */

#define NBC_ROUTE_NO_FAILOVER_CAPACITY 1u  /* do not fail over to/from this route on 5xx/timeouts */
#define NBC_ROUTE_NO_FAILOVER_QUOTA    2u  /* ... nor on exhausted quota */
#define NBC_ROUTE_NO_FAILOVER_LOCATION 4u  /* ... nor on location refusals */
#define NBC_ROUTE_FAILOVER_SAFETY      8u  /* do fail over on safety blocks (off by default) */

typedef struct nbc_route {
    uint32_t struct_size;
    int32_t kind;                /* NBC_ROUTE_* */
    const char *name;            /* NULL: derived ("ai-studio", "vertex:us-central1", "custom:<url>") */
    const char *base_url;        /* NULL: the kind's public endpoint (required for CUSTOM) */
    const char *api_key;         /* NULL: the client's key */
    const char *project;         /* Vertex: NULL = express mode with an API key; with a project,
                                    token_env or token_command is required (NBC_E_INVALID_ARG) */
    const char *location;        /* Vertex: NULL = "global" */
    const char *token_env;       /* Vertex with a project: environment variable holding an OAuth token */
    const char *token_command;   /* ... or a command printing one ("gcloud auth print-access-token") */
    const char *quota_pool;      /* NULL: derived; routes sharing a pool do not fail over for quota */
    uint32_t flags;              /* NBC_ROUTE_* bits */
} nbc_route;
#define NBC_ROUTE_INIT { sizeof(nbc_route), NBC_ROUTE_AI_STUDIO, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0 }

typedef struct nbc_client_options {
    uint32_t struct_size;
    uint32_t flags;              /* NBC_CLIENT_* bits */
    const char *api_key;         /* NULL: GOOGLE_API_KEY, then GEMINI_API_KEY */
    const char *base_url;        /* NULL: GOOGLE_GEMINI_BASE_URL, then the Gemini API */
    const char *model;           /* NULL: gemini-3-pro-image-preview */
    int32_t retry_preset;        /* NBC_RETRY_*; ignored when retry is set */
    int32_t max_attempts;        /* 0: the policy's; otherwise 1..100 */
    const nbc_retry_policy *retry;   /* NULL: the preset; copied by nbc_client_new */
    int64_t deadline_ms;         /* total per request, 0: none */
    int64_t attempt_timeout_ms;  /* per attempt, 0: chosen by image size (3 min at 1K ... 7 min at 4K) */
    int64_t idle_timeout_ms;     /* longest silence inside a reply body, 0: 60 s */
    nbc_event_fn on_event;       /* optional */
    void *event_payload;
    const nbc_route *routes;     /* NULL: one route from base_url and the environment; copied */
    size_t route_count;
    /* Quota: admission before every attempt, so the client never provokes a 429 it can foresee. */
    const char *tier;            /* NULL or "": limits learned from 429s; "free", "tier1", "tier2", "tier3" */
    int64_t rpm_limit;           /* > 0: replaces the tier's requests per minute; 0: the tier's (or learned) */
    int64_t tpm_limit;           /* input tokens per minute */
    int64_t ipm_limit;           /* output images per minute */
    int64_t rpd_limit;           /* requests per day (resets at midnight America/Los_Angeles) */
    /* Budget, in US dollars; 0: no cap. A request whose worst-case cost would cross a cap fails
     * with NBC_E_BUDGET before it is sent. */
    double budget_daily_usd;     /* per Pacific day */
    double budget_monthly_usd;   /* per Pacific calendar month */
    double budget_total_usd;     /* for as long as the state lives */
    /* Where quota use, learned limits and spend live. NULL: in memory, this client only. A file
     * path: SQLite, shared by every process that names it and kept across runs (created 0600).
     * "redis://[user:password@]host:port/db": Redis, shared by every worker on every machine
     * naming it (docs/scaling.md); "rediss://...[?cacert=PATH][&cert=PATH&key=PATH]" for TLS,
     * the server's certificate always verified.
     * NBC_STATE_DEFAULT or "": $NBCORE_STATE (a path or URL), else $NBCORE_STATE_FILE, else
     * $XDG_STATE_HOME/nbcore/state.db, else ~/.local/state/nbcore/state.db. */
    const char *state_path;
    const char *prices_json;     /* NULL: the built-in price table; else overrides (docs/quota-and-budget.md) */
    int32_t max_in_flight;       /* transfers at once for this client; 0: 64 */
    /* Which API serves the default route (ignored when routes is set), as the official SDKs:
     * NBC_BACKEND_ENV: Vertex AI when GOOGLE_GENAI_USE_VERTEXAI is "true" or "1", else the Gemini
     * Developer API. On Vertex, a project means OAuth (GOOGLE_CLOUD_ACCESS_TOKEN, else `gcloud auth
     * print-access-token`); no project means express mode with the API key. */
    int32_t backend;             /* NBC_BACKEND_* */
    const char *project;         /* Vertex: NULL = GOOGLE_CLOUD_PROJECT (ignored on AI Studio) */
    const char *location;        /* Vertex: NULL = GOOGLE_CLOUD_LOCATION, then "global" */
    /* The pre-flight prompt check (docs/prompt-analysis.md): NBC_PREFLIGHT_OFF; _WARN: an
     * NBC_EVENT_PROMPT_WARNING for a medium- or high-risk prompt; _STRICT: also refuses a
     * high-risk prompt unsent (NBC_E_INVALID_ARG, reason PROMPT_TOO_COMPLEX). */
    int32_t preflight;
    /* With a Redis state_path: the share of each limit and cap this worker's local buckets hold
     * while Redis cannot be reached (1/N for N workers keeps them within the whole), in (0, 1].
     * 0: $NBCORE_STATE_FALLBACK_SHARE ("0.25" or "1/4") when set, else 0.25; a value here wins over
     * that variable. Below 0, above 1 or NaN: NBC_E_INVALID_ARG. Ignored for a state file. */
    double state_fallback_share;
} nbc_client_options;
#define NBC_CLIENT_OPTIONS_INIT { sizeof(nbc_client_options), 0, NULL, NULL, NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, \
                                  NULL, 0, NULL, 0, 0, 0, 0, 0.0, 0.0, 0.0, NULL, NULL, 0, 0, NULL, NULL, 0, 0.0 }
#define NBC_PREFLIGHT_OFF    0
#define NBC_PREFLIGHT_WARN   1
#define NBC_PREFLIGHT_STRICT 2
#define NBC_BACKEND_ENV       0
#define NBC_BACKEND_AI_STUDIO 1   /* the Gemini Developer API (or base_url / GOOGLE_GEMINI_BASE_URL) */
#define NBC_BACKEND_VERTEX    2
#define NBC_STATE_DEFAULT ":default:"

/* Fills *opts with defaults; struct_size is the caller's sizeof(nbc_client_options). */
NBC_API(int) nbc_client_options_init(nbc_client_options *opts, size_t struct_size);
/* opts may be NULL for all defaults. */
NBC_API(int) nbc_client_new(nbc_client **out, const nbc_client_options *opts);
/* Blocks until the client's running jobs end; their handles stay valid until nbc_job_free. */
NBC_API(void) nbc_client_free(nbc_client *client);

/* ---- requests ---------------------------------------------------------------------------- */

typedef struct nbc_request nbc_request;

NBC_API(int) nbc_request_new(nbc_request **out, const char *prompt);
NBC_API(void) nbc_request_free(nbc_request *req);
NBC_API(int) nbc_request_set_prompt(nbc_request *req, const char *prompt);
NBC_API(int) nbc_request_set_model(nbc_request *req, const char *model);        /* NULL: client's */
NBC_API(int) nbc_request_set_aspect_ratio(nbc_request *req, const char *ratio); /* "16:9"; NULL: unset */
NBC_API(int) nbc_request_set_image_size(nbc_request *req, const char *size);    /* "1K" "2K" "4K"; NULL: unset */
NBC_API(int) nbc_request_set_seed(nbc_request *req, int64_t seed);              /* -1: unset; else int32 range */
NBC_API(int) nbc_request_set_temperature(nbc_request *req, double t);           /* < 0: unset; else 0..2 */
NBC_API(int) nbc_request_set_system_instruction(nbc_request *req, const char *text);
NBC_API(int) nbc_request_add_safety_setting(nbc_request *req, const char *category, const char *threshold);
/* Adds an input image (encoded bytes, copied). mime NULL: sniffed from the bytes. */
NBC_API(int) nbc_request_add_image(nbc_request *req, const uint8_t *data, size_t len, const char *mime);

/* ---- generation -------------------------------------------------------------------------- */

typedef struct nbc_result nbc_result;

/* Blocking: sends, classifies, waits and retries as the client's policy says, validates every
 * image. On failure *out stays NULL and nbc_error_last() has the class, advice and attempts. */
NBC_API(int) nbc_generate(nbc_result **out, nbc_client *client, const nbc_request *req);
NBC_API(void) nbc_result_free(nbc_result *res);

typedef struct nbc_image_info {
    uint32_t struct_size;
    int32_t width;
    int32_t height;
    int32_t channels;            /* as decoded: 3 RGB, 4 RGBA, ... */
    const char *mime;            /* valid while the result lives */
    const uint8_t *data;         /* encoded bytes, valid while the result lives */
    size_t size;
} nbc_image_info;
#define NBC_IMAGE_INFO_INIT { sizeof(nbc_image_info), 0, 0, 0, NULL, NULL, 0 }

NBC_API(int) nbc_result_image_count(const nbc_result *res);
NBC_API(int) nbc_result_image(nbc_image_info *out, const nbc_result *res, int index);
/* Image `index` as 8-bit RGBA, on request: rows top to bottom, 4 * width bytes each, written to
 * buf, which must hold at least 4 * width * height bytes (width and height from
 * nbc_result_image). Grey and RGB images get alpha 255. Results of nbc_generate and jobs keep
 * their decoded pixels, so for them this is a conversion; batch results decode on each call. */
NBC_API(int) nbc_result_image_rgba(const nbc_result *res, int index, uint8_t *buf, size_t buf_len);
NBC_API(const char *) nbc_result_text(const nbc_result *res);          /* "" when none */
NBC_API(const char *) nbc_result_model_version(const nbc_result *res);
NBC_API(const char *) nbc_result_route(const nbc_result *res);          /* the route that answered */
NBC_API(const char *) nbc_result_image_size(const nbc_result *res);     /* asked for; differs after a downgrade */
NBC_API(int) nbc_result_attempt_count(const nbc_result *res);
NBC_API(int) nbc_result_attempt(nbc_attempt *out, const nbc_result *res, int index);

typedef struct nbc_usage {
    uint32_t struct_size;
    int64_t prompt_tokens;
    int64_t candidates_tokens;
    int64_t thoughts_tokens;
    int64_t total_tokens;
    int64_t image_output_tokens;
} nbc_usage;
#define NBC_USAGE_INIT { sizeof(nbc_usage), 0, 0, 0, 0, 0 }
NBC_API(int) nbc_result_usage(nbc_usage *out, const nbc_result *res);
/* What every attempt of the request was billed, in US dollars, from usage and the price table. */
NBC_API(double) nbc_result_cost_usd(const nbc_result *res);

/* ---- quota and spend at a glance ---------------------------------------------------------- */

#define NBC_USAGE_TEXT 0   /* a table for people */
#define NBC_USAGE_JSON 1

/* Each quota dimension used against its limit and spend against each cap, as text or JSON.
 * *out is a new string for nbc_string_free. From a client's state, or from a state file
 * (NULL or NBC_STATE_DEFAULT: the default path) or a redis:// or rediss:// URL without a client. */
NBC_API(int) nbc_client_usage(char **out, nbc_client *client, int format);
NBC_API(int) nbc_state_usage(char **out, const char *state_path, int format);
NBC_API(void) nbc_string_free(char *s);

/* ---- jobs: requests in flight ------------------------------------------------------------ */

/* A request started with nbc_submit. Every transfer and timer of every job runs on one I/O
 * thread; a job's events are delivered to the client's on_event on the thread that waits for it
 * (nbc_job_wait, nbc_generate). A handle may be used from any thread. */
typedef struct nbc_job nbc_job;

#define NBC_JOB_QUEUED         0   /* waiting for a transfer slot (or a route to reopen) */
#define NBC_JOB_WAITING_QUOTA  1   /* held by the quota governor until the limits allow it */
#define NBC_JOB_SENDING        2
#define NBC_JOB_WAITING_SERVER 3   /* sent; the model is working */
#define NBC_JOB_RECEIVING      4
#define NBC_JOB_VALIDATING     5   /* decoding and checking the images */
#define NBC_JOB_RETRYING       6   /* waiting before the next attempt */
#define NBC_JOB_DONE           7

typedef struct nbc_submit_options {
    uint32_t struct_size;
    int64_t deadline_ms;         /* 0: the client's default */
    int32_t priority;            /* higher goes first when requests queue */
} nbc_submit_options;
#define NBC_SUBMIT_OPTIONS_INIT { sizeof(nbc_submit_options), 0, 0 }

typedef struct nbc_progress {
    uint32_t struct_size;
    int32_t stage;               /* NBC_JOB_* */
    int32_t attempt;             /* the current or last attempt, 0 before the first */
    int32_t last_outcome;        /* of the last finished attempt: NBC_OK or NBC_E_* */
    int64_t wait_left_ms;        /* WAITING_QUOTA / RETRYING: until the next step */
    int64_t elapsed_ms;
    uint64_t bytes_received;     /* of the current attempt */
    char route[96];
    char text[160];              /* one line for people: "retrying in 3.0 s after RATE_LIMITED (RPM)" */
} nbc_progress;
#define NBC_PROGRESS_INIT { sizeof(nbc_progress), 0, 0, 0, 0, 0, 0, {0}, {0} }

/* Starts a request and returns at once. opts may be NULL. Argument errors are reported here. */
NBC_API(int) nbc_submit(nbc_job **out, nbc_client *client, const nbc_request *req,
                        const nbc_submit_options *opts);
/* Waits up to timeout_ms (-1: until done; 0: just deliver pending events). *done is 1 when the
 * job has finished. Returns NBC_OK, or an error code if the arguments are wrong. */
NBC_API(int) nbc_job_wait(int *done, nbc_job *job, int64_t timeout_ms);
/* The outcome of a finished job: NBC_OK and *out a new result, or the job's error code with
 * nbc_error_last() describing it. NBC_E_INVALID_ARG while the job is still running. */
NBC_API(int) nbc_job_result(nbc_result **out, nbc_job *job);
/* Asks the job to stop and returns at once; the job ends soon after, CANCELLED unless it had
 * already finished or was checking its images (then with its real outcome). Wait for it
 * (nbc_job_wait) before nbc_job_result. Idempotent. */
NBC_API(int) nbc_job_cancel(nbc_job *job);
NBC_API(int) nbc_job_progress(nbc_progress *out, const nbc_job *job);
/* Releases the handle; a job still running is cancelled first. NULL is fine. */
NBC_API(void) nbc_job_free(nbc_job *job);

/* ---- image checks ------------------------------------------------------------------------ */

typedef struct nbc_image_check {
    uint32_t struct_size;
    int32_t ok;                  /* decodes, within limits, not blank */
    int32_t blank;
    int32_t code;                /* NBC_OK, NBC_E_BLANK_IMAGE or NBC_E_BAD_RESPONSE */
    int32_t width;
    int32_t height;
    int32_t channels;
    char mime[32];
    char reason[256];            /* why it is blank or invalid; "" when ok */
} nbc_image_check;
#define NBC_IMAGE_CHECK_INIT { sizeof(nbc_image_check), 0, 0, 0, 0, 0, 0, {0}, {0} }

/* Decodes and validates encoded image bytes. Returns NBC_OK when the check ran (the verdict is
 * in *out), NBC_E_INVALID_ARG for bad arguments. */
NBC_API(int) nbc_check_image(nbc_image_check *out, const uint8_t *data, size_t len);

/* ---- prompt analysis ---------------------------------------------------------------------- */

/* Reads a prompt the way docs/prompt-analysis.md describes (deterministic rules, no network): its
 * subjects, setting, text to render, spatial relations and style, camera and lighting clauses,
 * with a risk level ("low", "medium", "high") and one reason per finding, e.g. "5 distinct
 * subjects (more than 3 raises the risk of a blank output)". image_size ("1K", "2K", "4K" or
 * NULL) adds the timeout risk of 4K. format: NBC_USAGE_TEXT (a report for people) or
 * NBC_USAGE_JSON ({"risk", "reasons", "distinct_subjects", "requirements": [...]}); *out is a
 * new string for nbc_string_free. */
NBC_API(int) nbc_prompt_analyze(char **out, const char *prompt, const char *image_size, int format);

/* The prompt simplifier (docs/prompt-analysis.md, "Simplifying a prompt that fails"): after a
 * prompt came back blank or without an image, keeps its core subject, adds the other requirements
 * back and searches for the minimal set that makes it fail, one generation per step, within
 * max_requests steps and max_cost_usd of worst-case spend. */
typedef struct nbc_simplify_options {
    uint32_t struct_size;
    int32_t max_requests;        /* steps at most, 1..1000; 0: 8 */
    double max_cost_usd;         /* spend at most; 0: 1.0 */
    const char *model;           /* NULL: the client's */
    const char *aspect_ratio;    /* NULL: unset */
    const char *image_size;      /* NULL: unset */
    int64_t step_deadline_ms;    /* per step; 0: the client's */
} nbc_simplify_options;
#define NBC_SIMPLIFY_OPTIONS_INIT { sizeof(nbc_simplify_options), 0, 0.0, NULL, NULL, NULL, 0 }
NBC_API(int) nbc_simplify_options_init(nbc_simplify_options *opts, size_t struct_size);
/* Runs the search and writes its report to *out (a new string for nbc_string_free), as text
 * (NBC_USAGE_TEXT) or JSON (NBC_USAGE_JSON: "steps", "found", "minimal_failing_prompt",
 * "largest_working_prompt", "rounds_to_find", "stopped", "cost_usd", "plan", ...). NBC_OK whenever
 * the search ran, whatever it found or why it stopped (both are in the report); opts may be NULL. */
NBC_API(int) nbc_simplify(char **out, nbc_client *client, const char *prompt, const nbc_simplify_options *opts,
                          int format);

/* ---- cancellation ------------------------------------------------------------------------ */

/* A cancellation flag any thread may raise; the call it is passed to ends soon after with
 * NBC_E_CANCELLED (a scene keeps its finished stages, as on any stage failure). A token raised
 * before the call starts ends it at once, before anything is sent. It stays raised: use a new one
 * for the next call. One token may serve several calls, in turn or at once. */
typedef struct nbc_cancel nbc_cancel;
NBC_API(int) nbc_cancel_new(nbc_cancel **out);
NBC_API(int) nbc_cancel_trigger(nbc_cancel *cancel);            /* thread-safe, idempotent; NBC_E_INVALID_ARG for NULL */
NBC_API(int) nbc_cancel_is_triggered(const nbc_cancel *cancel); /* 1 or 0; 0 for NULL */
NBC_API(void) nbc_cancel_free(nbc_cancel *cancel);              /* NULL is fine; not while a call uses it */

/* ================================================================================================
 * Staged scenes and mask-exact inpainting (docs/scenes-and-inpainting.md). Gemini takes no mask
 * and draws crowded scenes poorly in one go, so nbcore owns the geometry: nbc_inpaint sends a
 * context crop plus a mask image and composites the answer back through the grown, feathered
 * mask; nbc_scene_run builds a picture in stages, a background and then one request per element.
 * Every request goes through the client (checks, retries, quota, budget, downgrade).
 *
 *     nbc_scene *s = NULL;
 *     nbc_scene_new(&s, "a quiet beach at sunset");
 *     nbc_scene_add_element(s, "a red beach umbrella", 0.1, 0.5, 0.3, 0.4, 0, NBC_ELEMENT_EDIT);
 *     nbc_scene_add_element(s, "a seagull", 0.6, 0.1, 0.2, 0.2, 1, NBC_ELEMENT_CUTOUT);
 *     nbc_scene_result *sr = NULL, *again = NULL;
 *     int rc = nbc_scene_run(&sr, client, s, NULL, NULL);
 *     if (rc != NBC_OK && sr)      // stage nbc_scene_result_failed_stage(sr) failed; the rest is kept
 *         rc = nbc_scene_run(&again, client, s, NULL, sr);   // later: sends only what is left
 *     nbc_scene_result_free(again); nbc_scene_result_free(sr); nbc_scene_free(s);
 * ============================================================================================= */

typedef struct nbc_scene nbc_scene;                  /* a plan: background, style, elements */
typedef struct nbc_scene_result nbc_scene_result;    /* the stages run, and the final image */

#define NBC_ELEMENT_EDIT   0   /* a masked edit of the running composite inside the box */
#define NBC_ELEMENT_CUTOUT 1   /* generated alone on a key colour, cut out, placed in the box */

/* A scene with this background prompt and no elements yet. */
NBC_API(int) nbc_scene_new(nbc_scene **out, const char *background);
/* A scene planned from one prompt (docs/prompt-analysis.md, staging plans): the setting as the
 * background, style clauses as the style, one element (of `mode`) per distinct subject with its
 * planned box and z. Always plans, whatever the prompt's risk. */
NBC_API(int) nbc_scene_from_prompt(nbc_scene **out, const char *prompt, int mode);
NBC_API(void) nbc_scene_free(nbc_scene *scene);
NBC_API(int) nbc_scene_set_style(nbc_scene *scene, const char *style);          /* appended to every stage; NULL: none */
NBC_API(int) nbc_scene_set_aspect_ratio(nbc_scene *scene, const char *ratio);   /* "16:9"; NULL: the API's 1:1 */
NBC_API(int) nbc_scene_set_image_size(nbc_scene *scene, const char *size);      /* the background's; NULL: unset */
NBC_API(int) nbc_scene_set_model(nbc_scene *scene, const char *model);          /* NULL: the client's */
/* Adds an element: its prompt, its box normalized to the canvas (x, y top-left; w, h size; all
 * 0..1), z (lower is drawn first; equal z keep their order) and NBC_ELEMENT_*. */
NBC_API(int) nbc_scene_add_element(nbc_scene *scene, const char *prompt, double x, double y, double w,
                                   double h, int z, int mode);
NBC_API(int) nbc_scene_element_count(const nbc_scene *scene);                   /* 0 for NULL */
NBC_API(const char *) nbc_scene_background(const nbc_scene *scene);             /* "" for NULL */
NBC_API(const char *) nbc_scene_style(const nbc_scene *scene);                  /* "" for NULL */

typedef struct nbc_scene_element_info {
    uint32_t struct_size;
    int32_t z;
    int32_t mode;                /* NBC_ELEMENT_* */
    const char *prompt;          /* valid while the scene lives and is not changed */
    double x, y, w, h;           /* normalized */
} nbc_scene_element_info;
#define NBC_SCENE_ELEMENT_INFO_INIT { sizeof(nbc_scene_element_info), 0, 0, NULL, 0.0, 0.0, 0.0, 0.0 }
NBC_API(int) nbc_scene_element(nbc_scene_element_info *out, const nbc_scene *scene, int index);

typedef struct nbc_scene_stage_info {
    uint32_t struct_size;
    int32_t index;               /* 0 background, then one per element in z order */
    int32_t status;              /* NBC_OK or the stage's NBC_E_* */
    int32_t attempt_count;
    const char *kind;            /* "background", "edit", "cutout"; strings valid while res lives */
    const char *prompt;          /* as sent */
    const char *image_size;      /* asked for last: "", "1K", "2K", "4K" */
    int32_t placed_x, placed_y, placed_w, placed_h;   /* px: the canvas, the edit box, or the rect a cutout went into */
    int32_t width, height;       /* of the composite after this stage; 0 when it failed */
    double cost_usd;
    const uint8_t *answer;       /* the model's image, encoded as it came; NULL when none did */
    size_t answer_size;
    const char *answer_mime;     /* "" when no answer */
} nbc_scene_stage_info;
#define NBC_SCENE_STAGE_INFO_INIT { sizeof(nbc_scene_stage_info), 0, 0, 0, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0.0, NULL, 0, NULL }

/* Called after each stage of nbc_scene_run ends (good or failed), on the thread that called
 * nbc_scene_run; the info's strings are valid during the call only. Stages reused from `resume`
 * are not reported. total_stages is 1 + the scene's elements. */
typedef void (*nbc_scene_stage_fn)(const nbc_scene_stage_info *stage, int total_stages, void *payload);

typedef struct nbc_scene_options {
    uint32_t struct_size;
    int32_t grow_px;             /* edit stages: grow of the box mask; -1: 4 */
    int32_t feather_px;          /* -1: auto (10 % of the box diagonal, at least 8) */
    int32_t colour_match;        /* edit stages: -1 default (on), 0 off, 1 on */
    int64_t seed;                /* -1: none; else the int32 range */
    int64_t stage_deadline_ms;   /* per stage; 0: the client's */
    nbc_cancel *cancel;          /* NULL: the run cannot be cancelled */
    nbc_scene_stage_fn on_stage; /* NULL: no per-stage report */
    void *stage_payload;         /* passed to on_stage untouched */
} nbc_scene_options;
#define NBC_SCENE_OPTIONS_INIT { sizeof(nbc_scene_options), -1, -1, -1, -1, 0, NULL, NULL, NULL }
NBC_API(int) nbc_scene_options_init(nbc_scene_options *opts, size_t struct_size);

/* Runs every stage not already done in `resume` (a previous result of the same scene; NULL: all)
 * and blocks until the last one ends. opts may be NULL. On NBC_OK *out is the complete result. On
 * a stage failure *out is STILL set, to the partial result (earlier stages kept, the failed stage
 * last), and the return is the failed stage's code with nbc_error_last() describing it. A raised
 * opts->cancel is such a failure: the stage under way (or the next one) ends NBC_E_CANCELLED, and
 * the result resumes like any other. Argument errors (a bad scene, a `resume` of another scene)
 * send nothing and leave *out NULL. */
NBC_API(int) nbc_scene_run(nbc_scene_result **out, nbc_client *client, const nbc_scene *scene,
                           const nbc_scene_options *opts, const nbc_scene_result *resume);
NBC_API(int) nbc_scene_result_stage_count(const nbc_scene_result *res);   /* stages run, a failed one included */
NBC_API(int) nbc_scene_result_total_stages(const nbc_scene_result *res);  /* 1 + the scene's elements */
NBC_API(int) nbc_scene_result_failed_stage(const nbc_scene_result *res);  /* -1 when none failed */
NBC_API(double) nbc_scene_result_cost_usd(const nbc_scene_result *res);   /* the stages' sum */

NBC_API(int) nbc_scene_result_stage(nbc_scene_stage_info *out, const nbc_scene_result *res, int index);
NBC_API(int) nbc_scene_result_stage_attempt(nbc_attempt *out, const nbc_scene_result *res, int stage, int index);
/* A new error object (release with nbc_error_free) describing stage `stage`: its code, message,
 * reason, advice and attempts when it failed; code NBC_OK for a good stage. */
NBC_API(int) nbc_scene_result_stage_error(nbc_error **out, const nbc_scene_result *res, int stage);
/* The composite after stage `stage` (-1: the final image, the last good composite) as 8-bit
 * RGBA, 4 * width bytes a row. buf NULL (with buf_len 0): only *width and *height are set.
 * NBC_E_INVALID_ARG for a failed stage, which has no composite, and for a short buf. */
NBC_API(int) nbc_scene_result_rgba(const nbc_scene_result *res, int stage, uint8_t *buf, size_t buf_len,
                                   int32_t *width, int32_t *height);
NBC_API(void) nbc_scene_result_free(nbc_scene_result *res);

typedef struct nbc_inpaint_options {
    uint32_t struct_size;
    int32_t grow_px;             /* -1: 4 */
    int32_t feather_px;          /* -1: auto */
    int32_t colour_match;        /* -1 default (on), 0 off, 1 on */
    int32_t context_px;          /* the crop's padding: 0 auto, > 0 exactly this, -1 the whole image */
    const char *model;           /* NULL: the client's */
    const char *image_size;      /* NULL: the smallest covering the crop (Pro); none on Flash */
    int64_t seed;                /* -1: none */
    int64_t deadline_ms;         /* 0: the client's */
    nbc_cancel *cancel;          /* NULL: the call cannot be cancelled */
} nbc_inpaint_options;
#define NBC_INPAINT_OPTIONS_INIT { sizeof(nbc_inpaint_options), -1, -1, -1, 0, NULL, NULL, -1, 0, NULL }
NBC_API(int) nbc_inpaint_options_init(nbc_inpaint_options *opts, size_t struct_size);

/* Changes the part of `image` selected by `mask` as `prompt` says, in one request.
 * image: RGBA8 rows top to bottom, `stride` bytes apart (>= 4 * width); mask: 8 bits, one byte a
 * pixel, rows `mask_stride` bytes apart (>= width), 0 keep .. 255 change. opts may be NULL.
 * *out: a result whose one image is the whole edited picture (PNG, width x height;
 * nbc_result_image_rgba works), with the model's attempts, usage and cost. Pixels where the
 * blend alpha is 0 (outside the crop, or farther than grow + feather from the mask) are
 * bit-identical to the input. An empty mask is NBC_E_INVALID_ARG. A raised opts->cancel ends the
 * call with NBC_E_CANCELLED. */
NBC_API(int) nbc_inpaint(nbc_result **out, nbc_client *client, const uint8_t *image, int32_t width,
                         int32_t height, size_t stride, const uint8_t *mask, size_t mask_stride,
                         const char *prompt, const nbc_inpaint_options *opts);
/* For a result of nbc_inpaint: the change as a layer of its own, for editors that keep edits on
 * layers. 8-bit RGBA over the rectangle that changed (*x, *y in the image; *width x *height),
 * 4 * width bytes a row: RGB the model's answer as it was composited (resized, colour matched),
 * A the blend alpha (the mask grown and feathered). Laid over the input image with
 * straight-alpha "over" in sRGB it gives the result's image. buf NULL (with buf_len 0): only the
 * rectangle. NBC_E_INVALID_ARG for a result from any other call, and for a short buf. */
NBC_API(int) nbc_result_inpaint_layer(const nbc_result *res, uint8_t *buf, size_t buf_len, int32_t *x,
                                      int32_t *y, int32_t *width, int32_t *height);

/* ================================================================================================
 * Batch: many requests in one job, billed at half the online price, answered within a day
 * (the Batch API of the Gemini Developer API; needs an AI Studio key).
 *
 *     nbc_batch_client *bc = NULL;
 *     nbc_batch_options o = NBC_BATCH_OPTIONS_INIT;           // key from GOOGLE_API_KEY ...
 *     nbc_batch_client_new(&bc, &o);
 *     const char *keys[] = {"cat", "dog"};
 *     const nbc_request *reqs[] = {cat, dog};
 *     nbc_batch_job *job = NULL, *done = NULL;
 *     nbc_batch_submit(&job, bc, keys, reqs, 2, "pets");       // inline, or a JSONL upload if large
 *     nbc_batch_job_info info = NBC_BATCH_JOB_INFO_INIT;
 *     nbc_batch_job_describe(&info, job);
 *     nbc_batch_wait(&done, bc, info.name, 0);                 // polls with backoff until it ends
 *     nbc_batch_results *rs = NULL;
 *     nbc_batch_results_get(&rs, bc, done);                    // one entry per key, in order
 *     for (int i = 0; i < nbc_batch_results_count(rs); ++i) {
 *         nbc_result *r = NULL;
 *         if (nbc_batch_results_entry(&r, rs, i) == NBC_OK) ... else nbc_error_last() says why
 *         nbc_result_free(r);
 *     }
 *
 * Each entry is decoded, validated and classified exactly as nbc_generate's reply would be: a
 * blocked entry fails with the same code, reason and advice as online. Entries are not retried.
 * ============================================================================================= */

typedef struct nbc_batch_client nbc_batch_client;
typedef struct nbc_batch_job nbc_batch_job;          /* a snapshot of a job's state */
typedef struct nbc_batch_results nbc_batch_results;

#define NBC_BATCH_STATE_UNSPECIFIED 0
#define NBC_BATCH_STATE_PENDING     1
#define NBC_BATCH_STATE_RUNNING     2
#define NBC_BATCH_STATE_SUCCEEDED   3
#define NBC_BATCH_STATE_FAILED      4
#define NBC_BATCH_STATE_CANCELLED   5
#define NBC_BATCH_STATE_EXPIRED     6

typedef struct nbc_batch_options {
    uint32_t struct_size;
    const char *api_key;         /* NULL: GOOGLE_API_KEY, then GEMINI_API_KEY */
    const char *base_url;        /* NULL: GOOGLE_GEMINI_BASE_URL, then the Gemini API */
    const char *model;           /* NULL: gemini-3-pro-image-preview */
    int64_t poll_initial_ms;     /* first wait between polls, 0: 2000; grows 1.5x per poll */
    int64_t poll_max_ms;         /* longest wait between polls, 0: 60000 */
    int64_t inline_limit_bytes;  /* larger batches go up as a JSONL file, 0: 20 MB (the API's limit) */
    /* Spending caps in US dollars (0: none), as nbc_client_options: a batch's worst case at batch
     * prices is reserved before it is created (NBC_E_BUDGET, nothing sent, past a cap) and
     * settled from its results. state_path shares the spend with clients naming the same file. */
    double budget_daily_usd;
    double budget_monthly_usd;
    double budget_total_usd;
    const char *state_path;      /* NULL: in memory; a file; or NBC_STATE_DEFAULT */
    const char *prices_json;     /* NULL: the built-in price table */
} nbc_batch_options;
#define NBC_BATCH_OPTIONS_INIT { sizeof(nbc_batch_options), NULL, NULL, NULL, 0, 0, 0, 0.0, 0.0, 0.0, NULL, NULL }

typedef struct nbc_batch_job_info {
    uint32_t struct_size;
    int32_t state;               /* NBC_BATCH_STATE_* */
    int32_t done;                /* 1 once the job has ended (any terminal state) */
    int32_t file_input;          /* 1 when the requests went up as a JSONL file */
    int64_t request_count;
    int64_t succeeded_count;
    int64_t failed_count;
    int64_t pending_count;
    const char *name;            /* "batches/<id>"; strings valid while the job object lives */
    const char *display_name;
    const char *model;
    const char *responses_file;  /* "files/batch-<id>" for file results, "" otherwise */
    const char *create_time;     /* RFC 3339 */
    const char *end_time;        /* "" until the job ends */
} nbc_batch_job_info;
#define NBC_BATCH_JOB_INFO_INIT { sizeof(nbc_batch_job_info), 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL }

NBC_API(int) nbc_batch_options_init(nbc_batch_options *opts, size_t struct_size);
/* opts may be NULL for all defaults. */
NBC_API(int) nbc_batch_client_new(nbc_batch_client **out, const nbc_batch_options *opts);
NBC_API(void) nbc_batch_client_free(nbc_batch_client *bc);

/* Validates every request (NBC_E_INVALID_ARG naming the key), then creates the job. keys[i] is
 * requests[i]'s key: non-empty and unique; all requests must use one model. display_name NULL:
 * "nbcore-batch-<count>". On NBC_OK *out is the new job (PENDING). */
NBC_API(int) nbc_batch_submit(nbc_batch_job **out, nbc_batch_client *bc, const char *const *keys,
                              const nbc_request *const *requests, size_t count, const char *display_name);
/* The job as it stands now. */
NBC_API(int) nbc_batch_get(nbc_batch_job **out, nbc_batch_client *bc, const char *name);
/* Polls with backoff until the job ends and returns it (whatever its end state). deadline_ms 0:
 * as long as it takes; otherwise NBC_E_DEADLINE when it runs out (the job keeps running). */
NBC_API(int) nbc_batch_wait(nbc_batch_job **out, nbc_batch_client *bc, const char *name, int64_t deadline_ms);
/* Asks the API to stop the job; a job that has ended stays as it ended. */
NBC_API(int) nbc_batch_cancel(nbc_batch_client *bc, const char *name);
/* Deletes the job (a result file stays until it expires). */
NBC_API(int) nbc_batch_delete(nbc_batch_client *bc, const char *name);
NBC_API(int) nbc_batch_job_describe(nbc_batch_job_info *out, const nbc_batch_job *job);
/* NBC_OK for a job that succeeded or has not ended; for FAILED, CANCELLED and EXPIRED jobs the
 * job's own error code, with nbc_error_last() saying what happened and what to do. */
NBC_API(int) nbc_batch_job_status(const nbc_batch_job *job);
NBC_API(void) nbc_batch_job_free(nbc_batch_job *job);

/* The entries of a SUCCEEDED job, downloaded and judged on each call: one per submitted key, in
 * submission order when this client submitted the job (and has not deleted it), else in the job's
 * own order. Other states fail with the job's error. */
NBC_API(int) nbc_batch_results_get(nbc_batch_results **out, nbc_batch_client *bc, const nbc_batch_job *job);
NBC_API(int) nbc_batch_results_count(const nbc_batch_results *rs);
/* The entry's key; NULL when index is out of range. Valid while rs lives. */
NBC_API(const char *) nbc_batch_results_key(const nbc_batch_results *rs, int index);
/* The entry's outcome: NBC_OK with *out a new result (release with nbc_result_free), or the
 * entry's error code with nbc_error_last() describing it exactly as for nbc_generate. */
NBC_API(int) nbc_batch_results_entry(nbc_result **out, const nbc_batch_results *rs, int index);
NBC_API(void) nbc_batch_results_free(nbc_batch_results *rs);

/* 1 when the result was served by the Batch API (priced at the batch rate), else 0. */
NBC_API(int) nbc_result_is_batch(const nbc_result *res);

#ifdef __cplusplus
}
#endif

#endif /* NBCORE_NBCORE_H */
