// The first published layout of every struct that crosses the ABI. A program built against that
// layout passes its size as struct_size for ever; when fields are appended, these constants stay
// where they are, so the library keeps serving the old size (reading defaults for, and never
// writing, the fields the caller does not have).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "nbcore/nbcore.h"

namespace nbcapi {

constexpr std::size_t kImageInfoV1 = offsetof(nbc_image_info, size) + sizeof(size_t);
constexpr std::size_t kUsageV1 = offsetof(nbc_usage, image_output_tokens) + sizeof(int64_t);
constexpr std::size_t kImageCheckV1 = offsetof(nbc_image_check, reason) + sizeof(char[256]);
constexpr std::size_t kProgressV1 = offsetof(nbc_progress, text) + sizeof(char[160]);
constexpr std::size_t kRouteV1 = offsetof(nbc_route, flags) + sizeof(uint32_t);
constexpr std::size_t kRetryPolicyV1 = offsetof(nbc_retry_policy, jitter_ratio) + sizeof(double);
constexpr std::size_t kSubmitOptionsV1 = offsetof(nbc_submit_options, priority) + sizeof(int32_t);
constexpr std::size_t kSimplifyOptionsV1 = offsetof(nbc_simplify_options, step_deadline_ms) + sizeof(int64_t);
constexpr std::size_t kBatchJobInfoV1 = offsetof(nbc_batch_job_info, end_time) + sizeof(const char*);
constexpr std::size_t kSceneElementInfoV1 = offsetof(nbc_scene_element_info, h) + sizeof(double);
constexpr std::size_t kSceneOptionsV1 = offsetof(nbc_scene_options, stage_deadline_ms) + sizeof(int64_t);
constexpr std::size_t kSceneStageInfoV1 = offsetof(nbc_scene_stage_info, answer_mime) + sizeof(const char*);
constexpr std::size_t kInpaintOptionsV1 = offsetof(nbc_inpaint_options, deadline_ms) + sizeof(int64_t);

// Later layouts of structs the caller passes in. Fields appended together count only when the
// caller's struct_size covers the whole group: the previous layout's sizeof may take in tail
// padding where a new field now lies, and what a caller built against it has there is garbage.
// nbc_scene_options V2 added cancel, on_stage and stage_payload.
constexpr std::size_t kSceneOptionsV2 = offsetof(nbc_scene_options, stage_payload) + sizeof(void*);
// nbc_inpaint_options V2 added cancel.
constexpr std::size_t kInpaintOptionsV2 = offsetof(nbc_inpaint_options, cancel) + sizeof(nbc_cancel*);

// Writes `full` into the caller's struct, no further than the caller's struct_size, and keeps the
// caller's struct_size.
template <class T>
void write_out(T* out, const T& full) noexcept {
    uint32_t caller_size = out->struct_size;
    std::memcpy(out, &full, caller_size < sizeof(T) ? caller_size : sizeof(T));
    out->struct_size = caller_size;
}

// Reads the caller's struct into a full one: fields past the caller's struct_size keep the
// defaults in `full`.
template <class T>
T read_in(const T* in, T full) noexcept {
    std::memcpy(&full, in, in->struct_size < sizeof(T) ? in->struct_size : sizeof(T));
    return full;
}

}  // namespace nbcapi
