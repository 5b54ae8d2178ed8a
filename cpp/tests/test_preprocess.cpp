// Preprocessing against ncnn's own bilinear resize: every band split, thread count and channel
// count gives the same bytes as ncnn::resize_bilinear_c1/c3/c4, and preprocess() the same floats
// as ncnn's resize followed by a plain normalise-and-pad written here.
#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "harness.h"
#include "mat.h"
#include "preprocess.h"
#include "resize_bilinear.h"

using namespace nanodet;

namespace {

std::vector<uint8_t> random_image(int w, int h, int cn, int stride, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> img(size_t(stride) * h);
    for (auto& v : img) v = uint8_t(rng());
    // a few saturated areas: the rounding at 0 and 255 is where implementations drift
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < std::min(w, 7) * cn; ++x) img[size_t(y) * stride + x] = (y & 1) ? 255 : 0;
    return img;
}

std::vector<uint8_t> ncnn_resize(const std::vector<uint8_t>& src, int sw, int sh, int sstride,
                                 int cn, int w, int h) {
    std::vector<uint8_t> out(size_t(w) * h * cn);
    if (cn == 1) ncnn::resize_bilinear_c1(src.data(), sw, sh, sstride, out.data(), w, h, w);
    if (cn == 3) ncnn::resize_bilinear_c3(src.data(), sw, sh, sstride, out.data(), w, h, w * 3);
    if (cn == 4) ncnn::resize_bilinear_c4(src.data(), sw, sh, sstride, out.data(), w, h, w * 4);
    return out;
}

struct Size {
    int sw, sh, w, h;
};
// downscales (1080p and 720p to 416 / 320 content), upscales, odd ratios, 2-pixel sources
const Size kSizes[] = {{1920, 1080, 416, 234}, {1280, 720, 416, 234}, {810, 1080, 312, 416},
                       {640, 480, 320, 240},   {97, 61, 416, 261},    {33, 17, 8, 5},
                       {2, 2, 64, 48},         {5, 3, 3, 7},          {1000, 3, 250, 1}};

}  // namespace

TEST(resize_rows_match_ncnn_any_band_split) {
    for (int cn : {1, 3, 4})
        for (const Size& s : kSizes) {
            const int sstride = s.sw * cn + 5;  // rows padded: the stride is honoured
            auto src = random_image(s.sw, s.sh, cn, sstride, unsigned(s.sw * 31 + cn));
            auto want = ncnn_resize(src, s.sw, s.sh, sstride, cn, s.w, s.h);
            BilinearPlan plan = plan_bilinear(s.sw, s.sh, s.w, s.h, cn);
            // mean 0 and norm 1 give the resized bytes themselves as floats
            const float zero[3] = {0.f, 0.f, 0.f}, one[3] = {1.f, 1.f, 1.f};
            const size_t plane = size_t(s.w) * s.h;
            for (int bands : {1, 2, 3, 7}) {
                std::vector<float> got(plane * cn, -1.f);
                for (int first = 0; first < cn; first += 3) {
                    const int sc[3] = {first, std::min(first + 1, cn - 1), std::min(first + 2, cn - 1)};
                    float* const out[3] = {got.data() + sc[0] * plane, got.data() + sc[1] * plane,
                                           got.data() + sc[2] * plane};
                    for (int b = 0; b < bands; ++b)
                        resize_normalize_rows(plan, src.data(), sstride, sc, zero, one, out, s.w,
                                              s.h * b / bands, s.h * (b + 1) / bands);
                }
                size_t diff = 0;
                for (size_t i = 0; i < plane; ++i)
                    for (int k = 0; k < cn; ++k) diff += float(want[i * cn + k]) != got[k * plane + i];
                CHECK(diff == 0);
            }
        }
}

// ncnn's resize into an 8-bit image, then each plane normalised and padded element by element
ncnn::Mat reference_preprocess(const std::vector<uint8_t>& src, int sw, int sh, int cn,
                               PixelFormat fmt, const Placement& pl, const float mean[3],
                               const float norm[3]) {
    auto small = ncnn_resize(src, sw, sh, sw * cn, cn, pl.content_w, pl.content_h);
    const bool rgb = fmt == PixelFormat::RGB || fmt == PixelFormat::RGBA;
    ncnn::Mat out(pl.input_w, pl.input_h, 3);
    for (int c = 0; c < 3; ++c) {
        const int sc = cn == 1 ? 0 : (c == 1 ? 1 : ((c == 0) == rgb ? 2 : 0));
        float* plane = out.channel(c);
        for (int y = 0; y < pl.input_h; ++y)
            for (int x = 0; x < pl.input_w; ++x) {
                const int sy = y - pl.pad_top, sx = x - pl.pad_left;
                const bool inside = sy >= 0 && sy < pl.content_h && sx >= 0 && sx < pl.content_w;
                const float v = inside ? float(small[(size_t(sy) * pl.content_w + sx) * cn + sc]) : 0.f;
                plane[size_t(y) * pl.input_w + x] = (v - mean[c]) * norm[c];
            }
    }
    return out;
}

