// End-to-end test of nanodet::Detector through the C++ API on real models and a real image.
//
//   nanodet_e2e_tests [--shared DIR] [--image IMG.ppm] [--dump FILE] [--threads N] [filter]
//
// DIR defaults to $NANODET_SHARED (a folder with models/ laid out like shared/models); IMG to
// $NANODET_TEST_IMAGE (binary PPM: convert with cpp/tools/to_ppm.py). Without DIR/models it exits
// 77 (CTest: skipped); with the models but no readable image it fails. One forward pass per
// model: on aarch64 the outputs are captured once and decoded with the NEON kernels and with the
// scalar ones, which must give the same detections (a build without NEON has nothing to compare
// and says so); the decode of the captured outputs must equal a plain detect(); and the
// bus.jpg-like scene must give a plausible answer (people and a bus). --dump writes the
// detections as text, so that runs on different machines (x86 vs aarch64 under qemu) can be
// compared by a script.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <sys/stat.h>

#include "harness.h"
#include "image_io.h"
#include "kernels/kernels.h"
#include "nanodet_ncnn/detector.h"

using namespace nanodet;

namespace {

std::string g_shared, g_image, g_dump;
int g_threads = 1;
imgio::Image g_img;
std::ofstream g_dump_file;

bool exists(const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

struct ModelCase {
    const char* name;
    const char* rel;  // under models/, without .param/.bin
};
const ModelCase kModels[] = {
    {"nanodet_m", "nihui__ncnn-assets/nanodet_m"},
    {"plus416_nx112", "yyccR__nanodet-plus-ncnn-android/nanodet-plus-coco-416"},
    {"plus416_112xn_logits", "nihui__ncnn-webassembly-nanodet/coco.torchscript.ncnn"},
    {"plus416_split", "Deepdive543443__ncnn-android-nanodet/nanodet-plus-m_416"},
};

std::unique_ptr<Detector> load(const ModelCase& m) {
    const std::string base = g_shared + "/models/" + m.rel;
    DetectorOptions o;
    o.num_threads = g_threads;
    o.precision = Precision::FP32;  // comparable across cortex-a72 / a76 / x86
    return Detector::from_files(base + ".param", base + ".bin", o);
}

bool same_dets(const DetectResult& a, const DetectResult& b, float tol, std::string& why) {
    if (a.detections.size() != b.detections.size()) {
        why = std::to_string(a.detections.size()) + " vs " + std::to_string(b.detections.size()) +
              " detections";
        return false;
    }
    for (size_t k = 0; k < a.detections.size(); ++k) {
        const Detection &p = a.detections[k], &q = b.detections[k];
        if (p.class_id != q.class_id || !(std::fabs(p.score - q.score) <= 1e-6f) ||
            !(std::fabs(p.x1 - q.x1) <= tol) || !(std::fabs(p.y1 - q.y1) <= tol) ||
            !(std::fabs(p.x2 - q.x2) <= tol) || !(std::fabs(p.y2 - q.y2) <= tol)) {
            char buf[256];
            std::snprintf(buf, sizeof buf, "det %zu: cls %d/%d score %.6f/%.6f x1 %.4f/%.4f", k,
                          p.class_id, q.class_id, p.score, q.score, p.x1, q.x1);
            why = buf;
            return false;
        }
    }
    return true;
}

void dump(const char* model, const DetectResult& r) {
    std::printf("     %s: %zu detections at %dx%d\n", model, r.detections.size(), r.input_width,
                r.input_height);
    for (const Detection& d : r.detections) {
        char line[160];
        std::snprintf(line, sizeof line, "%s %d %.5f %.3f %.3f %.3f %.3f\n", model, d.class_id,
                      d.score, d.x1, d.y1, d.x2, d.y2);
        std::printf("       %s", line);
        if (g_dump_file) g_dump_file << line;
    }
}

void check_model(const ModelCase& m) {
    auto det = load(m);
    DetectParams p;  // conf 0.35, iou 0.6, per class
    auto cap = det->capture(g_img.pixels.data(), g_img.w, g_img.h, g_img.w * g_img.channels, p);
    const DetectResult r = det->postprocess(*cap, p);
    dump(m.name, r);
#if NANODET_HAVE_NEON
    const bool was = kernels::neon_enabled();
    kernels::set_neon_enabled(true);
    const DetectResult r_neon = det->postprocess(*cap, p);
    kernels::set_neon_enabled(false);
    const DetectResult r_scalar = det->postprocess(*cap, p);
    kernels::set_neon_enabled(was);
    std::string why;
    // NEON decode differs from exact expf by < 1e-5 relative on distances: < 0.01 px on boxes.
    CHECK_MSG(same_dets(r_scalar, r_neon, 0.01f, why), std::string(m.name) + " neon vs scalar: " + why);
#endif
    // Every model here is COCO: the scene (bus.jpg) has people (0) and a bus (5).
    std::map<int, int> per_class;
    for (const Detection& d : r.detections) {
        ++per_class[d.class_id];
        CHECK(d.x1 >= 0 && d.y1 >= 0 && d.x2 <= g_img.w && d.y2 <= g_img.h && d.x1 < d.x2 &&
              d.y1 < d.y2 && d.score >= p.conf && d.score <= 1.f);
    }
    if (std::strstr(g_image.c_str(), "bus")) {
        CHECK_MSG(per_class[0] >= 3, std::string(m.name) + ": people found " + std::to_string(per_class[0]));
        CHECK_MSG(per_class[5] >= 1, std::string(m.name) + ": no bus");
    } else {
        CHECK(!r.detections.empty());
    }
}

}  // namespace

TEST(e2e_nanodet_m) { check_model(kModels[0]); }
TEST(e2e_plus416_nx112) { check_model(kModels[1]); }
TEST(e2e_plus416_112xn_logits) { check_model(kModels[2]); }
TEST(e2e_plus416_split) { check_model(kModels[3]); }

TEST(e2e_capture_postprocess_equals_detect) {
    auto det = load(kModels[0]);
    DetectParams p;
    const int stride = g_img.w * g_img.channels;
    DetectResult a = det->detect(g_img.pixels.data(), g_img.w, g_img.h, stride, p);
    DetectResult b = det->postprocess(*det->capture(g_img.pixels.data(), g_img.w, g_img.h, stride, p), p);
    std::string why;
    CHECK_MSG(same_dets(a, b, 0.f, why), why);
    CHECK(a.input_width == b.input_width && a.input_height == b.input_height);
    CHECK(!a.detections.empty());
}

int main(int argc, char** argv) {
    const char* filter = nullptr;
    if (const char* e = std::getenv("NANODET_SHARED")) g_shared = e;
    if (const char* e = std::getenv("NANODET_TEST_IMAGE")) g_image = e;
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
        else if (a == "--image") g_image = next();
        else if (a == "--dump") g_dump = next();
        else if (a == "--threads") g_threads = std::atoi(next().c_str());
        else filter = argv[i];
    }
    if (g_shared.empty() || !exists(g_shared + "/models")) {
        std::printf("skipped: no models: give --shared DIR (or NANODET_SHARED)\n");
        return 77;
    }
    // The data is there: a missing or unreadable image is a failure, not a skip.
    if (g_image.empty() || !exists(g_image)) {
        std::printf("FAIL: %s has models but the test image '%s' is missing: give --image "
                    "IMG (or NANODET_TEST_IMAGE; cpp/tools/to_ppm.py converts a JPEG)\n",
                    g_shared.c_str(), g_image.c_str());
        return 1;
    }
    try {
        g_img = imgio::read_image(g_image);
    } catch (const std::exception& e) {
        std::printf("FAIL: cannot read the test image: %s\n", e.what());
        return 1;
    }
    if (!g_dump.empty()) g_dump_file.open(g_dump);
    std::printf("kernels: %s; image %s %dx%d\n",
                NANODET_HAVE_NEON ? kernels_name()
                                  : "scalar (no NEON in this build: nothing to compare it with)",
                g_image.c_str(), g_img.w, g_img.h);
    return th::run_all(filter);
}
