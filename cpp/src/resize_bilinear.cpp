#include "resize_bilinear.h"

#include <algorithm>
#include <climits>
#include <cmath>

namespace nanodet {

namespace {

constexpr int kCoefScale = 1 << 11;  // ncnn's INTER_RESIZE_COEF_SCALE

short saturate_short(float x) {
    return short(std::min(std::max(int(x + (x >= 0.f ? 0.5f : -0.5f)), SHRT_MIN), SHRT_MAX));
}

// ncnn's source coordinate and weight for output index d: the same expression, in the same
// precision, so that the integer weights match bit for bit.
void tap(int d, double scale, int src_len, int& s, short& c0, short& c1) {
    float f = float((d + 0.5) * scale - 0.5);
    s = int(std::floor(f));
    f -= float(s);
    if (s < 0) {
        s = 0;
        f = 0.f;
    }
    if (s >= src_len - 1) {
        s = src_len - 2;  // -1 for a 1-pixel source: its weight is 0 (ncnn reads it anyway)
        f = 1.f;
    }
    c0 = saturate_short((1.f - f) * kCoefScale);
    c1 = saturate_short(f * kCoefScale);
}

void hresize(const BilinearPlan& p, const uint8_t* row, short* out) {
    const int cn = p.cn;
    for (int dx = 0; dx < p.w; ++dx) {
        const uint8_t* s0 = row + p.x0[dx];
        const uint8_t* s1 = row + p.x1[dx];
        const int a0 = p.alpha[2 * dx], a1 = p.alpha[2 * dx + 1];
        for (int k = 0; k < cn; ++k) out[dx * cn + k] = short((s0[k] * a0 + s1[k] * a1) >> 4);
    }
}

void vresize(const short* r0, const short* r1, int n, short b0, short b1, uint8_t* out) {
    for (int i = 0; i < n; ++i) {
        const int v = (short((b0 * r0[i]) >> 16) + short((b1 * r1[i]) >> 16) + 2) >> 2;
        out[i] = uint8_t(std::min(std::max(v, 0), 255));
    }
}

}  // namespace

BilinearPlan plan_bilinear(int srcw, int srch, int w, int h, int cn) {
    BilinearPlan p;
    p.srcw = srcw;
    p.srch = srch;
    p.w = w;
    p.h = h;
    p.cn = cn;
    const double sx = double(srcw) / w, sy = double(srch) / h;
    p.x0.resize(w);
    p.x1.resize(w);
    p.alpha.resize(2 * size_t(w));
    for (int dx = 0; dx < w; ++dx) {
        int s;
        tap(dx, sx, srcw, s, p.alpha[2 * dx], p.alpha[2 * dx + 1]);
        p.x0[dx] = std::max(s, 0) * cn;
        p.x1[dx] = std::min(s + 1, srcw - 1) * cn;
    }
    p.y0.resize(h);
    p.y1.resize(h);
    p.beta.resize(2 * size_t(h));
    for (int dy = 0; dy < h; ++dy) {
        int s;
        tap(dy, sy, srch, s, p.beta[2 * dy], p.beta[2 * dy + 1]);
        p.y0[dy] = std::max(s, 0);
        p.y1[dy] = std::min(s + 1, srch - 1);
    }
    return p;
}

void resize_bilinear_rows(const BilinearPlan& p, const uint8_t* src, int srcstride, uint8_t* dst,
                          int stride, int row_begin, int row_end) {
    const int n = p.w * p.cn;
    std::vector<short> buf(2 * size_t(n));
    short* rows0 = buf.data();
    short* rows1 = buf.data() + n;
    int have0 = -1, have1 = -1;  // source rows now in rows0 / rows1
    for (int dy = row_begin; dy < row_end; ++dy) {
        const int s0 = p.y0[dy], s1 = p.y1[dy];
        if (s0 != have0 || s1 != have1) {
            if (s0 == have1) {
                std::swap(rows0, rows1);
            } else {
                hresize(p, src + size_t(srcstride) * s0, rows0);
            }
            hresize(p, src + size_t(srcstride) * s1, rows1);
            have0 = s0;
            have1 = s1;
        }
        vresize(rows0, rows1, n, p.beta[2 * dy], p.beta[2 * dy + 1], dst + size_t(stride) * dy);
    }
}

}  // namespace nanodet
