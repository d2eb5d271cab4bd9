// Status table, base64 and Blob: the pieces every other module stands on.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <string>

#include "nbcore/blob.hpp"
#include "nbcore/codec.hpp"
#include "nbcore/models.hpp"
#include "nbcore/status.hpp"

using namespace nbcore;

TEST_CASE("every status has a name that round-trips", "[status]") {
    for (int i = 0; i < kStatusCount; ++i) {
        auto s = static_cast<Status>(i);
        auto name = status_name(s);
        REQUIRE(!name.empty());
        REQUIRE(status_from_name(name) == s);
        REQUIRE(!status_summary(s).empty());
    }
    REQUIRE(status_name(static_cast<Status>(kStatusCount)) == "UNKNOWN_STATUS");
    REQUIRE(status_name(Status::BLOCKED_POLICY) == "BLOCKED_POLICY");
    REQUIRE(static_cast<int>(Status::INTERNAL) == 21);
}

TEST_CASE("dimension names round-trip", "[status]") {
    for (auto d : {Dimension::RPM, Dimension::TPM, Dimension::IPM, Dimension::RPD, Dimension::ZERO,
                   Dimension::UNKNOWN})
        REQUIRE(dimension_from_name(dimension_name(d)) == d);
    REQUIRE(dimension_from_name("nonsense") == std::nullopt);
}

TEST_CASE("base64 round-trips every length and chunking", "[base64]") {
    std::mt19937 gen(7);
    for (std::size_t n = 0; n < 70; ++n) {
        std::string raw(n, '\0');
        for (auto& c : raw) c = static_cast<char>(gen());
        std::string enc = api::base64_encode(reinterpret_cast<const std::uint8_t*>(raw.data()), n);
        REQUIRE(enc.size() % 4 == 0);
        for (std::size_t chunk : {std::size_t(1), std::size_t(3), std::size_t(5), enc.size() + 1}) {
            api::Base64Decoder dec;
            Blob out;
            for (std::size_t i = 0; i < enc.size(); i += chunk)
                REQUIRE(dec.feed(enc.data() + i, std::min(chunk, enc.size() - i), out));
            REQUIRE(dec.finish(out));
            REQUIRE(out.view() == raw);
        }
    }
}

TEST_CASE("base64 rejects bad input", "[base64]") {
    for (const char* bad : {"A", "AB=C", "ABC=D", "A===", "AB*D", "ABCD=", "AB==CD"}) {
        api::Base64Decoder dec;
        Blob out;
        bool ok = dec.feed(bad, std::strlen(bad), out) && dec.finish(out);
        INFO(bad);
        REQUIRE_FALSE(ok);
    }
    api::Base64Decoder dec;
    Blob out;
    REQUIRE(dec.feed("QUJD", 4, out));   // "ABC"
    REQUIRE(dec.feed("RA", 2, out));      // unpadded tail
    REQUIRE(dec.finish(out));
    REQUIRE(out.view() == "ABCD");
}

TEST_CASE("blob grows past the mapping threshold without losing bytes", "[blob]") {
    Blob b;
    std::string expect;
    for (int i = 0; i < 5000; ++i) {
        std::string piece(997, static_cast<char>('a' + i % 26));
        b.append(piece.data(), piece.size());
        expect += piece;
    }
    REQUIRE(b.size() == expect.size());
    REQUIRE(b.view() == expect);
    b.shrink_to_fit();
    REQUIRE(b.view() == expect);
    Blob moved = std::move(b);
    REQUIRE(moved.size() == expect.size());
    REQUIRE(b.size() == 0);
}

TEST_CASE("output sizes follow the reference tables", "[models]") {
    REQUIRE(output_size(kModelFlash, "16:9", "")->width == 1344);
    REQUIRE_FALSE(output_size(kModelFlash, "16:9", "2K"));
    auto s = output_size(kModelPro, "16:9", "4K");
    REQUIRE(s);
    REQUIRE(s->width == 5504);
    REQUIRE(s->height == 3072);
    REQUIRE(output_size(kModelPro, "", "")->width == 1024);
    REQUIRE_FALSE(output_size(kModelPro, "16:10", "1K"));
    REQUIRE_FALSE(output_size(kModelPro, "1:1", "4k"));
    REQUIRE(output_image_tokens(kModelPro, "4K") == 2000);
    REQUIRE(output_image_tokens(kModelPro, "2K") == 1120);
    REQUIRE(output_image_tokens(kModelFlash, "") == 1290);
    REQUIRE(nearest_aspect_ratio(1920, 1080) == "16:9");
    REQUIRE(nearest_aspect_ratio(1000, 1000) == "1:1");
    REQUIRE(canonical_model_id("models/nano-banana-pro-preview") == kModelPro);
}

#include "nbcore/redact.hpp"

TEST_CASE("redact removes keys in every form", "[redact]") {
    // Built at run time so no key-shaped literal sits in the tree.
    std::string key = std::string("AI") + "za" + "SyA1234567890abcdefghijklmnopqrstuv";
    REQUIRE(key.size() == 39);
    REQUIRE(redact("Invalid API key: " + key) == "Invalid API key: [REDACTED]");
    REQUIRE(redact("GET /v1beta/models?key=secret123&x=1") == "GET /v1beta/models?key=[REDACTED]&x=1");
    REQUIRE(redact("my key is test-key-0001, see", "test-key-0001") == "my key is [REDACTED], see");
    REQUIRE(redact("short keys like abc are not masked", "abc") == "short keys like abc are not masked");
    REQUIRE(redact("AIzaShort stays") == "AIzaShort stays");
}
