// Frame -> network input: bilinear resize (ncnn's from_pixels_resize), centred padding,
// (p - mean) * norm. Also the inverse mapping for boxes.
#pragma once

#include <cstdint>

#include "mat.h"
#include "nanodet_ncnn/types.h"

namespace nanodet {

// Where the resized frame sits inside the network input.
struct Placement {
    int src_w = 0, src_h = 0;          // source frame
    int content_w = 0, content_h = 0;  // resized frame inside the input
    int pad_left = 0, pad_top = 0;
    int input_w = 0, input_h = 0;  // network input tensor
};

Placement plan_placement(int src_w, int src_h, int target_w, int target_h, ResizeMode mode,
                         int pad_multiple);

// Same input tensor size and the frame at the same place in it (the source size may differ).
bool same_layout(const Placement& a, const Placement& b);

// A network input kept from one frame to the next: preprocess() into it writes only the frame's
// rows when it was last filled for the same placement and padding value, since the letterbox
// border is then already in place.
struct InputBuffer {
    ncnn::Mat mat;
    Placement placed;  // what `mat` was last filled for (input_w 0: never)
    float pad[3] = {0.f, 0.f, 0.f};
};

// `stride_bytes` is the distance between rows of `pixels`. num_threads > 1 splits the work into
// bands of rows (same result to the bit). With `reuse`, the input is written into reuse->mat
// (reallocated when its size differs) and reuse records it; the result is the same.
ncnn::Mat preprocess(const uint8_t* pixels, int w, int h, int stride_bytes, PixelFormat fmt,
                     const Placement& p, const float mean[3], const float norm[3],
                     int num_threads = 1, InputBuffer* reuse = nullptr);

int channels_of(PixelFormat fmt);

}  // namespace nanodet
