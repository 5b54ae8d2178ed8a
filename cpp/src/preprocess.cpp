#include "preprocess.h"

#include <algorithm>

namespace nanodet {

int channels_of(PixelFormat fmt) {
    switch (fmt) {
        case PixelFormat::GRAY: return 1;
        case PixelFormat::BGRA:
        case PixelFormat::RGBA: return 4;
        default: return 3;
    }
}

static int to_ncnn_type(PixelFormat fmt) {
    // NanoDet is trained on BGR: every format converts to BGR while resizing.
    switch (fmt) {
        case PixelFormat::BGR: return ncnn::Mat::PIXEL_BGR;
        case PixelFormat::RGB: return ncnn::Mat::PIXEL_RGB2BGR;
        case PixelFormat::GRAY: return ncnn::Mat::PIXEL_GRAY2BGR;
        case PixelFormat::BGRA: return ncnn::Mat::PIXEL_BGRA2BGR;
        case PixelFormat::RGBA: return ncnn::Mat::PIXEL_RGBA2BGR;
    }
    return ncnn::Mat::PIXEL_BGR;
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

ncnn::Mat preprocess(const uint8_t* pixels, int w, int h, int stride_bytes, PixelFormat fmt,
                     const Placement& p, const float mean[3], const float norm[3]) {
    ncnn::Mat resized = ncnn::Mat::from_pixels_resize(pixels, to_ncnn_type(fmt), w, h,
                                                      stride_bytes, p.content_w, p.content_h);
    ncnn::Mat in;
    if (p.input_w != p.content_w || p.input_h != p.content_h) {
        ncnn::copy_make_border(resized, in, p.pad_top, p.input_h - p.content_h - p.pad_top,
                               p.pad_left, p.input_w - p.content_w - p.pad_left,
                               ncnn::BORDER_CONSTANT, 0.f);
    } else {
        in = resized;
    }
    in.substract_mean_normalize(mean, norm);
    return in;
}

}  // namespace nanodet
