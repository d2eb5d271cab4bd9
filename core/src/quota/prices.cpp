// The price table: published defaults, and overrides from JSON.
//
// Defaults, from the pricing page (ai.google.dev/gemini-api/docs/pricing) as quoted in
// shared/reference/gemini-wire.md section 3.7:
//   gemini-3-pro-image-preview  online: image $0.134 at 1K and 2K (1120 tokens at $120/1M),
//                               $0.24 at 4K (2000 tokens); input $2.00/1M (an input image is 560
//                               tokens, $0.0011); text and thinking output $12/1M.
//                               batch: $0.067 (1K/2K), $0.12 (4K); tokens at half the online rate
//                               (the Batch API is billed at 50%).
//   gemini-2.5-flash-image      online: image $0.039 (1290 tokens at $30/1M); input $0.30/1M.
//                               batch: $0.0195 per image; input $0.15/1M.
//                               Text output is not quoted for the image model in the reference; we
//                               charge Gemini 2.5 Flash's text output rate, $2.50/1M ($1.25 batch).
#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "nbcore/cost.hpp"
#include "nbcore/models.hpp"
#include "nbcore/status.hpp"

namespace nbcore::quota {
namespace {

using json = nlohmann::json;

std::string normalized_size(std::string_view size) { return size.empty() ? std::string("1K") : std::string(size); }

[[noreturn]] void bad_field(const std::string& path, const std::string& why) {
    throw Error(Status::INVALID_ARG, "price table: " + path + ": " + why,
                "Fix that field of the price JSON; the expected shape is {\"models\": {\"<model id>\": "
                "{\"online\"|\"batch\": {\"input_per_million\": n, \"output_text_per_million\": n, "
                "\"image\": {\"1K\"|\"2K\"|\"4K\": usd}}}}} with non-negative numbers.");
}

double price_value(const json& v, const std::string& path) {
    if (!v.is_number()) bad_field(path, "expected a number, got " + std::string(v.type_name()));
    double d = v.get<double>();
    if (!std::isfinite(d) || d < 0) bad_field(path, "expected a non-negative number, got " + v.dump());
    return d;
}

std::optional<Mode> mode_from_name(std::string_view name) {
    if (name == "online") return Mode::Online;
    if (name == "batch") return Mode::Batch;
    return std::nullopt;
}

}  // namespace

PriceTable PriceTable::none() { return PriceTable{}; }

PriceTable PriceTable::defaults() {
    PriceTable t;
    const std::string pro(kModelPro), flash(kModelFlash);
    // Nano Banana Pro.
    t.set_image_price(pro, "1K", Mode::Online, 0.134);
    t.set_image_price(pro, "2K", Mode::Online, 0.134);
    t.set_image_price(pro, "4K", Mode::Online, 0.24);
    t.set_image_price(pro, "1K", Mode::Batch, 0.067);
    t.set_image_price(pro, "2K", Mode::Batch, 0.067);
    t.set_image_price(pro, "4K", Mode::Batch, 0.12);
    t.set_token_price(pro, Mode::Online, 2.00, 12.00);
    t.set_token_price(pro, Mode::Batch, 1.00, 6.00);
    // Nano Banana: one output size.
    t.set_image_price(flash, "1K", Mode::Online, 0.039);
    t.set_image_price(flash, "1K", Mode::Batch, 0.0195);
    t.set_token_price(flash, Mode::Online, 0.30, 2.50);
    t.set_token_price(flash, Mode::Batch, 0.15, 1.25);
    return t;
}

void PriceTable::set_image_price(std::string_view model, std::string_view size, Mode mode, double usd_per_image) {
    const std::string id = canonical_model_id(model);
    const std::string sz = normalized_size(size);
    for (auto& p : images_) {
        if (p.model == id && p.size == sz && p.mode == mode) {
            p.usd_per_image = usd_per_image;
            return;
        }
    }
    images_.push_back({id, sz, mode, usd_per_image});
}

void PriceTable::set_token_price(std::string_view model, Mode mode, double input_per_million,
                                 double output_text_per_million) {
    const std::string id = canonical_model_id(model);
    for (auto& p : tokens_) {
        if (p.model == id && p.mode == mode) {
            p.input_per_million = input_per_million;
            p.output_text_per_million = output_text_per_million;
            return;
        }
    }
    tokens_.push_back({id, mode, input_per_million, output_text_per_million});
}

std::optional<double> PriceTable::image_price(std::string_view model, std::string_view size, Mode mode) const {
    const std::string id = canonical_model_id(model);
    const std::string sz = normalized_size(size);
    for (const auto& p : images_)
        if (p.model == id && p.size == sz && p.mode == mode) return p.usd_per_image;
    return std::nullopt;
}

std::optional<TokenPrice> PriceTable::token_price(std::string_view model, Mode mode) const {
    const std::string id = canonical_model_id(model);
    for (const auto& p : tokens_)
        if (p.model == id && p.mode == mode) return p;
    return std::nullopt;
}

PriceTable PriceTable::from_json(std::string_view text, PriceTable base) {
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) bad_field("(document)", "not valid JSON");
    if (!doc.is_object()) bad_field("(document)", "expected an object");
    for (const auto& [key, _] : doc.items())
        if (key != "models") bad_field(key, "unknown field (only \"models\" is read)");
    auto models = doc.find("models");
    if (models == doc.end()) return base;
    if (!models->is_object()) bad_field("models", "expected an object keyed by model id");
    for (const auto& [model, modes] : models->items()) {
        const std::string mpath = "models." + model;
        if (model.empty()) bad_field(mpath, "empty model id");
        if (!modes.is_object()) bad_field(mpath, "expected an object with \"online\" and/or \"batch\"");
        for (const auto& [mode_name, fields] : modes.items()) {
            const std::string path = mpath + "." + mode_name;
            auto mode = mode_from_name(mode_name);
            if (!mode) bad_field(path, "unknown mode (expected \"online\" or \"batch\")");
            if (!fields.is_object()) bad_field(path, "expected an object");
            auto current = base.token_price(model, *mode);
            double input = current ? current->input_per_million : 0;
            double output = current ? current->output_text_per_million : 0;
            bool tokens_given = false;
            for (const auto& [field, value] : fields.items()) {
                const std::string fpath = path + "." + field;
                if (field == "input_per_million") {
                    input = price_value(value, fpath);
                    tokens_given = true;
                } else if (field == "output_text_per_million") {
                    output = price_value(value, fpath);
                    tokens_given = true;
                } else if (field == "image") {
                    if (!value.is_object()) bad_field(fpath, "expected an object keyed by image size (1K, 2K, 4K)");
                    for (const auto& [size, usd_value] : value.items()) {
                        if (!is_valid_image_size(size))
                            bad_field(fpath + "." + size, "unknown image size (expected 1K, 2K or 4K)");
                        base.set_image_price(model, size, *mode, price_value(usd_value, fpath + "." + size));
                    }
                } else {
                    bad_field(fpath, "unknown field (expected input_per_million, output_text_per_million or image)");
                }
            }
            if (tokens_given) base.set_token_price(model, *mode, input, output);
        }
    }
    return base;
}

PriceTable PriceTable::from_file(const std::string& path, PriceTable base) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(Status::INVALID_ARG, "price table: cannot read " + path,
                    "Check the path of the price file and that it is readable.");
    std::ostringstream ss;
    ss << in.rdbuf();
    return from_json(ss.str(), std::move(base));
}

std::string PriceTable::to_json() const {
    json models = json::object();
    for (const auto& p : tokens_) {
        auto& m = models[p.model][std::string(mode_name(p.mode))];
        m["input_per_million"] = p.input_per_million;
        m["output_text_per_million"] = p.output_text_per_million;
    }
    for (const auto& p : images_) models[p.model][std::string(mode_name(p.mode))]["image"][p.size] = p.usd_per_image;
    return json{{"models", models}}.dump(2);
}

}  // namespace nbcore::quota
