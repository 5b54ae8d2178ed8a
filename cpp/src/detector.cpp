#include "nanodet_ncnn/detector.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "cores.h"
#include "datareader.h"
#include "decode.h"
#include "head_layout.h"
#include "kernels/kernels.h"
#include "layer.h"
#include "layer_guard.h"
#include "net.h"
#include "nms.h"
#include "param_graph.h"
#include "platform.h"
#include "precision.h"
#include "preprocess.h"

namespace nanodet {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::vector<uint8_t> read_file(const std::string& path, const char* what) {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    if (!f) throw ModelError(std::string(what) + " file not found or unreadable: " + path);
    // one read of the whole file (a byte-wise istreambuf_iterator copy took longer than the
    // rest of loading a model)
    const std::streamoff size = f.tellg();  // a folder reports -1 or a huge offset here
    if (size < 0 || size > (std::streamoff(1) << 32))
        throw ModelError(std::string(what) + " file not found or unreadable: " + path);
    std::vector<uint8_t> data(static_cast<size_t>(size));
    f.seekg(0);
    if (!f.read(reinterpret_cast<char*>(data.data()), std::streamsize(data.size())))
        throw ModelError(std::string(what) + " file not found or unreadable: " + path);
    if (data.empty()) throw ModelError(std::string(what) + " file is empty: " + path);
    return data;
}

void apply_ncnn_options(ncnn::Option& o, const std::vector<std::pair<std::string, int>>& kv) {
    static const std::pair<const char*, bool ncnn::Option::*> known[] = {
        {"use_packing_layout", &ncnn::Option::use_packing_layout},
        {"use_fp16_packed", &ncnn::Option::use_fp16_packed},
        {"use_fp16_storage", &ncnn::Option::use_fp16_storage},
        {"use_fp16_arithmetic", &ncnn::Option::use_fp16_arithmetic},
        {"use_bf16_storage", &ncnn::Option::use_bf16_storage},
        {"use_int8_inference", &ncnn::Option::use_int8_inference},
        {"use_int8_packed", &ncnn::Option::use_int8_packed},
        {"use_int8_storage", &ncnn::Option::use_int8_storage},
        {"use_int8_arithmetic", &ncnn::Option::use_int8_arithmetic},
        {"use_winograd_convolution", &ncnn::Option::use_winograd_convolution},
        {"use_sgemm_convolution", &ncnn::Option::use_sgemm_convolution},
        {"use_a53_a55_optimized_kernel", &ncnn::Option::use_a53_a55_optimized_kernel},
        {"lightmode", &ncnn::Option::lightmode},
    };
    for (const auto& [name, value] : kv) {
        bool found = false;
        for (const auto& [n, member] : known)
            if (name == n) {
                o.*member = value != 0;
                found = true;
            }
        if (!found) {
            std::string all;
            for (const auto& k : known) all += std::string(all.empty() ? "" : ", ") + k.first;
            throw ModelError("unknown ncnn option '" + name + "' (known: " + all + ")");
        }
    }
}

// Copies a padded 3-D blob into a dense one so that anchors sit at a uniform step.
ncnn::Mat dense(const ncnn::Mat& m) {
    if (m.dims == 3 && m.cstep != size_t(m.w) * m.h) return m.reshape(m.w * m.h, m.c);
    return m;
}

// Loads `net` from the param text and weights; throws ModelError (the weights are consumed in
// place: they must stay alive as long as the net).
void load_net(ncnn::Net& net, const std::string& param_text, const ParamGraph& graph,
                     const std::vector<uint8_t>& weights) {
    if (net.load_param_mem(param_text.c_str()) != 0)
        throw ModelError("ncnn rejected the param file (see ncnn's message above)");
    guard_layer_inputs(net, graph);  // layers that would read out of bounds on bad shapes
    const unsigned char* cursor = weights.data();
    ncnn::DataReaderFromMemory reader(cursor, weights.size());
    if (net.load_model(reader) != 0) {
        const std::string why = guard_problem(net);
        if (!why.empty()) throw ModelError(why);
        throw ModelError("bin file is too short for this param file (" +
                         std::to_string(weights.size()) +
                         " bytes): truncated, or weights of another model");
    }
    const size_t used = size_t(cursor - weights.data());
    if (used != weights.size())
        throw ModelError("bin file has " + std::to_string(weights.size()) + " bytes but the "
                         "param file's layers use " + std::to_string(used) +
                         ": the weights belong to another model");
}

}  // namespace

