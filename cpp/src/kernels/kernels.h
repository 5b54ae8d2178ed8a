// The hot loops of decode and NMS. kernels_scalar.cpp is the portable reference; on aarch64
// arm/kernels_neon.cpp provides NEON versions and the un-suffixed names forward to them.
#pragma once

#include <cstdint>

namespace nanodet {
namespace kernels {

// best[i] = max over c < C of base[i * anchor_step + c]          (anchors x classes layout)
void max_rows_scalar(const float* base, int n, int C, int anchor_step, float* best);
// best[i] = max over c < C of base[c * channel_step + i]         (classes x anchors layout)
void max_cols_scalar(const float* base, int n, int C, int channel_step, float* best);
// out[side] = sum_j j * softmax(bins)_j for the 4 sides; bin j of side s at p[(s*nbins + j)*step]
void dfl_distances_scalar(const float* p, int nbins, int step, float out[4]);
// iou[k] = IoU(box, boxes[k]) for boxes given as x1,y1,x2,y2 rows and precomputed areas
void iou_many_scalar(const float box[4], float box_area, const float* boxes, const float* areas,
                     int n, float* iou);
// dst[x] = (float(src[x * cn]) - mean) * norm for x < n: one channel of interleaved 8-bit
// pixels to a normalised float plane (preprocessing)
void u8_plane_normalize_scalar(const uint8_t* src, int cn, int n, float mean, float norm,
                               float* dst);

#if defined(__ARM_NEON) && defined(__aarch64__)
#define NANODET_HAVE_NEON 1
void max_rows_neon(const float* base, int n, int C, int anchor_step, float* best);
void max_cols_neon(const float* base, int n, int C, int channel_step, float* best);
void dfl_distances_neon(const float* p, int nbins, int step, float out[4]);
void iou_many_neon(const float box[4], float box_area, const float* boxes, const float* areas,
                   int n, float* iou);
void u8_plane_normalize_neon(const uint8_t* src, int cn, int n, float mean, float norm,
                             float* dst);
// Runtime switch for tests and benchmarks (end-to-end and instruction-count comparisons of NEON
// against scalar in one build): on by default; off when the environment variable
// NANODET_KERNELS=scalar is set at start-up, or after set_neon_enabled(false).
// Defined in arm/kernels_neon.cpp. One relaxed atomic load per kernel call.
bool neon_enabled();
void set_neon_enabled(bool on);
inline void max_rows(const float* b, int n, int C, int s, float* o) {
    neon_enabled() ? max_rows_neon(b, n, C, s, o) : max_rows_scalar(b, n, C, s, o);
}
inline void max_cols(const float* b, int n, int C, int s, float* o) {
    neon_enabled() ? max_cols_neon(b, n, C, s, o) : max_cols_scalar(b, n, C, s, o);
}
inline void dfl_distances(const float* p, int nb, int s, float o[4]) {
    neon_enabled() ? dfl_distances_neon(p, nb, s, o) : dfl_distances_scalar(p, nb, s, o);
}
inline void iou_many(const float b[4], float a, const float* bs, const float* as, int n, float* o) {
    neon_enabled() ? iou_many_neon(b, a, bs, as, n, o) : iou_many_scalar(b, a, bs, as, n, o);
}
inline void u8_plane_normalize(const uint8_t* s, int cn, int n, float m, float k, float* d) {
    neon_enabled() ? u8_plane_normalize_neon(s, cn, n, m, k, d)
                   : u8_plane_normalize_scalar(s, cn, n, m, k, d);
}
#else
#define NANODET_HAVE_NEON 0
inline bool neon_enabled() { return false; }
inline void set_neon_enabled(bool) {}
inline void max_rows(const float* b, int n, int C, int s, float* o) { max_rows_scalar(b, n, C, s, o); }
inline void max_cols(const float* b, int n, int C, int s, float* o) { max_cols_scalar(b, n, C, s, o); }
inline void dfl_distances(const float* p, int nb, int s, float o[4]) { dfl_distances_scalar(p, nb, s, o); }
inline void iou_many(const float b[4], float a, const float* bs, const float* as, int n, float* o) {
    iou_many_scalar(b, a, bs, as, n, o);
}
inline void u8_plane_normalize(const uint8_t* s, int cn, int n, float m, float k, float* d) {
    u8_plane_normalize_scalar(s, cn, n, m, k, d);
}
#endif

}  // namespace kernels
}  // namespace nanodet
