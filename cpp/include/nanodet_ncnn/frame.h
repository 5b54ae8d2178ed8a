// Camera / bitmap frames for the Detector: the part of a mobile front end that is not
// Android-specific, kept in plain C++ so that it is tested off-device.
//
//   frame bytes (RGBA bitmap, NV21 / YUV_420_888 camera image, BGR/RGB buffer)
//   + width, height, row strides, pixel format, rotation, mirror flag
//     -> upright frame as displayed (ncnn's yuv420sp2rgb + kanna_rotate)
//     -> Detector::detect (the one preprocessing / decode / NMS implementation)
//     -> detections in displayed-frame pixel coordinates, packed as floats for JNI.
//
// Orientation convention (what the screen shows): displayed = mirror(rotate_cw(stored, rotation)).
// `rotation` is the clockwise angle that turns the stored frame upright, i.e. CameraX's
// ImageInfo.getRotationDegrees(); `mirror` flips the upright frame left-right (front camera
// preview). Detection runs on the displayed frame, so boxes come out in displayed coordinates and
// can be drawn over the preview without any further mapping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "nanodet_ncnn/detector.h"

namespace nanodet {

// Numeric values are part of the JNI contract (NanoDet.java uses the same constants).
enum class FrameFormat : int {
    BGR = 0,
    RGB = 1,
    RGBA = 2,    // Android Bitmap ARGB_8888 bytes, ImageAnalysis OUTPUT_IMAGE_FORMAT_RGBA_8888
    BGRA = 3,
    GRAY = 4,
    NV21 = 5,    // Y plane, then interleaved V/U rows (Android camera1 / common YUV byte arrays)
    NV12 = 6,    // Y plane, then interleaved U/V rows
    YUV420 = 7,  // three planes with row and pixel strides: Android's YUV_420_888 (CameraX)
};

struct Frame {
    FrameFormat format = FrameFormat::BGR;
    int width = 0, height = 0;       // as stored, before rotation
    const uint8_t* data = nullptr;   // packed pixels, or the Y plane for YUV formats
    int stride = 0;                  // bytes between rows of `data` (0 = tightly packed)
    size_t data_size = 0;            // bytes readable at `data` (0 = not checked)

    // NV21 / NV12: `u` is the interleaved chroma plane (nullptr = right after the Y plane).
    // YUV420: `u` and `v` are the U and V planes; with uv_pixel_stride 2 they usually overlap
    // (NV12 or NV21 memory), with 1 they are planar (I420).
    const uint8_t* u = nullptr;
    const uint8_t* v = nullptr;
    size_t u_size = 0, v_size = 0;   // bytes readable at u / v (0 = not checked)
    int uv_stride = 0;               // bytes between chroma rows (0 = `stride`)
    int uv_pixel_stride = 1;         // YUV420 only: 1 or 2

    int rotation = 0;                // 0, 90, 180 or 270 (clockwise, to upright)
    bool mirror = false;             // flip left-right after rotating
};

// The displayed frame, in a format Detector::detect accepts. `pixels` points either into the
// caller's buffer (packed formats without rotation/mirror: no copy) or into `storage`.
struct UprightFrame {
    const uint8_t* pixels = nullptr;
    int width = 0, height = 0, stride = 0;
    PixelFormat format = PixelFormat::BGR;
    std::vector<uint8_t> storage;
    double convert_ms = 0;  // YUV -> RGB and rotate/mirror
};

// Throws InputError for inconsistent sizes, strides, formats or rotations.
void make_upright(const Frame& frame, UprightFrame& out);

// The displayed frame as tightly packed BGR (w*h*3 bytes): what the detector sees.
std::vector<uint8_t> frame_to_bgr(const Frame& frame, int* width, int* height);

struct FrameResult {
    std::vector<Detection> detections;  // displayed-frame pixel coordinates
    StageTimes times;                   // times.preprocess_ms includes convert_ms
    double convert_ms = 0;              // part of the preprocessing spent on YUV/rotation
    int width = 0, height = 0;          // displayed frame size
    int input_width = 0, input_height = 0;
};

// params.pixel_format is ignored (the frame says what it holds).
FrameResult detect_frame(const Detector& detector, const Frame& frame,
                         const DetectParams& params = {});

// Flat float layout handed across JNI:
//   [0] count  [1] width  [2] height  [3] convert_ms  [4] preprocess_ms  [5] inference_ms
//   [6] postprocess_ms (decode + NMS)  [7] total_ms
//   then per detection: x1, y1, x2, y2, score, class_id
constexpr int kPackedHeader = 8;
constexpr int kPackedPerDetection = 6;
std::vector<float> pack_result(const FrameResult& r);

// CPU cores for inference: 0 = all, 1 = little cores only, 2 = big cores only (ncnn's
// powersave modes). Applied lazily by detect_frame on the thread that runs it. Returns false
// for an unknown mode.
bool set_cpu_cores(int mode);
int cpu_cores();
struct CpuInfo {
    int count = 0, little = 0, big = 0;
};
CpuInfo cpu_info();

}  // namespace nanodet
