// NEON versions of the kernels of ../kernels.h: the table `neon`, one source for AArch64 ASIMD
// and 32-bit ARMv7-A NEON + VFPv4 (neon_compat.h supplies the A64-only intrinsics there).
//
// Contract: the same results as kernels_scalar.cpp.
//   * max_rows / max_cols / iou_many / vresize_normalize are bit-for-bit identical to the scalar
//     code for every input (NaN, +-inf, +-0, denormals, ties, any size, any stride). The vector
//     max (FMAX/VMAX) propagates NaN and may pick the other sign of a zero maximum; the (rare)
//     rows or lanes whose vector result is NaN, zero or below FLT_MIN are recomputed with the
//     scalar rule, so NaN still never wins a max and the sign of a zero maximum is the scalar one.
//   * dfl_distances uses a polynomial expf (range reduction by ln2 with a two-constant split, then
//     a degree-7 polynomial, Cephes-style minimax coefficients) after the same max subtraction as
//     the scalar code. Its relative error is ~1e-7, so distances differ from the exact-expf
//     reference by well under 1e-5 relative; terms below FLT_MIN (exp(x) for x < -87.33) are
//     flushed to 0 where expf would give a denormal (an absolute difference below 1e-37).
//     Any NaN bin, or a +inf bin, gives NaN exactly as in the scalar code.
//
// 32-bit ARM: AArch32 NEON arithmetic always runs flush-to-zero with the default NaN (the scalar
// code runs on the IEEE VFP unit), and has no vector division. So divisions are done lane by
// lane on the VFP unit (exact, as in the scalar code), iou_many sends a group of 4 boxes to the
// scalar code when an input is denormal or an intermediate is below FLT_MIN, and
// vresize_normalize runs scalar for the (never used) mean/norm whose products could be
// denormal. AArch64 has neither problem and skips these checks.
//
// No runtime dispatch: AArch64 uses baseline ARMv8.0 ASIMD fp32 only (no fp16, dotprod or SVE),
// which every AArch64 CPU has; 32-bit builds need NEON + VFPv4 (FMA) at compile time
// (-mfpu=neon-vfpv4, or -mcpu=cortex-a7 and later), else kernels.h selects the scalar table.
#include "../kernels.h"

#if NANODET_HAVE_NEON

#include <arm_neon.h>

#include <cfloat>
#include <cmath>

#include "neon_compat.h"