struct Detector::Impl {
    // ncnn may reference the weights in place, so they must outlive the network: members are
    // destroyed in reverse order of declaration, hence the owner first.
    std::vector<uint8_t> weights;
    ncnn::Net net;
    DetectorOptions opts;
    PrecisionChoice precision;  // what opts.precision resolved to on this CPU, and why
    HeadLayout layout;
    int target_w = 0, target_h = 0;
    std::string source;
    std::string param_text;
    // Nets for other thread counts than opts.num_threads (Pool workers): ncnn's gemm and
    // winograd convolutions pack their weights for the thread count at load time and ignore
    // (and log) another count at run time, and an extractor cannot set its own count. So each
    // count has one net, loaded on first use from the same param text and weight buffer, and
    // shared by every thread running with that count. Declared after `weights`: destroyed first.
    mutable std::mutex nets_mutex;
    mutable std::map<int, std::unique_ptr<ncnn::Net>> nets_by_threads;

    const ncnn::Net& net_for(int threads) const;
    ncnn::Extractor make_extractor(int threads) const { return net_for(threads).create_extractor(); }
    std::vector<ncnn::Mat> extract_all(const ncnn::Mat& in, int threads) const;
    // ncnn threads for a call, and the calling thread pinned to the call's cores.
    int prepare_thread(const DetectParams& p) const {
        pin_thread(p.cores == Cores::Default ? opts.cores : p.cores);
        return p.num_threads > 0 ? p.num_threads : opts.num_threads;
    }
    // The network input for a frame, and where the frame sits in it (pl).
    // `threads`: the call's ncnn thread count, which preprocessing shares. With `buf`, the input
    // goes into a kept buffer of the same placement when there is one (see give_back).
    ncnn::Mat prepare(const uint8_t* pixels, int w, int h, int stride_bytes, PixelFormat fmt,
                      Placement& pl, int threads, InputBuffer* buf = nullptr) const {
        pl = plan_placement(w, h, target_w, target_h, opts.resize, opts.pad_multiple);
        if (buf) *buf = take_input(pl);
        return preprocess(pixels, w, h, stride_bytes, fmt, pl, opts.mean.data(), opts.norm.data(),
                          threads, buf);
    }
    // Network inputs kept between calls, so that the letterbox border of a placement is written
    // once rather than once per frame; one per concurrent caller, a few placements at most.
    mutable std::mutex inputs_mutex;
    mutable std::vector<InputBuffer> spare_inputs;
    static constexpr size_t kSpareInputs = 4;
    InputBuffer take_input(const Placement& pl) const {
        std::lock_guard<std::mutex> lock(inputs_mutex);
        for (size_t i = spare_inputs.size(); i-- > 0;) {
            if (same_layout(spare_inputs[i].placed, pl)) {
                InputBuffer b = std::move(spare_inputs[i]);
                spare_inputs.erase(spare_inputs.begin() + long(i));
                return b;
            }
        }
        return {};
    }
    // Keeps `b` for a later call once the network is done with it (nothing else holds its data:
    // ncnn clones an input it would change in place while the caller still holds it).
    void give_back(InputBuffer&& b) const {
        if (b.mat.empty() || !b.mat.refcount || *b.mat.refcount != 1) return;
        std::lock_guard<std::mutex> lock(inputs_mutex);
        if (spare_inputs.size() >= kSpareInputs) spare_inputs.erase(spare_inputs.begin());
        spare_inputs.push_back(std::move(b));
    }
    // decode + NMS of one frame's outputs into r (detections, decode_ms, nms_ms)
    void postprocess(const std::vector<ncnn::Mat>& outs, const Placement& pl, int w, int h,
                     const DetectParams& p, DetectResult& r) const;
};

struct Detector::Captured {
    std::vector<ncnn::Mat> outs;
    Placement pl;
    int w = 0, h = 0;
};

Detector::Detector() : impl_(new Impl) {}
Detector::~Detector() = default;

