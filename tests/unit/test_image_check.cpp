// image::check on good, damaged, hostile and foreign bytes: every case ends in a typed verdict.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <string>

#include <stb_image.h>
#include <stb_image_write.h>

#include "nbcore/status.hpp"
#include "test_image_helpers.hpp"

using namespace nbcore;
using namespace nbcore::image;
using namespace image_test;
using namespace std::string_literals;

namespace {

// A small picture (not blank) used as the base of the damage tests.
Pixels picture(int w = 64, int h = 48, int channels = 3) {
    return draw(w, h, channels, [](int x, int y) {
        return Colour{x * 4, y * 5, (x * y) % 256, 128 + x};
    });
}

Bytes text_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes operator+(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// A hand-made PNG: signature, IHDR, the given middle chunks, one IDAT with a real zlib stream
// of a w x h RGB image, IEND.
Bytes assemble_png(std::uint32_t w, std::uint32_t h, const std::vector<std::pair<std::string, Bytes>>& extra = {}) {
    Bytes encoded = png_of(picture(int(w), int(h)));
    std::size_t idat = find_chunk(encoded, "IDAT");
    std::uint32_t len = (std::uint32_t(encoded[idat]) << 24) | (std::uint32_t(encoded[idat + 1]) << 16) |
                        (std::uint32_t(encoded[idat + 2]) << 8) | encoded[idat + 3];
    Bytes zlib(encoded.begin() + long(idat) + 8, encoded.begin() + long(idat) + 8 + len);
    Bytes out = png_signature();
    put_chunk(out, "IHDR", ihdr(w, h));
    for (const auto& [type, payload] : extra) put_chunk(out, type.c_str(), payload);
    put_chunk(out, "IDAT", zlib);
    put_chunk(out, "IEND", {});
    return out;
}

// A zlib stream of stored (uncompressed) deflate blocks: lets a test build any PNG layout.
Bytes zlib_stored(const Bytes& raw) {
    Bytes z = {0x78, 0x01};
    std::size_t pos = 0;
    do {
        std::size_t n = std::min<std::size_t>(raw.size() - pos, 65535);
        bool last = pos + n == raw.size();
        z.push_back(last ? 1 : 0);
        z.insert(z.end(), {std::uint8_t(n), std::uint8_t(n >> 8), std::uint8_t(~n), std::uint8_t(~n >> 8)});
        z.insert(z.end(), raw.begin() + long(pos), raw.begin() + long(pos + n));
        pos += n;
    } while (pos < raw.size());
    std::uint32_t a = 1, b = 0;  // Adler-32
    for (std::uint8_t v : raw) {
        a = (a + v) % 65521;
        b = (b + a) % 65521;
    }
    put_be32(z, (b << 16) | a);
    return z;
}

// A PNG of `rows` (each already `row_bytes` long, no filter byte) with the given header fields.
Bytes png_from_rows(std::uint32_t w, const std::vector<Bytes>& rows, std::uint8_t depth,
                    std::uint8_t colour, const std::vector<std::pair<std::string, Bytes>>& extra = {}) {
    Bytes raw;
    for (const Bytes& row : rows) {
        raw.push_back(0);  // filter: none
        raw.insert(raw.end(), row.begin(), row.end());
    }
    Bytes png = png_signature();
    put_chunk(png, "IHDR", ihdr(w, std::uint32_t(rows.size()), depth, colour));
    for (const auto& [type, payload] : extra) put_chunk(png, type.c_str(), payload);
    put_chunk(png, "IDAT", zlib_stored(raw));
    put_chunk(png, "IEND", {});
    return png;
}

Bytes bmp_of(const Pixels& px) {
    Bytes out;
    stbi_write_bmp_to_func(
        [](void* ctx, void* data, int size) {
            auto* o = static_cast<Bytes*>(ctx);
            auto* p = static_cast<std::uint8_t*>(data);
            o->insert(o->end(), p, p + size);
        },
        &out, px.width, px.height, px.channels, px.data.data());
    return out;
}

// The classic smallest GIF: 1x1, one white pixel. Drawn as bytes because stb cannot write GIF.
const Bytes kTinyGif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0xFF, 0xFF, 0xFF,
                        0, 0, 0, ',', 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 'D', 1, 0, ';'};

}  // namespace

