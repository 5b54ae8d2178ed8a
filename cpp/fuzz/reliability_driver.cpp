// Reliability driver for the sanitizer build (ASan + UBSan; LeakSanitizer at exit): runs the
// nanodet core on every shared model with real frames and with garbage -- bad frames, bad
// parameters, corrupted / truncated / swapped / mismatched model files -- from several threads,
// and through load/unload cycles. Every failure must be a nanodet::Error with a message; every
// success must be self-consistent. Exits non-zero on the first broken promise.
//
//   reliability_driver --shared DIR [--image FILE.ppm ...] [--cycles N] [--mutants N]
//
// DIR holds models/ as in shared/models/README.md. Images are binary PPM (P6); without any,
// synthetic frames are used.
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nanodet_ncnn/detector.h"

using namespace nanodet;

namespace {

int g_failures = 0;
long g_inputs = 0;  // inputs tried (frames, parameter sets, model files)

#define EXPECT(cond, ...)                                                  \
    do {                                                                   \
        if (!(cond)) {                                                     \
            ++g_failures;                                                  \
            std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);      \
            std::fprintf(stderr, __VA_ARGS__);                             \
            std::fprintf(stderr, "\n");                                    \
        }                                                                  \
    } while (0)

struct Frame {
    int w = 0, h = 0;
    std::vector<uint8_t> bgr;
};

Frame read_ppm(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::string magic;
    int w = 0, h = 0, maxval = 0;
    f >> magic >> w >> h >> maxval;
    f.get();
    if (!f || magic != "P6" || w <= 0 || h <= 0 || maxval != 255 || w > 20000 || h > 20000) {
        std::fprintf(stderr, "cannot read %s (binary PPM expected)\n", path.c_str());
        std::exit(2);
    }
    Frame fr{w, h, std::vector<uint8_t>(size_t(w) * h * 3)};
    f.read(reinterpret_cast<char*>(fr.bgr.data()), std::streamsize(fr.bgr.size()));
    for (size_t i = 0; i + 2 < fr.bgr.size(); i += 3) std::swap(fr.bgr[i], fr.bgr[i + 2]);
    return fr;
}

Frame synthetic(int w, int h, uint32_t seed) {
    Frame fr{w, h, std::vector<uint8_t>(size_t(w) * h * 3)};
    std::mt19937 rng(seed);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c)
                fr.bgr[(size_t(y) * w + x) * 3 + c] =
                    uint8_t(((x / 16 + y / 16) % 2 ? 200 : 40) + (rng() % 32));
    return fr;
}

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

bool same(const DetectResult& a, const DetectResult& b) {
    if (a.detections.size() != b.detections.size()) return false;
    for (size_t i = 0; i < a.detections.size(); ++i) {
        const Detection &p = a.detections[i], &q = b.detections[i];
        if (std::memcmp(&p, &q, sizeof p) != 0) return false;
    }
    return true;
}

bool sane(const DetectResult& r, int w, int h, const DetectParams& p, int num_classes) {
    for (const Detection& d : r.detections) {
        if (!(d.x1 >= 0 && d.y1 >= 0 && d.x2 <= w && d.y2 <= h && d.x1 <= d.x2 && d.y1 <= d.y2))
            return false;
        if (!(d.score >= p.conf - 1e-6f) || d.class_id < 0 || d.class_id >= num_classes) return false;
    }
    return p.max_det <= 0 || int(r.detections.size()) <= p.max_det;
}

// Runs `fn`; returns "" on success, the nanodet::Error message on a nanodet error, and records a
// failure for any other exception.
template <typename F>
std::string attempt(const char* what, F&& fn) {
    ++g_inputs;
    try {
        fn();
        return "";
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT(!m.empty(), "%s: empty error message", what);
        return m.empty() ? "?" : m;
    } catch (const std::exception& e) {
        EXPECT(false, "%s: non-nanodet exception %s", what, e.what());
        return "std::exception";
    }
}

