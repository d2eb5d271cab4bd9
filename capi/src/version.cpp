// Version and process-wide setup.
#include <string>

#include "guard.hpp"
#include "nbcore/io_loop.hpp"
#include "nbcore/nbcore.h"

using nbcapi::guard;
using nbcapi::invalid_arg;

namespace {

std::string version_text(int number) {
    return std::to_string(number / 10000) + "." + std::to_string(number / 100 % 100) + "." +
           std::to_string(number % 100);
}

}  // namespace

extern "C" {

NBC_API(int) nbc_version_number(void) { return NBC_VERSION_NUMBER; }
NBC_API(const char*) nbc_version_string(void) { return NBC_VERSION_STRING; }

NBC_API(int) nbc_version_check(int header_version) {
    return guard([&] {
        if (header_version <= 0)
            invalid_arg("header_version is " + std::to_string(header_version) + "; pass NBC_VERSION_NUMBER");
        int major = header_version / 10000, minor = header_version / 100 % 100;
        if (major != NBC_VERSION_MAJOR || minor > NBC_VERSION_MINOR)
            invalid_arg("the program was compiled against nbcore.h " + version_text(header_version) +
                        " but the library loaded is " + std::string(NBC_VERSION_STRING) +
                        "; install libnbcore " + std::to_string(major) + "." + std::to_string(minor) +
                        " or newer within major version " + std::to_string(major) +
                        ", or rebuild the program against the installed header");
    });
}

NBC_API(int) nbc_global_init(uint32_t flags) {
    return guard([&] {
        if (flags != NBC_GLOBAL_DEFAULT)
            invalid_arg("flags is " + std::to_string(flags) + "; pass NBC_GLOBAL_DEFAULT (0)");
        // Creating the shared loop runs libcurl's global init first; both are idempotent.
        nbcore::net::default_io_loop();
        nbcore::net::default_worker_pool();
    });
}

}
