// Shape checks in front of ncnn layers that trust their inputs to agree.
//
// ncnn validates layer parameters when it loads a .param, but several multi-input layers index
// every input with the first input's geometry at run time: a damaged or hand-made graph whose
// inputs disagree (a Concat of blobs with different non-concatenated sizes, an Eltwise of blobs of
// different shapes) reads and writes outside ncnn's buffers. Found by cpp/fuzz/fuzz_model.cpp.
// guard_layer_inputs() wraps those layers of a loaded graph so that a disagreement makes the
// layer fail (ncnn then reports a failed extract, which the detector turns into a ModelError).
#pragma once

#include <string>

namespace ncnn {
class Net;
}

namespace nanodet {

struct ParamGraph;

// Call after Net::load_param* and before Net::load_model*; `graph` is the same param text as
// parsed by ParamGraph (its layers in the net's order).
void guard_layer_inputs(ncnn::Net& net, const ParamGraph& graph);
// After a failed Net::load_model*: what a guard refused ("" if none). Guards also refuse int8
// weights for float conv / fc layers (ncnn would build an int8 pipeline without scales).
std::string guard_problem(const ncnn::Net& net);

}  // namespace nanodet