namespace nanodet {
namespace kernels {

// Everything here is internal: the kernels are reached through the table at the end.
namespace {

// The scalar max rule (NaN never wins, the first of equal values is kept).
inline float exact_max_strided(const float* p, int C, long step) {
    float m = -INFINITY;
    for (int c = 0; c < C; ++c) {
        const float x = p[c * step];
        m = x > m ? x : m;
    }
    return m;
}

// A vector max is only trusted when it is neither NaN nor zero (nor, for 32-bit NEON, which
// flushes denormals to zero, a denormal): |m| >= FLT_MIN, false for NaN.
inline bool needs_exact(float m) { return !(std::fabs(m) >= FLT_MIN); }

inline uint32x4_t needs_exact(float32x4_t m) {
    return vmvnq_u32(vcgeq_f32(vabsq_f32(m), vdupq_n_f32(FLT_MIN)));
}

#if defined(__aarch64__)
constexpr bool kFlushesDenormals = false;
#else
constexpr bool kFlushesDenormals = true;  // AArch32 NEON: flush-to-zero, default NaN, always
#endif

// Lanes holding a denormal (integer test: the NEON float compares would see zero there).
inline uint32x4_t is_denormal(float32x4_t x) {
    const uint32x4_t mag = vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x7fffffffu));
    return vcltq_u32(vsubq_u32(mag, vdupq_n_u32(1)), vdupq_n_u32(0x007fffffu));
}
inline uint32x4_t below_flt_min(float32x4_t x) { return needs_exact(x); }  // incl. zero and NaN
inline bool any_lane(uint32x4_t m) { return vmaxvq_u32(m) != 0; }

#if defined(__aarch64__)
// Lane-wise partial maxima of one contiguous row of C >= 4 values (NaN-propagating FMAX).
inline float32x4_t row_max4(const float* p, int C) {
    float32x4_t m0, m1, m2, m3;
    int c = 0;
    if (C >= 16) {
        const float32x4x4_t v = vld1q_f32_x4(p);
        m0 = v.val[0], m1 = v.val[1], m2 = v.val[2], m3 = v.val[3];
        c = 16;
    } else {
        m0 = m1 = m2 = m3 = vdupq_n_f32(-INFINITY);
    }
    for (; c + 32 <= C; c += 32) {
        const float32x4x4_t a = vld1q_f32_x4(p + c);
        const float32x4x4_t b = vld1q_f32_x4(p + c + 16);
        m0 = vmaxq_f32(m0, vmaxq_f32(a.val[0], b.val[0]));
        m1 = vmaxq_f32(m1, vmaxq_f32(a.val[1], b.val[1]));
        m2 = vmaxq_f32(m2, vmaxq_f32(a.val[2], b.val[2]));
        m3 = vmaxq_f32(m3, vmaxq_f32(a.val[3], b.val[3]));
    }
    if (c + 16 <= C) {
        const float32x4x4_t a = vld1q_f32_x4(p + c);
        m0 = vmaxq_f32(m0, a.val[0]);
        m1 = vmaxq_f32(m1, a.val[1]);
        m2 = vmaxq_f32(m2, a.val[2]);
        m3 = vmaxq_f32(m3, a.val[3]);
        c += 16;
    }
    for (; c + 4 <= C; c += 4) m0 = vmaxq_f32(m0, vld1q_f32(p + c));
    return vmaxq_f32(vmaxq_f32(m0, m1), vmaxq_f32(m2, m3));
}

// The same with C known at compile time (fully unrolled: no per-row loop bookkeeping).
template <int C>
inline float32x4_t row_max4_fixed(const float* p) {
    static_assert(C >= 16, "");
    const float32x4x4_t v0 = vld1q_f32_x4(p);
    float32x4_t m0 = v0.val[0], m1 = v0.val[1], m2 = v0.val[2], m3 = v0.val[3];
#pragma GCC unroll 16
    for (int c = 16; c + 16 <= C; c += 16) {
        const float32x4x4_t a = vld1q_f32_x4(p + c);
        m0 = vmaxq_f32(m0, a.val[0]);
        m1 = vmaxq_f32(m1, a.val[1]);
        m2 = vmaxq_f32(m2, a.val[2]);
        m3 = vmaxq_f32(m3, a.val[3]);
    }
#pragma GCC unroll 4
    for (int c = C & ~15; c + 4 <= C; c += 4) m0 = vmaxq_f32(m0, vld1q_f32(p + c));
    return vmaxq_f32(vmaxq_f32(m0, m1), vmaxq_f32(m2, m3));
}
#else
// 32-bit ARM has 16 vector registers (AArch64 32): one accumulator per row, or the four-row
// loop of max_rows_impl spills to the stack. VLD2 loads 8 floats in one instruction,
// de-interleaved (an order a max does not see).
inline float32x4_t row_max4(const float* p, int C) {
    float32x4_t m = vdupq_n_f32(-INFINITY);
    int c = 0;
    for (; c + 8 <= C; c += 8) {
        const float32x4x2_t v = vld2q_f32(p + c);
        m = vmaxq_f32(m, vmaxq_f32(v.val[0], v.val[1]));
    }
    if (c + 4 <= C) m = vmaxq_f32(m, vld1q_f32(p + c));
    return m;
}

template <int C>
inline float32x4_t row_max4_fixed(const float* p) {
    static_assert(C >= 8, "");
    const float32x4x2_t v0 = vld2q_f32(p);
    float32x4_t m = vmaxq_f32(v0.val[0], v0.val[1]);
#pragma GCC unroll 16
    for (int c = 8; c + 8 <= C; c += 8) {
        const float32x4x2_t v = vld2q_f32(p + c);
        m = vmaxq_f32(m, vmaxq_f32(v.val[0], v.val[1]));
    }
    if (C % 8 >= 4) m = vmaxq_f32(m, vld1q_f32(p + (C & ~7)));
    return m;
}
#endif

struct RowMaxRuntime {
    int C;
    float32x4_t operator()(const float* p) const { return row_max4(p, C); }
};
template <int C>
struct RowMaxFixed {
    float32x4_t operator()(const float* p) const { return row_max4_fixed<C>(p); }
};

template <class RowMax>
void max_rows_impl(const float* base, int n, int C, long step, float* best, RowMax row_max4);

void max_rows(const float* base, int n, int C, int anchor_step, float* best) {
    if (C < 4) {
        scalar.max_rows(base, n, C, anchor_step, best);
        return;
    }
    switch (C) {  // COCO (80 classes) gets an unrolled row loop; anything else the generic one
        case 80: return max_rows_impl(base, n, C, anchor_step, best, RowMaxFixed<80>());
        default: return max_rows_impl(base, n, C, anchor_step, best, RowMaxRuntime{C});
    }
}

template <class RowMax>
void max_rows_impl(const float* base, int n, int C, long step, float* best, RowMax row_max4) {
    const int tail = C & ~3;  // classes [tail, C) are applied with the scalar rule
    int i = 0;
    // Four rows at a time: pairwise FMAXP folds the four row vectors into one vector of row maxima.
    for (; i + 4 <= n; i += 4) {
        const float* p = base + i * step;
        const float32x4_t r0 = row_max4(p), r1 = row_max4(p + step);
        const float32x4_t r2 = row_max4(p + 2 * step), r3 = row_max4(p + 3 * step);
        const float32x4_t m = vpmaxq_f32(vpmaxq_f32(r0, r1), vpmaxq_f32(r2, r3));
        vst1q_f32(best + i, m);
        if (tail != C)
            for (int k = 0; k < 4; ++k)
                for (int c = tail; c < C; ++c) {
                    const float x = p[k * step + c];
                    best[i + k] = x > best[i + k] ? x : best[i + k];  // a NaN max stays NaN
                }
        if (vmaxvq_u32(needs_exact(vld1q_f32(best + i))))
            for (int k = i; k < i + 4; ++k)
                if (needs_exact(best[k])) best[k] = exact_max_strided(base + k * step, C, 1);
    }
    for (; i < n; ++i) {
        const float* p = base + i * step;
        float m = vmaxvq_f32(row_max4(p));
        for (int c = tail; c < C; ++c) m = p[c] > m ? p[c] : m;
        if (needs_exact(m)) m = exact_max_strided(p, C, 1);
        best[i] = m;
    }
}

void max_cols(const float* base, int n, int C, int channel_step, float* best) {
    const float32x4_t ninf = vdupq_n_f32(-INFINITY);
    const long cs = channel_step;
    int i = 0;
    // 16 anchors at a time: four accumulators stay in registers across the C class rows.
    for (; i + 16 <= n; i += 16) {
        float32x4_t m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
        const float* p = base + i;
        for (int c = 0; c < C; ++c, p += cs) {
            const float32x4x4_t v = vld1q_f32_x4(p);
            m0 = vmaxq_f32(m0, v.val[0]);
            m1 = vmaxq_f32(m1, v.val[1]);
            m2 = vmaxq_f32(m2, v.val[2]);
            m3 = vmaxq_f32(m3, v.val[3]);
        }
        vst1q_f32(best + i, m0);
        vst1q_f32(best + i + 4, m1);
        vst1q_f32(best + i + 8, m2);
        vst1q_f32(best + i + 12, m3);
        const uint32x4_t bad = vorrq_u32(vorrq_u32(needs_exact(m0), needs_exact(m1)),
                                         vorrq_u32(needs_exact(m2), needs_exact(m3)));
        if (vmaxvq_u32(bad))
            for (int k = i; k < i + 16; ++k)
                if (needs_exact(best[k])) best[k] = exact_max_strided(base + k, C, cs);
    }
    for (; i + 4 <= n; i += 4) {
        float32x4_t m0 = ninf;
        const float* p = base + i;
        for (int c = 0; c < C; ++c, p += cs) m0 = vmaxq_f32(m0, vld1q_f32(p));
        vst1q_f32(best + i, m0);
        if (vmaxvq_u32(needs_exact(m0)))
            for (int k = i; k < i + 4; ++k)
                if (needs_exact(best[k])) best[k] = exact_max_strided(base + k, C, cs);
    }
    for (; i < n; ++i) best[i] = exact_max_strided(base + i, C, cs);
}

// exp(x) for x <= 0 (the softmax after max subtraction); NaN in -> NaN out.
inline float32x4_t exp_nonpositive(float32x4_t x) {
    const float32x4_t lo = vdupq_n_f32(-87.3365447505f);  // below this expf is denormal or 0
    const uint32x4_t tiny = vcltq_f32(x, lo);              // false for NaN
    x = vmaxq_f32(x, lo);                                   // FMAX keeps NaN
    // x = k ln2 + r, |r| <= ln2 / 2; ln2 split in two so that k * hi is exact.
    const float32x4_t k = vrndnq_f32(vmulq_n_f32(x, 1.44269504089f));
    float32x4_t r = vfmsq_f32(x, k, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, k, vdupq_n_f32(-2.12194440e-4f));
    // exp(r) = 1 + r + r^2 * P(r), P of degree 5 (minimax on [-ln2/2, ln2/2]).
    float32x4_t y = vdupq_n_f32(1.9875691500e-4f);
    y = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), y, r);
    y = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), y, r);
    y = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), y, r);
    y = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), y, r);
    y = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), y, r);
    const float32x4_t r2 = vmulq_f32(r, r);
    y = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.f)), y, r2);
    // times 2^k, built in the exponent field (k in [-126, 0] here, so 2^k is a normal float).
    const int32x4_t ki = vcvtq_s32_f32(k);
    const float32x4_t scale =
        vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(ki, vdupq_n_s32(127)), 23));
    y = vmulq_f32(y, scale);
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(y), tiny));
}

