#include "nanodet_ncnn/frame.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>

#include "cpu.h"
#include "mat.h"

namespace nanodet {

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void bad(const std::string& msg) { throw InputError(msg); }

bool is_yuv(FrameFormat f) {
    return f == FrameFormat::NV21 || f == FrameFormat::NV12 || f == FrameFormat::YUV420;
}

int packed_channels(FrameFormat f) {
    switch (f) {
        case FrameFormat::GRAY: return 1;
        case FrameFormat::BGR:
        case FrameFormat::RGB: return 3;
        case FrameFormat::RGBA:
        case FrameFormat::BGRA: return 4;
        default: return 0;
    }
}

PixelFormat packed_pixel_format(FrameFormat f) {
    switch (f) {
        case FrameFormat::RGB: return PixelFormat::RGB;
        case FrameFormat::RGBA: return PixelFormat::RGBA;
        case FrameFormat::BGRA: return PixelFormat::BGRA;
        case FrameFormat::GRAY: return PixelFormat::GRAY;
        default: return PixelFormat::BGR;
    }
}

// ncnn's kanna_rotate types are EXIF orientations ("rotate from type to 1").
// displayed = mirror(rotate_cw(stored, rotation)):
int kanna_type(int rotation, bool mirror) {
    switch (rotation) {
        case 0: return mirror ? 2 : 1;
        case 90: return mirror ? 5 : 6;
        case 180: return mirror ? 4 : 3;
        case 270: return mirror ? 7 : 8;
    }
    bad("rotation must be 0, 90, 180 or 270, got " + std::to_string(rotation));
}

// Bytes a plane of `rows` rows needs when the last row holds `last_row_bytes`.
size_t plane_extent(int rows, int row_stride, size_t last_row_bytes) {
    return size_t(rows - 1) * size_t(row_stride) + last_row_bytes;
}

void check_extent(size_t have, size_t need, const char* what) {
    if (have != 0 && have < need)
        bad(std::string(what) + " buffer holds " + std::to_string(have) + " bytes, the frame needs " +
            std::to_string(need));
}

// Any YUV 4:2:0 layout -> tightly packed NV21 (Y rows, then V/U pairs), which is what ncnn's
// yuv420sp2rgb and kanna_rotate_yuv420sp take. Returns the data itself when it already is.
const uint8_t* to_nv21(const Frame& f, std::vector<uint8_t>& buf) {
    const int w = f.width, h = f.height;
    const int ys = f.stride ? f.stride : w;
    if (ys < w) bad("row stride is smaller than the frame width");
    const int uvs = f.uv_stride ? f.uv_stride : ys;
    const size_t y_bytes = plane_extent(h, ys, size_t(w));

    const uint8_t* uv = nullptr;  // NV21/NV12 chroma plane
    size_t uv_have = 0;
    int ps = 2;
    if (f.format == FrameFormat::YUV420) {
        if (!f.u || !f.v) bad("YUV420 frames need U and V planes");
        ps = f.uv_pixel_stride;
        if (ps != 1 && ps != 2) bad("uv pixel stride must be 1 or 2");
        if (uvs < (w / 2 - 1) * ps + 1) bad("chroma row stride is smaller than a chroma row");
        const size_t c_bytes = plane_extent(h / 2, uvs, size_t(w / 2 - 1) * ps + 1);
        check_extent(f.u_size, c_bytes, "U plane");
        check_extent(f.v_size, c_bytes, "V plane");
        check_extent(f.data_size, y_bytes, "Y plane");
    } else {
        if (uvs < w) bad("chroma row stride is smaller than the frame width");
        const size_t c_bytes = plane_extent(h / 2, uvs, size_t(w));
        if (f.u) {
            uv = f.u;
            uv_have = f.u_size;
            check_extent(f.data_size, y_bytes, "Y plane");
        } else {
            uv = f.data + size_t(ys) * h;
            check_extent(f.data_size, size_t(ys) * h + c_bytes, "NV21/NV12 frame");
        }
        check_extent(uv_have, c_bytes, "chroma plane");
    }

    const bool tight_nv21 = f.format == FrameFormat::NV21 && ys == w && uvs == w &&
                            uv == f.data + size_t(w) * h;
    if (tight_nv21) return f.data;

    buf.resize(size_t(w) * h * 3 / 2);
    uint8_t* dy = buf.data();
    for (int r = 0; r < h; ++r) std::memcpy(dy + size_t(r) * w, f.data + size_t(r) * ys, size_t(w));
    uint8_t* dvu = dy + size_t(w) * h;
    const int cw = w / 2, ch = h / 2;
    if (f.format == FrameFormat::NV21) {
        for (int r = 0; r < ch; ++r) std::memcpy(dvu + size_t(r) * w, uv + size_t(r) * uvs, size_t(w));
    } else if (f.format == FrameFormat::NV12) {
        for (int r = 0; r < ch; ++r) {
            const uint8_t* s = uv + size_t(r) * uvs;
            uint8_t* d = dvu + size_t(r) * w;
            for (int c = 0; c < cw; ++c) {
                d[2 * c] = s[2 * c + 1];
                d[2 * c + 1] = s[2 * c];
            }
        }
    } else {
        for (int r = 0; r < ch; ++r) {
            const uint8_t* su = f.u + size_t(r) * uvs;
            const uint8_t* sv = f.v + size_t(r) * uvs;
            uint8_t* d = dvu + size_t(r) * w;
            for (int c = 0; c < cw; ++c) {
                d[2 * c] = sv[size_t(c) * ps];
                d[2 * c + 1] = su[size_t(c) * ps];
            }
        }
    }
    return buf.data();
}

std::atomic<int> g_cpu_mode{0};

}  // namespace

