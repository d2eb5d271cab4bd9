// A tiny libcurl client for the emulator tests: one call, one result with status, headers, body,
// curl's error, and when each piece of the body arrived (to see stalls and trickles).
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace emutest {

struct HttpResult {
    CURLcode code = CURLE_OK;
    std::string error;                                   // curl's error buffer
    long status = 0;
    std::multimap<std::string, std::string> headers;     // names lower-cased
    std::string body;
    double seconds = 0;                                  // whole transfer
    double first_byte_seconds = 0;                       // curl's time to first byte
    std::vector<std::pair<double, std::size_t>> pieces;  // (seconds since start, bytes) per body write

    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
    // The longest silence between two body pieces, in seconds.
    double longest_gap() const {
        double gap = 0;
        for (std::size_t i = 1; i < pieces.size(); ++i) gap = std::max(gap, pieces[i].first - pieces[i - 1].first);
        return gap;
    }
};

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    std::string body;
    std::vector<std::string> headers;   // "Name: value"
    long timeout_ms = 20000;
    bool gzip = false;                  // send Accept-Encoding: gzip and let curl decode
    long buffer_size = 0;               // curl's receive buffer; 0 = curl's default
};

namespace detail {

struct Sink {
    HttpResult* result;
    std::chrono::steady_clock::time_point start;
};

inline size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto* sink = static_cast<Sink*>(user);
    sink->result->body.append(data, size * n);
    double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - sink->start).count();
    sink->result->pieces.emplace_back(t, size * n);
    return size * n;
}

inline size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* result = static_cast<HttpResult*>(user);
    std::string line(data, size * n);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
        while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
        result->headers.emplace(name, value);
    }
    return size * n;
}

}  // namespace detail

// Prepares an easy handle for `req` writing into `result` (used alone or in a multi handle).
inline CURL* prepare(const HttpRequest& req, HttpResult& result, detail::Sink& sink, curl_slist*& header_list,
                     char* errbuf) {
    CURL* h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (req.method == "POST" || !req.body.empty()) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
    header_list = curl_slist_append(nullptr, "Expect:");
    for (const auto& line : req.headers) header_list = curl_slist_append(header_list, line.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, detail::on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, detail::on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &result);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req.timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    if (req.gzip) curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
    if (req.buffer_size > 0) curl_easy_setopt(h, CURLOPT_BUFFERSIZE, req.buffer_size);
    return h;
}

inline void finish(CURL* h, HttpResult& result, const char* errbuf) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &result.status);
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &result.seconds);
    curl_easy_getinfo(h, CURLINFO_STARTTRANSFER_TIME, &result.first_byte_seconds);
    result.error = errbuf;
}

inline HttpResult send(const HttpRequest& req) {
    HttpResult result;
    detail::Sink sink{&result, std::chrono::steady_clock::now()};
    curl_slist* header_list = nullptr;
    char errbuf[CURL_ERROR_SIZE] = {};
    CURL* h = prepare(req, result, sink, header_list, errbuf);
    result.code = curl_easy_perform(h);
    finish(h, result, errbuf);
    curl_easy_cleanup(h);
    curl_slist_free_all(header_list);
    return result;
}

inline HttpResult get(const std::string& url, std::vector<std::string> headers = {}) {
    return send({"GET", url, "", std::move(headers)});
}

inline HttpResult post(const std::string& url, const std::string& body, std::vector<std::string> headers = {}) {
    return send({"POST", url, body, std::move(headers)});
}

}  // namespace emutest
