// The opaque handles of the C ABI: thin shells around engine objects.
#pragma once

#include <memory>

#include "nbcore/client.hpp"
#include "nbcore/clock.hpp"
#include "nbcore/nbcore.h"

struct nbc_client {
    std::unique_ptr<nbcore::Client> client;
};

struct nbc_request {
    nbcore::Request req;
};

struct nbc_result {
    nbcore::Result res;
};

struct nbc_job {
    nbcore::JobPtr job;
};

struct nbc_cancel {
    nbcore::CancelToken token;
};
