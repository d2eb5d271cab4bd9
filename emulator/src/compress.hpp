// gzip for replies, as the API's front end applies it when the client accepts it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nbcore::emulator {

// True when an Accept-Encoding header allows gzip ("gzip", "x-gzip" or "*", with q > 0).
bool accepts_gzip(std::string_view accept_encoding);

// One gzip stream over all segments. Each segment is deflated and flushed on its own, so stream
// events still arrive one by one; the last one ends the stream.
std::vector<std::string> gzip_segments(const std::vector<std::string>& segments, int level = 1);

}  // namespace nbcore::emulator
