// Unit tests of the decode / NMS building blocks.
//   everywhere: scalar kernels, scan_scores / decode_boxes / nms on hand-made inputs with known
//               answers; .param integer parsing (range checks) and loading graphs whose integers
//               overflow (run under UBSan by tools/reliability/run.sh);
//   ARM (aarch64, and armv7 with NEON + VFPv4): every kernel of K::neon against K::scalar on
//               random and adversarial data (ties, NaN/inf, +-0, denormals, empty, odd sizes,
//               strided layouts), and scan/decode/NMS with the NEON kernels switched on and off.
// Usage: nanodet_core_tests [name-filter]
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "decode.h"
#include "harness.h"
#include "kernels/kernels.h"
#include "nanodet_ncnn/detector.h"
#include "nms.h"
#include "param_graph.h"

using namespace nanodet;
namespace K = nanodet::kernels;

static const float kInf = std::numeric_limits<float>::infinity();
static const float kNaN = std::numeric_limits<float>::quiet_NaN();

// ---------------------------------------------------------------- scalar kernels: known answers
TEST(scalar_max_rows_known) {
    // 3 anchors x 4 classes, anchor_step 5 (one padding value that must be ignored)
    const float d[] = {0.1f, 0.9f, 0.3f, 0.2f, 99.f,  //
                       kNaN, -1.f, -2.f, kNaN, 99.f,  //
                       kNaN, kNaN, kNaN, kNaN, 99.f};
    float best[3];
    K::scalar.max_rows(d, 3, 4, 5, best);
    CHECK(best[0] == 0.9f);
    CHECK(best[1] == -1.f);  // NaN never wins
    CHECK(best[2] == -kInf);  // all NaN: nothing passes any threshold
    K::scalar.max_rows(d, 0, 4, 5, best);  // n = 0 writes nothing
}

// The first of equal values wins, in class order: written out here as the rule's definition.
TEST(scalar_max_rows_is_the_in_order_rule) {
    std::mt19937 rng(7);
    const float specials[] = {0.f, -0.f, kNaN, -kInf, kInf, 1e-40f, -1e-40f, 0.5f, -0.5f};
    std::uniform_real_distribution<float> u(-2.f, 2.f);
    for (int C : {1, 2, 3, 4, 5, 7, 8, 80, 81, 83})
        for (int trial = 0; trial < 300; ++trial) {
            std::vector<float> row(static_cast<size_t>(C));
            for (auto& v : row) v = (rng() % 3 == 0) ? specials[rng() % 9] : u(rng);
            if (trial % 4 == 0)  // maxima that compare equal to zero: +0, -0, denormals
                for (auto& v : row) v = v > 0.f ? specials[rng() % 2] : v;
            float want = -kInf;
            for (float v : row) want = v > want ? v : want;
            float got;
            K::scalar.max_rows(row.data(), 1, C, C, &got);
            CHECK(std::memcmp(&want, &got, sizeof(float)) == 0);
        }
}

TEST(scalar_max_cols_known) {
    // 3 classes x 2 anchors, channel_step 3
    const float d[] = {0.1f, 0.5f, 7.f,  //
                       0.4f, kNaN, 7.f,  //
                       0.2f, 0.3f, 7.f};
    float best[2];
    K::scalar.max_cols(d, 2, 3, 3, best);
    CHECK(best[0] == 0.4f);
    CHECK(best[1] == 0.5f);
}

TEST(scalar_max_cols_is_the_in_order_rule) {
    std::mt19937 rng(11);
    const float specials[] = {0.f, -0.f, kNaN, -kInf, kInf, 1e-40f, -1e-40f, 0.5f, -0.5f};
    std::uniform_real_distribution<float> u(-2.f, 2.f);
    for (int C : {1, 3, 4, 5, 7, 8, 80, 81, 83})
        for (int n : {1, 3, 4, 17, 64}) for (int trial = 0; trial < 4; ++trial) {
            const int step = n + 3;  // channel_step wider than n, as in a padded blob
            std::vector<float> d(size_t(C) * step);
            for (auto& v : d) v = (rng() % 3 == 0) ? specials[rng() % 9] : u(rng);
            if (trial == 0)  // maxima that compare equal to zero: the order of +0 and -0 shows
                for (auto& v : d) v = v > 0.f ? specials[rng() % 2] : v;
            std::vector<float> got(static_cast<size_t>(n));
            K::scalar.max_cols(d.data(), n, C, step, got.data());
            for (int i = 0; i < n; ++i) {
                float want = -kInf;
                for (int c = 0; c < C; ++c) want = d[size_t(c) * step + i] > want ? d[size_t(c) * step + i] : want;
                CHECK(std::memcmp(&want, &got[i], sizeof(float)) == 0);
            }
        }
}