TEST_CASE("sniff_mime reads magic bytes", "[image][sniff]") {
    struct Case {
        Bytes bytes;
        std::string_view mime;
    };
    auto ftyp = [](const char* major, const char* compat) {
        Bytes b = {0, 0, 0, 24, 'f', 't', 'y', 'p'};
        b.insert(b.end(), major, major + 4);
        b.insert(b.end(), {0, 0, 0, 0});
        b.insert(b.end(), major, major + 4);
        b.insert(b.end(), compat, compat + 4);
        return b;
    };
    auto c = GENERATE_COPY(values<Case>({
        {png_signature(), "image/png"},
        {{0xFF, 0xD8, 0xFF, 0xE0}, "image/jpeg"},
        {text_bytes("GIF87a......"), "image/gif"},
        {text_bytes("GIF89a......"), "image/gif"},
        {text_bytes("RIFF\x10\0\0\0WEBPVP8 "s), "image/webp"},
        {text_bytes("BM") + Bytes(30, 0), "image/bmp"},
        {ftyp("heic", "mif1"), "image/heic"},
        {ftyp("mif1", "heic"), "image/heic"},
        {ftyp("mif1", "miaf"), "image/heif"},
        {ftyp("avif", "mif1"), "image/avif"},
        {ftyp("isom", "mp41"), ""},
        {text_bytes("RIFF\x10\0\0\0WAVEfmt "s), ""},
        {text_bytes("<!DOCTYPE html>"), ""},
        {{0x89, 'P', 'N'}, ""},
        {{}, ""},
    }));
    CHECK(sniff_mime(c.bytes.data(), c.bytes.size()) == c.mime);
    CHECK(sniff_mime(nullptr, 10).empty());
}

TEST_CASE("a good image: size, channels, mime, and kept pixels equal a direct decode", "[image][check]") {
    auto channels = GENERATE(1, 2, 3, 4);
    auto format = GENERATE(as<std::string>{}, "png", "jpeg");
    INFO(format << ", " << channels << " channels");
    Pixels original = picture(37, 23, channels);
    Bytes file = format == "png" ? png_of(original) : jpeg_of(original);

    Pixels kept;
    Check r = check_bytes(file, {}, &kept);
    REQUIRE(r.ok);
    CHECK(r.code == Status::OK);
    CHECK(r.mime == "image/" + format);
    CHECK(r.width == 37);
    CHECK(r.height == 23);

    int w = 0, h = 0, n = 0;
    stbi_uc* direct = stbi_load_from_memory(file.data(), int(file.size()), &w, &h, &n, 0);
    REQUIRE(direct);
    CHECK(r.channels == n);
    REQUIRE(kept.width == w);
    REQUIRE(kept.height == h);
    REQUIRE(kept.channels == n);
    REQUIRE(kept.data.size() == std::size_t(w) * h * n);
    CHECK(std::memcmp(kept.data.data(), direct, kept.data.size()) == 0);
    stbi_image_free(direct);
    if (format == "png") CHECK(same_pixels(kept, original));  // PNG is lossless
}

TEST_CASE("keep is untouched when nothing decoded, and filled for a blank image", "[image][check]") {
    Pixels kept = solid(2, 2, 1, {9, 0, 0, 0});
    Check bad = check_bytes(text_bytes("not an image at all"), {}, &kept);
    CHECK(bad.code == Status::BAD_RESPONSE);
    CHECK(kept.width == 2);

    Check blank = check_bytes(png_of(solid(5, 4, 3, {1, 2, 3, 0})), {}, &kept);
    CHECK(blank.code == Status::BLANK_IMAGE);
    CHECK(same_pixels(kept, solid(5, 4, 3, {1, 2, 3, 0})));
}

TEST_CASE("a 1x1 image decodes and, carrying no picture, is blank", "[image][check]") {
    Pixels kept;
    Check r = check_bytes(png_of(solid(1, 1, 3, {10, 200, 30, 255})), {}, &kept);
    CHECK(r.width == 1);
    CHECK(r.height == 1);
    CHECK(r.code == Status::BLANK_IMAGE);
    REQUIRE(kept.data.size() == 3);
    CHECK(kept.data.data()[1] == 200);
}

