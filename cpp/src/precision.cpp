#include "precision.h"

#include "cpu.h"
#include "option.h"

namespace nanodet {

namespace {

// fp16 arithmetic in ncnn's convolutions needs ARMv8.2 FP16 (asimdhp) on AArch64; on x86 and
// 32-bit ARM ncnn's convolutions have no fp16 path, so fp16 changes nothing there.
bool cpu_has_fp16_arithmetic() {
#if defined(__aarch64__)
    return ncnn::cpu_support_arm_asimdhp() != 0;
#else
    return false;
#endif
}

const char* no_fp16_why() {
#if defined(__aarch64__)
    return "CPU has no asimdhp (ARMv8.2 fp16)";
#elif defined(__arm__)
    return "ncnn has no fp16 arithmetic on 32-bit ARM";
#elif defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
    return "ncnn has no fp16 arithmetic on x86";
#else
    return "ncnn has no fp16 arithmetic on this CPU";
#endif
}

}  // namespace

const char* precision_name(Precision p) {
    switch (p) {
        case Precision::Auto: return "auto";
        case Precision::FP32: return "fp32";
        case Precision::FP16: return "fp16";
        case Precision::INT8: return "int8";
    }
    return "?";
}

PrecisionChoice choose_precision(Precision asked, bool quantized) {
    if (asked == Precision::FP16 && !cpu_has_fp16_arithmetic())
        return {Precision::FP16, false,
                std::string("asked; ") + no_fp16_why() + ": convolutions run in fp32"};
    if (asked != Precision::Auto) return {asked, false, "asked"};
    const bool fp16 = cpu_has_fp16_arithmetic();
    if (quantized && fp16)
        return {Precision::INT8, true,
                "auto: INT8-quantized graph; float layers fp16: CPU has asimdhp"};
    if (quantized) return {Precision::INT8, false, "auto: INT8-quantized graph"};
    if (fp16) return {Precision::FP16, false, "auto: CPU has asimdhp"};
    return {Precision::FP32, false, std::string("auto: ") + no_fp16_why()};
}

void apply_precision(ncnn::Option& o, const PrecisionChoice& p) {
    o.use_vulkan_compute = false;
    o.lightmode = true;
    o.use_int8_inference = true;  // quantized graphs need it; float graphs ignore it
    const bool fp16 = p.precision == Precision::FP16 || p.fp16_float_layers;
    o.use_fp16_packed = o.use_fp16_storage = o.use_fp16_arithmetic = fp16;
    o.use_bf16_storage = false;
}

}  // namespace nanodet
