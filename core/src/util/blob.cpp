#include "nbcore/blob.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace nbcore {
namespace {

// Below this, plain malloc is cheaper than a mapping.
constexpr std::size_t kMapThreshold = 256 * 1024;
// A 4K image fills ~34 MB of fresh pages; with 4 KiB pages the faults cost about as much CPU as
// decoding it. Transparent huge pages (a hint; "madvise" is the usual THP mode) cut that ~4x.
constexpr std::size_t kHugePageWorthy = 4u << 20;

void advise_huge_pages(void* p, std::size_t n) {
#ifdef MADV_HUGEPAGE
    if (n >= kHugePageWorthy) madvise(p, n, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

std::size_t page_round(std::size_t n) {
    static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return (n + page - 1) / page * page;
}

}  // namespace

Blob::~Blob() { release(); }

Blob::Blob(Blob&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      cap_(std::exchange(o.cap_, 0)),
      mapped_(std::exchange(o.mapped_, false)) {}

Blob& Blob::operator=(Blob&& o) noexcept {
    if (this != &o) {
        release();
        data_ = std::exchange(o.data_, nullptr);
        size_ = std::exchange(o.size_, 0);
        cap_ = std::exchange(o.cap_, 0);
        mapped_ = std::exchange(o.mapped_, false);
    }
    return *this;
}

void Blob::release() noexcept {
    if (!data_) return;
    if (mapped_)
        munmap(data_, cap_);
    else
        std::free(data_);
    data_ = nullptr;
    size_ = cap_ = 0;
    mapped_ = false;
}

void Blob::reserve(std::size_t n) {
    if (n <= cap_) return;
    if (n < kMapThreshold) {
        void* p = std::realloc(data_, n);
        if (!p) throw std::bad_alloc();
        data_ = static_cast<std::uint8_t*>(p);
        cap_ = n;
        return;
    }
    std::size_t want = page_round(n);
    if (mapped_) {
        void* p = mremap(data_, cap_, want, MREMAP_MAYMOVE);
        if (p == MAP_FAILED) throw std::bad_alloc();
        data_ = static_cast<std::uint8_t*>(p);
        cap_ = want;
        advise_huge_pages(data_, cap_);
        return;
    }
    void* p = mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    advise_huge_pages(p, want);
    if (size_) std::memcpy(p, data_, size_);  // at most kMapThreshold bytes, once
    std::free(data_);
    data_ = static_cast<std::uint8_t*>(p);
    cap_ = want;
    mapped_ = true;
}

std::uint8_t* Blob::prepare(std::size_t n) {
    if (size_ + n > cap_) {
        // Growth by half keeps the number of remaps logarithmic; with mremap it copies nothing.
        std::size_t grown = cap_ + cap_ / 2;
        reserve(grown > size_ + n ? grown : size_ + n);
    }
    return data_ + size_;
}

void Blob::append(const void* p, std::size_t n) {
    if (n == 0) return;
    std::memcpy(prepare(n), p, n);
    size_ += n;
}

void Blob::resize(std::size_t n) {
    if (n > size_) {
        std::memset(prepare(n - size_), 0, n - size_);
    }
    size_ = n;
}

void Blob::shrink_to_fit() {
    if (!data_) return;
    if (!mapped_) {
        if (size_ == 0) { release(); return; }
        void* p = std::realloc(data_, size_);
        if (p) { data_ = static_cast<std::uint8_t*>(p); cap_ = size_; }
        return;
    }
    std::size_t want = page_round(size_ ? size_ : 1);
    if (want < cap_) {
        void* p = mremap(data_, cap_, want, 0);
        if (p != MAP_FAILED) cap_ = want;
    }
}

}  // namespace nbcore
