// Bilinear resize of 8-bit interleaved pixels by bands of output rows, so that several threads
// can share one frame. Every output pixel equals ncnn's resize_bilinear_c1/c3/c4 (same
// fixed-point coefficients and rounding); the split into bands does not change any value.
#pragma once

#include <cstdint>
#include <vector>

namespace nanodet {

struct BilinearPlan {
    int srcw = 0, srch = 0, w = 0, h = 0, cn = 0;
    std::vector<int> x0, x1;    // byte offsets in a source row of each output column's two taps
    std::vector<short> alpha;   // 2 per output column
    std::vector<int> y0, y1;    // source rows of each output row's two taps
    std::vector<short> beta;    // 2 per output row
    int wide_cols = 0;          // leading columns whose taps are adjacent with 8 bytes to read
};

BilinearPlan plan_bilinear(int srcw, int srch, int w, int h, int cn);

// Output rows [row_begin, row_end) of the resize, written straight into three float planes
// without an 8-bit image in between: plane c gets (v - mean[c]) * norm[c] of source channel
// src_channel[c], v being the byte ncnn's resize_bilinear_cN stores. planes[c] points at output
// row 0 of plane c, rows `plane_stride` floats apart.
void resize_normalize_rows(const BilinearPlan& p, const uint8_t* src, int srcstride,
                           const int src_channel[3], const float mean[3], const float norm[3],
                           float* const planes[3], int plane_stride, int row_begin, int row_end);

}  // namespace nanodet