const char* kModels[] = {
    "nihui__ncnn-assets/nanodet_m",
    "nihui__ncnn-webassembly-nanodet/coco.torchscript.ncnn",
    "yyccR__nanodet-plus-ncnn-android/nanodet-plus-coco-416",
    "yyccR__nanodet-plus-ncnn-android/nanodet-plus-qr-416",
    "Deepdive543443__ncnn-android-nanodet/nanodet-plus-m_416",
    "Deepdive543443__ncnn-android-nanodet/nanodet-plus-m_416_int8",
};

// --- 1. real models, real and odd frames -----------------------------------------------------
void real_models(const std::string& shared, const std::vector<Frame>& frames) {
    for (const char* rel : kModels) {
        const std::string base = shared + "/models/" + rel;
        for (ResizeMode mode : {ResizeMode::Letterbox, ResizeMode::Dynamic, ResizeMode::Stretch}) {
            DetectorOptions o;
            o.resize = mode;
            o.num_threads = mode == ResizeMode::Dynamic ? 2 : 1;
            if (mode == ResizeMode::Stretch) o.input_width = o.input_height = 256;
            std::unique_ptr<Detector> d;
            std::string err = attempt(rel, [&] { d = Detector::from_files(base + ".param", base + ".bin", o); });
            EXPECT(err.empty() && d, "%s does not load: %s", rel, err.c_str());
            if (!d) continue;
            const int C = d->head().num_classes;
            for (const Frame& f : frames) {
                DetectParams p;
                p.conf = 0.3f;
                DetectResult r;
                err = attempt(rel, [&] { r = d->detect(f.bgr.data(), f.w, f.h, f.w * 3, p); });
                EXPECT(err.empty(), "%s detect: %s", rel, err.c_str());
                EXPECT(sane(r, f.w, f.h, p, C), "%s: detections out of contract", rel);
                // capture + postprocess is the same computation
                DetectResult r2;
                attempt(rel, [&] { r2 = d->postprocess(*d->capture(f.bgr.data(), f.w, f.h, f.w * 3, p), p); });
                EXPECT(same(r, r2), "%s: capture/postprocess differs from detect", rel);
                // every pixel format of the same frame
                std::vector<uint8_t> rgb(f.bgr), gray(size_t(f.w) * f.h), bgra(size_t(f.w) * f.h * 4);
                for (size_t i = 0; i < gray.size(); ++i) {
                    std::swap(rgb[3 * i], rgb[3 * i + 2]);
                    gray[i] = f.bgr[3 * i + 1];
                    std::memcpy(&bgra[4 * i], &f.bgr[3 * i], 3);
                    bgra[4 * i + 3] = 255;
                }
                DetectParams q = p;
                q.pixel_format = PixelFormat::RGB;
                attempt(rel, [&] { r2 = d->detect(rgb.data(), f.w, f.h, f.w * 3, q); });
                EXPECT(same(r, r2), "%s: RGB frame differs from BGR", rel);
                q.pixel_format = PixelFormat::BGRA;
                attempt(rel, [&] { r2 = d->detect(bgra.data(), f.w, f.h, f.w * 4, q); });
                EXPECT(same(r, r2), "%s: BGRA frame differs from BGR", rel);
                q.pixel_format = PixelFormat::GRAY;
                attempt(rel, [&] { r2 = d->detect(gray.data(), f.w, f.h, f.w, q); });
                EXPECT(sane(r2, f.w, f.h, q, C), "%s: gray detections out of contract", rel);
                q.pixel_format = PixelFormat::RGBA;
                attempt(rel, [&] { r2 = d->detect(bgra.data(), f.w, f.h, f.w * 4, q); });
                // all NMS modes, extreme thresholds
                for (NmsMode nm : {NmsMode::PerClass, NmsMode::Agnostic, NmsMode::MultiLabel})
                    for (float conf : {0.f, 0.05f, 1.f})
                        for (int max_det : {0, 1, 1000}) {
                            DetectParams e = p;
                            e.nms = nm;
                            e.conf = conf;
                            e.max_det = max_det;
                            e.iou = conf;
                            e.max_candidates = conf == 0.f ? 20000 : -1;
                            err = attempt(rel, [&] { r2 = d->detect(f.bgr.data(), f.w, f.h, f.w * 3, e); });
                            EXPECT(err.empty(), "%s extreme params: %s", rel, err.c_str());
                            EXPECT(sane(r2, f.w, f.h, e, C), "%s: extreme params out of contract", rel);
                        }
            }
            // odd but valid frames: sizes and padded rows
            for (auto wh : std::vector<std::pair<int, int>>{
                     {1, 1}, {1, 777}, {777, 1}, {2, 3}, {31, 17}, {4000, 3000}, {20000, 2}}) {
                const int w = wh.first, h = wh.second;
                Frame f = synthetic(w, h, uint32_t(w * 31 + h));
                std::vector<uint8_t> padded(size_t(w * 3 + 13) * h, 7);
                for (int y = 0; y < h; ++y)
                    std::memcpy(&padded[size_t(y) * (w * 3 + 13)], &f.bgr[size_t(y) * w * 3], w * 3);
                DetectParams p;
                DetectResult a, b;
                err = attempt(rel, [&] { a = d->detect(f.bgr.data(), w, h, w * 3, p); });
                EXPECT(err.empty(), "%s %dx%d: %s", rel, w, h, err.c_str());
                attempt(rel, [&] { b = d->detect(padded.data(), w, h, w * 3 + 13, p); });
                EXPECT(same(a, b), "%s %dx%d: padded rows change the result", rel, w, h);
                EXPECT(sane(a, w, h, p, C), "%s %dx%d: out of contract", rel, w, h);
            }
            if (mode != ResizeMode::Letterbox) continue;
            // invalid frames and parameters: a specific error each
            const Frame& f = frames[0];
            const uint8_t* px = f.bgr.data();
            struct Bad {
                const char* what;
                const uint8_t* px;
                int w, h, stride;
                DetectParams p;
                const char* expect;
            };
            DetectParams ok;
            auto with = [&](auto set) { DetectParams q = ok; set(q); return q; };
            const Bad bad[] = {
                {"null", nullptr, 10, 10, 30, ok, "null"},
                {"zero width", px, 0, 10, 30, ok, "empty"},
                {"zero height", px, 10, 0, 30, ok, "empty"},
                {"negative", px, -5, 10, 30, ok, "empty"},
                {"too wide", px, 70000, 1, 210000, ok, "65535"},
                {"short stride", px, 10, 10, 29, ok, "stride"},
                {"short stride bgra", px, 10, 10, 30, with([](DetectParams& q) { q.pixel_format = PixelFormat::BGRA; }), "stride"},
                {"conf nan", px, 10, 10, 30, with([](DetectParams& q) { q.conf = NAN; }), "conf"},
                {"conf > 1", px, 10, 10, 30, with([](DetectParams& q) { q.conf = 1.5f; }), "conf"},
                {"iou nan", px, 10, 10, 30, with([](DetectParams& q) { q.iou = NAN; }), "iou"},
                {"iou < 0", px, 10, 10, 30, with([](DetectParams& q) { q.iou = -1; }), "iou"},
                {"max_det < 0", px, 10, 10, 30, with([](DetectParams& q) { q.max_det = -1; }), "max_det"},
            };
            for (const Bad& b : bad) {
                err = attempt(b.what, [&] { d->detect(b.px, b.w, b.h, b.stride, b.p); });
                EXPECT(err.find(b.expect) != std::string::npos, "%s: %s: expected an error naming '%s', got '%s'",
                       rel, b.what, b.expect, err.c_str());
                err = attempt(b.what, [&] { d->capture(b.px, b.w, b.h, b.stride, b.p); });
                EXPECT(err.find(b.expect) != std::string::npos, "%s: capture %s: got '%s'", rel, b.what, err.c_str());
            }
        }
    }
}

