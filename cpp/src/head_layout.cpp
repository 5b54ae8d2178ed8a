#include "head_layout.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <sstream>

#include "net.h"

namespace nanodet {

namespace {

// Probe input pairs (w, h). The large pair: at every stride from 4 to 128 each feature dimension
// and each feature-map area differs between the probes, and width != height within probe A.
// The small pair does the same for strides 4 to 64 (every released NanoDet head), multiples of
// 32 so that FPN upsampling lines up, and no two candidate stride sets share its anchor counts.
constexpr int kProbeA[2] = {384, 320};
constexpr int kProbeB[2] = {256, 192};
constexpr int kSmallA[2] = {128, 96};
constexpr int kSmallB[2] = {64, 32};

struct Probe {
    std::string blob;
    std::vector<int> a, b;  // dims outer -> inner at each probe
};


std::string dims_str(const std::vector<int>& d) {
    std::ostringstream s;
    for (size_t i = 0; i < d.size(); ++i) s << (i ? "x" : "") << d[i];
    return d.empty() ? "empty" : s.str();
}

int area(int w, int h, int s) { return feature_size(w, s) * feature_size(h, s); }

int set_area(int w, int h, const std::vector<int>& strides) {
    int n = 0;
    for (int s : strides) n += area(w, h, s);
    return n;
}

// Candidate stride sets: consecutive powers of two (NanoDet: 8-16-32, NanoDet-Plus: 8-16-32-64).
std::vector<std::vector<int>> stride_sets() {
    std::vector<std::vector<int>> out;
    for (int start : {8, 4, 16, 32})
        for (int n : {4, 3, 5, 2, 1, 6}) {
            std::vector<int> s;
            for (int k = 0; k < n; ++k) s.push_back(start << k);
            out.push_back(s);
        }
    return out;
}

struct Analysed {
    std::string blob;
    bool channel_major;
    int channels;
    int anchors_a, anchors_b;
    std::vector<int> spatial_a;  // the varying dims at probe A (outer -> inner)
};

}  // namespace

std::vector<int> dims_of(const ncnn::Mat& m) {
    switch (m.dims) {
        case 1: return {m.w};
        case 2: return {m.h, m.w};
        case 3: return {m.c, m.h, m.w};
        case 4: return {m.c, m.d, m.h, m.w};
        default: return {};
    }
}

namespace {

// The layout from the output shapes at probe A and (when two_probes) probe B.
HeadLayout analyse(const ParamGraph& graph, const HeadOverrides& ov, const std::string& input_blob,
                   const std::vector<Probe>& probes, const int A[2], const int B[2],
                   bool two_probes) {
    HeadLayout L;
    L.info.input_blob = input_blob;
    L.info.fixed_input = !two_probes;

    std::ostringstream found;  // for error messages
    for (const auto& p : probes) {
        found << " '" << p.blob << "' " << dims_str(p.a) << " (at " << A[0] << "x" << A[1] << ")";
        if (two_probes) found << ", " << dims_str(p.b) << " (at " << B[0] << "x" << B[1] << ")";
        found << ";";
    }
    auto fail = [&](const std::string& why) -> ModelError {
        return ModelError("unrecognised NanoDet head: " + why + ". Graph outputs:" + found.str() +
                          " Pass explicit head overrides (num_classes, reg_max, strides) if this "
                          "is an unusual export.");
    };
    // Does an anchor count fit one stride, or a pyramid of them, at probe A?
    auto fits_anchor_count = [&](int n) {
        for (int s = 2; s <= 512; s *= 2)
            if (area(A[0], A[1], s) == n) return true;
        for (const auto& set : stride_sets())
            if (set_area(A[0], A[1], set) == n) return true;
        return false;
    };

    // An output with exactly one input-independent dim, outermost or innermost, is a head tensor.
    // With a single probe, the channel dim is the one whose removal leaves a valid anchor count.
    std::vector<Analysed> heads;
    for (const auto& p : probes) {
        if (p.a.size() < 2 || p.a.size() > 3 || p.a.size() != p.b.size()) continue;
        const int last = int(p.a.size()) - 1;
        int fi = -1;
        if (two_probes) {
            std::vector<int> fixed;
            for (size_t i = 0; i < p.a.size(); ++i)
                if (p.a[i] == p.b[i]) fixed.push_back(int(i));
            if (fixed.size() != 1) continue;
            fi = fixed[0];
        } else {
            for (int cand : {last, 0}) {
                int n = 1;
                for (int i = 0; i <= last; ++i)
                    if (i != cand) n *= p.a[i];
                if (fits_anchor_count(n)) {
                    fi = cand;
                    break;
                }
            }
        }
        if (fi != 0 && fi != last) continue;
        Analysed an;
        an.blob = p.blob;
        an.channel_major = fi == 0;
        an.channels = p.a[fi];
        an.anchors_a = an.anchors_b = 1;
        for (size_t i = 0; i < p.a.size(); ++i)
            if (int(i) != fi) {
                an.anchors_a *= p.a[i];
                an.anchors_b *= p.b[i];
                an.spatial_a.push_back(p.a[i]);
            }
        heads.push_back(an);
    }
    if (heads.empty()) throw fail("no output has a channel axis and spatial axes");

    // Group tensors that cover the same anchors (a cls/dis pair, or one combined tensor).
    std::map<std::pair<int, int>, std::vector<Analysed>> groups;
    for (const auto& h : heads) groups[{h.anchors_a, h.anchors_b}].push_back(h);

    struct Group {
        std::vector<int> strides;
        std::vector<Analysed> tensors;
    };
    std::vector<Group> resolved;
    for (auto& [key, tensors] : groups) {
        Group g;
        g.tensors = tensors;
        if (!ov.strides.empty() && groups.size() == 1) {
            if (set_area(A[0], A[1], ov.strides) != key.first)
                throw fail("the given strides do not match the output's anchor count");
            g.strides = ov.strides;
        } else {
            std::vector<std::vector<int>> sets = stride_sets();
            if (groups.size() > 1) {  // one stride per tensor group
                sets.clear();
                for (int s = 2; s <= 512; s *= 2) sets.push_back({s});
            }
            for (const auto& set : sets) {
                if (set_area(A[0], A[1], set) == key.first &&
                    (!two_probes || set_area(B[0], B[1], set) == key.second)) {
                    g.strides = set;
                    break;
                }
            }
        }
        if (g.strides.empty()) continue;  // not a head tensor (anchor count fits no stride set)
        if (tensors.size() > 2) throw fail("more than two outputs share one anchor grid");
        resolved.push_back(g);
    }
    if (resolved.empty()) throw fail("no output's anchor count matches a stride pyramid");
    std::sort(resolved.begin(), resolved.end(),
              [](const Group& x, const Group& y) { return x.strides[0] < y.strides[0]; });
    for (size_t i = 1; i < resolved.size(); ++i)
        if (resolved[i].strides[0] == resolved[i - 1].strides[0])
            throw fail("two output groups map to the same stride");

    // Spatial order check: NanoDet tensors list anchors row by row (y outer, x inner).
    for (const auto& g : resolved)
        for (const auto& t : g.tensors)
            if (g.strides.size() == 1 && t.spatial_a.size() == 2) {
                int s = g.strides[0];
                if (t.spatial_a[0] != feature_size(A[1], s) ||
                    t.spatial_a[1] != feature_size(A[0], s))
                    throw fail("output '" + t.blob + "' lists anchors column by column");
            }

    // Which tensor holds class scores, which the distance bins.
    int C = -1, R = -1, sig = -1;
    auto agree = [&](int& slot, int v, const char* what) {
        if (slot >= 0 && slot != v)
            throw fail(std::string("levels disagree on ") + what);
        slot = v;
    };
    for (auto& g : resolved) {
        int level0 = int(L.info.strides.size());
        for (int s : g.strides) L.info.strides.push_back(s);
        std::vector<int> levels;
        for (size_t k = 0; k < g.strides.size(); ++k) levels.push_back(level0 + int(k));

        if (g.tensors.size() == 2) {
            Analysed a = g.tensors[0], b = g.tensors[1];
            bool sa = graph.passes_through(a.blob, "Sigmoid");
            bool sb = graph.passes_through(b.blob, "Sigmoid");
            bool a_is_cls;
            if (sa != sb) a_is_cls = sa;
            else if (ov.num_classes > 0 && (a.channels == ov.num_classes) != (b.channels == ov.num_classes))
                a_is_cls = a.channels == ov.num_classes;
            else if (ov.reg_max >= 0 && (a.channels == 4 * (ov.reg_max + 1)) != (b.channels == 4 * (ov.reg_max + 1)))
                a_is_cls = b.channels == 4 * (ov.reg_max + 1);
            else if ((a.channels == 32) != (b.channels == 32))
                a_is_cls = b.channels == 32;  // reg_max 7, every released NanoDet config
            else
                throw fail("cannot tell the class tensor from the distance tensor of '" + a.blob +
                           "' and '" + b.blob + "'");
            const Analysed& cls = a_is_cls ? a : b;
            const Analysed& dis = a_is_cls ? b : a;
            if (dis.channels % 4 != 0)
                throw fail("distance tensor '" + dis.blob + "' has " +
                           std::to_string(dis.channels) + " channels, not 4*(reg_max+1)");
            agree(C, cls.channels, "the class count");
            agree(R, dis.channels / 4 - 1, "reg_max");
            agree(sig, graph.passes_through(cls.blob, "Sigmoid") ? 1 : 0, "sigmoid");
            L.outputs.push_back({cls.blob, OutputSpec::Cls, levels, cls.channel_major, cls.channels});
            L.outputs.push_back({dis.blob, OutputSpec::Dis, levels, dis.channel_major, dis.channels});
        } else {
            const Analysed& t = g.tensors[0];
            int c = -1;
            if (ov.num_classes > 0) c = ov.num_classes;
            else if (ov.reg_max >= 0) c = t.channels - 4 * (ov.reg_max + 1);
            else if (const ParamLayer* sl = graph.find_above(t.blob, "Slice", true)) {
                auto it = sl->arrays.find(0);
                if (it != sl->arrays.end() && it->second.size() == 2) {
                    const int first = parse_int(it->second[0]).value_or(-1);
                    if (first > 0 && first < t.channels && (t.channels - first) % 4 == 0) c = first;
                }
            }
            if (c < 0) c = t.channels - 32;  // reg_max 7, every released NanoDet config
            if (c <= 0 || (t.channels - c) % 4 != 0 || t.channels - c < 8)
                throw fail("output '" + t.blob + "' has " + std::to_string(t.channels) +
                           " channels, which do not split into classes + 4*(reg_max+1)");
            agree(C, c, "the class count");
            agree(R, (t.channels - c) / 4 - 1, "reg_max");
            agree(sig, graph.passes_through(t.blob, "Sigmoid") ? 1 : 0, "sigmoid");
            L.outputs.push_back({t.blob, OutputSpec::Both, levels, t.channel_major, t.channels});
        }
        // Anchors inside a combined multi-level tensor are ordered by stride.
    }
    std::vector<int> sorted = L.info.strides;
    std::sort(sorted.begin(), sorted.end());
    if (sorted != L.info.strides) throw fail("levels are not ordered by stride");

    if (ov.num_classes > 0 && C != ov.num_classes)
        throw fail("num_classes=" + std::to_string(ov.num_classes) + " does not fit the outputs");
    if (ov.reg_max >= 0 && R != ov.reg_max)
        throw fail("reg_max=" + std::to_string(ov.reg_max) + " does not fit the outputs");
    L.info.num_classes = C;
    L.info.reg_max = R;
    L.info.cls_sigmoid = ov.cls_sigmoid >= 0 ? ov.cls_sigmoid == 1 : sig == 1;
    L.info.family = L.outputs.size() <= 2 && L.outputs[0].levels.size() > 1 ? HeadFamily::SingleOutput
                                                                          : HeadFamily::PerStride;
    // Legacy NanoDet (GFL head, 3 levels) exported per stride by nanodet 0.x centres anchors at
    // (x + 0.5) * stride; nanodet 1.x (single concatenated output) and NanoDet-Plus (4 levels) at
    // x * stride. Getting this wrong shifts every box (nanodet issue 456).
    bool legacy = L.info.strides.size() == 3;
    bool half_offset = legacy && L.info.family == HeadFamily::PerStride;
    L.info.legacy_or_plus = legacy ? "nanodet" : "nanodet-plus";
    L.info.center_offset = ov.center_offset >= 0 ? ov.center_offset : (half_offset ? 0.5f : 0.f);
    for (const auto& o : L.outputs) L.info.output_blobs.push_back(o.blob);

    int dflt = legacy ? 320 : 416;
    L.info.default_input_width = L.info.fixed_input ? A[0] : dflt;
    L.info.default_input_height = L.info.fixed_input ? A[1] : dflt;
    for (const auto& layer : graph.layers)
        if (layer.type == "Input" && !layer.tops.empty() && layer.tops[0] == L.info.input_blob) {
            int w = layer.int_param(0, 0), h = layer.int_param(1, 0);
            if (w > 0 && h > 0) {
                L.info.default_input_width = w;
                L.info.default_input_height = h;
            }
        }
    return L;
}

}  // namespace

HeadLayout infer_head_layout(const ncnn::Net& net, const ParamGraph& graph,
                             const HeadOverrides& ov) {
    const auto& in_names = net.input_names();
    const auto& out_names = net.output_names();
    if (in_names.size() != 1)
        throw ModelError("expected a graph with exactly one Input blob, found " +
                         std::to_string(in_names.size()));
    const std::string input_blob = in_names[0];

    // Shapes of every graph output at two probe sizes. A graph that cannot run at them
    // (fixed-size Reshape layers) is probed once at its own size and then only runs at it.
    std::vector<Probe> probes;
    for (const char* o : out_names) probes.push_back({o, {}, {}});
    auto run_probe = [&](int w, int h, bool first) -> bool {
        ncnn::Mat in(w, h, 3);
        in.fill(0.f);
        ncnn::Extractor ex = net.create_extractor();
        ex.set_light_mode(true);
        if (ex.input(input_blob.c_str(), in) != 0)
            throw ModelError("cannot feed the input blob '" + input_blob + "'");
        for (auto& p : probes) {
            ncnn::Mat m;
            if (ex.extract(p.blob.c_str(), m) != 0 || m.empty()) return false;
            (first ? p.a : p.b) = dims_of(m);
        }
        return true;
    };
    // A Reshape to a fully given shape ties the graph to one input size; running it at another
    // size would read past its input, so such graphs are only probed at their own size.
    bool fixed_reshape = false;
    for (const auto& layer : graph.layers) {
        if (layer.type != "Reshape") continue;
        const int64_t w = layer.int_param(0, 0), h = layer.int_param(1, 1), c = layer.int_param(2, 1);
        // w * h fits in 64 bits; the product with c is only formed when w * h is small.
        if (w > 0 && h > 0 && c > 0 && (w * h > 1024 || w * h * c > 1024)) fixed_reshape = true;
    }

    if (!fixed_reshape) {
        // Small probes first (a few percent of a full forward pass). An output with more than
        // one input-independent dim there (a level too coarse to change between the probes), a
        // graph that cannot run that small, or a head the small shapes cannot explain falls back
        // to the large probes.
        if (run_probe(kSmallA[0], kSmallA[1], true) && run_probe(kSmallB[0], kSmallB[1], false)) {
            bool ambiguous = false;
            for (const auto& p : probes) {
                if (p.a.size() < 2 || p.a.size() > 3 || p.a.size() != p.b.size()) continue;
                int fixed = 0;
                for (size_t i = 0; i < p.a.size(); ++i) fixed += p.a[i] == p.b[i];
                ambiguous = ambiguous || fixed > 1;
            }
            if (!ambiguous) {
                try {
                    return analyse(graph, ov, input_blob, probes, kSmallA, kSmallB, true);
                } catch (const ModelError&) {
                }
            }
        }
        if (run_probe(kProbeA[0], kProbeA[1], true) && run_probe(kProbeB[0], kProbeB[1], false))
            return analyse(graph, ov, input_blob, probes, kProbeA, kProbeB, true);
    }
    std::vector<std::pair<int, int>> sizes;
    for (const auto& layer : graph.layers)
        if (layer.type == "Input" && layer.int_param(0, 0) > 0 && layer.int_param(1, 0) > 0)
            sizes.push_back({layer.int_param(0, 0), layer.int_param(1, 0)});
    for (int s : {416, 320, 512, 640, 288, 256}) sizes.push_back({s, s});
    for (const auto& [w, h] : sizes)
        if (run_probe(w, h, true)) {
            for (auto& p : probes) p.b = p.a;
            const int A[2] = {w, h};
            return analyse(graph, ov, input_blob, probes, A, A, false);
        }
    throw ModelError("the graph failed to run at any probe input size (it may need an "
                     "input size nanodet-ncnn does not try, or be broken)");
}

}  // namespace nanodet