std::unique_ptr<Detector> Detector::from_files(const std::string& param_path,
                                               const std::string& bin_path,
                                               const DetectorOptions& opts) {
    std::vector<uint8_t> param = read_file(param_path, "param");
    std::vector<uint8_t> bin = read_file(bin_path, "bin");
    std::string text(param.begin(), param.end());
    std::unique_ptr<Detector> d;
    try {
        d = from_memory(text, bin.data(), bin.size(), opts);
    } catch (const ModelError& e) {
        throw ModelError(std::string(e.what()) + " [" + param_path + ", " + bin_path + "]");
    }
    d->impl_->source = param_path;
    return d;
}

std::unique_ptr<Detector> Detector::from_memory(const std::string& param_text, const uint8_t* bin,
                                                size_t bin_size, const DetectorOptions& opts) {
    if (opts.num_threads < 1 || opts.num_threads > 256)
        throw Error("num_threads must be between 1 and 256");
    if (opts.cores != Cores::All && opts.cores != Cores::Little && opts.cores != Cores::Big)
        throw Error("cores must be all, little or big");
    if (opts.input_width < 0 || opts.input_height < 0 || opts.input_width > 8192 ||
        opts.input_height > 8192)
        throw Error("input size must be between 1 and 8192 pixels (0 = model default)");
    if (opts.pad_multiple < 1 || opts.pad_multiple > 512)
        throw Error("pad_multiple must be between 1 and 512");
    if (param_text.find('\0') != std::string::npos)
        throw ModelError("param file is binary, not ncnn text (were the .param and .bin swapped?)");
    if (!bin || bin_size == 0) throw ModelError("bin file is empty");

    ParamGraph graph = ParamGraph::parse(param_text);
    for (const auto& L : graph.layers)
        if (ncnn::layer_to_index(L.type.c_str()) < 0)
            throw ModelError("layer type '" + L.type + "' (layer '" + L.name +
                             "') is not built into this ncnn; rebuild with "
                             "-DNANODET_NCNN_ALL_LAYERS=ON or use a supported graph");

    // ncnn marks quantized weights with int8_scale_term (param 8) on conv / fc layers.
    bool quantized = false;
    for (const auto& L : graph.layers)
        if ((L.type == "Convolution" || L.type == "ConvolutionDepthWise" ||
             L.type == "InnerProduct" || L.type == "Deconvolution") &&
            L.int_param(8, 0) > 0)
            quantized = true;
    if (opts.precision == Precision::INT8 && !quantized)
        throw ModelError("precision='int8' needs an INT8-quantized model (no layer of this graph "
                         "has int8 weights); make one with `nanodet-ncnn quantize`");

    std::unique_ptr<Detector> d(new Detector());
    Impl& m = *d->impl_;
    m.opts = opts;
    m.precision = choose_precision(opts.precision, quantized);
    apply_precision(m.net.opt, m.precision);
    apply_ncnn_options(m.net.opt, opts.ncnn_options);
    m.net.opt.num_threads = opts.num_threads;
    m.weights.assign(bin, bin + bin_size);
    load_net(m.net, param_text, graph, m.weights);
    m.param_text = param_text;

    m.layout = infer_head_layout(m.net, graph, opts.head);
    m.layout.info.quantized = quantized;
    if (m.layout.info.fixed_input) {
        const int fw = m.layout.info.default_input_width, fh = m.layout.info.default_input_height;
        if ((opts.input_width && opts.input_width != fw) ||
            (opts.input_height && opts.input_height != fh) || opts.resize == ResizeMode::Dynamic)
            throw ModelError("this graph only runs at " + std::to_string(fw) + "x" +
                             std::to_string(fh) + " (it has fixed-size layers such as Reshape): "
                             "use that input size with resize 'letterbox' or 'stretch'");
    }
    m.target_w = opts.input_width ? opts.input_width : m.layout.info.default_input_width;
    m.target_h = opts.input_height ? opts.input_height : m.layout.info.default_input_height;
    if (opts.input_width && !opts.input_height) m.target_h = opts.input_width;
    if (opts.input_height && !opts.input_width) m.target_w = opts.input_height;
    if (m.target_w < 1 || m.target_h < 1 || m.target_w > 8192 || m.target_h > 8192)
        throw ModelError("the param's Input layer asks for a " + std::to_string(m.target_w) + "x" +
                         std::to_string(m.target_h) + " input (limit 8192 pixels a side); pass "
                         "input_size to override");
    m.source = "<memory>";
    return d;
}

