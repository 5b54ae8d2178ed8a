#include "decode.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/kernels.h"

namespace nanodet {

float raw_threshold(const DecodeConfig& cfg) {
    if (cfg.cls_sigmoid) return cfg.conf;
    // sigmoid(x) > conf  <=>  x > log(conf / (1 - conf)): no exp for the points that fail.
    if (cfg.conf <= 0.f) return -std::numeric_limits<float>::infinity();
    if (cfg.conf >= 1.f) return std::numeric_limits<float>::infinity();
    return std::log(cfg.conf / (1.f - cfg.conf));
}

static inline float to_score(float raw, bool sigmoid_applied) {
    return sigmoid_applied ? raw : 1.f / (1.f + std::exp(-raw));
}

void scan_scores(const std::vector<LevelView>& levels, const DecodeConfig& cfg,
                 std::vector<Candidate>& out) {
    const float thr = raw_threshold(cfg);
    const int C = cfg.num_classes;
    std::vector<float> best;
    const kernels::Table& kern = kernels::active();
    for (int l = 0; l < int(levels.size()); ++l) {
        const LevelView& v = levels[l];
        const int n = v.fw * v.fh;
        best.resize(n);
        const bool anchors_outer = v.cls.channel_step == 1;
        if (anchors_outer)
            kern.max_rows(v.cls.base, n, C, v.cls.anchor_step, best.data());
        else
            kern.max_cols(v.cls.base, n, C, v.cls.channel_step, best.data());
        for (int i = 0; i < n; ++i) {
            if (!(best[i] > thr)) continue;
            const float* p = v.cls.base + (long)i * v.cls.anchor_step;
            const long cs = v.cls.channel_step;
            if (cfg.multi_label) {
                for (int c = 0; c < C; ++c)
                    if (p[c * cs] > thr) out.push_back({to_score(p[c * cs], cfg.cls_sigmoid), c, l, i});
            } else {
                int arg = 0;
                while (arg < C - 1 && !(p[arg * cs] == best[i])) ++arg;  // first class at the max
                out.push_back({to_score(best[i], cfg.cls_sigmoid), arg, l, i});
            }
        }
    }
    if (cfg.max_candidates > 0 && int(out.size()) > cfg.max_candidates) {
        std::nth_element(out.begin(), out.begin() + cfg.max_candidates, out.end(),
                         [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
        out.resize(cfg.max_candidates);
    }
}

void decode_boxes(const std::vector<LevelView>& levels, const DecodeConfig& cfg,
                  const std::vector<Candidate>& cands, std::vector<float>& boxes) {
    boxes.resize(cands.size() * 4);
    const int nbins = cfg.reg_max + 1;
    const kernels::Table& kern = kernels::active();
    for (size_t k = 0; k < cands.size(); ++k) {
        const Candidate& c = cands[k];
        const LevelView& v = levels[c.level];
        const float* p = v.dis.base + (long)c.anchor * v.dis.anchor_step;
        float d[4];
        kern.dfl_distances(p, nbins, v.dis.channel_step, d);
        const float s = float(v.stride);
        const float cx = (float(c.anchor % v.fw) + cfg.center_offset) * s;
        const float cy = (float(c.anchor / v.fw) + cfg.center_offset) * s;
        float* b = &boxes[4 * k];
        b[0] = cx - d[0] * s;
        b[1] = cy - d[1] * s;
        b[2] = cx + d[2] * s;
        b[3] = cy + d[3] * s;
    }
}

}  // namespace nanodet
