// A tiny test harness (no framework download): TEST(name) { CHECK(...); } registers a case; the
// runner prints one line per failed check and ends with exactly "N passed, M failed".
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace th {

struct Case {
    const char* name;
    std::function<void()> fn;
};
inline std::vector<Case>& registry() {
    static std::vector<Case> r;
    return r;
}
inline int& failures_in_case() {
    static int n = 0;
    return n;
}
struct Registrar {
    Registrar(const char* name, std::function<void()> fn) { registry().push_back({name, fn}); }
};

inline void fail(const char* file, int line, const std::string& what) {
    ++failures_in_case();
    if (failures_in_case() <= 10) std::fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, what.c_str());
}

// Same bits, or both NaN (NaN payloads may differ between instructions).
inline bool same_float(float a, float b) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    uint32_t ua, ub;
    std::memcpy(&ua, &a, 4);
    std::memcpy(&ub, &b, 4);
    return ua == ub;
}

// Runs the cases whose name contains `filter` (all if empty). Returns the process exit code.
inline int run_all(const char* filter) {
    int passed = 0, failed = 0;
    for (const Case& c : registry()) {
        if (filter && *filter && !std::strstr(c.name, filter)) continue;
        failures_in_case() = 0;
        try {
            c.fn();
        } catch (const std::exception& e) {
            fail(__FILE__, __LINE__, std::string("exception: ") + e.what());
        }
        if (failures_in_case() == 0) {
            ++passed;
            std::printf("ok   %s\n", c.name);
        } else {
            ++failed;
            std::printf("FAIL %s (%d failed checks)\n", c.name, failures_in_case());
        }
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}

}  // namespace th

#define TH_CAT2(a, b) a##b
#define TH_CAT(a, b) TH_CAT2(a, b)
#define TEST(name)                                                        \
    static void name();                                                   \
    static th::Registrar TH_CAT(th_reg_, name)(#name, name);              \
    static void name()
#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) th::fail(__FILE__, __LINE__, #cond);                 \
    } while (0)
#define CHECK_MSG(cond, msg)                                              \
    do {                                                                  \
        if (!(cond)) th::fail(__FILE__, __LINE__, std::string(#cond) + " -- " + (msg)); \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                             \
    do {                                                                  \
        const double th_a = (a), th_b = (b);                              \
        if (!(std::fabs(th_a - th_b) <= (tol)))                           \
            th::fail(__FILE__, __LINE__, std::string(#a " ~ " #b ": ") + std::to_string(th_a) + \
                                             " vs " + std::to_string(th_b)); \
    } while (0)