// --- 2. damaged model files -----------------------------------------------------------------
void damaged_models(const std::string& shared, int mutants) {
    const std::string a = shared + "/models/" + kModels[0], b = shared + "/models/" + kModels[4];
    const std::string pa = slurp(a + ".param"), ba = slurp(a + ".bin");
    const std::string pb = slurp(b + ".param"), bb = slurp(b + ".bin");
    auto load = [&](const std::string& param, const std::string& bin) {
        return attempt("model", [&] {
            auto d = Detector::from_memory(param, reinterpret_cast<const uint8_t*>(bin.data()), bin.size());
            // a damaged file that still loads must still detect without crashing
            Frame f = synthetic(64, 48, 1);
            d->detect(f.bgr.data(), f.w, f.h, f.w * 3);
        });
    };
    auto must_fail = [&](const char* what, const std::string& param, const std::string& bin,
                         const char* expect) {
        std::string err = load(param, bin);
        EXPECT(!err.empty() && err.find(expect) != std::string::npos,
               "%s: expected an error naming '%s', got '%s'", what, expect, err.c_str());
    };
    must_fail("empty param", "", ba, "empty");
    must_fail("empty bin", pa, "", "empty");
    must_fail("swapped", ba.substr(0, 4096), pa, "binary");
    must_fail("other model's bin", pa, bb, "another model");
    must_fail("other model's param", pb, ba, "");
    must_fail("bin cut", pa, ba.substr(0, ba.size() - 1), "too short");
    must_fail("bin + 4 bytes", pa, ba + std::string(4, '\0'), "another model");
    must_fail("not a param", "hello\n", ba, "magic");
    must_fail("magic only", "7767517\n", ba, "layer_count");
    must_fail("layer count 0", "7767517\n0 0\n", ba, "layer_count");
    // truncated param text at many points
    for (int k = 1; k < 40; ++k) {
        std::string t = pa.substr(0, pa.size() * k / 40);
        std::string err = load(t, ba);
        EXPECT(!err.empty(), "param cut at %zu bytes loads", t.size());
    }
    // truncated bin at many points
    for (int k = 0; k < 20; ++k) {
        std::string err = load(pa, ba.substr(0, ba.size() * k / 20));
        EXPECT(!err.empty(), "bin cut at %d/20 loads", k);
    }
    // random mutations of the text: byte flips, deleted and duplicated lines, digit changes.
    // These may load (a changed weight count can still be consistent); they must not crash.
    std::mt19937 rng(12345);
    int rejected = 0;
    for (int m = 0; m < mutants; ++m) {
        std::string t = pa;
        const int kind = int(rng() % 4);
        if (kind == 0) {
            for (int i = 0; i < 3; ++i) t[rng() % t.size()] = char(rng() % 256);
        } else if (kind == 1) {  // delete a line
            size_t s = t.find('\n', rng() % t.size());
            size_t e = s == std::string::npos ? s : t.find('\n', s + 1);
            if (e != std::string::npos) t.erase(s, e - s);
        } else if (kind == 2) {  // change a digit
            for (size_t i = rng() % t.size(); i < t.size(); ++i)
                if (std::isdigit(static_cast<unsigned char>(t[i]))) {
                    t[i] = char('0' + rng() % 10);
                    break;
                }
        } else {  // duplicate a line
            size_t s = t.find('\n', rng() % t.size());
            size_t e = s == std::string::npos ? s : t.find('\n', s + 1);
            if (e != std::string::npos) t.insert(s, t.substr(s, e - s));
        }
        rejected += !load(t, ba).empty();
    }
    std::printf("  damaged models: %d random text mutants, %d rejected with an error, %d still load\n",
                mutants, rejected, mutants - rejected);
    // random bytes as bin of the right size: loads (weights are just numbers), must not crash
    std::string noise(ba.size(), '\0');
    for (auto& c : noise) c = char(rng());
    load(pa, noise);
}

