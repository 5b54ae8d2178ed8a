// nanodet-ncnn: NanoDet / NanoDet-Plus detection on ncnn.
// One Detector owns one loaded ncnn::Net; detect() is const and safe to call from many threads
// at once (each call uses its own ncnn::Extractor).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nanodet_ncnn/types.h"

namespace nanodet {

class Detector {
public:
    // Throws ModelError with a specific message on missing, garbled or mismatched files.
    static std::unique_ptr<Detector> from_files(const std::string& param_path,
                                                const std::string& bin_path,
                                                const DetectorOptions& opts = {});
    // `param_text` is the .param file's text, `bin` its weights (copied; the caller may free them).
    static std::unique_ptr<Detector> from_memory(const std::string& param_text,
                                                 const uint8_t* bin, size_t bin_size,
                                                 const DetectorOptions& opts = {});
    ~Detector();

    // pixels: h rows of w pixels, `stride_bytes` apart, in params.pixel_format.
    DetectResult detect(const uint8_t* pixels, int w, int h, int stride_bytes,
                        const DetectParams& params = {}) const;

    // Network only, on an input already prepared (for benchmarks: the "raw extract" floor).
    // Returns the summed element count of the head outputs.
    size_t run_network(int input_w, int input_h) const;

    // For benchmarks and tests: preprocess + network once and keep the outputs (capture), then
    // run only decode + NMS on them as often as wanted (postprocess) -- the exact code detect()
    // runs after inference. postprocess(*capture(...), p) gives detect(...)'s detections.
    struct Captured;  // opaque: one frame's network outputs and placement
    std::shared_ptr<const Captured> capture(const uint8_t* pixels, int w, int h, int stride_bytes,
                                            const DetectParams& params = {}) const;
    DetectResult postprocess(const Captured& captured, const DetectParams& params = {}) const;

    // For INT8 calibration and debugging: preprocess exactly like detect() (same placement, mean,
    // norm and pixel format), run the network without light mode and return the named blobs as
    // dense float32 copies, in the order asked. Throws InputError on an unknown blob name.
    struct Blob {
        std::vector<int> shape;  // (c, h, w), (c, d, h, w), (h, w) or (w): ncnn's dims, outer first
        std::vector<float> data;
    };
    std::vector<Blob> extract_blobs(const uint8_t* pixels, int w, int h, int stride_bytes,
                                    const std::vector<std::string>& names,
                                    PixelFormat pixel_format = PixelFormat::BGR) const;

    const HeadInfo& head() const;
    const DetectorOptions& options() const;
    int input_width() const;   // the target size in use (options or the graph's default)
    int input_height() const;
    std::string describe() const;
    // The precision the network runs in (options().precision resolved: never Auto) and the same
    // with the reason, e.g. "fp16 (auto: CPU has asimdhp)".
    Precision precision() const;
    std::string precision_description() const;

    Detector(const Detector&) = delete;
    Detector& operator=(const Detector&) = delete;

private:
    Detector();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

const char* ncnn_version();
const char* kernels_name();  // "neon" or "scalar": which decode/NMS kernels this build uses

}  // namespace nanodet
