#include <algorithm>
#include <cmath>

#include "kernels.h"

namespace nanodet {
namespace kernels {

namespace {

// NaN never wins a max here (comparisons with NaN are false), so a NaN score is never detected.
void max_rows(const float* base, int n, int C, int anchor_step, float* best) {
    for (int i = 0; i < n; ++i) {
        const float* p = base + (long)i * anchor_step;
        float m = -INFINITY;
        for (int c = 0; c < C; ++c) m = p[c] > m ? p[c] : m;
        best[i] = m;
    }
}

void max_cols(const float* base, int n, int C, int channel_step, float* best) {
    std::fill(best, best + n, -INFINITY);
    for (int c = 0; c < C; ++c) {
        const float* row = base + (long)c * channel_step;
        for (int i = 0; i < n; ++i) best[i] = row[i] > best[i] ? row[i] : best[i];
    }
}

void dfl_distances(const float* p, int nbins, int step, float out[4]) {
    for (int s = 0; s < 4; ++s) {
        const float* b = p + (long)s * nbins * step;
        float m = b[0];
        for (int j = 1; j < nbins; ++j) m = std::max(m, b[(long)j * step]);
        float sum = 0.f, acc = 0.f;
        for (int j = 0; j < nbins; ++j) {
            float e = std::exp(b[(long)j * step] - m);
            sum += e;
            acc += e * j;
        }
        out[s] = acc / sum;
    }
}

void iou_many(const float box[4], float box_area, const float* boxes, const float* areas, int n,
              float* iou) {
    for (int k = 0; k < n; ++k) {
        const float* q = boxes + 4 * k;
        float w = std::min(box[2], q[2]) - std::max(box[0], q[0]);
        float h = std::min(box[3], q[3]) - std::max(box[1], q[1]);
        float inter = (w > 0.f && h > 0.f) ? w * h : 0.f;
        float uni = box_area + areas[k] - inter;
        iou[k] = uni > 0.f ? inter / uni : 0.f;
    }
}

void u8_plane_normalize(const uint8_t* src, int cn, int n, float mean, float norm, float* dst) {
    for (int x = 0; x < n; ++x) dst[x] = (float(src[x * cn]) - mean) * norm;
}

}  // namespace

const Table scalar = {"scalar", max_rows, max_cols, dfl_distances, iou_many, u8_plane_normalize};

}  // namespace kernels
}  // namespace nanodet