// --- 3. one detector, many threads ------------------------------------------------------------
void threads(const std::string& shared, const std::vector<Frame>& frames) {
    for (int nt : {1, 2}) {
        const std::string base = shared + "/models/" + kModels[2];
        DetectorOptions o;
        o.num_threads = nt;
        o.input_width = o.input_height = 160;
        auto d = Detector::from_files(base + ".param", base + ".bin", o);
        std::vector<DetectResult> ref;
        DetectParams p;
        p.conf = 0.2f;
        for (const Frame& f : frames) ref.push_back(d->detect(f.bgr.data(), f.w, f.h, f.w * 3, p));
        std::atomic<int> bad{0}, calls{0};
        std::vector<std::thread> pool;
        for (int t = 0; t < 4; ++t)
            pool.emplace_back([&, t] {
                for (int i = 0; i < 25; ++i) {
                    const size_t k = size_t(t + i) % frames.size();
                    const Frame& f = frames[k];
                    if (!same(d->detect(f.bgr.data(), f.w, f.h, f.w * 3, p), ref[k])) ++bad;
                    ++calls;
                }
            });
        for (auto& th : pool) th.join();
        g_inputs += calls;
        EXPECT(bad == 0, "num_threads=%d: %d of %d concurrent calls differ from the serial result", nt,
               bad.load(), calls.load());
    }
}