TEST(scalar_dfl_known) {
    float bins[32];
    for (int i = 0; i < 32; ++i) bins[i] = 0.f;  // uniform: mean of 0..7 = 3.5
    bins[8 + 5] = 100.f;                         // side 1: one-hot at bin 5
    for (int j = 0; j < 8; ++j) bins[16 + j] = -1e30f;
    bins[16 + 2] = 0.f;  // side 2: everything else underflows -> exactly 2
    bins[24 + 0] = 3.f;
    bins[24 + 7] = 3.f;  // side 3: two equal peaks at 0 and 7, others far below
    for (int j = 1; j < 7; ++j) bins[24 + j] = -200.f;
    float out[4];
    K::scalar.dfl_distances(bins, 8, 1, out);
    CHECK_NEAR(out[0], 3.5, 1e-6);
    CHECK_NEAR(out[1], 5.0, 1e-6);
    CHECK(out[2] == 2.f);
    CHECK_NEAR(out[3], 3.5, 1e-6);
    // the same values laid out with step 3 (channel-major style)
    std::vector<float> strided(32 * 3, 123.f);
    for (int i = 0; i < 32; ++i) strided[i * 3] = bins[i];
    float out2[4];
    K::scalar.dfl_distances(strided.data(), 8, 3, out2);
    for (int s = 0; s < 4; ++s) CHECK(out2[s] == out[s]);
}

TEST(scalar_iou_known) {
    const float box[4] = {0, 0, 10, 10};
    const float boxes[] = {0, 0, 10, 10,    // identical -> 1
                           20, 20, 30, 30,  // disjoint -> 0
                           5, 0, 15, 10,    // half overlap: 50 / 150
                           10, 0, 20, 10,   // touching edge -> 0
                           2, 2, 4, 4};     // inside: 4 / 100
    const float areas[] = {100, 100, 100, 100, 4};
    float iou[5];
    K::scalar.iou_many(box, 100.f, boxes, areas, 5, iou);
    CHECK(iou[0] == 1.f);
    CHECK(iou[1] == 0.f);
    CHECK_NEAR(iou[2], 1.0 / 3.0, 1e-7);
    CHECK(iou[3] == 0.f);
    CHECK_NEAR(iou[4], 0.04, 1e-7);
}

TEST(scalar_vresize_normalize_known) {
    // hresize of a byte s with weight 2048 is s * 128; b0 = 2048, b1 = 0 gives s back
    const short r0[] = {10 * 128, 2 * 128, 255 * 128, 0};
    const short r1[] = {0, 0, 0, 0};
    float g[4];
    K::scalar.vresize_normalize(r0, r1, 4, 2048, 0, 116.28f, 0.017507f, g);
    CHECK(g[0] == (10.f - 116.28f) * 0.017507f);
    CHECK(g[1] == (2.f - 116.28f) * 0.017507f);
    CHECK(g[2] == (255.f - 116.28f) * 0.017507f);
    CHECK(g[3] == (0.f - 116.28f) * 0.017507f);
    // halfway between two rows, with ncnn's rounding: (4 * 10 / 2 + 4 * 20 / 2 + 2) >> 2 = 15
    const short a[] = {10 * 128}, c[] = {20 * 128};
    K::scalar.vresize_normalize(a, c, 1, 1024, 1024, 0.f, 1.f, g);
    CHECK(g[0] == 15.f);
}

TEST(dispatched_kernels_report_name) {
    // Without NEON the active table is the scalar one and the switch is inert.
    const bool was = K::neon_enabled();
    K::set_neon_enabled(false);
    CHECK(!K::neon_enabled() && &K::active() == &K::scalar);
    CHECK(std::string(K::active().name) == "scalar");
    K::set_neon_enabled(true);
#if NANODET_HAVE_NEON
    CHECK(K::neon_enabled() && &K::active() == &K::neon);
    CHECK(std::string(K::active().name) == "neon");
#else
    CHECK(!K::neon_enabled() && &K::active() == &K::scalar);
#endif
    K::set_neon_enabled(was);
}

// ------------------------------------------------------------------- NMS: hand-made inputs
TEST(nms_per_class_and_agnostic) {
    // 0 and 1 overlap heavily (same class), 2 overlaps 0 but is another class, 3 is far away.
    const std::vector<float> boxes = {0, 0, 10, 10, 1, 1, 11, 11, 0, 0, 10, 9, 50, 50, 60, 60};
    const std::vector<float> scores = {0.9f, 0.8f, 0.7f, 0.6f};
    const std::vector<int> classes = {0, 0, 1, 0};
    std::vector<int> keep = nms(boxes, scores, classes, 0.5f, false, 100);
    CHECK((keep == std::vector<int>{0, 2, 3}));
    keep = nms(boxes, scores, classes, 0.5f, true, 100);
    CHECK((keep == std::vector<int>{0, 3}));
    keep = nms(boxes, scores, classes, 0.5f, false, 2);  // max_det
    CHECK((keep == std::vector<int>{0, 2}));
    keep = nms(boxes, scores, classes, 0.99f, true, 100);  // nothing overlaps that much
    CHECK((keep == std::vector<int>{0, 1, 2, 3}));
}

