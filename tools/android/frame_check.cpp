// Drives the core's frame adapter without a JVM, for the aarch64 build run under qemu:
//   frame_check PARAM BIN DATA W H STRIDE FORMAT ROTATION MIRROR THREADS OUT_PREFIX
// DATA is a packed or NV21/NV12 byte buffer as tools/android/jni_parity.py writes them. Writes
// OUT_PREFIX.bgr (the displayed frame) and OUT_PREFIX.det (nanodet::pack_result, as text);
// THREADS 0 = convert only (no model is loaded, no .det).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <vector>

#include "nanodet_ncnn/frame.h"

static std::vector<uint8_t> slurp(const char* path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        std::fprintf(stderr, "cannot read %s\n", path);
        std::exit(2);
    }
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

int main(int argc, char** argv) {
    if (argc != 12) {
        std::fprintf(stderr, "usage: frame_check PARAM BIN DATA W H STRIDE FORMAT ROTATION MIRROR "
                             "THREADS OUT_PREFIX\n");
        return 2;
    }
    try {
        std::vector<uint8_t> data = slurp(argv[3]);
        nanodet::Frame f;
        f.data = data.data();
        f.data_size = data.size();
        f.width = std::atoi(argv[4]);
        f.height = std::atoi(argv[5]);
        f.stride = std::atoi(argv[6]);
        f.format = static_cast<nanodet::FrameFormat>(std::atoi(argv[7]));
        f.rotation = std::atoi(argv[8]);
        f.mirror = std::atoi(argv[9]) != 0;
        std::vector<uint8_t> bgr = nanodet::frame_to_bgr(f, nullptr, nullptr);
        std::string out = argv[11];
        std::ofstream(out + ".bgr", std::ios::binary)
            .write(reinterpret_cast<const char*>(bgr.data()), std::streamsize(bgr.size()));
        const int threads = std::atoi(argv[10]);
        if (threads == 0) return 0;
        std::vector<uint8_t> param = slurp(argv[1]), bin = slurp(argv[2]);
        nanodet::DetectorOptions o;
        o.num_threads = threads;
        auto det = nanodet::Detector::from_memory(std::string(param.begin(), param.end()),
                                                  bin.data(), bin.size(), o);
        std::vector<float> packed = nanodet::pack_result(nanodet::detect_frame(*det, f));
        std::ofstream t(out + ".det");
        for (float v : packed) t << v << ' ';
        t << '\n';
        std::printf("%s: %d detections, %.1f ms (%s)\n", argv[3], int(packed[0]), packed[7],
                    nanodet::kernels_name());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "frame_check: %s\n", e.what());
        return 1;
    }
    return 0;
}
