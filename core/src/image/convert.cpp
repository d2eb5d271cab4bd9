// Conversions on decoded pixels: to RGBA, PNG/JPEG encoding, resampling. All through Debian's
// compiled libstb; none re-decodes anything.
#include <climits>
#include <cstring>
#include <new>

#include <stb_image_resize.h>
#include <stb_image_write.h>

#include "image/image_internal.hpp"

namespace nbcore::image {
namespace {

void require_well_formed(const Pixels& px, const char* who) {
    bool ok = px.width > 0 && px.height > 0 && px.channels >= 1 && px.channels <= 4 &&
              px.data.size() >= px.stride() * std::size_t(px.height) &&
              px.stride() <= std::size_t(INT_MAX);
    if (!ok)
        throw_invalid_arg(std::string(who) +
                          ": pixels need width, height > 0, 1..4 channels and "
                          "width*height*channels bytes");
}

// A Blob whose first `bytes` bytes the caller will fill completely (no zeroing pass).
Pixels blank_pixels(int width, int height, int channels) {
    Pixels px;
    px.width = width;
    px.height = height;
    px.channels = channels;
    std::size_t bytes = px.stride() * std::size_t(height);
    px.data.prepare(bytes);
    px.data.commit(bytes);
    return px;
}

// stb_image_write hands the encoded file to a C callback. C frames cannot be unwound through,
// so an allocation failure is remembered and rethrown after stb returns.
struct BlobSink {
    Blob out;
    bool failed = false;

    static void write(void* context, void* data, int size) {
        auto* sink = static_cast<BlobSink*>(context);
        if (sink->failed || size <= 0) return;
        try {
            sink->out.append(data, std::size_t(size));
        } catch (const std::bad_alloc&) {
            sink->failed = true;
        }
    }

    Blob finish(int stb_result) {
        if (failed || stb_result == 0) throw std::bad_alloc();  // stb fails only when out of memory
        return std::move(out);
    }
};

}  // namespace

Pixels to_rgba(const Pixels& px) {
    require_well_formed(px, "to_rgba");
    Pixels out = blank_pixels(px.width, px.height, 4);
    const std::uint8_t* s = px.data.data();
    std::uint8_t* d = out.data.data();
    const std::size_t count = std::size_t(px.width) * std::size_t(px.height);
    switch (px.channels) {
        case 1:
            for (std::size_t i = 0; i < count; ++i, s += 1, d += 4)
                d[0] = d[1] = d[2] = s[0], d[3] = 255;
            break;
        case 2:
            for (std::size_t i = 0; i < count; ++i, s += 2, d += 4)
                d[0] = d[1] = d[2] = s[0], d[3] = s[1];
            break;
        case 3:
            for (std::size_t i = 0; i < count; ++i, s += 3, d += 4)
                d[0] = s[0], d[1] = s[1], d[2] = s[2], d[3] = 255;
            break;
        default:
            std::memcpy(d, s, count * 4);
            break;
    }
    return out;
}

Blob encode_png(const Pixels& px) {
    require_well_formed(px, "encode_png");
    BlobSink sink;
    int rc = stbi_write_png_to_func(&BlobSink::write, &sink, px.width, px.height, px.channels,
                                    px.data.data(), static_cast<int>(px.stride()));
    return sink.finish(rc);
}

Blob encode_jpeg(const Pixels& px, int quality) {
    require_well_formed(px, "encode_jpeg");
    if (quality < 1 || quality > 100) throw_invalid_arg("encode_jpeg: quality must be 1..100");
    BlobSink sink;
    int rc = stbi_write_jpg_to_func(&BlobSink::write, &sink, px.width, px.height, px.channels,
                                    px.data.data(), quality);
    return sink.finish(rc);
}

Pixels resize(const Pixels& px, int width, int height) {
    require_well_formed(px, "resize");
    std::size_t bytes = 0;
    if (width <= 0 || height <= 0 ||
        __builtin_mul_overflow(std::size_t(width), std::size_t(height), &bytes) ||
        __builtin_mul_overflow(bytes, std::size_t(px.channels), &bytes) ||
        std::size_t(width) * std::size_t(px.channels) > std::size_t(INT_MAX))
        throw_invalid_arg("resize: width and height must be positive and the result addressable");
    Pixels out = blank_pixels(width, height, px.channels);
    // With the alpha channel named, stb premultiplies before filtering and divides after, so a
    // transparent neighbour's colour does not bleed (darken) into the edges of opaque areas.
    const int alpha = (px.channels == 2 || px.channels == 4) ? px.channels - 1
                                                             : STBIR_ALPHA_CHANNEL_NONE;
    int rc = stbir_resize_uint8_srgb(px.data.data(), px.width, px.height,
                                     static_cast<int>(px.stride()), out.data.data(), width, height,
                                     static_cast<int>(out.stride()), px.channels, alpha, 0);
    if (rc == 0) throw std::bad_alloc();  // stb_image_resize fails only when out of memory
    return out;
}

}  // namespace nbcore::image