TEST(nms_order_ties_and_threshold_edge) {
    // Unsorted input; equal scores keep input order; IoU exactly at the threshold is kept.
    const std::vector<float> boxes = {0, 0, 10, 10, 100, 0, 110, 10, 5, 0, 15, 10, 200, 0, 210, 10};
    const std::vector<float> scores = {0.5f, 0.7f, 0.9f, 0.7f};
    const std::vector<int> classes = {3, 3, 3, 3};
    // box 2 (best) vs box 0: IoU 50/150 = 1/3
    std::vector<int> keep = nms(boxes, scores, classes, 1.f / 3.f, false, 0);
    CHECK((keep == std::vector<int>{2, 1, 3, 0}));
    keep = nms(boxes, scores, classes, 0.3f, false, 0);
    CHECK((keep == std::vector<int>{2, 1, 3}));
    CHECK(nms({}, {}, {}, 0.5f, false, 100).empty());
}

// --------------------------------------------------------------- decode: hand-made inputs
namespace {
// A single level (stride 8, 2x2 grid) in anchors x channels layout: C class scores then 4x8 bins.
struct ToyLevel {
    int C;
    std::vector<float> data;  // 4 anchors x (C + 32)
    explicit ToyLevel(int classes) : C(classes), data(4 * (classes + 32), 0.f) {}
    float& cls(int a, int c) { return data[a * (C + 32) + c]; }
    float& bin(int a, int side, int j) { return data[a * (C + 32) + C + side * 8 + j]; }
    std::vector<LevelView> views() const {
        LevelView v;
        v.stride = 8;
        v.fw = 2;
        v.fh = 2;
        v.cls = {data.data(), C + 32, 1};
        v.dis = {data.data() + C, C + 32, 1};
        return {v};
    }
};
}  // namespace

TEST(decode_scan_threshold_argmax_multilabel) {
    ToyLevel t(3);
    t.cls(0, 1) = 0.9f;
    t.cls(1, 0) = 0.5f;
    t.cls(1, 2) = 0.5f;  // tie: the first class wins in single-label mode
    t.cls(2, 0) = 0.2f;  // below threshold
    t.cls(3, 0) = kNaN;
    t.cls(3, 2) = 0.6f;  // NaN never wins
    DecodeConfig cfg;
    cfg.num_classes = 3;
    cfg.conf = 0.4f;
    std::vector<Candidate> c;
    scan_scores(t.views(), cfg, c);
    CHECK(c.size() == 3);
    if (c.size() == 3) {
        CHECK(c[0].anchor == 0 && c[0].class_id == 1 && c[0].score == 0.9f);
        CHECK(c[1].anchor == 1 && c[1].class_id == 0 && c[1].score == 0.5f);
        CHECK(c[2].anchor == 3 && c[2].class_id == 2 && c[2].score == 0.6f);
    }
    cfg.multi_label = true;
    c.clear();
    scan_scores(t.views(), cfg, c);
    CHECK(c.size() == 4);  // anchor 1 contributes both classes
    cfg.multi_label = false;
    cfg.max_candidates = 1;
    c.clear();
    scan_scores(t.views(), cfg, c);
    CHECK(c.size() == 1 && c[0].score == 0.9f);
    cfg.max_candidates = 3000;
    cfg.conf = 0.95f;  // all below
    c.clear();
    scan_scores(t.views(), cfg, c);
    CHECK(c.empty());
}

TEST(decode_logit_threshold) {
    DecodeConfig cfg;
    cfg.cls_sigmoid = false;
    cfg.conf = 0.5f;
    CHECK_NEAR(raw_threshold(cfg), 0.0, 1e-7);
    cfg.conf = 0.35f;
    CHECK_NEAR(raw_threshold(cfg), std::log(0.35 / 0.65), 1e-6);
    cfg.num_classes = 2;
    ToyLevel t(2);
    for (int a = 0; a < 4; ++a) t.cls(a, 0) = t.cls(a, 1) = -5.f;
    t.cls(2, 1) = 0.f;  // sigmoid 0.5 > 0.35
    std::vector<Candidate> c;
    scan_scores(t.views(), cfg, c);
    CHECK(c.size() == 1 && c[0].anchor == 2 && c[0].class_id == 1);
    if (!c.empty()) CHECK_NEAR(c[0].score, 0.5, 1e-7);
}

TEST(decode_boxes_known_geometry) {
    ToyLevel t(1);
    // anchor 3 = (x 1, y 1): uniform bins -> 3.5 bins = 28 px on every side
    // anchor 0: one-hot bins l=0, t=1, r=2, b=7
    const int hot[4] = {0, 1, 2, 7};
    for (int s = 0; s < 4; ++s) t.bin(0, s, hot[s]) = 50.f;
    std::vector<Candidate> c = {{0.9f, 0, 0, 3}, {0.8f, 0, 0, 0}};
    DecodeConfig cfg;
    cfg.num_classes = 1;
    cfg.center_offset = 0.f;  // NanoDet-Plus: centre at x * stride
    std::vector<float> boxes;
    decode_boxes(t.views(), cfg, c, boxes);
    CHECK(boxes.size() == 8);
    CHECK_NEAR(boxes[0], 8 - 28, 1e-4);
    CHECK_NEAR(boxes[1], 8 - 28, 1e-4);
    CHECK_NEAR(boxes[2], 8 + 28, 1e-4);
    CHECK_NEAR(boxes[3], 8 + 28, 1e-4);
    CHECK_NEAR(boxes[4], 0 - 0, 1e-3);
    CHECK_NEAR(boxes[5], 0 - 8, 1e-3);
    CHECK_NEAR(boxes[6], 0 + 16, 1e-3);
    CHECK_NEAR(boxes[7], 0 + 56, 1e-3);
    cfg.center_offset = 0.5f;  // legacy NanoDet: centre at (x + 0.5) * stride
    decode_boxes(t.views(), cfg, c, boxes);
    CHECK_NEAR(boxes[0], 12 - 28, 1e-4);
    CHECK_NEAR(boxes[5], 4 - 8, 1e-3);
}