TEST_CASE("empty, foreign and unsupported bytes", "[image][check]") {
    struct Case {
        const char* name;
        Bytes bytes;
        std::string reason_start;
    };
    std::mt19937 gen(11);
    Bytes garbage(5000);
    for (auto& b : garbage) b = static_cast<std::uint8_t>(gen());
    garbage[0] = 0x42;  // keep it from starting with a real magic by chance
    Bytes webp = text_bytes("RIFF\x24\0\0\0WEBPVP8 "s) + Bytes(40, 0x10);
    Bytes heic = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'h', 'e', 'i', 'c', 0, 0, 0, 0,
                  'm', 'i', 'f', '1', 'h', 'e', 'i', 'c', 0, 0, 0, 8, 'm', 'e', 't', 'a'};
    auto c = GENERATE_COPY(values<Case>({
        {"zero bytes", {}, "empty image data"},
        {"random garbage", garbage, "not an image: unrecognised format (first bytes 42 "},
        {"an HTML error page", text_bytes("<html><body>502 Bad Gateway</body></html>"),
         "not an image: unrecognised format (first bytes 3c 68 74 6d 6c 3e 3c 62, looks like HTML"},
        {"JSON", text_bytes("  {\"error\": {}}"), "not an image: unrecognised format (first bytes 20 20 7b"},
        {"webp", webp, "cannot validate image/webp: unsupported format"},
        {"heic", heic, "cannot validate image/heic: unsupported format"},
    }));
    INFO(c.name);
    Check r = check_bytes(c.bytes);
    CHECK_FALSE(r.ok);
    CHECK(r.code == Status::BAD_RESPONSE);
    CHECK(starts_with(r.reason, c.reason_start));
    CHECK(nbcore::image::check(nullptr, 0).reason == "empty image data");
}

TEST_CASE("damaged PNGs are refused before decoding", "[image][check][png]") {
    const Bytes good = png_of(picture());
    REQUIRE(check_bytes(good).ok);
    const std::size_t idat = find_chunk(good, "IDAT");
    const std::size_t iend = find_chunk(good, "IEND");
    REQUIRE(idat != std::string::npos);
    REQUIRE(iend == good.size() - 12);

    SECTION("flipped bytes inside IDAT: CRC mismatch") {
        Bytes bad = good;
        bad[idat + 8 + 20] ^= 0x01;
        bad[idat + 8 + 21] ^= 0x80;
        Check r = check_bytes(bad);
        CHECK(r.code == Status::BAD_RESPONSE);
        CHECK(r.reason == "corrupt PNG: CRC mismatch in the IDAT chunk at offset " + std::to_string(idat));
    }
    SECTION("a flipped bit in IHDR: CRC mismatch") {
        Bytes bad = good;
        bad[8 + 8 + 3] ^= 0x04;  // the width's low byte
        CHECK(check_bytes(bad).reason == "corrupt PNG: CRC mismatch in the IHDR chunk at offset 8");
    }
    SECTION("cut in half") {
        Bytes bad(good.begin(), good.begin() + long(good.size() / 2));
        Check r = check_bytes(bad);
        CHECK(r.code == Status::BAD_RESPONSE);
        CHECK(starts_with(r.reason, "truncated PNG: no IEND chunk (data ends inside the IDAT chunk at offset"));
    }
    SECTION("cut just before IEND") {
        Bytes bad(good.begin(), good.begin() + long(iend));
        CHECK(check_bytes(bad).reason == "truncated PNG: no IEND chunk");
    }
    SECTION("cut inside IEND") {
        Bytes bad(good.begin(), good.end() - 3);
        CHECK(starts_with(check_bytes(bad).reason, "truncated PNG: no IEND chunk (data ends inside a chunk header"));
    }
    SECTION("a damaged signature is not a PNG any more") {
        Bytes bad = good;
        bad[4] = '\n';
        CHECK(starts_with(check_bytes(bad).reason, "not an image: unrecognised format"));
    }
    SECTION("trailing bytes after IEND are tolerated and noted") {
        Bytes padded = good;
        padded.insert(padded.end(), 17, 0);
        Check r = check_bytes(padded);
        CHECK(r.ok);
        CHECK(r.reason == "17 trailing bytes after IEND ignored");
    }
}

