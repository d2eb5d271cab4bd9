/* Prints the layout of the nbcore.h structs that examples/python-ctypes declares by hand, one line
 * per field in declaration order: "struct field offset size". check_ctypes_layout.py compares
 * the ctypes declarations with it. List every field, in the header's order. */
#include <stddef.h>
#include <stdio.h>

#include <nbcore/nbcore.h>

#define F(s, f) printf("%s %s %zu %zu\n", #s, #f, offsetof(s, f), sizeof(((s *)0)->f))

int main(void) {
    F(nbc_client_options, struct_size);
    F(nbc_client_options, flags);
    F(nbc_client_options, api_key);
    F(nbc_client_options, base_url);
    F(nbc_client_options, model);
    F(nbc_client_options, retry_preset);
    F(nbc_client_options, max_attempts);
    F(nbc_client_options, retry);
    F(nbc_client_options, deadline_ms);
    F(nbc_client_options, attempt_timeout_ms);
    F(nbc_client_options, idle_timeout_ms);
    F(nbc_client_options, on_event);
    F(nbc_client_options, event_payload);
    F(nbc_client_options, routes);
    F(nbc_client_options, route_count);
    F(nbc_client_options, tier);
    F(nbc_client_options, rpm_limit);
    F(nbc_client_options, tpm_limit);
    F(nbc_client_options, ipm_limit);
    F(nbc_client_options, rpd_limit);
    F(nbc_client_options, budget_daily_usd);
    F(nbc_client_options, budget_monthly_usd);
    F(nbc_client_options, budget_total_usd);
    F(nbc_client_options, state_path);
    F(nbc_client_options, prices_json);
    F(nbc_client_options, max_in_flight);

    F(nbc_attempt, struct_size);
    F(nbc_attempt, number);
    F(nbc_attempt, outcome);
    F(nbc_attempt, http_status);
    F(nbc_attempt, server_delay_ms);
    F(nbc_attempt, chosen_delay_ms);
    F(nbc_attempt, duration_ms);
    F(nbc_attempt, route);
    F(nbc_attempt, reason);
    F(nbc_attempt, image_size);
    F(nbc_attempt, execution);

    F(nbc_event, struct_size);
    F(nbc_event, kind);
    F(nbc_event, attempt);
    F(nbc_event, outcome);
    F(nbc_event, http_status);
    F(nbc_event, server_delay_ms);
    F(nbc_event, delay_ms);
    F(nbc_event, elapsed_ms);
    F(nbc_event, reason);
    F(nbc_event, message);
    F(nbc_event, route);
    F(nbc_event, image_size);
    F(nbc_event, dimension);
    F(nbc_event, percent);

    F(nbc_image_info, struct_size);
    F(nbc_image_info, width);
    F(nbc_image_info, height);
    F(nbc_image_info, channels);
    F(nbc_image_info, mime);
    F(nbc_image_info, data);
    F(nbc_image_info, size);

    F(nbc_usage, struct_size);
    F(nbc_usage, prompt_tokens);
    F(nbc_usage, candidates_tokens);
    F(nbc_usage, thoughts_tokens);
    F(nbc_usage, total_tokens);
    F(nbc_usage, image_output_tokens);

    printf("sizeof nbc_client_options %zu\n", sizeof(nbc_client_options));
    printf("sizeof nbc_attempt %zu\n", sizeof(nbc_attempt));
    printf("sizeof nbc_event %zu\n", sizeof(nbc_event));
    printf("sizeof nbc_image_info %zu\n", sizeof(nbc_image_info));
    printf("sizeof nbc_usage %zu\n", sizeof(nbc_usage));
    return 0;
}
