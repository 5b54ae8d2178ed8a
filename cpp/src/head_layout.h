// Works out how a NanoDet graph lays out its detection head, from the graph and from the shapes
// its outputs take at two probe input sizes (dimensions that change with the input are spatial,
// the one that does not is the channel axis).
#pragma once

#include <string>
#include <vector>

#include "nanodet_ncnn/types.h"
#include "param_graph.h"

namespace ncnn {
class Mat;
class Net;
}

namespace nanodet {

struct OutputSpec {
    enum Role { Cls, Dis, Both };  // Both = class scores then distance bins in one tensor
    std::string blob;
    Role role = Both;
    std::vector<int> levels;   // indices into HeadInfo::strides this output covers, in order
    bool channel_major = false;  // channels outermost (K x anchors) rather than anchors x K
    int channels = 0;
};

struct HeadLayout {
    HeadInfo info;
    std::vector<OutputSpec> outputs;
};

HeadLayout infer_head_layout(const ncnn::Net& net, const ParamGraph& graph,
                             const HeadOverrides& overrides);

// A blob's dims, outermost first: {w}, {h, w}, {c, h, w} or {c, d, h, w}.
std::vector<int> dims_of(const ncnn::Mat& m);

// Feature-map size of a stride for an input dimension (NanoDet's stride-2 convs round up).
inline int feature_size(int input, int stride) { return (input + stride - 1) / stride; }

}  // namespace nanodet
