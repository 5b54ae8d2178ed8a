#include "layer_guard.h"

#include <string>
#include <vector>

#include "modelbin.h"

#include "layer.h"
#include "layer_type.h"
#include "net.h"
#include "param_graph.h"

namespace nanodet {

namespace {

// Sizes of a blob as ncnn lays it out before packing: outermost first, elempack unfolded.
std::vector<long> shape_of(const ncnn::Mat& m) {
    const long p = m.elempack;
    switch (m.dims) {
        case 1: return {m.w * p};
        case 2: return {m.h * p, m.w};
        case 3: return {m.c * p, m.h, m.w};
        case 4: return {m.c * p, m.d, m.h, m.w};
        default: return {};
    }
}

size_t total(const ncnn::Mat& m) {
    return m.empty() ? 0 : size_t(m.w) * m.h * m.d * m.c * m.elempack;
}

// A Reshape's target sizes as its param gives them: w (0), h (1), d (11), c (2); -233 = not
// given, 0 = the input's size on that axis, -1 = inferred. `known` is false when the layer's
// shape comes from anything else (then only the check after forward applies).
struct ReshapeTarget {
    int dims[4] = {-233, -233, -233, -233};
    bool known = false;
};

ReshapeTarget reshape_target(const ParamLayer& L) {
    ReshapeTarget t;
    for (const auto& kv : L.params)
        if (kv.first != 0 && kv.first != 1 && kv.first != 11 && kv.first != 2 && kv.first != 3)
            return t;  // a shape expression or a parameter this check does not know
    if (!L.arrays.empty()) return t;
    const int keys[4] = {0, 1, 11, 2};
    for (int k = 0; k < 4; ++k) t.dims[k] = L.int_param(keys[k], -233);
    t.known = true;
    return t;
}

// Whether a Reshape to `t` can hold exactly the elements of `in`. ncnn sizes the output from the
// parameters alone, so a target larger than the input would be allocated (possibly tens of GB,
// the sizes are only bounded by int) and then filled by reading past the input.
bool reshape_fits(const ReshapeTarget& t, const ncnn::Mat& in) {
    if (!t.known) return true;
    const long long n = (long long)total(in);
    const long long p = in.elempack;
    const long long extent[4] = {in.dims == 1 ? in.w * p : in.w, in.dims == 2 ? in.h * p : in.h,
                                 in.d, in.dims >= 3 ? in.c * p : in.c};
    long long product = 1;
    bool inferred = false;
    for (int k = 0; k < 4; ++k) {
        if (t.dims[k] == -233) continue;
        if (t.dims[k] == -1) {
            inferred = true;
            continue;
        }
        const long long v = t.dims[k] == 0 ? extent[k] : t.dims[k];
        if (v <= 0 || v > n / product) return false;  // product * v > n, without overflow
        product *= v;
    }
    return inferred || product == n;
}

// The input channels a (depthwise) convolution's weight count implies, as ncnn derives them:
// ncnn never checks them against the blob it gets, and a mismatch reads past (or through null)
// weights. -1 when no channel count fits the weights.
long conv_inputs(const ParamLayer& L, bool depthwise) {
    const long outputs = L.int_param(0, 0), kw = L.int_param(1, 0), kh = L.int_param(11, int(kw));
    const long weights = L.int_param(6, 0);
    const long group = depthwise ? L.int_param(7, 1) : 1;
    const long per_input = outputs * kw * kh;
    if (per_input <= 0 || weights <= 0 || group <= 0 || (weights * group) % per_input != 0)
        return -1;
    return weights * group / per_input;
}

// Wraps one ncnn layer: same flags, same behaviour, plus an input check before forward.
class Guarded : public ncnn::Layer {
public:
    enum Kind { Concat, Eltwise, Weights, Reshape };
    Guarded(ncnn::Layer* inner, Kind kind, int axis, bool int8 = false, ReshapeTarget target = {})
        : inner_(inner), kind_(kind), axis_(axis), int8_(int8), target_(target) {
        typeindex = inner->typeindex;
        userdata = inner->userdata;
#if NCNN_STRING
        type = inner->type;
        name = inner->name;
#endif
        bottoms = inner->bottoms;
        tops = inner->tops;
        bottom_shapes = inner->bottom_shapes;
        top_shapes = inner->top_shapes;
        featmask = inner->featmask;
        sync();
    }
    ~Guarded() override { delete inner_; }