// --- 4. load / unload cycles (LeakSanitizer reports at exit) ---------------------------------
void cycles(const std::string& shared, int n) {
    const std::string param = slurp(shared + "/models/" + kModels[0] + ".param");
    const std::string bin = slurp(shared + "/models/" + kModels[0] + ".bin");
    Frame f = synthetic(96, 64, 3);
    for (int i = 0; i < n; ++i) {
        auto d = i % 2 ? Detector::from_memory(param, reinterpret_cast<const uint8_t*>(bin.data()), bin.size())
                       : Detector::from_files(shared + "/models/" + kModels[0] + ".param",
                                              shared + "/models/" + kModels[0] + ".bin");
        d->detect(f.bgr.data(), f.w, f.h, f.w * 3);
        ++g_inputs;
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string shared;
    std::vector<std::string> images;
    int n_cycles = 20, mutants = 300;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) { std::fprintf(stderr, "%s needs a value\n", a.c_str()); std::exit(2); }
            return argv[++i];
        };
        if (a == "--shared") shared = next();
        else if (a == "--image") images.push_back(next());
        else if (a == "--cycles") n_cycles = std::atoi(next().c_str());
        else if (a == "--mutants") mutants = std::atoi(next().c_str());
        else { std::fprintf(stderr, "unknown argument %s\n", a.c_str()); return 2; }
    }
    if (shared.empty()) { std::fprintf(stderr, "usage: reliability_driver --shared DIR [--image X.ppm]...\n"); return 2; }
    std::vector<Frame> frames;
    for (const auto& p : images) frames.push_back(read_ppm(p));
    if (frames.empty()) frames = {synthetic(640, 480, 1), synthetic(480, 640, 2)};

    std::printf("reliability_driver: ncnn %s, kernels %s, %zu frames\n", ncnn_version(), kernels_name(), frames.size());
    std::printf("[1] real models, odd frames, invalid frames and parameters\n");
    real_models(shared, frames);
    std::printf("[2] damaged model files\n");
    damaged_models(shared, mutants);
    std::printf("[3] one detector from 4 threads\n");
    threads(shared, frames);
    std::printf("[4] %d load/unload cycles\n", n_cycles);
    cycles(shared, n_cycles);
    std::printf("reliability_driver: %ld inputs tried, %d failures\n", g_inputs, g_failures);
    return g_failures ? 1 : 0;
}
