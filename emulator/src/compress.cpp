#include "compress.hpp"

#include <zlib.h>

#include <cstdlib>
#include <stdexcept>

#include "util.hpp"

namespace nbcore::emulator {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// "gzip;q=0.5" -> 0.5; no q parameter -> 1.
double quality_of(std::string_view params) {
    while (!params.empty()) {
        auto semi = params.find(';');
        std::string_view p = trim(params.substr(0, semi));
        params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
        if (p.size() > 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
            return std::strtod(std::string(p.substr(2)).c_str(), nullptr);
    }
    return 1;
}

}  // namespace

bool accepts_gzip(std::string_view accept_encoding) {
    while (!accept_encoding.empty()) {
        auto comma = accept_encoding.find(',');
        std::string_view item = accept_encoding.substr(0, comma);
        accept_encoding = comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);
        auto semi = item.find(';');
        std::string coding = to_lower(trim(item.substr(0, semi)));
        std::string_view params = semi == std::string_view::npos ? std::string_view() : item.substr(semi + 1);
        if ((coding == "gzip" || coding == "x-gzip" || coding == "*") && quality_of(params) > 0) return true;
    }
    return false;
}

std::vector<std::string> gzip_segments(const std::vector<std::string>& segments, int level) {
    z_stream z{};
    // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("deflateInit2 failed");
    std::vector<std::string> out;
    out.reserve(segments.size());
    for (std::size_t i = 0; i < segments.size(); ++i) {
        const bool last = i + 1 == segments.size();
        std::string piece;
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(segments[i].data()));
        z.avail_in = static_cast<uInt>(segments[i].size());
        int rc;
        do {
            char buf[64 * 1024];
            z.next_out = reinterpret_cast<Bytef*>(buf);
            z.avail_out = sizeof buf;
            rc = deflate(&z, last ? Z_FINISH : Z_SYNC_FLUSH);
            piece.append(buf, sizeof buf - z.avail_out);
        } while (last ? rc != Z_STREAM_END : z.avail_out == 0);
        out.push_back(std::move(piece));
    }
    deflateEnd(&z);
    return out;
}

}  // namespace nbcore::emulator