TEST_CASE("hand-made PNG chunk sequences", "[image][check][png]") {
    SECTION("ancillary chunks of every small length pass the CRC check") {
        // Lengths 0..70 exercise the table-driven CRC's 16-byte steps and its byte tail.
        for (std::size_t len = 0; len <= 70; ++len) {
            Bytes text(len);
            for (std::size_t i = 0; i < len; ++i) text[i] = static_cast<std::uint8_t>('a' + i % 26);
            Check r = check_bytes(assemble_png(20, 10, {{"tEXt", text}}));
            INFO("length " << len << ": " << r.reason);
            CHECK(r.ok);
        }
    }
    SECTION("IEND before any IDAT") {
        Bytes png = png_signature();
        put_chunk(png, "IHDR", ihdr(4, 4));
        put_chunk(png, "IEND", {});
        CHECK(check_bytes(png).reason == "corrupt PNG: no IDAT chunk before IEND");
    }
    SECTION("a first chunk other than IHDR") {
        Bytes png = png_signature();
        put_chunk(png, "gAMA", {0, 0, 0xB1, 0x8F});
        put_chunk(png, "IHDR", ihdr(4, 4));
        CHECK(check_bytes(png).reason == "corrupt PNG: the first chunk is gAMA, not IHDR");
    }
    SECTION("a chunk type that is not four letters") {
        Bytes png = assemble_png(8, 8);
        png[find_chunk(png, "IDAT") + 5] = '1';
        CHECK(starts_with(check_bytes(png).reason, "corrupt PNG: invalid chunk type at offset"));
    }
    SECTION("a chunk length beyond 2^31") {
        Bytes png = png_signature();
        put_chunk(png, "IHDR", ihdr(4, 4));
        put_be32(png, 0xFFFFFFF0u);
        png.insert(png.end(), {'I', 'D', 'A', 'T', 0, 0, 0, 0});
        CHECK(check_bytes(png).reason == "corrupt PNG: IDAT chunk at offset 33 claims 4294967280 bytes");
    }
    SECTION("a zero-sized IHDR") {
        Bytes png = png_signature();
        put_chunk(png, "IHDR", ihdr(0, 4));
        CHECK(starts_with(check_bytes(png).reason, "corrupt PNG: IHDR gives impossible size 0x4"));
    }
    SECTION("an invalid zlib stream with good CRCs is left to the decoder, which refuses it") {
        Bytes png = png_signature();
        put_chunk(png, "IHDR", ihdr(4, 4));
        put_chunk(png, "IDAT", {0x78, 0x9C, 0xFF, 0xFF, 0xFF, 0xFF});
        put_chunk(png, "IEND", {});
        Check r = check_bytes(png);
        CHECK(r.code == Status::BAD_RESPONSE);
        CHECK(starts_with(r.reason, "corrupt PNG: "));
    }
}

TEST_CASE("PNG depths and colour types arrive as 8-bit pixels", "[image][check][png]") {
    SECTION("16-bit RGB: the high bytes survive") {
        Bytes row0 = {0x12, 0x34, 0x80, 0x00, 0xFF, 0xFF, 0x00, 0x01, 0x40, 0x00, 0xC0, 0x00};
        Bytes row1 = {0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00, 0x00};
        Pixels kept;
        Check r = check_bytes(png_from_rows(2, {row0, row1}, 16, 2), {}, &kept);
        REQUIRE(r.ok);
        CHECK(r.channels == 3);
        REQUIRE(kept.data.size() == 12);
        CHECK(kept.data.data()[0] == 0x12);
        CHECK(kept.data.data()[1] == 0x80);
        CHECK(kept.data.data()[2] == 0xFF);
    }
    SECTION("palette with transparency expands to RGBA") {
        Bytes plte = {255, 0, 0, 0, 0, 255};
        Bytes trns = {255, 0};
        std::vector<Bytes> rows(4, Bytes{0, 1, 0, 1});
        Pixels kept;
        Check r = check_bytes(png_from_rows(4, rows, 8, 3, {{"PLTE", plte}, {"tRNS", trns}}), {}, &kept);
        REQUIRE(r.ok);
        CHECK(r.channels == 4);
        CHECK(r.stats.transparent_fraction == Approx(0.5));
        CHECK(kept.data.data()[0] == 255);  // red, opaque
        CHECK(kept.data.data()[3] == 255);
        CHECK(kept.data.data()[7] == 0);    // blue, transparent
    }
    SECTION("1-bit grey") {
        std::vector<Bytes> rows = {{0xF0}, {0x0F}};
        Pixels kept;
        Check r = check_bytes(png_from_rows(8, rows, 1, 0), {}, &kept);
        REQUIRE(r.ok);
        CHECK(r.channels == 1);
        CHECK(kept.data.data()[0] == 255);
        CHECK(kept.data.data()[4] == 0);
    }
    SECTION("IDAT that inflates to fewer bytes than the header promises") {
        std::vector<Bytes> rows(3, Bytes(12, 7));
        Bytes png = png_from_rows(4, rows, 8, 2);
        // Rewrite IHDR to claim 9 rows: the stream now runs short.
        Bytes fixed = png_signature();
        put_chunk(fixed, "IHDR", ihdr(4, 9));
        std::size_t idat = find_chunk(png, "IDAT");
        fixed.insert(fixed.end(), png.begin() + long(idat), png.end());
        Check r = check_bytes(fixed);
        CHECK(r.code == Status::BAD_RESPONSE);
        CHECK(r.reason == "corrupt PNG: not enough pixels");
    }
}

