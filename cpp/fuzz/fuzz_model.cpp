// libFuzzer harness for the model-loading path: .param text (and optionally .bin bytes) ->
// Detector::from_memory -> (when it loads) detect() on a small frame.
//
// Input: the param text, optionally followed by a NUL byte and the bin bytes.
//   1. from_memory(param, bin) when a bin is given: garbled weights, wrong sizes.
//   2. from_memory(param, zeros) with exactly as many zero bytes as the param's layers read
//      (measured by a plain ncnn::Net over a zero buffer): this gets arbitrary graphs past the
//      weight-size checks into head-layout inference (two probe forward passes) and detect().
// The contract: every failure is a nanodet::Error (ModelError / InputError) -- no crash, no
// sanitizer report, no other exception type, no runaway memory (libFuzzer's -rss_limit_mb and
// -malloc_limit_mb) or time (-timeout). ncnn logs rejected files on stderr: run with
// -close_fd_mask=2 to keep the output readable (crash reports still get through).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "datareader.h"
#include "nanodet_ncnn/detector.h"
#include "net.h"
#include "param_graph.h"

using namespace nanodet;

namespace {

// Zero weights: 4-byte zero tags mean "raw float32", so an all-zero buffer is valid weights for
// every float layer. Capped so that real (megabyte) models stop at "bin too short" quickly.
constexpr size_t kZeroCap = 1 << 20;
const std::vector<uint8_t>& zeros() {
    static const std::vector<uint8_t> z(kZeroCap, 0);
    return z;
}

[[noreturn]] void bug(const char* stage, const char* what) {
    std::fprintf(stderr, "fuzz_model: %s threw a non-nanodet exception: %s\n", stage, what);
    std::abort();
}

void exercise(const std::string& param, const uint8_t* bin, size_t n, const char* stage) {
    DetectorOptions o;
    o.num_threads = 1;
    o.precision = Precision::FP32;
    std::unique_ptr<Detector> d;
    try {
        d = Detector::from_memory(param, bin, n, o);
    } catch (const Error&) {
        return;  // the expected outcome for garbage
    } catch (const std::exception& e) {
        bug(stage, e.what());
    }
    // Loaded: run it on a small frame, twice through different entry points.
    std::vector<uint8_t> px(37 * 23 * 3);
    for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 37);
    DetectParams p;
    p.conf = 0.f;  // every anchor is a candidate: the most decode and NMS work
    p.max_candidates = 500;
    try {
        d->detect(px.data(), 37, 23, 37 * 3, p);
        auto c = d->capture(px.data(), 37, 23, 37 * 3, p);
        d->postprocess(*c, p);
    } catch (const Error&) {
    } catch (const std::exception& e) {
        bug("detect", e.what());
    }
}

// How many bin bytes the param's layers read, or 0 when ncnn will not load it.
size_t weight_bytes(const std::string& param) {
    try {
        ParamGraph::parse(param);  // our own validation first, as from_memory does
    } catch (const Error&) {
        return 0;
    }
    ncnn::Net net;
    net.opt.use_vulkan_compute = false;
    net.opt.num_threads = 1;
    if (net.load_param_mem(param.c_str()) != 0) return 0;
    const unsigned char* cursor = zeros().data();
    ncnn::DataReaderFromMemory reader(cursor, zeros().size());
    if (net.load_model(reader) != 0) return 0;
    return size_t(cursor - zeros().data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const uint8_t* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
    const size_t plen = nul ? size_t(nul - data) : size;
    const std::string param(reinterpret_cast<const char*>(data), plen);
    if (nul) exercise(param, nul + 1, size - plen - 1, "from_memory(param, bin)");
    // Zero weights sized to the graph. (from_memory rejects a NUL in the text itself, so the
    // text before the first NUL is all the param there is.)
    const size_t n = weight_bytes(param);
    if (n > 0) exercise(param, zeros().data(), n, "from_memory(param, zeros)");
    return 0;
}
