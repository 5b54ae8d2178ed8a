#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels.h"

namespace nanodet {
namespace kernels {

namespace {

const Table* best_table() {
#if NANODET_HAVE_NEON
    return &neon;
#else
    return &scalar;
#endif
}

std::atomic<const Table*>& slot() {
    // A function-local static: safe to use from other translation units' static initialisers.
    static std::atomic<const Table*> s{[] {
        const char* v = std::getenv("NANODET_KERNELS");
        return v && std::strcmp(v, "scalar") == 0 ? &scalar : best_table();
    }()};
    return s;
}

}  // namespace

const Table& active() { return *slot().load(std::memory_order_relaxed); }
bool neon_enabled() { return &active() != &scalar; }
void set_neon_enabled(bool on) { slot().store(on ? best_table() : &scalar, std::memory_order_relaxed); }

}  // namespace kernels
}  // namespace nanodet
