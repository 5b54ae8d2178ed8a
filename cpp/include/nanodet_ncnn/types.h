// Public value types of the nanodet-ncnn core: options, detections, timings, errors.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace nanodet {

// Thrown for anything the caller can fix (bad files, bad input, bad options).
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// Subclasses let the bindings map errors to the right Python exception.
struct ModelError : Error {
    using Error::Error;
};
struct InputError : Error {
    using Error::Error;
};

enum class ResizeMode { Letterbox, Dynamic, Stretch };
enum class NmsMode { PerClass, Agnostic, MultiLabel };
enum class PixelFormat { BGR, RGB, GRAY, BGRA, RGBA };
enum class Precision { Auto, FP32, FP16, INT8 };
// CPU cores inference runs on: ncnn's powersave modes (the values are ncnn's). A mode whose
// cluster the machine does not have (no big.LITTLE split) means all cores.
enum class Cores { Default = -1, All = 0, Little = 1, Big = 2 };

// How the detection head's outputs are laid out; inferred from the graph (head_layout.cpp).
enum class HeadFamily { SingleOutput, PerStride };

struct HeadOverrides {
    int num_classes = 0;         // 0 = infer
    int reg_max = -1;            // -1 = infer
    std::vector<int> strides;    // empty = infer
    float center_offset = -1.f;  // <0 = infer (legacy 0.5, Plus 0)
    int cls_sigmoid = -1;        // -1 = infer from the graph, 0 = raw logits, 1 = already sigmoid
};

struct DetectorOptions {
    int num_threads = 1;
    int input_width = 0;   // 0 = from the graph's Input shape, else the family default
    int input_height = 0;
    ResizeMode resize = ResizeMode::Letterbox;
    int pad_multiple = 32;  // for ResizeMode::Dynamic
    std::array<float, 3> mean{103.53f, 116.28f, 123.675f};
    std::array<float, 3> norm{0.017429f, 0.017507f, 0.017125f};
    Precision precision = Precision::Auto;
    Cores cores = Cores::All;  // pins each thread that runs detect() (and its ncnn threads)
    HeadOverrides head;
    // ncnn::Option switches set after `precision` is applied, by name (e.g. {"use_packing_layout",
    // 0}); for measuring ncnn's options (bench_arm --ncnn-opt). Unknown names throw ModelError.
    std::vector<std::pair<std::string, int>> ncnn_options;
};

struct DetectParams {
    float conf = 0.35f;
    float iou = 0.6f;
    NmsMode nms = NmsMode::PerClass;
    int max_det = 100;          // most detections returned (best first); 0 = no limit
    int max_candidates = 3000;  // pre-NMS cap (highest scores kept); 0 = no cap
    PixelFormat pixel_format = PixelFormat::BGR;
    // How this call runs (the Pool sets them per worker): ncnn threads (0 = the detector's
    // num_threads; another count runs on a net loaded once for it) and cores (Default = the
    // detector's).
    int num_threads = 0;
    Cores cores = Cores::Default;
};

struct Detection {
    float x1, y1, x2, y2;
    float score;
    int class_id;
};

struct StageTimes {
    double preprocess_ms = 0, inference_ms = 0, decode_ms = 0, nms_ms = 0;
    double total_ms() const { return preprocess_ms + inference_ms + decode_ms + nms_ms; }
};

struct DetectResult {
    std::vector<Detection> detections;
    StageTimes times;
    int input_width = 0, input_height = 0;  // tensor size actually fed to the network
};

// What head_layout.cpp found in the graph; exposed for diagnostics (Detector::describe()).
struct HeadInfo {
    HeadFamily family = HeadFamily::SingleOutput;
    int num_classes = 0;
    int reg_max = 7;
    std::vector<int> strides;
    float center_offset = 0.f;
    bool cls_sigmoid = true;
    std::string input_blob;
    std::vector<std::string> output_blobs;
    std::string legacy_or_plus;  // "nanodet" or "nanodet-plus"
    int default_input_width = 0, default_input_height = 0;
    bool quantized = false;    // the graph carries INT8 weights
    bool fixed_input = false;  // the graph only runs at one input size (fixed-size reshapes)
};

}  // namespace nanodet