// Same shape and the same bits in every plane.
static bool same_input(const ncnn::Mat& a, const ncnn::Mat& b) {
    if (a.w != b.w || a.h != b.h || a.c != b.c) return false;
    for (int c = 0; c < a.c; ++c)
        if (std::memcmp(a.channel(c), b.channel(c), size_t(a.w) * a.h * sizeof(float)) != 0)
            return false;
    return true;
}

TEST(preprocess_matches_ncnn_resize_then_normalise) {
    const float mean[3] = {103.53f, 116.28f, 123.675f};
    const float norm[3] = {0.017429f, 0.017507f, 0.017125f};
    for (PixelFormat fmt : {PixelFormat::BGR, PixelFormat::RGB, PixelFormat::GRAY, PixelFormat::RGBA})
        for (ResizeMode mode : {ResizeMode::Letterbox, ResizeMode::Dynamic, ResizeMode::Stretch})
            for (const Size& s : kSizes) {
                const int cn = channels_of(fmt);
                auto src = random_image(s.sw, s.sh, cn, s.sw * cn, unsigned(s.sw + 7 * cn));
                Placement pl = plan_placement(s.sw, s.sh, s.w, std::max(s.h, 2), mode, 32);
                ncnn::Mat want = reference_preprocess(src, s.sw, s.sh, cn, fmt, pl, mean, norm);
                for (int threads : {1, 2}) {
                    ncnn::Mat got =
                        preprocess(src.data(), s.sw, s.sh, s.sw * cn, fmt, pl, mean, norm, threads);
                    CHECK(same_input(got, want));
                }
            }
}

TEST(preprocess_threads_bit_identical) {
    const float mean[3] = {103.53f, 116.28f, 123.675f};
    const float norm[3] = {0.017429f, 0.017507f, 0.017125f};
    for (PixelFormat fmt : {PixelFormat::BGR, PixelFormat::RGB, PixelFormat::GRAY, PixelFormat::BGRA})
        for (ResizeMode mode : {ResizeMode::Letterbox, ResizeMode::Dynamic, ResizeMode::Stretch})
            for (const Size& s : {Size{1920, 1080, 416, 416}, Size{720, 1280, 320, 320},
                                  Size{300, 200, 416, 416}}) {
                const int cn = channels_of(fmt);
                const int sstride = s.sw * cn;
                auto src = random_image(s.sw, s.sh, cn, sstride, unsigned(s.sh + cn));
                Placement pl = plan_placement(s.sw, s.sh, s.w, s.h, mode, 32);
                ncnn::Mat one = preprocess(src.data(), s.sw, s.sh, sstride, fmt, pl, mean, norm, 1);
                for (int threads : {2, 3, 4}) {
                    ncnn::Mat many =
                        preprocess(src.data(), s.sw, s.sh, sstride, fmt, pl, mean, norm, threads);
                    CHECK(same_input(many, one));
                }
            }
}

// A kept input buffer, filled before for other frames, placements and normalisations, gives the
// same input as a fresh one: the border is rewritten whenever it could differ.
TEST(preprocess_into_a_kept_buffer_equals_fresh) {
    const float mean[3] = {103.53f, 116.28f, 123.675f};
    const float norm[3] = {0.017429f, 0.017507f, 0.017125f};
    const float mean2[3] = {0.f, 0.f, 0.f};
    const float norm2[3] = {1.f / 255, 1.f / 255, 1.f / 255};
    struct Frame { int sw, sh; ResizeMode mode; const float* mean; const float* norm; int threads; };
    const Frame frames[] = {
        {1920, 1080, ResizeMode::Letterbox, mean, norm, 1}, {1920, 1080, ResizeMode::Letterbox, mean, norm, 2},
        {1080, 1920, ResizeMode::Letterbox, mean, norm, 1},  // same input size, border at the sides
        {1280, 720, ResizeMode::Letterbox, mean, norm, 1},   // same placement, new pixels
        {1280, 720, ResizeMode::Letterbox, mean2, norm2, 2},  // same placement, other padding value
        {640, 480, ResizeMode::Dynamic, mean, norm, 1},       // another input size
        {1920, 1080, ResizeMode::Letterbox, mean, norm, 1}};
    InputBuffer buf;
    unsigned seed = 1;
    for (const Frame& f : frames) {
        auto src = random_image(f.sw, f.sh, 3, f.sw * 3, ++seed);
        Placement pl = plan_placement(f.sw, f.sh, 416, 416, f.mode, 32);
        ncnn::Mat fresh = preprocess(src.data(), f.sw, f.sh, f.sw * 3, PixelFormat::BGR, pl, f.mean,
                                     f.norm, f.threads);
        ncnn::Mat kept = preprocess(src.data(), f.sw, f.sh, f.sw * 3, PixelFormat::BGR, pl, f.mean,
                                    f.norm, f.threads, &buf);
        CHECK(kept.data == buf.mat.data);
        CHECK(same_input(kept, fresh));
    }
}