    int load_param(const ncnn::ParamDict& pd) override {
        int r = inner_->load_param(pd);
        sync();
        return r;
    }
    int load_model(const ncnn::ModelBin& mb) override {
        int r;
        if (kind_ == Weights && !int8_) {
            // A float layer handed int8-tagged weights (the bin of a quantized model): ncnn
            // would build its int8 pipeline without scales and crash. Refuse the weights.
            struct Checked : ncnn::ModelBin {
                const ncnn::ModelBin& real;
                mutable bool int8_seen = false;
                explicit Checked(const ncnn::ModelBin& r) : real(r) {}
                ncnn::Mat load(int w, int type) const override {
                    ncnn::Mat m = real.load(w, type);
                    if (!m.empty() && m.elemsize == 1u) {
                        int8_seen = true;
                        return ncnn::Mat();
                    }
                    return m;
                }
            } checked(mb);
            r = inner_->load_model(checked);
            if (checked.int8_seen) {
                problem_ = "layer '" + name + "' is a float layer but the bin holds int8 weights "
                           "for it: the weights belong to another (quantized) model";
                r = -1;
            }
        } else {
            r = inner_->load_model(mb);
        }
        sync();
        return r;
    }
    const std::string& problem() const { return problem_; }
    void expect_input_channels(long c) { conv_inputs_ = c; }
    int create_pipeline(const ncnn::Option& opt) override {
        inner_->featmask = featmask;
        int r = inner_->create_pipeline(opt);
        sync();
        return r;
    }
    int destroy_pipeline(const ncnn::Option& opt) override { return inner_->destroy_pipeline(opt); }

    int forward(const std::vector<ncnn::Mat>& in, std::vector<ncnn::Mat>& out,
                const ncnn::Option& opt) const override {
        if (!agree(in)) return -1;
        if (kind_ == Reshape && !reshape_fits(target_, in[0])) return -1;
        int r = inner_->forward(in, out, opt);
        if (r == 0 && kind_ == Reshape && (out.empty() || total(out[0]) != total(in[0]))) return -1;
        return r;
    }
    int forward(const ncnn::Mat& in, ncnn::Mat& out, const ncnn::Option& opt) const override {
        if (kind_ == Reshape && !reshape_fits(target_, in)) return -1;
        if (conv_inputs_ != 0 && (in.dims != 3 || long(in.c) * in.elempack != conv_inputs_))
            return -1;
        int r = inner_->forward(in, out, opt);
        // A Reshape whose fixed sizes do not fit its input can hand on a blob that claims more
        // elements than were allocated: the next layer reads past the buffer.
        if (r == 0 && kind_ == Reshape && total(out) != total(in)) return -1;
        return r;
    }
    int forward_inplace(std::vector<ncnn::Mat>& io, const ncnn::Option& opt) const override {
        if (!agree(io)) return -1;
        return inner_->forward_inplace(io, opt);
    }
    int forward_inplace(ncnn::Mat& io, const ncnn::Option& opt) const override {
        return inner_->forward_inplace(io, opt);
    }

private:
    void sync() {
        one_blob_only = inner_->one_blob_only;
        support_inplace = inner_->support_inplace;
        support_vulkan = inner_->support_vulkan;
        support_packing = inner_->support_packing;
        support_bf16_storage = inner_->support_bf16_storage;
        support_fp16_storage = inner_->support_fp16_storage;
        support_int8_storage = inner_->support_int8_storage;
        support_tensor_storage = inner_->support_tensor_storage;
        support_vulkan_packing = inner_->support_vulkan_packing;
        support_any_packing = inner_->support_any_packing;
        support_vulkan_any_packing = inner_->support_vulkan_any_packing;
        support_batch = inner_->support_batch;
    }