const HeadInfo& Detector::head() const { return impl_->layout.info; }
const DetectorOptions& Detector::options() const { return impl_->opts; }
int Detector::input_width() const { return impl_->target_w; }
int Detector::input_height() const { return impl_->target_h; }
Precision Detector::precision() const { return impl_->precision.precision; }
std::string Detector::precision_description() const {
    return std::string(precision_name(impl_->precision.precision)) + " (" +
           impl_->precision.reason + ")";
}

std::string Detector::describe() const {
    const HeadInfo& h = impl_->layout.info;
    std::ostringstream s;
    s << h.legacy_or_plus << " head: " << h.num_classes << " classes, reg_max " << h.reg_max
      << ", strides";
    for (int st : h.strides) s << " " << st;
    s << ", centre offset " << h.center_offset << ", "
      << (h.cls_sigmoid ? "sigmoid scores" : "raw logits") << ", "
      << (h.family == HeadFamily::SingleOutput ? "single output" : "per-stride outputs")
      << "; input '" << h.input_blob << "' " << impl_->target_w << "x" << impl_->target_h
      << "; outputs";
    for (const auto& o : impl_->layout.outputs)
        s << " " << o.blob << (o.role == OutputSpec::Cls ? "(cls" : o.role == OutputSpec::Dis ? "(dis" : "(cls+dis")
          << (o.channel_major ? ",KxN)" : ",NxK)");
    s << "; precision " << precision_description();
    if (impl_->opts.cores != Cores::All) {
        const Cores used = effective_cores(impl_->opts.cores);
        s << "; cores " << cores_name(impl_->opts.cores);
        if (used != impl_->opts.cores) s << " (all: this machine has no such cluster)";
    }
    return s.str();
}

const ncnn::Net& Detector::Impl::net_for(int threads) const {
    if (threads == opts.num_threads) return net;
    std::lock_guard<std::mutex> lock(nets_mutex);
    std::unique_ptr<ncnn::Net>& n = nets_by_threads[threads];
    if (!n) {
        auto fresh = std::make_unique<ncnn::Net>();
        fresh->opt = net.opt;
        fresh->opt.num_threads = threads;
        load_net(*fresh, param_text, ParamGraph::parse(param_text), weights);
        n = std::move(fresh);
    }
    return *n;
}

std::vector<ncnn::Mat> Detector::Impl::extract_all(const ncnn::Mat& in, int threads) const {
    ncnn::Extractor ex = make_extractor(threads);
    ex.set_light_mode(true);
    if (ex.input(layout.info.input_blob.c_str(), in) != 0)
        throw ModelError("ncnn refused the input blob");
    std::vector<ncnn::Mat> outs(layout.outputs.size());
    for (size_t k = 0; k < outs.size(); ++k) {
        if (ex.extract(layout.outputs[k].blob.c_str(), outs[k]) != 0 || outs[k].empty())
            throw ModelError("ncnn failed to compute output '" + layout.outputs[k].blob + "'");
        outs[k] = dense(outs[k]);
    }
    return outs;
}

size_t Detector::run_network(int input_w, int input_h) const {
    ncnn::Mat in(input_w, input_h, 3);
    in.fill(0.f);
    size_t n = 0;
    for (const auto& o : impl_->extract_all(in, impl_->prepare_thread(DetectParams()))) n += o.total();
    return n;
}

// Views per pyramid level over the extracted outputs, checked against the input size.
static std::vector<LevelView> level_views(const HeadLayout& L, const std::vector<ncnn::Mat>& outs,
                                          int in_w, int in_h) {
    const HeadInfo& h = L.info;
    std::vector<LevelView> levels(h.strides.size());
    for (size_t l = 0; l < levels.size(); ++l) {
        levels[l].stride = h.strides[l];
        levels[l].fw = feature_size(in_w, h.strides[l]);
        levels[l].fh = feature_size(in_h, h.strides[l]);
    }
    for (size_t k = 0; k < L.outputs.size(); ++k) {
        const OutputSpec& o = L.outputs[k];
        const ncnn::Mat& m = outs[k];
        long expected = 0;
        for (int l : o.levels) expected += long(levels[l].fw) * levels[l].fh;
        const long total = long(m.w) * m.h * m.d * m.c;
        if (total != expected * o.channels)
            throw ModelError("output '" + o.blob + "' has " + std::to_string(total) +
                             " values at input " + std::to_string(in_w) + "x" +
                             std::to_string(in_h) + ", expected " +
                             std::to_string(expected * o.channels));
        const float* base = static_cast<const float*>(m.data);
        const int astep = o.channel_major ? 1 : o.channels;
        const int cstep = o.channel_major ? int(expected) : 1;
        long offset = 0;
        for (int l : o.levels) {
            TensorView v{base + offset * astep, astep, cstep};
            if (o.role == OutputSpec::Dis) {
                levels[l].dis = v;
            } else {
                levels[l].cls = v;
                if (o.role == OutputSpec::Both) {
                    v.base += long(h.num_classes) * cstep;
                    levels[l].dis = v;
                }
            }
            offset += long(levels[l].fw) * levels[l].fh;
        }
    }
    return levels;
}

