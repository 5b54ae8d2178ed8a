// libFuzzer harness for the decode path: arbitrary head tensors (any float bits, NaN and Inf
// included) laid out the ways real NanoDet exports lay them out, through the exact functions
// detect() runs after inference -- scan_scores, decode_boxes, nms. Besides "no crash, no UB"
// it checks the output contract: class ids in range, no NaN score, at most max_det boxes, kept
// boxes ordered by score, and no two kept boxes of one NMS group overlapping above the IoU
// threshold.
//
// Input: 12 header bytes (shape and parameters), then the tensor values as raw float32 bytes
// (recycled if short).
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "decode.h"
#include "nms.h"

using namespace nanodet;

namespace {

[[noreturn]] void bug(const char* what) {
    std::fprintf(stderr, "fuzz_decode: contract violated: %s\n", what);
    std::abort();
}

float iou(const float* a, const float* b) {  // as kernels::scalar.iou_many computes it
    const float aa = std::max(0.f, a[2] - a[0]) * std::max(0.f, a[3] - a[1]);
    const float ab = std::max(0.f, b[2] - b[0]) * std::max(0.f, b[3] - b[1]);
    const float w = std::min(a[2], b[2]) - std::max(a[0], b[0]);
    const float h = std::min(a[3], b[3]) - std::max(a[1], b[1]);
    const float inter = (w > 0.f && h > 0.f) ? w * h : 0.f;
    const float uni = aa + ab - inter;
    return uni > 0.f ? inter / uni : 0.f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider fdp(data, size);
    DecodeConfig cfg;
    cfg.num_classes = fdp.ConsumeIntegralInRange<int>(1, 100);
    cfg.reg_max = fdp.ConsumeIntegralInRange<int>(0, 16);
    const int nlevels = fdp.ConsumeIntegralInRange<int>(1, 5);
    const uint8_t flags = fdp.ConsumeIntegral<uint8_t>();
    const bool channel_major = flags & 1;  // K x anchors (pnnx) or anchors x K (onnx)
    const bool combined = flags & 2;       // one tensor: classes then distance bins
    cfg.cls_sigmoid = flags & 4;
    cfg.multi_label = flags & 8;
    const bool agnostic = flags & 16;
    cfg.center_offset = (flags & 32) ? 0.5f : 0.f;
    cfg.conf = fdp.ConsumeIntegralInRange<int>(0, 100) / 100.f;
    const float iou_thr = fdp.ConsumeIntegralInRange<int>(0, 100) / 100.f;
    const int max_det = fdp.ConsumeIntegralInRange<int>(0, 300);
    cfg.max_candidates = fdp.ConsumeIntegralInRange<int>(1, 3000);  // uncapped: O(n^2) NMS, slow
    const int base_w = fdp.ConsumeIntegralInRange<int>(1, 48);
    const int base_h = fdp.ConsumeIntegralInRange<int>(1, 48);

    const int C = cfg.num_classes, K = C + 4 * (cfg.reg_max + 1);
    std::vector<LevelView> levels(nlevels);
    long anchors = 0;
    for (int l = 0; l < nlevels; ++l) {
        levels[l].stride = 8 << l;
        levels[l].fw = std::max(1, base_w >> l);
        levels[l].fh = std::max(1, base_h >> l);
        anchors += long(levels[l].fw) * levels[l].fh;
    }
    // The tensor: either one combined K x anchors block, or per level a cls and a dis block.
    std::vector<float> t(size_t(anchors) * K);
    const std::vector<uint8_t> rest = fdp.ConsumeRemainingBytes<uint8_t>();
    if (!rest.empty()) {
        uint8_t* dst = reinterpret_cast<uint8_t*>(t.data());
        const size_t total = t.size() * sizeof(float);
        for (size_t off = 0; off < total; off += rest.size())
            std::memcpy(dst + off, rest.data(), std::min(rest.size(), total - off));
    }
    long offset = 0;  // anchors before this level
    for (int l = 0; l < nlevels; ++l) {
        LevelView& v = levels[l];
        const long n = long(v.fw) * v.fh;
        if (combined) {  // one tensor over all levels, as the single-output exports
            const int astep = channel_major ? 1 : K;
            const int cstep = channel_major ? int(anchors) : 1;
            v.cls = {t.data() + offset * astep, astep, cstep};
            v.dis = {v.cls.base + long(C) * cstep, astep, cstep};
        } else {  // per level: cls (C x n) then dis (4(R+1) x n), as the per-stride exports
            float* base = t.data() + offset * K;
            const int D = K - C;
            if (channel_major) {
                v.cls = {base, 1, int(n)};
                v.dis = {base + long(C) * n, 1, int(n)};
            } else {
                v.cls = {base, C, 1};
                v.dis = {base + long(C) * n, D, 1};
            }
        }
        offset += n;
    }

    std::vector<Candidate> cands;
    scan_scores(levels, cfg, cands);
    if (cfg.max_candidates > 0 && int(cands.size()) > cfg.max_candidates) bug("candidate cap");
    std::vector<float> boxes;
    decode_boxes(levels, cfg, cands, boxes);
    if (boxes.size() != 4 * cands.size()) bug("box count");
    std::vector<float> scores, kept_boxes;
    std::vector<int> classes;
    for (size_t k = 0; k < cands.size(); ++k) {
        const Candidate& c = cands[k];
        if (c.class_id < 0 || c.class_id >= C) bug("class id out of range");
        if (c.level < 0 || c.level >= nlevels) bug("level out of range");
        if (c.anchor < 0 || c.anchor >= levels[c.level].fw * levels[c.level].fh) bug("anchor");
        if (std::isnan(c.score)) bug("NaN score");
        const float* b = &boxes[4 * k];
        if (!(std::isfinite(b[0]) && std::isfinite(b[1]) && std::isfinite(b[2]) &&
              std::isfinite(b[3])))
            continue;  // detect() drops these before NMS
        if (!(b[0] <= b[2] && b[1] <= b[3])) bug("inverted box");
        kept_boxes.insert(kept_boxes.end(), b, b + 4);
        scores.push_back(c.score);
        classes.push_back(c.class_id);
    }
    const std::vector<int> keep = nms(kept_boxes, scores, classes, iou_thr, agnostic, max_det);
    if (max_det > 0 && int(keep.size()) > max_det) bug("more than max_det boxes");
    for (size_t i = 0; i < keep.size(); ++i) {
        if (keep[i] < 0 || keep[i] >= int(scores.size())) bug("kept index out of range");
        if (i && scores[keep[i]] > scores[keep[i - 1]]) bug("kept boxes not ordered by score");
        for (size_t j = 0; j < i; ++j) {
            if (keep[i] == keep[j]) bug("box kept twice");
            if (!agnostic && classes[keep[i]] != classes[keep[j]]) continue;
            if (iou(&kept_boxes[4 * keep[i]], &kept_boxes[4 * keep[j]]) > iou_thr)
                bug("two kept boxes overlap above the IoU threshold");
        }
    }
    return 0;
}