// v[j] holds bin j of the four sides (lane s = side s). Softmax + integral per lane.
inline float32x4_t dfl_lanes(const float32x4_t* v, int nbins) {
    float32x4_t m = v[0];
    for (int j = 1; j < nbins; ++j) m = vmaxq_f32(m, v[j]);  // NaN anywhere -> NaN result
    float32x4_t sum = exp_nonpositive(vsubq_f32(v[0], m));
    float32x4_t acc = vdupq_n_f32(0.f);
    for (int j = 1; j < nbins; ++j) {
        const float32x4_t e = exp_nonpositive(vsubq_f32(v[j], m));
        sum = vaddq_f32(sum, e);
        acc = vfmaq_n_f32(acc, e, float(j));
    }
    return vdivq_f32(acc, sum);
}

void dfl_distances(const float* p, int nbins, int step, float out[4]) {
    if (nbins == 8 && step == 1) {
        // 32 contiguous floats, side-major. vld4 de-interleaves by 4, uzp then pairs the halves:
        // a.val[k] = (s0 b_k, s0 b_k+4, s1 b_k, s1 b_k+4), b.val[k] the same for sides 2 and 3.
        const float32x4x4_t a = vld4q_f32(p);
        const float32x4x4_t b = vld4q_f32(p + 16);
        float32x4_t v[8];
        for (int k = 0; k < 4; ++k) {
            v[k] = vuzp1q_f32(a.val[k], b.val[k]);
            v[k + 4] = vuzp2q_f32(a.val[k], b.val[k]);
        }
        vst1q_f32(out, dfl_lanes(v, 8));
        return;
    }
    if (nbins < 1 || nbins > 64) {
        scalar.dfl_distances(p, nbins, step, out);
        return;
    }
    // Any stride (e.g. the channel-major 112 x N output): gather bin j of the four sides.
    float32x4_t v[64];
    const long side = (long)nbins * step;
    for (int j = 0; j < nbins; ++j) {
        const float* q = p + (long)j * step;
        float32x4_t t = vdupq_n_f32(q[0]);
        t = vld1q_lane_f32(q + side, t, 1);
        t = vld1q_lane_f32(q + 2 * side, t, 2);
        t = vld1q_lane_f32(q + 3 * side, t, 3);
        v[j] = t;
    }
    vst1q_f32(out, dfl_lanes(v, nbins));
}

