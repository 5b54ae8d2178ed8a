// GFL decode: threshold class scores, then softmax + integral over the distance bins of the
// survivors only. The hot loops are the kernels of kernels/kernels.h (portable reference code,
// and SIMD versions where the target has them).
#pragma once

#include <vector>

#include "nanodet_ncnn/types.h"

namespace nanodet {

// One pyramid level of the head outputs, addressed as element(anchor, channel) =
// base[anchor * anchor_step + channel * channel_step].
struct TensorView {
    const float* base = nullptr;
    int anchor_step = 0;
    int channel_step = 0;
};

struct LevelView {
    TensorView cls, dis;
    int stride = 0, fw = 0, fh = 0;
};

struct Candidate {
    float score;  // sigmoid score
    int class_id;
    int level;
    int anchor;
};

struct DecodeConfig {
    int num_classes = 80;
    int reg_max = 7;
    bool cls_sigmoid = true;  // false: scores are logits, thresholded in logit space
    float center_offset = 0.f;
    float conf = 0.35f;
    bool multi_label = false;
    int max_candidates = 3000;  // 0 = no cap
};

// Appends the (level, anchor, class) triples whose score passes the threshold.
void scan_scores(const std::vector<LevelView>& levels, const DecodeConfig& cfg,
                 std::vector<Candidate>& out);

// Boxes for candidates in network-input pixels, (x1, y1, x2, y2) each.
void decode_boxes(const std::vector<LevelView>& levels, const DecodeConfig& cfg,
                  const std::vector<Candidate>& cands, std::vector<float>& boxes);

// Threshold in the domain of the stored scores (logit space when cls_sigmoid is false).
float raw_threshold(const DecodeConfig& cfg);

}  // namespace nanodet