TEST_CASE("sizes are checked from the header before any pixel is allocated", "[image][check][limits]") {
    SECTION("a PNG claiming 100000x100000 (40 GB of pixels) is refused at once") {
        Bytes png = png_signature();
        put_chunk(png, "IHDR", ihdr(100000, 100000));
        put_chunk(png, "IDAT", {0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01});
        put_chunk(png, "IEND", {});
        auto start = std::chrono::steady_clock::now();
        Check r = check_bytes(png);
        auto took = std::chrono::steady_clock::now() - start;
        CHECK(r.code == Status::BAD_RESPONSE);
        CHECK(r.reason == "image 100000x100000 exceeds the 64 Mpixel limit");
        CHECK(r.width == 100000);
        CHECK(took < std::chrono::milliseconds(50));
    }
    SECTION("width, height and pixel limits each name themselves") {
        struct Case {
            Limits limits;
            const char* reason;
        };
        Limits narrow;
        narrow.max_width = 63;
        Limits low;
        low.max_height = 40;
        Limits few;
        few.max_pixels = 3000;
        auto c = GENERATE_COPY(values<Case>({
            {narrow, "image 64x48 exceeds the 63-pixel width limit"},
            {low, "image 64x48 exceeds the 40-pixel height limit"},
            {few, "image 64x48 exceeds the 3000-pixel limit"},
        }));
        for (const Bytes& file : {png_of(picture()), jpeg_of(picture()), bmp_of(picture())}) {
            Check r = check_bytes(file, c.limits);
            INFO(r.mime);
            CHECK(r.code == Status::BAD_RESPONSE);
            CHECK(r.reason == c.reason);
        }
    }
    SECTION("more encoded bytes than max_encoded_bytes") {
        Bytes png = png_of(picture());
        Limits small;
        small.max_encoded_bytes = png.size() - 1;
        Check r = check_bytes(png, small);
        CHECK(r.code == Status::BAD_RESPONSE);
        CHECK(r.reason == "image data of " + std::to_string(png.size()) + " bytes exceeds the " +
                              std::to_string(png.size() - 1) + "-byte limit");
        small.max_encoded_bytes = png.size();
        CHECK(check_bytes(png, small).ok);
    }
    SECTION("a JPEG header claiming 60000x60000") {
        Bytes jpeg = jpeg_of(picture());
        for (std::size_t i = 2; i + 9 < jpeg.size(); ++i)
            if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0) {
                jpeg[i + 5] = 0xEA, jpeg[i + 6] = 0x60;  // height 60000
                jpeg[i + 7] = 0xEA, jpeg[i + 8] = 0x60;  // width 60000
                break;
            }
        CHECK(check_bytes(jpeg).reason == "image 60000x60000 exceeds the 64 Mpixel limit");
    }
}