    bool agree(const std::vector<ncnn::Mat>& in) const {
        if (in.empty()) return false;
        const std::vector<long> s0 = shape_of(in[0]);
        if (s0.empty()) return false;
        const int dims = int(s0.size());
        const int axis = axis_ < 0 ? dims + axis_ : axis_;
        if (kind_ == Concat && (axis < 0 || axis >= dims)) return false;
        if (kind_ == Weights || kind_ == Reshape) return true;
        for (const ncnn::Mat& m : in) {
            if (m.empty()) return false;
            // Eltwise walks every input with the first one's packing; Concat repacks them.
            if (kind_ == Eltwise && (m.elempack != in[0].elempack || m.elemsize != in[0].elemsize))
                return false;
            const std::vector<long> s = shape_of(m);
            if (s.size() != s0.size()) return false;
            for (int k = 0; k < dims; ++k)
                if (s[k] != s0[k] && !(kind_ == Concat && k == axis)) return false;
        }
        return true;
    }

    ncnn::Layer* inner_;
    Kind kind_;
    int axis_;  // Concat's param 0
    bool int8_;  // Weights: the param declares int8 weights (int8_scale_term, param 8)
    ReshapeTarget target_;  // Reshape: the sizes its param asks for
    long conv_inputs_ = 0;  // Convolution: input channels its weights imply (-1: none fit)
    std::string problem_;
};

}  // namespace

void guard_layer_inputs(ncnn::Net& net, const ParamGraph& graph) {
    std::vector<ncnn::Layer*>& layers = net.mutable_layers();
    for (size_t i = 0; i < layers.size(); ++i) {
        ncnn::Layer*& layer = layers[i];
        if (!layer) continue;
        const int axis = i < graph.layers.size() ? graph.layers[i].int_param(0, 0) : 0;
        if (layer->typeindex == ncnn::LayerType::Concat)
            layer = new Guarded(layer, Guarded::Concat, axis);
        else if (layer->typeindex == ncnn::LayerType::Eltwise)
            layer = new Guarded(layer, Guarded::Eltwise, 0);
        else if (layer->typeindex == ncnn::LayerType::Reshape)
            layer = new Guarded(layer, Guarded::Reshape, 0, false,
                                i < graph.layers.size() ? reshape_target(graph.layers[i])
                                                        : ReshapeTarget());
        else if (layer->typeindex == ncnn::LayerType::Convolution ||
                 layer->typeindex == ncnn::LayerType::ConvolutionDepthWise ||
                 layer->typeindex == ncnn::LayerType::InnerProduct ||
                 layer->typeindex == ncnn::LayerType::Deconvolution ||
                 layer->typeindex == ncnn::LayerType::DeconvolutionDepthWise)
        {
            Guarded* g = new Guarded(layer, Guarded::Weights, 0,
                                     i < graph.layers.size() && graph.layers[i].int_param(8, 0) > 0);
            const bool depthwise = layer->typeindex == ncnn::LayerType::ConvolutionDepthWise;
            if (i < graph.layers.size() &&
                (depthwise || layer->typeindex == ncnn::LayerType::Convolution))
                g->expect_input_channels(conv_inputs(graph.layers[i], depthwise));
            layer = g;
        }
    }
}

std::string guard_problem(const ncnn::Net& net) {
    for (const ncnn::Layer* layer : net.layers())
        if (const Guarded* g = dynamic_cast<const Guarded*>(layer))
            if (!g->problem().empty()) return g->problem();
    return "";
}

}  // namespace nanodet
