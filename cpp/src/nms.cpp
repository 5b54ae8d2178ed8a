#include "nms.h"

#include <algorithm>
#include <numeric>

#include "kernels/kernels.h"

namespace nanodet {

std::vector<int> nms(const std::vector<float>& boxes, const std::vector<float>& scores,
                     const std::vector<int>& classes, float iou_thr, bool agnostic, int max_det) {
    const int n = int(scores.size());
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    // Ties keep candidate order, so the result does not depend on the sort implementation.
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return scores[a] > scores[b]; });

    // Kept boxes are stored per class (or all in group 0) as packed rows for the IoU kernel.
    struct Group {
        std::vector<float> boxes, areas;
    };
    std::vector<Group> groups;
    std::vector<int> group_of_class;
    std::vector<int> keep;
    std::vector<float> ious;
    const int limit = max_det > 0 ? max_det : n;
    const kernels::Table& kern = kernels::active();
    for (int idx : order) {
        if (int(keep.size()) >= limit) break;
        const float* b = &boxes[4 * idx];
        const float area = std::max(0.f, b[2] - b[0]) * std::max(0.f, b[3] - b[1]);
        int gi = 0;
        if (!agnostic) {
            int c = classes[idx];
            if (c >= int(group_of_class.size())) group_of_class.resize(c + 1, -1);
            if (group_of_class[c] < 0) {
                group_of_class[c] = int(groups.size());
                groups.emplace_back();
            }
            gi = group_of_class[c];
        } else if (groups.empty()) {
            groups.emplace_back();
        }
        Group& g = groups[gi];
        const int m = int(g.areas.size());
        ious.resize(m);
        kern.iou_many(b, area, g.boxes.data(), g.areas.data(), m, ious.data());
        bool suppressed = false;
        for (int k = 0; k < m && !suppressed; ++k) suppressed = ious[k] > iou_thr;
        if (suppressed) continue;
        g.boxes.insert(g.boxes.end(), b, b + 4);
        g.areas.push_back(area);
        keep.push_back(idx);
    }
    return keep;
}

}  // namespace nanodet
