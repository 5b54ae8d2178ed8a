#include "resize_bilinear.h"

#include "kernels/kernels.h"

#include <algorithm>
#include <climits>
#include <cmath>

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

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

#if defined(__SSE2__)
// Four output columns at a time: a column's two taps are adjacent pixels, so one 8-byte load
// holds both and pmaddwd forms tap0 * a0 + tap1 * a1 per channel; the four columns' results are
// then transposed into the channel planes. Same integer arithmetic as the scalar loop.
// `next`, when given, is the source row the following call will read: it is prefetched here, a
// cache line per four columns, because the loads of a cold row otherwise stall this loop (the
// frame is usually evicted by the network pass between two frames).
template <int CN>
int hresize_planar_sse2(const BilinearPlan& p, const uint8_t* row, const uint8_t* next, short* out) {
    const int w = p.w, end = p.wide_cols & ~3;
    const int* x0 = p.x0.data();
    const __m128i zero = _mm_setzero_si128();
    auto column = [&](int dx, __m128i a) {
        const __m128i v = _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + x0[dx])), zero);
        return _mm_srai_epi32(_mm_madd_epi16(_mm_unpacklo_epi16(v, _mm_srli_si128(v, 2 * CN)), a), 4);
    };
    for (int dx = 0; dx < end; dx += 4) {
        if (next) _mm_prefetch(reinterpret_cast<const char*>(next + x0[dx]), _MM_HINT_T0);
        const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p.alpha.data() + 2 * dx));
        const __m128i r0 = column(dx, _mm_shuffle_epi32(a, _MM_SHUFFLE(0, 0, 0, 0)));
        const __m128i r1 = column(dx + 1, _mm_shuffle_epi32(a, _MM_SHUFFLE(1, 1, 1, 1)));
        const __m128i r2 = column(dx + 2, _mm_shuffle_epi32(a, _MM_SHUFFLE(2, 2, 2, 2)));
        const __m128i r3 = column(dx + 3, _mm_shuffle_epi32(a, _MM_SHUFFLE(3, 3, 3, 3)));
        const __m128i t0 = _mm_unpacklo_epi32(r0, r1), t1 = _mm_unpacklo_epi32(r2, r3);
        const __m128i t2 = _mm_unpackhi_epi32(r0, r1), t3 = _mm_unpackhi_epi32(r2, r3);
        const __m128i c01 = _mm_packs_epi32(_mm_unpacklo_epi64(t0, t1), _mm_unpackhi_epi64(t0, t1));
        const __m128i c23 = _mm_packs_epi32(_mm_unpacklo_epi64(t2, t3), _mm_unpackhi_epi64(t2, t3));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + dx), c01);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + w + dx), _mm_unpackhi_epi64(c01, c01));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 2 * w + dx), c23);
        if (CN == 4) _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 3 * w + dx), _mm_unpackhi_epi64(c23, c23));
    }
    return end;
}
#elif defined(__ARM_NEON)
// The same four-column scheme with NEON (ARMv7 and AArch64): vmull/vmlal form the two-tap sums,
// vtrn transposes four columns into the channel planes.
template <int CN>
int hresize_planar_neon(const BilinearPlan& p, const uint8_t* row, short* out) {
    const int w = p.w, end = p.wide_cols & ~3;
    const int* x0 = p.x0.data();
    const short* alpha = p.alpha.data();
    auto column = [&](int dx) {
        const int16x8_t v = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(row + x0[dx])));
        const int16x4_t lo = vget_low_s16(v);
        const int16x4_t hi = vget_low_s16(vextq_s16(v, v, CN));
        int32x4_t acc = vmull_n_s16(lo, alpha[2 * dx]);
        acc = vmlal_n_s16(acc, hi, alpha[2 * dx + 1]);
        return vshrn_n_s32(acc, 4);
    };
    for (int dx = 0; dx < end; dx += 4) {
        const int16x4x2_t t01 = vtrn_s16(column(dx), column(dx + 1));
        const int16x4x2_t t23 = vtrn_s16(column(dx + 2), column(dx + 3));
        const int32x2x2_t c02 = vtrn_s32(vreinterpret_s32_s16(t01.val[0]), vreinterpret_s32_s16(t23.val[0]));
        const int32x2x2_t c13 = vtrn_s32(vreinterpret_s32_s16(t01.val[1]), vreinterpret_s32_s16(t23.val[1]));
        vst1_s16(out + dx, vreinterpret_s16_s32(c02.val[0]));
        vst1_s16(out + w + dx, vreinterpret_s16_s32(c13.val[0]));
        vst1_s16(out + 2 * w + dx, vreinterpret_s16_s32(c02.val[1]));
        if (CN == 4) vst1_s16(out + 3 * w + dx, vreinterpret_s16_s32(c13.val[1]));
    }
    return end;
}
#endif