static void check_params(const DetectParams& p) {
    if (!(p.conf >= 0.f && p.conf <= 1.f)) throw Error("conf must be within [0, 1]");
    if (!(p.iou >= 0.f && p.iou <= 1.f)) throw Error("iou must be within [0, 1]");
    if (p.max_det < 0) throw Error("max_det must be >= 0");
    if (p.num_threads < 0 || p.num_threads > 256)
        throw Error("num_threads must be between 1 and 256 (0 = the detector's)");
    if (p.cores != Cores::Default && p.cores != Cores::All && p.cores != Cores::Little &&
        p.cores != Cores::Big)
        throw Error("unknown cores mode");
}

static void check_frame(const uint8_t* pixels, int w, int h, int stride_bytes,
                        const DetectParams& p) {
    if (!pixels) throw InputError("image buffer is null");
    if (w <= 0 || h <= 0) throw InputError("image is empty (" + std::to_string(w) + "x" +
                                           std::to_string(h) + ")");
    if (w > 65535 || h > 65535) throw InputError("image is larger than 65535 pixels on a side");
    if (stride_bytes < w * channels_of(p.pixel_format))
        throw InputError("row stride is smaller than one row of pixels");
    check_params(p);
}

DetectResult Detector::detect(const uint8_t* pixels, int w, int h, int stride_bytes,
                              const DetectParams& p) const {
    const Impl& m = *impl_;
    check_frame(pixels, w, h, stride_bytes, p);
    const int threads = m.prepare_thread(p);

    DetectResult r;
    auto t0 = Clock::now();
    Placement pl;
    InputBuffer buf;
    ncnn::Mat in = m.prepare(pixels, w, h, stride_bytes, p.pixel_format, pl, threads, &buf);
    r.input_width = pl.input_w;
    r.input_height = pl.input_h;
    r.times.preprocess_ms = ms_since(t0);

    t0 = Clock::now();
    std::vector<ncnn::Mat> outs = m.extract_all(in, threads);
    r.times.inference_ms = ms_since(t0);
    in.release();
    m.give_back(std::move(buf));

    m.postprocess(outs, pl, w, h, p, r);
    return r;
}

std::shared_ptr<const Detector::Captured> Detector::capture(const uint8_t* pixels, int w, int h,
                                                            int stride_bytes,
                                                            const DetectParams& p) const {
    check_frame(pixels, w, h, stride_bytes, p);
    const Impl& m = *impl_;
    auto c = std::make_shared<Captured>();
    const int threads = m.prepare_thread(p);
    c->outs = m.extract_all(m.prepare(pixels, w, h, stride_bytes, p.pixel_format, c->pl, threads),
                            threads);
    c->w = w;
    c->h = h;
    return c;
}

DetectResult Detector::postprocess(const Captured& c, const DetectParams& p) const {
    check_params(p);
    DetectResult r;
    r.input_width = c.pl.input_w;
    r.input_height = c.pl.input_h;
    impl_->postprocess(c.outs, c.pl, c.w, c.h, p, r);
    return r;
}

