// The AArch64-only NEON intrinsics kernels_neon.cpp uses, for 32-bit ARM (ARMv7-A NEON + VFPv4).
//
// Each keeps the A64 name (a macro onto a nanodet_v7_ function, so that it neither clashes with
// nor depends on what a given compiler's 32-bit arm_neon.h happens to provide) and gives the same
// result as the A64 instruction for every input the A64 one takes, with two exceptions that
// come from the hardware, not from these functions: AArch32 NEON arithmetic always flushes
// denormal inputs and results to zero and returns the default NaN (the kernels re-check the
// lanes where that could matter), and vdivq_f32 divides lane by lane on the VFP unit, which is
// IEEE (denormals kept) like the scalar code.
#pragma once

#include <arm_neon.h>

#if !defined(__aarch64__)

static inline float32x4_t nanodet_v7_vdivq_f32(float32x4_t a, float32x4_t b) {
    float32x4_t r = a;
    r = vsetq_lane_f32(vgetq_lane_f32(a, 0) / vgetq_lane_f32(b, 0), r, 0);
    r = vsetq_lane_f32(vgetq_lane_f32(a, 1) / vgetq_lane_f32(b, 1), r, 1);
    r = vsetq_lane_f32(vgetq_lane_f32(a, 2) / vgetq_lane_f32(b, 2), r, 2);
    r = vsetq_lane_f32(vgetq_lane_f32(a, 3) / vgetq_lane_f32(b, 3), r, 3);
    return r;
}

// (max(a0, a1), max(a2, a3), max(b0, b1), max(b2, b3)), as FMAXP.
static inline float32x4_t nanodet_v7_vpmaxq_f32(float32x4_t a, float32x4_t b) {
    return vcombine_f32(vpmax_f32(vget_low_f32(a), vget_high_f32(a)),
                        vpmax_f32(vget_low_f32(b), vget_high_f32(b)));
}

static inline float nanodet_v7_vmaxvq_f32(float32x4_t a) {
    const float32x2_t m = vpmax_f32(vget_low_f32(a), vget_high_f32(a));
    return vget_lane_f32(vpmax_f32(m, m), 0);
}

static inline uint32_t nanodet_v7_vmaxvq_u32(uint32x4_t a) {
    const uint32x2_t m = vpmax_u32(vget_low_u32(a), vget_high_u32(a));
    return vget_lane_u32(vpmax_u32(m, m), 0);
}

// Round to nearest, ties to even (FRINTN): |x| < 2^23 rounds by adding and removing 2^23 (in the
// default rounding mode, which AArch32 NEON always uses); larger values, inf and NaN are
// already integral and are kept; the sign of x is kept (so -0.25 gives -0, as FRINTN does).
static inline float32x4_t nanodet_v7_vrndnq_f32(float32x4_t x) {
    const float32x4_t two23 = vdupq_n_f32(8388608.f);
    const float32x4_t ax = vabsq_f32(x);
    const float32x4_t r = vsubq_f32(vaddq_f32(ax, two23), two23);
    const uint32x4_t sign = vdupq_n_u32(0x80000000u);
    const float32x4_t signed_r = vbslq_f32(sign, x, r);  // sign bit of x, magnitude of r
    return vbslq_f32(vcltq_f32(ax, two23), signed_r, x);
}

static inline float32x4_t nanodet_v7_vfmaq_n_f32(float32x4_t a, float32x4_t b, float c) {
    return vfmaq_f32(a, b, vdupq_n_f32(c));
}

static inline float32x4_t nanodet_v7_vuzp1q_f32(float32x4_t a, float32x4_t b) {
    return vuzpq_f32(a, b).val[0];
}
static inline float32x4_t nanodet_v7_vuzp2q_f32(float32x4_t a, float32x4_t b) {
    return vuzpq_f32(a, b).val[1];
}

static inline float32x4x4_t nanodet_v7_vld1q_f32_x4(const float* p) {
    float32x4x4_t v;
    v.val[0] = vld1q_f32(p);
    v.val[1] = vld1q_f32(p + 4);
    v.val[2] = vld1q_f32(p + 8);
    v.val[3] = vld1q_f32(p + 12);
    return v;
}

#undef vdivq_f32
#undef vpmaxq_f32
#undef vmaxvq_f32
#undef vmaxvq_u32
#undef vrndnq_f32
#undef vfmaq_n_f32
#undef vuzp1q_f32
#undef vuzp2q_f32
#undef vld1q_f32_x4
#define vdivq_f32 nanodet_v7_vdivq_f32
#define vpmaxq_f32 nanodet_v7_vpmaxq_f32
#define vmaxvq_f32 nanodet_v7_vmaxvq_f32
#define vmaxvq_u32 nanodet_v7_vmaxvq_u32
#define vrndnq_f32 nanodet_v7_vrndnq_f32
#define vfmaq_n_f32 nanodet_v7_vfmaq_n_f32
#define vuzp1q_f32 nanodet_v7_vuzp1q_f32
#define vuzp2q_f32 nanodet_v7_vuzp2q_f32
#define vld1q_f32_x4 nanodet_v7_vld1q_f32_x4

#endif  // !__aarch64__