TEST_CASE("damaged JPEGs", "[image][check][jpeg]") {
    const Bytes good = jpeg_of(picture(80, 60));
    REQUIRE(check_bytes(good).ok);
    SECTION("truncated") {
        auto keep = GENERATE(0.9, 0.5, 0.1);
        Bytes bad(good.begin(), good.begin() + long(double(good.size()) * keep));
        Check r = check_bytes(bad);
        CHECK(r.code == Status::BAD_RESPONSE);
        CHECK(r.reason == "truncated JPEG: no EOI marker");
    }
    SECTION("zero padding after EOI is fine") {
        Bytes padded = good;
        padded.insert(padded.end(), 100, 0);
        CHECK(check_bytes(padded).ok);
    }
    SECTION("no SOF before the scan") {
        Bytes bad = {0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xDA, 0, 2, 0x12, 0x34, 0xFF, 0xD9};
        CHECK(check_bytes(bad).reason == "corrupt JPEG: no SOF marker before the scan data");
    }
    SECTION("a segment length running past the end") {
        Bytes bad = {0xFF, 0xD8, 0xFF, 0xE1, 0x40, 0x00, 1, 2, 3, 0xFF, 0xD9};
        CHECK(check_bytes(bad).reason == "corrupt JPEG: segment FFE1 at offset 2 has bad length 16384");
    }
}

TEST_CASE("GIF and BMP", "[image][check]") {
    SECTION("a tiny GIF decodes") {
        Check r = check_bytes(kTinyGif);
        CHECK(r.mime == "image/gif");
        CHECK(r.width == 1);
        CHECK(r.code == Status::BLANK_IMAGE);  // decoded; one pixel is no picture
    }
    SECTION("a GIF whose screen is 0 pixels wide is corrupt, not blank") {
        // Found by tests/fuzz/fuzz_image: stb decodes it to no pixels, which read as BLANK_IMAGE
        // (a billed retry with "simplify the prompt" advice) instead of a corrupt reply.
        Bytes empty = kTinyGif;
        empty[6] = empty[7] = 0;
        Check r = check_bytes(empty);
        CHECK(r.code == Status::BAD_RESPONSE);
        CHECK(r.reason == "corrupt GIF: the header gives no pixels (0x1)");
    }
        SECTION("a GIF without its trailer is truncated") {
        Bytes cut(kTinyGif.begin(), kTinyGif.end() - 1);
        CHECK(check_bytes(cut).reason == "truncated GIF: no trailer");
    }
    SECTION("a BMP decodes, a cut one is refused") {
        Bytes bmp = bmp_of(picture());
        Pixels kept;
        Check r = check_bytes(bmp, {}, &kept);
        CHECK(r.ok);
        CHECK(r.mime == "image/bmp");
        CHECK(same_pixels(kept, picture()));
        Bytes cut(bmp.begin(), bmp.end() - 100);
        CHECK(starts_with(check_bytes(cut).reason, "truncated BMP: the pixel rows need"));
    }
}

TEST_CASE("every prefix and many byte flips end in a typed verdict", "[image][check][robust]") {
    std::mt19937 gen(2024);
    for (const Bytes& good : {png_of(picture(16, 12, 4)), jpeg_of(picture(16, 12)), bmp_of(picture(9, 7)), kTinyGif}) {
        std::string mime(sniff_mime(good.data(), good.size()));
        INFO(mime);
        for (std::size_t cut = 0; cut < good.size(); ++cut) {
            Check r = check_bytes(Bytes(good.begin(), good.begin() + long(cut)));
            INFO("prefix " << cut << ": " << r.reason);
            CHECK_FALSE(r.ok);
            CHECK(r.code == Status::BAD_RESPONSE);
            CHECK_FALSE(r.reason.empty());
        }
        for (int trial = 0; trial < 300; ++trial) {
            // Three flips at distinct offsets, so no flip can undo another.
            Bytes bad = good;
            std::size_t at[3];
            for (int k = 0; k < 3; ++k) {
                do at[k] = gen() % bad.size();
                while ((k > 0 && at[k] == at[0]) || (k > 1 && at[k] == at[1]));
                bad[at[k]] ^= static_cast<std::uint8_t>(1u << (gen() % 8));
            }
            Pixels kept;
            Check r = check_bytes(bad, {}, &kept);
            INFO("trial " << trial << ": " << r.reason);
            bool typed = r.code == Status::OK || r.code == Status::BLANK_IMAGE || r.code == Status::BAD_RESPONSE;
            CHECK(typed);
            CHECK(r.ok == (r.code == Status::OK));
            if (r.ok) CHECK(kept.data.size() == std::size_t(kept.width) * kept.height * kept.channels);
            // A PNG's CRCs catch every flip that a decoder might otherwise swallow.
            if (mime == "image/png") CHECK(r.code == Status::BAD_RESPONSE);
        }
    }
}