void iou_many(const float box[4], float box_area, const float* boxes, const float* areas, int n,
              float* iou) {
    const float32x4_t bx1 = vdupq_n_f32(box[0]), by1 = vdupq_n_f32(box[1]);
    const float32x4_t bx2 = vdupq_n_f32(box[2]), by2 = vdupq_n_f32(box[3]);
    const float32x4_t ba = vdupq_n_f32(box_area), zero = vdupq_n_f32(0.f);
    if (kFlushesDenormals && any_lane(vorrq_u32(is_denormal(vld1q_f32(box)), is_denormal(ba)))) {
        scalar.iou_many(box, box_area, boxes, areas, n, iou);
        return;
    }
    int k = 0;
    for (; k + 4 <= n; k += 4) {
        const float32x4x4_t q = vld4q_f32(boxes + 4 * k);  // x1, y1, x2, y2 of 4 boxes
        const float32x4_t qa = vld1q_f32(areas + k);
        // std::min(a, b) = b < a ? b : a and std::max(a, b) = a < b ? b : a, selected exactly
        // (FMIN/FMAX would differ on NaN).
        const float32x4_t ix2 = vbslq_f32(vcltq_f32(q.val[2], bx2), q.val[2], bx2);
        const float32x4_t ix1 = vbslq_f32(vcltq_f32(bx1, q.val[0]), q.val[0], bx1);
        const float32x4_t iy2 = vbslq_f32(vcltq_f32(q.val[3], by2), q.val[3], by2);
        const float32x4_t iy1 = vbslq_f32(vcltq_f32(by1, q.val[1]), q.val[1], by1);
        const float32x4_t w = vsubq_f32(ix2, ix1);
        const float32x4_t h = vsubq_f32(iy2, iy1);
        const uint32x4_t pos = vandq_u32(vcgtq_f32(w, zero), vcgtq_f32(h, zero));
        const float32x4_t wh = vmulq_f32(w, h);
        const float32x4_t inter = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(wh), pos));
        const float32x4_t sum = vaddq_f32(ba, qa);
        const float32x4_t uni = vsubq_f32(sum, inter);
        if (kFlushesDenormals) {
            // A flushed input or result differs from the scalar code only through a denormal
            // input or a result that is (or was flushed to) zero: such groups go to the scalar code.
            const uint32x4_t den = vorrq_u32(vorrq_u32(is_denormal(q.val[0]), is_denormal(q.val[1])),
                                             vorrq_u32(is_denormal(q.val[2]), is_denormal(q.val[3])));
            const uint32x4_t tiny = vorrq_u32(vorrq_u32(below_flt_min(w), below_flt_min(h)),
                                              vorrq_u32(below_flt_min(sum), below_flt_min(uni)));
            const uint32x4_t bad = vorrq_u32(vorrq_u32(den, is_denormal(qa)),
                                             vorrq_u32(tiny, vandq_u32(pos, below_flt_min(wh))));
            if (any_lane(bad)) {
                scalar.iou_many(box, box_area, boxes + 4 * k, areas + k, 4, iou + k);
                continue;
            }
        }
        const float32x4_t r = vdivq_f32(inter, uni);
        vst1q_f32(iou + k, vreinterpretq_f32_u32(
                               vandq_u32(vreinterpretq_u32_f32(r), vcgtq_f32(uni, zero))));
    }
    if (k < n) scalar.iou_many(box, box_area, boxes + 4 * k, areas + k, n - k, iou + k);
}

