// nanodet::Pool on real models: same bits as serial detect() for 1/2/4 workers, results in
// submission order, a failing frame in the middle, close() with frames pending, keep-alives
// released, backpressure. Plain threads and shared_ptrs only: meant to be ASan-clean (the
// reliability stage builds it with ASan+UBSan).
//
//   nanodet_pool_tests --shared DIR --image IMG [--image IMG ...] [--models all] [--quick]
//                      [filter]
//
// --quick (for emulators): one model, 1 and 2 workers.
// IMG: PPM/PGM, or JPEG/PNG when built with stb_image (image_io.h). Without data it exits 77.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "cores.h"
#include "harness.h"
#include "image_io.h"
#include "nanodet_ncnn/scheduler.h"

using namespace nanodet;

namespace {

std::string g_shared;
std::vector<imgio::Image> g_images;
bool g_all_models = false, g_quick = false;

bool exists(const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

const char* const kModels[] = {
    "nihui__ncnn-assets/nanodet_m",
    "yyccR__nanodet-plus-ncnn-android/nanodet-plus-coco-416",
    "nihui__ncnn-webassembly-nanodet/coco.torchscript.ncnn",
    "Deepdive543443__ncnn-android-nanodet/nanodet-plus-m_416",
    "Deepdive543443__ncnn-android-nanodet/nanodet-plus-m_416_int8",
    "yyccR__nanodet-plus-ncnn-android/nanodet-plus-qr-416",
};

std::unique_ptr<Detector> load(const char* rel, int threads = 1) {
    const std::string base = g_shared + "/models/" + rel;
    DetectorOptions o;
    o.num_threads = threads;
    return Detector::from_files(base + ".param", base + ".bin", o);
}

ImageRef ref(const imgio::Image& im) {
    return {im.pixels.data(), im.w, im.h, im.w * im.channels};
}

DetectParams params_for(const imgio::Image& im) {
    DetectParams p;
    p.conf = 0.3f;
    p.pixel_format = im.channels == 1 ? PixelFormat::GRAY : PixelFormat::BGR;
    return p;
}

bool same_bits(const DetectResult& a, const DetectResult& b) {
    if (a.detections.size() != b.detections.size() || a.input_width != b.input_width ||
        a.input_height != b.input_height)
        return false;
    for (size_t k = 0; k < a.detections.size(); ++k) {
        const Detection &p = a.detections[k], &q = b.detections[k];
        if (p.class_id != q.class_id || !th::same_float(p.score, q.score) ||
            !th::same_float(p.x1, q.x1) || !th::same_float(p.y1, q.y1) ||
            !th::same_float(p.x2, q.x2) || !th::same_float(p.y2, q.y2))
            return false;
    }
    return true;
}

// Frames: every image, twice (more frames than workers).
std::vector<const imgio::Image*> frames() {
    std::vector<const imgio::Image*> f;
    for (int rep = 0; rep < 2; ++rep)
        for (const auto& im : g_images) f.push_back(&im);
    return f;
}

void check_model(const char* rel) {
    auto det = load(rel);
    std::vector<DetectResult> serial;
    for (const auto& im : g_images)
        serial.push_back(det->detect(im.pixels.data(), im.w, im.h, im.w * im.channels, params_for(im)));
    const auto fs = frames();
    const std::vector<int> counts = g_quick ? std::vector<int>{1, 2} : std::vector<int>{1, 2, 4};
    for (int workers : counts) {
        PoolOptions o;
        o.workers = workers;
        Pool pool(*det, o);
        CHECK(pool.max_pending() == 2 * workers);
        size_t next = 0, got = 0;
        while (got < fs.size()) {
            while (next < fs.size() && pool.pending() < pool.max_pending()) {
                const uint64_t seq = pool.submit(ref(*fs[next]), params_for(*fs[next]));
                CHECK(seq == next);
                ++next;
            }
            PoolResult r = pool.collect();
            CHECK(!r.error);
            CHECK(r.seq == got);
            CHECK(r.worker >= 0 && r.worker < workers);
            CHECK_MSG(same_bits(r.result, serial[got % g_images.size()]),
                      std::string(rel) + " workers " + std::to_string(workers) + " frame " +
                          std::to_string(got));
            ++got;
        }
        CHECK(pool.pending() == 0);
    }
}

}  // namespace

TEST(pool_bit_identical_to_serial) {
    const size_t n = g_all_models ? sizeof kModels / sizeof *kModels : g_quick ? 1 : 2;
    for (size_t k = 0; k < n; ++k) check_model(kModels[k]);
}

TEST(pool_detect_many_and_threads_per_worker) {
    auto det = load(kModels[0]);
    std::vector<ImageRef> refs;
    for (const auto& im : g_images)
        if (im.channels == 3) refs.push_back(ref(im));
    DetectParams p;
    PoolOptions o;
    o.workers = 2;
    o.threads_per_worker = 2;
    Pool pool(*det, o);
    std::vector<PoolResult> out = pool.detect_many(refs, p);
    CHECK(out.size() == refs.size());
    for (size_t k = 0; k < out.size(); ++k) {
        CHECK(!out[k].error && out[k].seq == k && out[k].run_ms > 0);
        CHECK(same_bits(out[k].result, det->detect(refs[k].pixels, refs[k].w, refs[k].h,
                                                   refs[k].stride, p)));
    }
}

TEST(pool_error_frame_does_not_break_later_ones) {
    auto det = load(kModels[0]);
    const imgio::Image& im = g_images[0];
    DetectParams p = params_for(im);
    ImageRef bad = ref(im);
    bad.pixels = nullptr;
    std::string serial_msg;
    try {
        det->detect(nullptr, bad.w, bad.h, bad.stride, p);
    } catch (const InputError& e) {
        serial_msg = e.what();
    }
    CHECK(!serial_msg.empty());
    DetectParams bad_conf = p;
    bad_conf.conf = 2.f;
    PoolOptions o;
    o.workers = 2;
    Pool pool(*det, o);
    pool.submit(ref(im), p);
    pool.submit(bad, p);
    pool.submit(ref(im), bad_conf);
    pool.submit(ref(im), p);
    const DetectResult want = det->detect(im.pixels.data(), im.w, im.h, im.w * im.channels, p);
    for (int k = 0; k < 4; ++k) {
        PoolResult r = pool.collect();
        CHECK(r.seq == uint64_t(k));
        if (k == 1 || k == 2) {
            CHECK(r.error);
            try {
                std::rethrow_exception(r.error);
            } catch (const InputError& e) {
                CHECK(k == 1 && serial_msg == e.what());
            } catch (const Error& e) {
                CHECK(k == 2 && std::string(e.what()).find("conf") != std::string::npos);
            }
        } else {
            CHECK(!r.error && same_bits(r.result, want));
        }
    }
}

TEST(pool_close_with_frames_pending) {
    auto det = load(kModels[0]);
    const imgio::Image& im = g_images[0];
    auto token = std::make_shared<int>(7);
    std::weak_ptr<int> watch = token;
    PoolOptions o;
    o.workers = 1;
    o.max_pending = 6;
    auto pool = std::make_unique<Pool>(*det, o);
    for (int k = 0; k < 6; ++k) pool->submit(ref(im), params_for(im), token);
    uint64_t seq = 0;
    // full: a bounded wait gives up, the frame is not queued
    CHECK(!pool->try_submit(ref(im), params_for(im), seq, 1.0, token));
    token.reset();
    CHECK(!watch.expired());  // held by the queued frames
    pool->close();
    CHECK(watch.expired());   // every keep-alive released by close()
    CHECK(pool->pending() == 0 && pool->closed());
    bool threw = false;
    try {
        pool->submit(ref(im), params_for(im));
    } catch (const std::runtime_error&) {
        threw = true;
    }
    CHECK(threw);
    threw = false;
    try {
        pool->collect();
    } catch (const std::runtime_error&) {
        threw = true;
    }
    CHECK(threw);
    pool->close();  // idempotent
    pool.reset();
}

TEST(pool_collect_releases_keep_and_checks_state) {
    auto det = load(kModels[0]);
    const imgio::Image& im = g_images[0];
    Pool pool(*det);
    bool threw = false;
    try {
        pool.collect();  // nothing submitted: an error, not a hang
    } catch (const std::runtime_error&) {
        threw = true;
    }
    CHECK(threw);
    auto token = std::make_shared<int>(1);
    std::weak_ptr<int> watch = token;
    pool.submit(ref(im), params_for(im), std::move(token));
    PoolResult r = pool.collect();
    CHECK(!watch.expired());  // handed back with the result
    r.keep.reset();
    CHECK(watch.expired());
    // a frame that failed before submission comes back in its place
    uint64_t seq = 0;
    CHECK(pool.try_submit({}, {}, seq, -1, {}, std::make_exception_ptr(InputError("not an image"))));
    pool.submit(ref(im), params_for(im));
    PoolResult e = pool.collect();
    CHECK(e.seq == seq && e.error && e.worker == -1);
    CHECK(!pool.collect().error);
}

TEST(pool_rejects_bad_options) {
    auto det = load(kModels[0]);
    for (PoolOptions o : {PoolOptions{0, 1, 0, Cores::Default}, PoolOptions{1, 0, 0, Cores::Default},
                          PoolOptions{1, 1, -1, Cores::Default}, PoolOptions{1, 1, 0, Cores(7)}}) {
        bool threw = false;
        try {
            Pool pool(*det, o);
        } catch (const Error&) {
            threw = true;
        }
        CHECK(threw);
    }
}

TEST(pool_cores_modes_give_the_same_bits) {
    auto det = load(kModels[0]);
    const imgio::Image& im = g_images[0];
    const DetectResult want = det->detect(im.pixels.data(), im.w, im.h, im.w * im.channels, params_for(im));
    for (Cores c : {Cores::All, Cores::Big, Cores::Little}) {
        PoolOptions o;
        o.workers = 2;
        o.cores = c;
        Pool pool(*det, o);
        CHECK(pool.cores() == c);
        auto out = pool.detect_many({ref(im), ref(im)}, params_for(im));
        for (const auto& r : out) CHECK(!r.error && same_bits(r.result, want));
        std::printf("     cores %s -> %s on this machine\n", cores_name(c),
                    cores_name(effective_cores(c)));
    }
}

int main(int argc, char** argv) {
    const char* filter = nullptr;
    std::vector<std::string> paths;
    if (const char* e = std::getenv("NANODET_SHARED")) g_shared = e;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--shared") g_shared = next();
        else if (a == "--image") paths.push_back(next());
        else if (a == "--models") g_all_models = next() == "all";
        else if (a == "--quick") g_quick = true;
        else filter = argv[i];
    }
    bool have = !g_shared.empty() && exists(g_shared + "/models") && !paths.empty();
    for (const auto& p : paths) have = have && exists(p);
    if (!have) {
        std::printf("skipped: give --shared DIR and --image IMG\n");
        return 77;
    }
    for (const auto& p : paths) g_images.push_back(imgio::read_image(p));
    // a gray copy of the first image: the pool passes pixel formats through
    imgio::Image gray;
    gray.w = g_images[0].w;
    gray.h = g_images[0].h;
    gray.channels = 1;
    for (size_t k = 0; k + 2 < g_images[0].pixels.size(); k += 3) gray.pixels.push_back(g_images[0].pixels[k + 1]);
    g_images.push_back(std::move(gray));
    return th::run_all(filter);
}
