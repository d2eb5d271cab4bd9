#include <cstdarg>
#include <cstdio>

#include "image/image_internal.hpp"

namespace nbcore::image::detail {

std::string text(const char* fmt, ...) {
    char buf[320];
    va_list args;
    va_start(args, fmt);
    int len = std::vsnprintf(buf, sizeof buf, fmt, args);
    va_end(args);
    if (len < 0) return {};
    if (static_cast<std::size_t>(len) < sizeof buf) return std::string(buf, std::size_t(len));
    // Longer than the stack buffer (rare: reasons are one line): format again at full size.
    std::string out(std::size_t(len) + 1, '\0');
    va_start(args, fmt);
    std::vsnprintf(out.data(), out.size(), fmt, args);
    va_end(args);
    out.resize(std::size_t(len));
    return out;
}

}  // namespace nbcore::image::detail
