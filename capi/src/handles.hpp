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
    // nbc_inpaint's results only: the patch as a layer (nbc_result_inpaint_layer), placed at
    // layer_x, layer_y in the image; empty for every other result.
    nbcore::image::Pixels inpaint_layer;
    int32_t layer_x = 0;
    int32_t layer_y = 0;
};

struct nbc_job {
    nbcore::JobPtr job;
};

struct nbc_cancel {
    nbcore::CancelToken token;
};