void make_upright(const Frame& f, UprightFrame& out) {
    const auto t0 = Clock::now();
    if (!f.data) bad("frame buffer is null");
    if (f.width <= 0 || f.height <= 0 || f.width > 16384 || f.height > 16384)
        bad("frame size must be 1..16384 pixels a side, got " + std::to_string(f.width) + "x" +
            std::to_string(f.height));
    if (f.stride < 0 || f.uv_stride < 0) bad("row strides must not be negative");
    const int type = kanna_type(f.rotation, f.mirror);
    const bool swap = f.rotation == 90 || f.rotation == 270;
    const int W = swap ? f.height : f.width, H = swap ? f.width : f.height;
    out.width = W;
    out.height = H;

    if (is_yuv(f.format)) {
        if (f.width % 2 || f.height % 2)
            bad("YUV 4:2:0 frames need an even width and height, got " + std::to_string(f.width) +
                "x" + std::to_string(f.height));
        std::vector<uint8_t> nv21_buf, rotated;
        const uint8_t* nv21 = to_nv21(f, nv21_buf);
        if (type != 1) {
            rotated.resize(size_t(W) * H * 3 / 2);
            ncnn::kanna_rotate_yuv420sp(nv21, f.width, f.height, rotated.data(), W, H, type);
            nv21 = rotated.data();
        }
        out.storage.resize(size_t(W) * H * 3);
        ncnn::yuv420sp2rgb(nv21, W, H, out.storage.data());
        out.pixels = out.storage.data();
        out.stride = W * 3;
        out.format = PixelFormat::RGB;
    } else {
        const int c = packed_channels(f.format);
        if (c == 0) bad("unknown frame format " + std::to_string(int(f.format)));
        const int stride = f.stride ? f.stride : f.width * c;
        if (stride < f.width * c) bad("row stride is smaller than one row of pixels");
        check_extent(f.data_size, plane_extent(f.height, stride, size_t(f.width) * c), "frame");
        out.format = packed_pixel_format(f.format);
        if (type == 1) {
            out.storage.clear();
            out.pixels = f.data;
            out.stride = stride;
        } else {
            out.storage.resize(size_t(W) * H * c);
            uint8_t* d = out.storage.data();
            switch (c) {
                case 1: ncnn::kanna_rotate_c1(f.data, f.width, f.height, stride, d, W, H, W, type); break;
                case 3: ncnn::kanna_rotate_c3(f.data, f.width, f.height, stride, d, W, H, W * 3, type); break;
                default: ncnn::kanna_rotate_c4(f.data, f.width, f.height, stride, d, W, H, W * 4, type); break;
            }
            out.pixels = d;
            out.stride = W * c;
        }
    }
    out.convert_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::vector<uint8_t> frame_to_bgr(const Frame& frame, int* width, int* height) {
    UprightFrame u;
    make_upright(frame, u);
    std::vector<uint8_t> bgr(size_t(u.width) * u.height * 3);
    for (int y = 0; y < u.height; ++y) {
        const uint8_t* s = u.pixels + size_t(y) * u.stride;
        uint8_t* d = bgr.data() + size_t(y) * u.width * 3;
        for (int x = 0; x < u.width; ++x, d += 3) {
            switch (u.format) {
                case PixelFormat::BGR: d[0] = s[3 * x]; d[1] = s[3 * x + 1]; d[2] = s[3 * x + 2]; break;
                case PixelFormat::RGB: d[0] = s[3 * x + 2]; d[1] = s[3 * x + 1]; d[2] = s[3 * x]; break;
                case PixelFormat::BGRA: d[0] = s[4 * x]; d[1] = s[4 * x + 1]; d[2] = s[4 * x + 2]; break;
                case PixelFormat::RGBA: d[0] = s[4 * x + 2]; d[1] = s[4 * x + 1]; d[2] = s[4 * x]; break;
                case PixelFormat::GRAY: d[0] = d[1] = d[2] = s[x]; break;
            }
        }
    }
    if (width) *width = u.width;
    if (height) *height = u.height;
    return bgr;
}

FrameResult detect_frame(const Detector& detector, const Frame& frame, const DetectParams& params) {
    UprightFrame u;
    make_upright(frame, u);
    DetectParams p = params;
    p.pixel_format = u.format;
    p.cores = Cores(g_cpu_mode.load(std::memory_order_relaxed));  // the JNI-wide setting
    DetectResult d = detector.detect(u.pixels, u.width, u.height, u.stride, p);
    FrameResult r;
    r.detections = std::move(d.detections);
    r.times = d.times;
    r.times.preprocess_ms += u.convert_ms;
    r.convert_ms = u.convert_ms;
    r.width = u.width;
    r.height = u.height;
    r.input_width = d.input_width;
    r.input_height = d.input_height;
    return r;
}

std::vector<float> pack_result(const FrameResult& r) {
    std::vector<float> out(kPackedHeader + kPackedPerDetection * r.detections.size());
    out[0] = float(r.detections.size());
    out[1] = float(r.width);
    out[2] = float(r.height);
    out[3] = float(r.convert_ms);
    out[4] = float(r.times.preprocess_ms);
    out[5] = float(r.times.inference_ms);
    out[6] = float(r.times.decode_ms + r.times.nms_ms);
    out[7] = float(r.times.total_ms());
    float* o = out.data() + kPackedHeader;
    for (const Detection& d : r.detections) {
        o[0] = d.x1;
        o[1] = d.y1;
        o[2] = d.x2;
        o[3] = d.y2;
        o[4] = d.score;
        o[5] = float(d.class_id);
        o += kPackedPerDetection;
    }
    return out;
}

bool set_cpu_cores(int mode) {
    if (mode < 0 || mode > 2) return false;
    g_cpu_mode.store(mode, std::memory_order_relaxed);
    return true;
}

int cpu_cores() { return g_cpu_mode.load(std::memory_order_relaxed); }

CpuInfo cpu_info() {
    CpuInfo c;
    c.count = ncnn::get_cpu_count();
    c.little = ncnn::get_little_cpu_count();
    c.big = ncnn::get_big_cpu_count();
    return c;
}

}  // namespace nanodet
