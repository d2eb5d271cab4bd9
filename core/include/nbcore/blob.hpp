// A growable byte buffer for large payloads (decoded images of tens of MB).
// Large capacities live in anonymous mappings that grow with mremap, so growing never copies
// and never holds two copies at once; that is what keeps peak memory near the image's size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace nbcore {

class Blob {
public:
    Blob() = default;
    explicit Blob(std::size_t reserve_bytes) { reserve(reserve_bytes); }
    Blob(const void* data, std::size_t n) { append(data, n); }
    ~Blob();
    Blob(Blob&& o) noexcept;
    Blob& operator=(Blob&& o) noexcept;
    Blob(const Blob&) = delete;
    Blob& operator=(const Blob&) = delete;

    // Takes ownership of a buffer from malloc() (e.g. stb_image's pixels): no copy; freed with
    // free(). `p` must not be used by the caller afterwards.
    static Blob adopt_malloc(void* p, std::size_t n) noexcept {
        Blob b;
        b.data_ = static_cast<std::uint8_t*>(p);
        b.size_ = b.cap_ = p ? n : 0;
        return b;
    }

    const std::uint8_t* data() const noexcept { return data_; }
    std::uint8_t* data() noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return cap_; }
    bool empty() const noexcept { return size_ == 0; }
    std::string_view view() const noexcept {
        return {reinterpret_cast<const char*>(data_), size_};
    }

    void reserve(std::size_t n);                 // throws std::bad_alloc
    void append(const void* p, std::size_t n);
    // Make room for n more bytes and return where to write them; commit(k) with k <= n after.
    std::uint8_t* prepare(std::size_t n);
    void commit(std::size_t n) noexcept { size_ += n; }
    void resize(std::size_t n);                  // new bytes are zero
    void clear() noexcept { size_ = 0; }
    void shrink_to_fit();                        // give back unused pages

private:
    void release() noexcept;
    std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t cap_ = 0;
    bool mapped_ = false;
};

using BlobPtr = std::shared_ptr<const Blob>;

}  // namespace nbcore
