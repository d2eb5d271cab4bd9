// SHA-256 (FIPS 180-4), for the Files API's sha256Hash. Small and self-contained: the emulator
// links no crypto library.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace nbcore::emulator {

std::array<std::uint8_t, 32> sha256(std::string_view data);
// Lowercase hex of the digest.
std::string sha256_hex(std::string_view data);

}  // namespace nbcore::emulator
