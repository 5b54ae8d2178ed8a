// Band-parallel preprocessing against ncnn's own bilinear resize: every band split, thread count
// and channel count gives the same bytes as ncnn::resize_bilinear_c1/c3/c4 and the same floats
// as the one-thread preprocess (which calls ncnn's resize directly).
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
            for (int bands : {1, 2, 3, 7}) {
                std::vector<uint8_t> got(want.size(), 0xAB);
                for (int b = 0; b < bands; ++b)
                    resize_bilinear_rows(plan, src.data(), sstride, got.data(), s.w * cn,
                                         s.h * b / bands, s.h * (b + 1) / bands);
                size_t diff = 0;
                for (size_t i = 0; i < want.size(); ++i) diff += want[i] != got[i];
                CHECK(diff == 0);
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
                    CHECK(many.w == one.w && many.h == one.h && many.c == one.c);
                    size_t diff = 0;
                    for (int c = 0; c < one.c; ++c)
                        diff += std::memcmp(one.channel(c), many.channel(c),
                                            size_t(one.w) * one.h * sizeof(float)) != 0;
                    CHECK(diff == 0);
                }
            }
}
