// Helpers shared by inpaint.cpp and scene.cpp. Private to core/src/compose.
#pragma once

#include <string>
#include <string_view>

#include "nbcore/client.hpp"
#include "nbcore/image.hpp"

namespace nbcore::detail {

// The model a request will go to: `model`, else the client's default, else kDefaultModel.
std::string resolved_model(const Client& client, std::string_view model);
image::Pixels copy_pixels(const image::Pixels& px);
image::Pixels rgba_of(const image::Pixels& px);   // a copy as RGBA8
image::Pixels rgb_of(const image::Pixels& px);    // a copy as RGB8 (alpha dropped)
// The first image of an answer as RGBA8 (decoded again only when the client keeps no pixels).
// Throws Error NO_IMAGE / BAD_RESPONSE.
image::Pixels answer_pixels(const Client& client, const Result& res);
// Throws Error CANCELLED ("cancelled before it was sent") when call.cancel has been raised, so a
// cancelled scene or inpaint sends nothing more and does no more work.
void throw_if_cancelled(const CallOptions& call);

}  // namespace nbcore::detail