// ------------------------------------------------------------- .param integers: range checks
TEST(parse_int_accepts_exactly_the_int_range) {
    CHECK(parse_int("0") == 0 && parse_int("-7") == -7 && parse_int("+7") == 7);
    CHECK(parse_int("2147483647") == 2147483647);
    CHECK(parse_int("-2147483648") == std::numeric_limits<int>::min());
    for (const char* bad : {"2147483648", "-2147483649", "99999999999999999999", "", "-", "+",
                            "+-1", "1.5", "1e3", "12a", " 1", "0x10"})
        CHECK_MSG(!parse_int(bad), std::string("parsed '") + bad + "'");
}

namespace {
// A two-layer graph with `params` on its second (Reshape) layer.
std::string reshape_graph(const std::string& params) {
    return "7767517\n2 2\nInput data 0 1 data 0=8 1=8 2=3\nReshape r 1 1 data out " + params + "\n";
}
std::string parse_error(const std::string& text) {
    try {
        ParamGraph::parse(text);
    } catch (const ModelError& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST(param_integers_out_of_range_are_rejected) {
    const std::string big = parse_error(reshape_graph("0=99999999999"));
    CHECK_MSG(big.find("line 4: integer out of range in '0=99999999999'") != std::string::npos, big);
    CHECK(parse_error(reshape_graph("0=-2147483649")).find("integer out of range") != std::string::npos);
    const std::string item = parse_error(reshape_graph("-23300=2,1,4294967296"));
    CHECK_MSG(item.find("integer out of range in '-23300=2,1,4294967296'") != std::string::npos, item);
    const std::string count = parse_error(reshape_graph("-23300=3,1,2"));
    CHECK_MSG(count.find("does not start with its item count") != std::string::npos, count);
    CHECK(parse_error(reshape_graph("-23300=99999999999,1")).find("item count") != std::string::npos);
    const std::string key = parse_error(reshape_graph("99999999999=1"));
    CHECK_MSG(key.find("parameter key out of range") != std::string::npos, key);
    // In range, floats and float arrays are fine, and int_param reads what ncnn reads.
    const ParamGraph g = ParamGraph::parse(reshape_graph("0=-1 1=2147483647 2=1.5 -23300=2,0.5,3"));
    const ParamLayer& r = g.layers[1];
    CHECK(r.int_param(0, 9) == -1 && r.int_param(1, 9) == 2147483647);
    CHECK(r.int_param(2, 9) == 9 && r.int_param(3, 9) == 9);  // a float, and absent: the default
    CHECK(r.arrays.at(0).size() == 2);
}

TEST(reshape_sizes_whose_product_overflows_int_fail_cleanly) {
    // Every factor fits in an int, their product does not: the fixed-size-Reshape check of head
    // layout inference must form it in 64 bits (UBSan reports the int overflow otherwise).
    const std::vector<uint8_t> weights(16, 0);  // the 1x1 convolution: fp32 tag + 3 weights
    for (const char* params : {"0=65536 1=65536 2=3", "0=2147483647 1=2147483647 2=2147483647",
                               "0=3 1=1048576 2=1048576"}) {
        const std::string text = "7767517\n3 3\nInput data 0 1 data 0=8 1=8 2=3\n"
                                 "Convolution c 1 1 data f 0=1 1=1 6=3\n"
                                 "Reshape r 1 1 f out " + std::string(params) + "\n";
        std::string what;
        try {
            Detector::from_memory(text, weights.data(), weights.size(), DetectorOptions());
        } catch (const Error& e) {
            what = e.what();
        }
        CHECK_MSG(!what.empty(), std::string(params) + " loaded as a detector");
    }
}

// Denormals keep their IEEE values in every table (32-bit NEON arithmetic flushes them to zero:
// neither the scalar reference nor the NEON table may let that show).
TEST(kernels_keep_denormals_known) {
    std::vector<const K::Table*> tables = {&K::scalar};
#if NANODET_HAVE_NEON
    tables.push_back(&K::neon);
#endif
    const float d1 = std::ldexp(1.f, -140), d2 = std::ldexp(3.f, -146);  // d2 < d1, both denormal
    for (const K::Table* t : tables) {
        const std::string name = t->name;
        // 16 anchors x 5 classes: the best is a denormal, in the vector part or in the tail
        std::vector<float> rows(16 * 5, -1.f);
        for (int i = 0; i < 16; ++i) {
            rows[i * 5 + (i % 4)] = d1;
            rows[i * 5 + 4] = i % 2 ? d2 : -d2;
        }
        std::vector<float> best(16);
        t->max_rows(rows.data(), 16, 5, 5, best.data());
        for (int i = 0; i < 16; ++i) CHECK_MSG(best[i] == d1, name + " max_rows " + std::to_string(i));
        // 2 classes x 16 anchors: -1 against a denormal, and two denormals
        std::vector<float> cols(2 * 16, -1.f);
        for (int i = 0; i < 16; ++i) {
            cols[16 + i] = d1;
            if (i % 2) cols[i] = d2;
        }
        t->max_cols(cols.data(), 16, 2, 16, best.data());
        for (int i = 0; i < 16; ++i) CHECK_MSG(best[i] == d1, name + " max_cols " + std::to_string(i));
        // a box 1e-20 wide and high: its area is a denormal, and its IoU with itself is 1
        const float s = 1e-20f, area = s * s;
        CHECK(area > 0.f && area < 1e-38f);
        const float box[4] = {0.f, 0.f, s, s};
        std::vector<float> boxes, areas(8, area), iou(8, -1.f);
        for (int k = 0; k < 8; ++k) boxes.insert(boxes.end(), box, box + 4);
        t->iou_many(box, area, boxes.data(), areas.data(), 8, iou.data());
        for (int k = 0; k < 8; ++k) CHECK_MSG(iou[k] == 1.f, name + " iou " + std::to_string(iou[k]));
        // a denormal norm: 2 * 2^-140 = 2^-139
        std::vector<short> twos(20, 2 * 128), zeros(20, 0);
        std::vector<float> out(20);
        t->vresize_normalize(twos.data(), zeros.data(), 20, 2048, 0, 0.f, d1, out.data());
        for (float v : out) CHECK_MSG(v == std::ldexp(1.f, -139), name + " vresize_normalize");
    }
}

// ------------------------------------------------------------ NEON against scalar (ARM)
#if NANODET_HAVE_NEON
namespace {

std::mt19937 rng(12345);

float pick_special(std::mt19937& g) {
    static const float specials[] = {kNaN, kInf, -kInf, 0.f, -0.f, 1.f, -1.f, 0.5f, 1e-40f, -1e-40f};
    return specials[g() % 10];
}

// Random scores: uniform, or quantised (many ties), optionally sprinkled with special values.
void fill(std::vector<float>& v, int mode, float special_rate) {
    std::uniform_real_distribution<float> u(-4.f, 4.f);
    std::uniform_real_distribution<float> p(0.f, 1.f);
    for (float& x : v) {
        if (mode == 0) x = u(rng);
        else if (mode == 1) x = float(int(u(rng))) * 0.25f;  // ties
        else x = p(rng) < 0.5f ? 0.f : -0.f;                 // only signed zeros
        if (p(rng) < special_rate) x = pick_special(rng);
    }
}

bool same_vec(const std::vector<float>& a, const std::vector<float>& b, int n, std::string& why) {
    for (int i = 0; i < n; ++i)
        if (!th::same_float(a[i], b[i])) {
            why = "index " + std::to_string(i) + ": " + std::to_string(a[i]) + " vs " +
                  std::to_string(b[i]);
            return false;
        }
    return true;
}

const int kSizes[] = {0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 80, 81, 100};
const float kSpecialRates[] = {0.f, 0.02f, 0.3f, 1.f};

}  // namespace

namespace {
// One random case of a max kernel (max_rows or max_cols) over `size` floats: the same bits
// from both tables, and nothing written past n.
using MaxKernel = void (*)(const float*, int, int, int, float*);
void check_max_kernel(MaxKernel K::Table::*kernel, int n, int C, int step, size_t size, int mode,
                      float rate) {
    std::vector<float> d(size + 1);
    fill(d, mode, rate);
    std::vector<float> a(n + 1, 42.f), b(n + 1, 42.f);
    (K::scalar.*kernel)(d.data(), n, C, step, a.data());
    (K::neon.*kernel)(d.data(), n, C, step, b.data());
    std::string why;
    CHECK_MSG(same_vec(a, b, n + 1, why),
              "C=" + std::to_string(C) + " n=" + std::to_string(n) + " step=" +
                  std::to_string(step) + " mode=" + std::to_string(mode) + " " + why);
}
}  // namespace

TEST(neon_max_rows_matches_scalar) {
    for (int C : kSizes)
        for (int n : {0, 1, 3, 4, 5, 9, 37})
            for (int pad : {0, 1, 32})
                for (int mode = 0; mode < 3; ++mode)
                    for (float rate : kSpecialRates)
                        check_max_kernel(&K::Table::max_rows, n, C, C + pad,
                                         size_t(n) * (C + pad), mode, rate);
}

TEST(neon_max_rows_nan_never_wins) {
    std::vector<float> row(80, 0.25f);
    row[3] = kNaN;
    row[79] = kNaN;
    row[40] = 0.75f;
    float m = 0;
    K::neon.max_rows(row.data(), 1, 80, 80, &m);
    CHECK(m == 0.75f);
    for (float& x : row) x = kNaN;
    K::neon.max_rows(row.data(), 1, 80, 80, &m);
    CHECK(m == -kInf);
    for (float& x : row) x = -kInf;
    K::neon.max_rows(row.data(), 1, 80, 80, &m);
    CHECK(m == -kInf);
    row[17] = kInf;
    K::neon.max_rows(row.data(), 1, 80, 80, &m);
    CHECK(m == kInf);
}

TEST(neon_max_cols_matches_scalar) {
    for (int n : kSizes)
        for (int C : {0, 1, 2, 3, 5, 80})
            for (int pad : {0, 3})
                for (int mode = 0; mode < 3; ++mode)
                    for (float rate : kSpecialRates)
                        check_max_kernel(&K::Table::max_cols, n, C, n + pad,
                                         size_t(C) * (n + pad), mode, rate);
}

namespace {
// |neon - scalar| <= 1e-5 relative (1e-30 absolute floor for denormal-only sums); NaN iff NaN.
bool dfl_close(const float* a, const float* b, std::string& why) {
    for (int s = 0; s < 4; ++s) {
        if (std::isnan(a[s]) || std::isnan(b[s])) {
            if (std::isnan(a[s]) && std::isnan(b[s])) continue;
        } else if (std::fabs(double(a[s]) - b[s]) <= 1e-5 * std::fabs(double(a[s])) + 1e-30) {
            continue;
        }
        why = "side " + std::to_string(s) + ": scalar " + std::to_string(a[s]) + " neon " +
              std::to_string(b[s]);
        return false;
    }
    return true;
}
}  // namespace

TEST(neon_dfl_matches_scalar_random) {
    double worst = 0;
    for (int nbins : {1, 2, 5, 8, 9, 16, 17})
        for (int step : {1, 3, 112})
            for (float scale : {0.1f, 1.f, 4.f, 30.f, 300.f})
                for (int rep = 0; rep < 40; ++rep) {
                    std::vector<float> d(size_t(4) * nbins * step);
                    std::normal_distribution<float> g(0.f, scale);
                    for (float& x : d) x = g(rng);
                    float a[4], b[4];
                    K::scalar.dfl_distances(d.data(), nbins, step, a);
                    K::neon.dfl_distances(d.data(), nbins, step, b);
                    std::string why;
                    CHECK_MSG(dfl_close(a, b, why), "nbins=" + std::to_string(nbins) + " step=" +
                                                        std::to_string(step) + " " + why);
                    for (int s = 0; s < 4; ++s)
                        if (a[s] > 1e-30f) worst = std::max(worst, std::fabs(double(a[s]) - b[s]) / a[s]);
                }
    std::printf("     dfl worst relative difference on random bins: %.3g\n", worst);
}

TEST(neon_dfl_adversarial) {
    struct Case {
        const char* name;
        std::vector<std::pair<int, float>> set;  // (index, value) over a base of zeros
        float base;
    };
    const Case cases[] = {
        {"nan first bin", {{0, kNaN}}, 0.f},
        {"nan last bin", {{31, kNaN}}, 0.f},
        {"+inf bin", {{9, kInf}}, 0.f},
        {"-inf bins", {{0, -kInf}, {7, -kInf}, {12, -kInf}}, 0.f},
        {"all -inf side", {{16, -kInf}, {17, -kInf}, {18, -kInf}, {19, -kInf}, {20, -kInf},
                           {21, -kInf}, {22, -kInf}, {23, -kInf}}, 0.f},
        {"huge range", {{3, 200.f}, {11, -1e30f}, {27, 1e30f}}, 0.f},
        {"denormal tail", {{2, 100.f}}, 0.f},
        {"all equal big", {}, 1e20f},
        {"all equal tiny", {}, -1e-40f},
        {"mixed signed zeros", {{1, -0.f}, {2, 0.f}}, -0.f},
    };
    for (const Case& c : cases)
        for (int step : {1, 5}) {
            std::vector<float> d(32 * step, c.base);
            for (int i = 0; i < 32; ++i) d[i * step] = c.base;
            for (auto [i, v] : c.set) d[i * step] = v;
            float a[4], b[4];
            K::scalar.dfl_distances(d.data(), 8, step, a);
            K::neon.dfl_distances(d.data(), 8, step, b);
            std::string why;
            CHECK_MSG(dfl_close(a, b, why), std::string(c.name) + " " + why);
        }
}

TEST(neon_iou_matches_scalar) {
    std::uniform_real_distribution<float> u(0.f, 100.f);
    std::uniform_real_distribution<float> p(0.f, 1.f);
    for (int n : kSizes)
        for (float rate : {0.f, 0.05f, 0.5f})
            for (int rep = 0; rep < 20; ++rep) {
                auto coord = [&](float base) {
                    return p(rng) < rate ? pick_special(rng) : base;
                };
                std::vector<float> boxes(4 * n + 4), areas(n + 1);
                float box[4];
                for (int k = 0; k <= n; ++k) {
                    float* q = k < n ? &boxes[4 * k] : box;
                    const float x = u(rng), y = u(rng);
                    // some degenerate boxes (x2 < x1) and exact duplicates of `box`
                    q[0] = coord(x);
                    q[1] = coord(y);
                    q[2] = coord(x + u(rng) * (p(rng) < 0.1f ? -0.2f : 0.6f));
                    q[3] = coord(y + u(rng) * 0.6f);
                }
                if (n > 2) std::copy(box, box + 4, &boxes[4]);
                for (int k = 0; k < n; ++k) {
                    const float* q = &boxes[4 * k];
                    areas[k] = std::max(0.f, q[2] - q[0]) * std::max(0.f, q[3] - q[1]);
                }
                const float area = p(rng) < rate ? pick_special(rng)
                                                 : std::max(0.f, box[2] - box[0]) *
                                                       std::max(0.f, box[3] - box[1]);
                std::vector<float> a(n + 1, 42.f), b(n + 1, 42.f);
                K::scalar.iou_many(box, area, boxes.data(), areas.data(), n, a.data());
                K::neon.iou_many(box, area, boxes.data(), areas.data(), n, b.data());
                std::string why;
                CHECK_MSG(same_vec(a, b, n + 1, why), "n=" + std::to_string(n) + " " + why);
            }
}

// Where 32-bit NEON flushes to zero: coordinates and areas around FLT_MIN (denormal inputs,
// differences and products that are or become denormal), against the scalar bits.
TEST(neon_iou_tiny_boxes_match_scalar) {
    const float fm = std::numeric_limits<float>::min();
    std::uniform_real_distribution<float> p(0.f, 1.f);
    const float scales[] = {fm * 0.25f, fm, fm * 4.f, 1e-20f, 1e-19f, 1.f};
    for (float scale : scales)
        for (int n : {4, 8, 13})
            for (int rep = 0; rep < 50; ++rep) {
                std::vector<float> boxes(4 * n), areas(n);
                float box[4];
                for (int k = 0; k <= n; ++k) {
                    float* q = k < n ? &boxes[4 * k] : box;
                    q[0] = scale * float(int(p(rng) * 8));  // a grid: equal and touching edges
                    q[1] = scale * float(int(p(rng) * 8));
                    q[2] = q[0] + scale * float(int(p(rng) * 8) - 1);
                    q[3] = q[1] + scale * float(int(p(rng) * 8));
                }
                for (int k = 0; k < n; ++k) {
                    const float* q = &boxes[4 * k];
                    areas[k] = std::max(0.f, q[2] - q[0]) * std::max(0.f, q[3] - q[1]);
                }
                const float area = std::max(0.f, box[2] - box[0]) * std::max(0.f, box[3] - box[1]);
                std::vector<float> a(n, 42.f), b(n, 42.f);
                K::scalar.iou_many(box, area, boxes.data(), areas.data(), n, a.data());
                K::neon.iou_many(box, area, boxes.data(), areas.data(), n, b.data());
                std::string why;
                CHECK_MSG(same_vec(a, b, n, why), "scale=" + std::to_string(scale) + " " + why);
            }
    // normal coordinates whose difference is not their flushed difference: 1.5 * 2^-126 - 2^-149
    const float x1 = std::ldexp(1.f, -149), x2 = std::ldexp(1.5f, -126);
    const float box[4] = {x1, 0.f, x2, 1.f}, boxes[16] = {x1, 0.f, x2, 1.f, x1, 0.f, x2, 1.f,
                                                          x1, 0.f, x2, 1.f, x1, 0.f, x2, 1.f};
    const float areas[4] = {x2 - x1, x2 - x1, x2 - x1, x2 - x1};
    float a[4], b[4];
    K::scalar.iou_many(box, x2 - x1, boxes, areas, 4, a);
    K::neon.iou_many(box, x2 - x1, boxes, areas, 4, b);
    for (int k = 0; k < 4; ++k) CHECK(th::same_float(a[k], b[k]) && a[k] == 1.f);
}

// hresize outputs (byte * 128 scaled by the two weights) and ncnn's row weights
void random_resize_rows(std::vector<short>& r0, std::vector<short>& r1, short& b0, short& b1) {
    for (size_t i = 0; i < r0.size(); ++i) {
        r0[i] = short((rng() % 256) * (rng() % 2049) >> 4);
        r1[i] = short((rng() % 256) * (rng() % 2049) >> 4);
    }
    b0 = short(rng() % 2049);
    b1 = short(2048 - b0);
}

TEST(neon_vresize_normalize_extreme_parameters) {
    const float fm = std::numeric_limits<float>::min();
    const float values[] = {0.f, -0.f, 1e-40f, -1e-40f, fm, 1e-30f, std::ldexp(1.f, -100),
                            0.017125f, 1.f, 123.675f, 255.f, 1e30f, kInf, -kInf, kNaN};
    std::vector<short> r0(40), r1(40);
    short b0, b1;
    random_resize_rows(r0, r1, b0, b1);
    r0[0] = r1[0] = 0;  // v = 0 and v = 255 on both sides
    r0[1] = r1[1] = 255 * 128;
    for (float mean : values)
        for (float norm : values) {
            std::vector<float> a(40), b(40);
            K::scalar.vresize_normalize(r0.data(), r1.data(), 40, b0, b1, mean, norm, a.data());
            K::neon.vresize_normalize(r0.data(), r1.data(), 40, b0, b1, mean, norm, b.data());
            std::string why;
            CHECK_MSG(same_vec(a, b, 40, why), "mean=" + std::to_string(mean) + " norm=" +
                                                   std::to_string(norm) + " " + why);
        }
}

TEST(neon_vresize_normalize_matches_scalar) {
    for (int n : {0, 1, 3, 4, 5, 7, 8, 15, 16, 17, 100, 416})
        for (int trial = 0; trial < 8; ++trial) {
            // exactly n values, so reading past the row would leave the allocation
            std::vector<short> r0(static_cast<size_t>(n)), r1(static_cast<size_t>(n));
            short b0, b1;
            random_resize_rows(r0, r1, b0, b1);
            std::vector<float> a(n + 1, 42.f), b(n + 1, 42.f);
            K::scalar.vresize_normalize(r0.data(), r1.data(), n, b0, b1, 123.675f, 0.017125f, a.data());
            K::neon.vresize_normalize(r0.data(), r1.data(), n, b0, b1, 123.675f, 0.017125f, b.data());
            std::string why;
            CHECK_MSG(same_vec(a, b, n + 1, why), "n=" + std::to_string(n) + " " + why);
        }
}

TEST(neon_scan_decode_nms_match_scalar) {
    // A NanoDet-Plus-like single output at 320x320 (2125 anchors x 112), both layouts.
    const int C = 80, N = 2125, K4 = 32;
    std::vector<float> anchors_major(size_t(N) * (C + K4));
    std::normal_distribution<float> g(0.f, 2.f);
    std::uniform_real_distribution<float> p(0.f, 1.f);
    for (float& x : anchors_major) x = g(rng);
    for (int a = 0; a < N; ++a)
        for (int c = 0; c < C; ++c) {
            float& s = anchors_major[size_t(a) * (C + K4) + c];
            s = p(rng) < 0.995f ? p(rng) * 0.3f : 0.3f + 0.7f * p(rng);  // sparse high scores
        }
    std::vector<float> channel_major(anchors_major.size());
    for (int a = 0; a < N; ++a)
        for (int k = 0; k < C + K4; ++k)
            channel_major[size_t(k) * N + a] = anchors_major[size_t(a) * (C + K4) + k];
    const int strides[4] = {8, 16, 32, 64};
    for (int layout = 0; layout < 2; ++layout) {
        std::vector<LevelView> levels;
        long off = 0;
        for (int st : strides) {
            LevelView v;
            v.stride = st;
            v.fw = v.fh = (320 + st - 1) / st;
            if (layout == 0) {
                v.cls = {anchors_major.data() + off * (C + K4), C + K4, 1};
                v.dis = {anchors_major.data() + off * (C + K4) + C, C + K4, 1};
            } else {
                v.cls = {channel_major.data() + off, 1, N};
                v.dis = {channel_major.data() + size_t(C) * N + off, 1, N};
            }
            levels.push_back(v);
            off += long(v.fw) * v.fh;
        }
        CHECK(off == N);
        for (bool multi : {false, true}) {
            DecodeConfig cfg;
            cfg.conf = 0.35f;
            cfg.multi_label = multi;
            std::vector<Candidate> cs, cn;
            std::vector<float> bs, bn;
            K::set_neon_enabled(false);
            scan_scores(levels, cfg, cs);
            decode_boxes(levels, cfg, cs, bs);
            K::set_neon_enabled(true);
            scan_scores(levels, cfg, cn);
            decode_boxes(levels, cfg, cn, bn);
            CHECK(cs.size() == cn.size() && !cs.empty());
            bool same = cs.size() == cn.size();
            for (size_t k = 0; same && k < cs.size(); ++k)
                same = cs[k].anchor == cn[k].anchor && cs[k].class_id == cn[k].class_id &&
                       th::same_float(cs[k].score, cn[k].score);
            CHECK(same);
            double worst = 0;
            for (size_t k = 0; k < std::min(bs.size(), bn.size()); ++k)
                worst = std::max(worst, std::fabs(double(bs[k]) - bn[k]));
            CHECK_MSG(worst < 1e-3, "box coordinate difference " + std::to_string(worst));
            std::vector<float> scores;
            std::vector<int> classes;
            for (const Candidate& c : cs) {
                scores.push_back(c.score);
                classes.push_back(c.class_id);
            }
            K::set_neon_enabled(false);
            std::vector<int> ks = nms(bs, scores, classes, 0.6f, false, 100);
            K::set_neon_enabled(true);
            std::vector<int> kn = nms(bs, scores, classes, 0.6f, false, 100);
            CHECK(ks == kn && !ks.empty());
        }
    }
}
#endif  // NANODET_HAVE_NEON

int main(int argc, char** argv) {
    std::printf("kernels compiled: %s\n", NANODET_HAVE_NEON ? "neon + scalar" : "scalar");
    return th::run_all(argc > 1 ? argv[1] : nullptr);
}