// Whether (float(v) - mean) * norm, v in 0..255, has no denormal or NaN operand or result (so
// that 32-bit NEON, flush-to-zero with the default NaN, gives the IEEE bits). A nonzero v - mean
// is at least min(|mean|, 2^-24) in magnitude (v = 0, or v >= 1 and mean on a grid of 2^-24 or
// finer near it), or v >= 1 when mean = 0.
inline bool normalize_exact_in_neon(float mean, float norm) {
    if (std::isnan(mean) || std::isnan(norm)) return false;
    if (!(mean == 0.f || std::fabs(mean) >= FLT_MIN) || !(norm == 0.f || std::fabs(norm) >= FLT_MIN))
        return false;
    const double least = mean == 0.f ? 1.0 : std::fmin(std::fabs(double(mean)), 0x1p-24);
    return norm == 0.f || std::fabs(double(norm)) * least >= double(FLT_MIN);
}

void vresize_normalize(const short* r0, const short* r1, int n, short b0, short b1, float mean,
                       float norm, float* out) {
    if (kFlushesDenormals && !normalize_exact_in_neon(mean, norm)) {
        scalar.vresize_normalize(r0, r1, n, b0, b1, mean, norm, out);
        return;
    }
    const int32x4_t zero = vdupq_n_s32(0), top = vdupq_n_s32(255), two = vdupq_n_s32(2);
    const float32x4_t m = vdupq_n_f32(mean), k = vdupq_n_f32(norm);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        int32x4_t v = vaddq_s32(vshrq_n_s32(vmull_n_s16(vld1_s16(r0 + i), b0), 16),
                                vshrq_n_s32(vmull_n_s16(vld1_s16(r1 + i), b1), 16));
        v = vminq_s32(vmaxq_s32(vshrq_n_s32(vaddq_s32(v, two), 2), zero), top);
        vst1q_f32(out + i, vmulq_f32(vsubq_f32(vcvtq_f32_s32(v), m), k));  // no FMA: scalar's rounding
    }
    if (i < n) scalar.vresize_normalize(r0 + i, r1 + i, n - i, b0, b1, mean, norm, out + i);
}

}  // namespace

const Table neon = {"neon", max_rows, max_cols, dfl_distances, iou_many, vresize_normalize};

}  // namespace kernels
}  // namespace nanodet

#endif  // NANODET_HAVE_NEON
