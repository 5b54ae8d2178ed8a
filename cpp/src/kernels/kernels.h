// The hot loops of decode, NMS and preprocessing, as one table of function pointers.
//
// kernels_scalar.cpp defines `scalar`, the portable reference. Where the target has NEON,
// arm/kernels_neon.cpp defines `neon`, with the same results (its file comment says how exact).
// Callers go through active(), chosen once at start-up and switchable at run time so that tests
// and benchmarks can compare both in one build.
//
// Adding an architecture: a source file that defines the table for it (falling back to
// scalar.<kernel> where it has nothing better), the condition for it below, and the file in the
// CMake source lists (CMakeLists.txt, cpp/fuzz/CMakeLists.txt).
#pragma once

#include <cstdint>

namespace nanodet {
namespace kernels {

struct Table {
    const char* name;
    // best[i] = max over c < C of base[i * anchor_step + c]          (anchors x classes layout)
    void (*max_rows)(const float* base, int n, int C, int anchor_step, float* best);
    // best[i] = max over c < C of base[c * channel_step + i]         (classes x anchors layout)
    void (*max_cols)(const float* base, int n, int C, int channel_step, float* best);
    // out[side] = sum_j j * softmax(bins)_j for the 4 sides; bin j of side s at p[(s*nbins + j)*step]
    void (*dfl_distances)(const float* p, int nbins, int step, float out[4]);
    // iou[k] = IoU(box, boxes[k]) for boxes given as x1,y1,x2,y2 rows and precomputed areas
    void (*iou_many)(const float box[4], float box_area, const float* boxes, const float* areas,
                     int n, float* iou);
    // out[i] = (float(v) - mean) * norm, v = clamp((((b0 * r0[i]) >> 16) + ((b1 * r1[i]) >> 16)
    // + 2) >> 2, 0, 255): the vertical pass of ncnn's fixed-point bilinear resize (the byte its
    // resize would store) normalised into a row of a float plane
    void (*vresize_normalize)(const short* r0, const short* r1, int n, short b0, short b1,
                              float mean, float norm, float* out);
};

extern const Table scalar;

// AArch64, or 32-bit ARM with NEON and VFPv4 (fused multiply-add), e.g. -mfpu=neon-vfpv4.
#if defined(__ARM_NEON) && (defined(__aarch64__) || defined(__ARM_FEATURE_FMA))
#define NANODET_HAVE_NEON 1
extern const Table neon;
#else
#define NANODET_HAVE_NEON 0
#endif

// The table in use: `neon` where the build has it, unless the environment variable
// NANODET_KERNELS=scalar is set at start-up or set_neon_enabled(false) was called (without
// NEON the switch does nothing). One relaxed atomic load per call.
const Table& active();
bool neon_enabled();
void set_neon_enabled(bool on);

}  // namespace kernels
}  // namespace nanodet
