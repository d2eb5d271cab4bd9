// The in-process emulator and a client pointed at it with fast retries: what every integration
// test file starts from.
#pragma once

#include <chrono>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "nbcore/client.hpp"
#include "nbcore_emulator/emulator.hpp"

namespace nbtest {

// A started emulator accepting `key`. Fill `o` for latency, quotas and the like.
struct EmulatorFixture {
    std::string key;
    nbcore::emulator::Server server;

    explicit EmulatorFixture(std::string api_key, nbcore::emulator::Options o = {})
        : key(std::move(api_key)), server([&] {
              o.api_key = key;
              return o;
          }()) {
        server.start();
    }

    // The key, the emulator's URL, and backoffs of 10-50 ms so retries do not slow tests down.
    nbcore::ClientOptions client_options() const {
        using namespace std::chrono_literals;
        nbcore::ClientOptions o;
        o.api_key = key;
        o.base_url = server.url();
        o.retry.server = {10ms, 50ms};
        o.retry.gateway = o.retry.server;
        o.retry.rate = o.retry.server;
        return o;
    }

    void script(const nlohmann::json& s) { server.set_script(s.dump()); }
};

inline nbcore::emulator::Options with_latency(int latency_ms) {
    nbcore::emulator::Options o;
    o.latency_ms = latency_ms;
    return o;
}

inline nbcore::Request prompt(std::string text, std::string size = "", std::string aspect = "") {
    nbcore::Request r;
    r.prompt = std::move(text);
    r.image_size = std::move(size);
    r.aspect_ratio = std::move(aspect);
    return r;
}

}  // namespace nbtest
