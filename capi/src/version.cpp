#include "nbcore/nbcore.h"

extern "C" {

NBC_API(int) nbc_version_number(void) { return NBC_VERSION_NUMBER; }
NBC_API(const char*) nbc_version_string(void) { return NBC_VERSION_STRING; }

}