// Channel-planar horizontal pass: out holds CN rows of p.w values, so that the vertical pass
// and the normalisation run over contiguous values (and vectorise).
template <int CN>
void hresize_planar(const BilinearPlan& p, const uint8_t* row, const uint8_t* next, short* out) {
    int dx = 0;
#if defined(__SSE2__)
    if (CN > 1) dx = hresize_planar_sse2<CN>(p, row, next, out);
#else
    (void)next;  // not prefetched: the ARM instruction counts are this path's measure
#if defined(__ARM_NEON)
    if (CN > 1) dx = hresize_planar_neon<CN>(p, row, out);
#endif
#endif
    const int w = p.w;
    const int* x0 = p.x0.data();
    const int* x1 = p.x1.data();
    const short* alpha = p.alpha.data();
    for (; dx < w; ++dx) {
        const uint8_t* s0 = row + x0[dx];
        const uint8_t* s1 = row + x1[dx];
        const int a0 = alpha[2 * dx], a1 = alpha[2 * dx + 1];
        for (int k = 0; k < CN; ++k) out[k * w + dx] = short((s0[k] * a0 + s1[k] * a1) >> 4);
    }
}

void hresize_planar_any(const BilinearPlan& p, const uint8_t* row, const uint8_t* next, short* out) {
    switch (p.cn) {
        case 1: hresize_planar<1>(p, row, next, out); break;
        case 3: hresize_planar<3>(p, row, next, out); break;
        default: hresize_planar<4>(p, row, next, out); break;
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
    // Taps move right with dx, so the columns that may read 8 bytes from their first tap (both
    // taps adjacent, 8 bytes inside the row) come first.
    while (p.wide_cols < w && p.x1[p.wide_cols] == p.x0[p.wide_cols] + cn &&
           p.x0[p.wide_cols] + 8 <= srcw * cn)
        ++p.wide_cols;
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

void resize_normalize_rows(const BilinearPlan& p, const uint8_t* src, int srcstride,
                           const int src_channel[3], const float mean[3], const float norm[3],
                           float* const planes[3], int plane_stride, int row_begin, int row_end) {
    const int n = p.w;
    const kernels::Table& kern = kernels::active();
    std::vector<short> buf(2 * size_t(n) * p.cn);
    short* rows0 = buf.data();
    short* rows1 = buf.data() + size_t(n) * p.cn;
    int have0 = -1, have1 = -1;
    for (int dy = row_begin; dy < row_end; ++dy) {
        const int s0 = p.y0[dy], s1 = p.y1[dy];
        if (s0 != have0 || s1 != have1) {
            // the rows the next output row reads, unless it reads these
            const uint8_t* next0 = nullptr;
            const uint8_t* next1 = nullptr;
            if (dy + 1 < row_end && p.y0[dy + 1] > s1) next0 = src + size_t(srcstride) * p.y0[dy + 1];
            if (dy + 1 < row_end && p.y1[dy + 1] > s1) next1 = src + size_t(srcstride) * p.y1[dy + 1];
            if (s0 == have1) {
                std::swap(rows0, rows1);
            } else {
                hresize_planar_any(p, src + size_t(srcstride) * s0, next0, rows0);
            }
            hresize_planar_any(p, src + size_t(srcstride) * s1, next1, rows1);
            have0 = s0;
            have1 = s1;
        }
        for (int c = 0; c < 3; ++c) {
            const size_t off = size_t(src_channel[c]) * n;
            kern.vresize_normalize(rows0 + off, rows1 + off, n, p.beta[2 * dy], p.beta[2 * dy + 1],
                                   mean[c], norm[c], planes[c] + size_t(plane_stride) * dy);
        }
    }
}

}  // namespace nanodet
