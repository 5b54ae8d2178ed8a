#include "preprocess.h"

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "resize_bilinear.h"

namespace nanodet {

int channels_of(PixelFormat fmt) {
    switch (fmt) {
        case PixelFormat::GRAY: return 1;
        case PixelFormat::BGRA:
        case PixelFormat::RGBA: return 4;
        default: return 3;
    }
}

Placement plan_placement(int src_w, int src_h, int tw, int th, ResizeMode mode, int multiple) {
    Placement p;
    p.src_w = src_w;
    p.src_h = src_h;
    if (mode == ResizeMode::Stretch) {
        p.content_w = p.input_w = tw;
        p.content_h = p.input_h = th;
        return p;
    }
    // Keep the aspect ratio; the limiting side gets the target exactly (as ncnn's examples do).
    if (double(tw) / src_w <= double(th) / src_h) {
        p.content_w = tw;
        p.content_h = std::max(1, int(double(src_h) * tw / src_w));
    } else {
        p.content_h = th;
        p.content_w = std::max(1, int(double(src_w) * th / src_h));
    }
    if (mode == ResizeMode::Letterbox) {
        p.input_w = tw;
        p.input_h = th;
    } else {
        p.input_w = (p.content_w + multiple - 1) / multiple * multiple;
        p.input_h = (p.content_h + multiple - 1) / multiple * multiple;
    }
    p.pad_left = (p.input_w - p.content_w) / 2;
    p.pad_top = (p.input_h - p.content_h) / 2;
    return p;
}

bool same_layout(const Placement& a, const Placement& b) {
    return a.input_w == b.input_w && a.input_h == b.input_h && a.pad_left == b.pad_left &&
           a.pad_top == b.pad_top && a.content_w == b.content_w && a.content_h == b.content_h;
}

// One pass from the source pixels to the padded, normalised planar input: no 8-bit or float
// intermediate image, no separate border copy or normalisation pass. The bilinear resize gives
// ncnn's resize_bilinear_cN values (as from_pixels_resize uses), so results match ncnn's
// examples. With several threads each takes a band of input rows; the split changes no value.
ncnn::Mat preprocess(const uint8_t* pixels, int w, int h, int stride_bytes, PixelFormat fmt,
                     const Placement& p, const float mean[3], const float norm[3],
                     int num_threads, InputBuffer* reuse) {
    const int cn = channels_of(fmt);
    const int cw = p.content_w, ch = p.content_h;
    const int bands = std::max(1, std::min(num_threads, p.input_h / 16));
    const BilinearPlan plan = plan_bilinear(w, h, cw, ch, cn);
    // Source channel feeding each BGR plane.
    const bool rgb_order = fmt == PixelFormat::RGB || fmt == PixelFormat::RGBA;
    const int src_channel[3] = {cn == 1 ? 0 : (rgb_order ? 2 : 0), cn == 1 ? 0 : 1,
                                cn == 1 ? 0 : (rgb_order ? 0 : 2)};

    float pad[3];
    for (int c = 0; c < 3; ++c) pad[c] = (0.f - mean[c]) * norm[c];  // black before normalisation
    ncnn::Mat in;
    bool padded = false;
    if (reuse) {
        const Placement& q = reuse->placed;
        padded = reuse->mat.w == p.input_w && reuse->mat.h == p.input_h && reuse->mat.c == 3 &&
                 reuse->mat.elemsize == sizeof(float) && same_layout(q, p) &&
                 std::equal(pad, pad + 3, reuse->pad, [](float a, float b) {
                     return std::memcmp(&a, &b, sizeof a) == 0;
                 });
        in = reuse->mat;
    }
    if (!padded) in.create(p.input_w, p.input_h, 3);
    float* content[3];
    for (int c = 0; c < 3; ++c)
        content[c] = static_cast<float*>(in.channel(c)) + size_t(p.pad_top) * p.input_w + p.pad_left;
    if (reuse) {
        reuse->mat = in;
        reuse->placed = p;
        std::copy(pad, pad + 3, reuse->pad);
    }
    auto band = [&](int y_begin, int y_end) {
        const int r0 = std::min(std::max(y_begin - p.pad_top, 0), ch);
        const int r1 = std::min(std::max(y_end - p.pad_top, 0), ch);
        if (r1 > r0)
            resize_normalize_rows(plan, pixels, stride_bytes, src_channel, mean, norm, content,
                                  p.input_w, r0, r1);
        if (padded) return;
        for (int c = 0; c < 3; ++c) {
            float* plane = in.channel(c);
            for (int y = y_begin; y < y_end; ++y) {
                float* row = plane + size_t(y) * p.input_w;
                const int sy = y - p.pad_top;
                if (sy < 0 || sy >= ch) {
                    std::fill(row, row + p.input_w, pad[c]);
                    continue;
                }
                std::fill(row, row + p.pad_left, pad[c]);
                std::fill(row + p.pad_left + cw, row + p.input_w, pad[c]);
            }
        }
    };
    if (bands == 1) {
        band(0, p.input_h);
        return in;
    }
#ifdef _OPENMP
#pragma omp parallel for num_threads(bands) schedule(static, 1)
    for (int b = 0; b < bands; ++b)
        band(int(long(p.input_h) * b / bands), int(long(p.input_h) * (b + 1) / bands));
#else
    std::vector<std::thread> workers;
    for (int b = 1; b < bands; ++b)
        workers.emplace_back(band, int(long(p.input_h) * b / bands),
                             int(long(p.input_h) * (b + 1) / bands));
    band(0, int(long(p.input_h) / bands));
    for (auto& t : workers) t.join();
#endif
    return in;
}

}  // namespace nanodet
