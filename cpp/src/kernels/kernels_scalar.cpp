#include <algorithm>
#include <cmath>

#include "kernels.h"

namespace nanodet {
namespace kernels {

namespace {

// NaN never wins a max here (comparisons with NaN are false), so a NaN score is never detected.
// The rule is sequential (the first of equal values wins); four independent chains give the
// same bits except where the maximum compares equal to zero (+0, -0 and, with denormals treated
// as zero, denormals), which is then redone in order.
float row_max_in_order(const float* p, int C) {
    float m = -INFINITY;
    for (int c = 0; c < C; ++c) m = p[c] > m ? p[c] : m;
    return m;
}

void max_rows(const float* base, int n, int C, int anchor_step, float* best) {
    for (int i = 0; i < n; ++i) {
        const float* p = base + (long)i * anchor_step;
        float m0 = -INFINITY, m1 = -INFINITY, m2 = -INFINITY, m3 = -INFINITY;
        int c = 0;
        for (; c + 4 <= C; c += 4) {
            m0 = p[c] > m0 ? p[c] : m0;
            m1 = p[c + 1] > m1 ? p[c + 1] : m1;
            m2 = p[c + 2] > m2 ? p[c + 2] : m2;
            m3 = p[c + 3] > m3 ? p[c + 3] : m3;
        }
        for (; c < C; ++c) m0 = p[c] > m0 ? p[c] : m0;
        m0 = m1 > m0 ? m1 : m0;
        m2 = m3 > m2 ? m3 : m2;
        float m = m2 > m0 ? m2 : m0;
        if (m == 0.f) m = row_max_in_order(p, C);
        best[i] = m;
    }
}

// Four class rows per pass over `best` (which stays in L1), each anchor's classes still taken in
// order; the compiler vectorises the anchor loop.
void max_cols(const float* base, int n, int C, int channel_step, float* __restrict best) {
    std::fill(best, best + n, -INFINITY);
    int c = 0;
    for (; c + 4 <= C; c += 4) {
        const float* __restrict r0 = base + (long)c * channel_step;
        const float* __restrict r1 = r0 + channel_step;
        const float* __restrict r2 = r1 + channel_step;
        const float* __restrict r3 = r2 + channel_step;
        for (int i = 0; i < n; ++i) {
            float m = best[i];
            m = r0[i] > m ? r0[i] : m;
            m = r1[i] > m ? r1[i] : m;
            m = r2[i] > m ? r2[i] : m;
            m = r3[i] > m ? r3[i] : m;
            best[i] = m;
        }
    }
    for (; c < C; ++c) {
        const float* __restrict row = base + (long)c * channel_step;
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

void vresize_normalize(const short* r0, const short* r1, int n, short b0, short b1, float mean,
                       float norm, float* out) {
    for (int i = 0; i < n; ++i) {
        const int v = (((b0 * r0[i]) >> 16) + ((b1 * r1[i]) >> 16) + 2) >> 2;
        out[i] = (float(std::min(std::max(v, 0), 255)) - mean) * norm;
    }
}

}  // namespace

const Table scalar = {"scalar", max_rows, max_cols, dfl_distances, iou_many, vresize_normalize};

}  // namespace kernels
}  // namespace nanodet
