// Greedy NMS over score-sorted boxes: per class, class-agnostic, or multi-label (per class over
// candidates that may share an anchor).
#pragma once

#include <vector>

#include "nanodet_ncnn/types.h"

namespace nanodet {

// boxes: 4 floats per box; returns the indices kept, best score first, at most max_det of them
// (max_det = 0: no limit).
// A box is dropped when its IoU with a kept box (of the same class unless agnostic) > iou.
std::vector<int> nms(const std::vector<float>& boxes, const std::vector<float>& scores,
                     const std::vector<int>& classes, float iou, bool agnostic, int max_det);

}  // namespace nanodet
