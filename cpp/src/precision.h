// Which arithmetic the network runs in: precision="auto" resolved per CPU, and ncnn's options.
#pragma once

#include <string>

#include "nanodet_ncnn/types.h"

namespace ncnn {
class Option;
}

namespace nanodet {

struct PrecisionChoice {
    Precision precision = Precision::FP32;  // never Auto
    bool fp16_float_layers = false;         // INT8: the layers left in float run fp16
    std::string reason;                     // e.g. "auto: CPU has asimdhp"
};

// `asked` as given; `quantized`: the graph carries INT8 weights. Auto picks what the per-CPU
// instruction-count table in docs/arm.md shows cheapest within the mAP budget of
// docs/precision.md: fp16 arithmetic where the CPU has it (ARMv8.2 asimdhp), fp32 otherwise; an
// INT8 graph stays INT8, its float layers following the same rule.
PrecisionChoice choose_precision(Precision asked, bool quantized);

const char* precision_name(Precision p);

// ncnn options for a resolved precision.
void apply_precision(ncnn::Option& o, const PrecisionChoice& p);

}  // namespace nanodet