void Detector::Impl::postprocess(const std::vector<ncnn::Mat>& outs, const Placement& pl, int w,
                                 int h, const DetectParams& p, DetectResult& r) const {
    const Impl& m = *this;
    auto t0 = Clock::now();
    const HeadInfo& hi = m.layout.info;
    std::vector<LevelView> levels = level_views(m.layout, outs, pl.input_w, pl.input_h);
    DecodeConfig cfg;
    cfg.num_classes = hi.num_classes;
    cfg.reg_max = hi.reg_max;
    cfg.cls_sigmoid = hi.cls_sigmoid;
    cfg.center_offset = hi.center_offset;
    cfg.conf = p.conf;
    cfg.multi_label = p.nms == NmsMode::MultiLabel;
    cfg.max_candidates = p.max_candidates;
    std::vector<Candidate> cands;
    scan_scores(levels, cfg, cands);
    std::vector<float> boxes;
    decode_boxes(levels, cfg, cands, boxes);
    // Clip to the resized frame (padding is not image), as the reference clips to the input.
    const float cx0 = pl.pad_left, cy0 = pl.pad_top;
    const float cx1 = cx0 + pl.content_w, cy1 = cy0 + pl.content_h;
    std::vector<float> scores;
    std::vector<int> classes;
    scores.reserve(cands.size());
    classes.reserve(cands.size());
    size_t n = 0;
    for (size_t k = 0; k < cands.size(); ++k) {
        const float* b = &boxes[4 * k];
        if (!(std::isfinite(b[0]) && std::isfinite(b[1]) && std::isfinite(b[2]) &&
              std::isfinite(b[3])))
            continue;  // NaN distance bins: never reported
        float* o = &boxes[4 * n++];
        o[0] = std::min(std::max(b[0], cx0), cx1);
        o[1] = std::min(std::max(b[1], cy0), cy1);
        o[2] = std::min(std::max(b[2], cx0), cx1);
        o[3] = std::min(std::max(b[3], cy0), cy1);
        scores.push_back(cands[k].score);
        classes.push_back(cands[k].class_id);
    }
    boxes.resize(4 * n);
    r.times.decode_ms = ms_since(t0);

    t0 = Clock::now();
    std::vector<int> keep = nms(boxes, scores, classes, p.iou, p.nms == NmsMode::Agnostic, p.max_det);
    const float sx = float(w) / pl.content_w, sy = float(h) / pl.content_h;
    r.detections.reserve(keep.size());
    for (int k : keep) {
        const float* b = &boxes[4 * k];
        Detection d;
        d.x1 = std::min(std::max((b[0] - cx0) * sx, 0.f), float(w));
        d.y1 = std::min(std::max((b[1] - cy0) * sy, 0.f), float(h));
        d.x2 = std::min(std::max((b[2] - cx0) * sx, 0.f), float(w));
        d.y2 = std::min(std::max((b[3] - cy0) * sy, 0.f), float(h));
        d.score = scores[k];
        d.class_id = classes[k];
        r.detections.push_back(d);
    }
    r.times.nms_ms = ms_since(t0);
}

std::vector<Detector::Blob> Detector::extract_blobs(const uint8_t* pixels, int w, int h,
                                                    int stride_bytes,
                                                    const std::vector<std::string>& names,
                                                    PixelFormat pixel_format) const {
    DetectParams p;
    p.pixel_format = pixel_format;
    check_frame(pixels, w, h, stride_bytes, p);
    const Impl& m = *impl_;
    for (const auto& name : names) {
        bool found = false;
        for (const auto& b : m.net.blobs()) found = found || b.name == name;
        if (!found) throw InputError("no blob named '" + name + "' in this model");
    }
    Placement pl;
    const int threads = m.prepare_thread(p);
    ncnn::Mat in = m.prepare(pixels, w, h, stride_bytes, pixel_format, pl, threads);
    ncnn::Extractor ex = m.make_extractor(threads);
    ex.set_light_mode(false);  // keep every blob: several names share one forward pass
    if (ex.input(m.layout.info.input_blob.c_str(), in) != 0)
        throw ModelError("ncnn refused the input blob");
    std::vector<Blob> out(names.size());
    for (size_t k = 0; k < names.size(); ++k) {
        ncnn::Mat b;
        if (ex.extract(names[k].c_str(), b) != 0 || b.empty())
            throw ModelError("ncnn failed to compute blob '" + names[k] + "'");
        Blob& o = out[k];
        o.shape = dims_of(b);
        const size_t plane = size_t(b.w) * b.h * b.d;
        o.data.resize(plane * b.c);
        for (int c = 0; c < b.c; ++c) {
            const float* src = b.channel(c);
            std::copy(src, src + plane, o.data.begin() + long(c) * long(plane));
        }
    }
    return out;
}

const char* ncnn_version() { return NCNN_VERSION_STRING; }
const char* kernels_name() { return kernels::active().name; }

}  // namespace nanodet
