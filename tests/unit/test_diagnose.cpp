// diagnose(): decode a body obtained anywhere, validate its images, classify.
#include <catch2/catch.hpp>

#include <string>

#include "nbcore/codec.hpp"
#include "nbcore/image.hpp"
#include "nbcore/policy.hpp"

using namespace nbcore;

namespace {

const SystemTime kNow{std::chrono::seconds(1'765'000'000)};

std::string reply_with_image(const Blob& image, const char* mime) {
    return std::string(R"({"candidates":[{"content":{"role":"model","parts":[{"inlineData":{"mimeType":")") + mime +
           R"(","data":")" + api::base64_encode(image.data(), image.size()) +
           R"("}}]},"finishReason":"STOP","index":0}],"modelVersion":"gemini-2.5-flash-image"})";
}

image::Pixels pixels(int w, int h, bool flat) {
    image::Pixels p;
    p.width = w;
    p.height = h;
    p.channels = 3;
    p.data.resize(std::size_t(w) * h * 3);
    for (std::size_t i = 0; i < p.data.size(); ++i)
        p.data.data()[i] = flat ? 90 : static_cast<std::uint8_t>((i * 37) ^ (i >> 7));
    return p;
}

}  // namespace

TEST_CASE("diagnose: a good reply is OK", "[diagnose]") {
    auto png = image::encode_png(pixels(64, 48, false));
    auto d = policy::diagnose(200, reply_with_image(png, "image/png"), {}, kNow);
    CHECK(d.code == Status::OK);
}

TEST_CASE("diagnose: images in a 200 reply are validated", "[diagnose]") {
    auto blank = image::encode_png(pixels(64, 48, true));
    auto d = policy::diagnose(200, reply_with_image(blank, "image/png"), {}, kNow);
    CHECK(d.code == Status::BLANK_IMAGE);
    CHECK(d.retryable);
    CHECK_FALSE(d.advice.empty());

    auto png = image::encode_png(pixels(64, 48, false));
    Blob cut(png.data(), png.size() / 2);
    d = policy::diagnose(200, reply_with_image(cut, "image/png"), {}, kNow);
    CHECK(d.code == Status::BAD_RESPONSE);
}

TEST_CASE("diagnose: error bodies, HTML pages and headers", "[diagnose]") {
    const std::string rpm = R"({"error":{"code":429,"message":"You exceeded your current quota.","status":"RESOURCE_EXHAUSTED","details":[
      {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
      {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"12s"}]}})";
    auto d = policy::diagnose(429, rpm, {}, kNow);
    CHECK(d.code == Status::RATE_LIMITED);
    CHECK(d.dimension == Dimension::RPM);
    REQUIRE(d.retry_after);
    CHECK(d.retry_after->count() == 12000);

    // A Retry-After header longer than RetryInfo wins.
    d = policy::diagnose(429, rpm, {{"Retry-After", "30"}}, kNow);
    REQUIRE(d.retry_after);
    CHECK(d.retry_after->count() == 30000);

    d = policy::diagnose(502, "<!DOCTYPE html><html><title>Error 502 (Server Error)!!1</title></html>",
                         {{"Content-Type", "text/html; charset=UTF-8"}}, kNow);
    CHECK(d.code == Status::BAD_GATEWAY);

    d = policy::diagnose(200, R"({"candidates":[{"content":{"parts":[{"text":"partial"}]}}])" "\n{\"err",
                         {}, kNow);
    CHECK(d.code == Status::BAD_RESPONSE);

    d = policy::diagnose(200, "data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}\r\n\r\n",
                         {{"content-type", "text/event-stream"}}, kNow);
    CHECK(d.code == Status::BLOCKED_SAFETY);
    CHECK(d.safety_layer == 1);
}
