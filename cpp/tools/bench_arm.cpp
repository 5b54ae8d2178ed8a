// bench_arm: per-stage timing of nanodet::Detector (the same code the Python package runs).
//
//   bench_arm --model PARAM|DIR|NAME --image IMG.ppm [--raw WxH] [--threads T] [--loops N]
//             [--warmup M] [--precision auto|fp32|fp16|int8] [--input-size S|WxH]
//             [--resize letterbox|dynamic|stretch] [--conf C] [--iou I]
//             [--stage all|network|decode] [--kernels neon|scalar] [--json OUT.json] [--quiet]
//
// --model: a .param file (its .bin beside it), a folder holding one .param, or a name looked up
//   as <name>.param recursively under $NANODET_NCNN_MODELS (a folder laid out like shared/models).
// --image: binary PPM/PGM (convert others with cpp/tools/to_ppm.py), or raw BGR bytes with --raw.
// --stage all:     detect() end to end; preprocess / inference / decode / nms / total per loop.
//         network: Detector::run_network() alone on a zero input of the size detect() feeds
//                  (the "raw extract" floor).
//         decode:  one capture() (preprocess + network), then only decode + NMS per loop
//                  (Detector::postprocess), e.g. for exact instruction counts under qemu:
//                  compare a --loops 0 run with a --loops N run (tools/arm/bench_icount.sh).
// --kernels scalar: switch the decode/NMS kernels to the portable ones (aarch64; also
//   NANODET_KERNELS=scalar in the environment).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/utsname.h>

#include "image_io.h"
#include "kernels/kernels.h"
#include "nanodet_ncnn/detector.h"
#include "preprocess.h"  // plan_placement: the input size detect() feeds, for --stage network

namespace fs = std::filesystem;
using namespace nanodet;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "bench_arm: %s\n", msg.c_str());
    std::exit(2);
}

void usage() {
    std::printf(
        "usage: bench_arm --model PARAM|DIR|NAME --image IMG.ppm [--raw WxH] [--threads T]\n"
        "                 [--loops N] [--warmup M] [--precision auto|fp32|fp16|int8]\n"
        "                 [--input-size S|WxH] [--resize letterbox|dynamic|stretch] [--conf C]\n"
        "                 [--iou I] [--stage all|network|decode] [--kernels neon|scalar]\n"
        "                 [--json OUT.json] [--quiet]\n"
        "Names are looked up as <name>.param under $NANODET_NCNN_MODELS.\n");
}

bool parse_wh(const std::string& s, int& w, int& h) {
    if (std::sscanf(s.c_str(), "%dx%d", &w, &h) == 2) return w > 0 && h > 0;
    if (std::sscanf(s.c_str(), "%d", &w) == 1) {
        h = w;
        return w > 0;
    }
    return false;
}

std::vector<fs::path> params_under(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec))
        if (it->is_regular_file() && it->path().extension() == ".param") out.push_back(it->path());
    std::sort(out.begin(), out.end());
    return out;
}

fs::path resolve_model(const std::string& arg) {
    fs::path p(arg);
    if (fs::is_regular_file(p)) return p;
    if (fs::is_directory(p)) {
        auto found = params_under(p);
        if (found.size() == 1) return found[0];
        die(arg + " holds " + std::to_string(found.size()) + " .param files; name one");
    }
    const char* root = std::getenv("NANODET_NCNN_MODELS");
    if (!root) die("model '" + arg + "' is not a file or folder, and NANODET_NCNN_MODELS is not set");
    std::string name = p.filename().string();
    if (p.extension() != ".param") name += ".param";
    std::vector<fs::path> hits;
    for (const auto& f : params_under(root))
        if (f.filename() == name) hits.push_back(f);
    if (hits.size() == 1) return hits[0];
    if (hits.empty()) die("no " + name + " under NANODET_NCNN_MODELS=" + root);
    std::string all;
    for (const auto& h : hits) all += "\n  " + h.string();
    die("model name '" + arg + "' is ambiguous:" + all);
}

std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    std::string line, model, part, impl, hw;
    auto value = [](const std::string& l) {
        auto c = l.find(':');
        std::string v = c == std::string::npos ? "" : l.substr(c + 1);
        v.erase(0, v.find_first_not_of(" \t"));
        return v;
    };
    while (std::getline(f, line)) {
        if (model.empty() && (line.rfind("model name", 0) == 0 || line.rfind("Model", 0) == 0))
            model = value(line);
        else if (part.empty() && line.rfind("CPU part", 0) == 0) part = value(line);
        else if (impl.empty() && line.rfind("CPU implementer", 0) == 0) impl = value(line);
        else if (hw.empty() && line.rfind("Hardware", 0) == 0) hw = value(line);
    }
    std::string s = model;
    if (!part.empty()) {
        // ARM Ltd part numbers of common boards' cores
        const char* name = part == "0xd03"   ? "Cortex-A53"
                           : part == "0xd08" ? "Cortex-A72"
                           : part == "0xd0b" ? "Cortex-A76"
                           : part == "0xd05" ? "Cortex-A55"
                           : part == "0xd0d" ? "Cortex-A77"
                           : part == "0xd41" ? "Cortex-A78"
                                             : nullptr;
        s += std::string(s.empty() ? "" : ", ") + (name ? name : "CPU part " + part);
        (void)impl;
    }
    if (!hw.empty()) s += " (" + hw + ")";
    struct utsname u;
    if (uname(&u) == 0) s += std::string(s.empty() ? "" : " ") + "[" + u.machine + "]";
    return s;
}

struct Stat {
    double min = 0, median = 0, max = 0;
};
Stat stat_of(std::vector<double> v) {
    Stat s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.min = v.front();
    s.max = v.back();
    const size_t n = v.size();
    s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    return s;
}

std::string json_str(const std::string& s) {
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') o += '\\', o += c;
        else if (uint8_t(c) < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
        } else o += c;
    }
    return o + "\"";
}

}  // namespace

int main(int argc, char** argv) {
    std::string model_arg, image_path, raw, json_path, stage = "all", kernels_arg;
    int loops = 20, warmup = 3;
    unsigned hc = std::thread::hardware_concurrency();
    int threads = int(std::min(4u, hc ? hc : 1u));
    int in_w = 0, in_h = 0;
    bool quiet = false;
    DetectorOptions opts;
    DetectParams params;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) die(a + " needs a value");
            return argv[++i];
        };
        if (a == "-h" || a == "--help") {
            usage();
            return 0;
        } else if (a == "--model") model_arg = next();
        else if (a == "--image") image_path = next();
        else if (a == "--raw") raw = next();
        else if (a == "--threads") threads = std::atoi(next().c_str());
        else if (a == "--loops") loops = std::atoi(next().c_str());
        else if (a == "--warmup") warmup = std::atoi(next().c_str());
        else if (a == "--json") json_path = next();
        else if (a == "--stage") stage = next();
        else if (a == "--kernels") kernels_arg = next();
        else if (a == "--quiet") quiet = true;
        else if (a == "--conf") params.conf = float(std::atof(next().c_str()));
        else if (a == "--iou") params.iou = float(std::atof(next().c_str()));
        else if (a == "--input-size") {
            if (!parse_wh(next(), in_w, in_h)) die("--input-size wants S or WxH");
        } else if (a == "--precision") {
            std::string v = next();
            opts.precision = v == "auto"   ? Precision::Auto
                             : v == "fp32" ? Precision::FP32
                             : v == "fp16" ? Precision::FP16
                             : v == "int8" ? Precision::INT8
                                           : (die("--precision: auto|fp32|fp16|int8"), Precision::Auto);
        } else if (a == "--resize") {
            std::string v = next();
            opts.resize = v == "letterbox"  ? ResizeMode::Letterbox
                          : v == "dynamic"  ? ResizeMode::Dynamic
                          : v == "stretch"  ? ResizeMode::Stretch
                                            : (die("--resize: letterbox|dynamic|stretch"), ResizeMode::Letterbox);
        } else {
            usage();
            die("unknown argument " + a);
        }
    }
    if (model_arg.empty() || image_path.empty()) {
        usage();
        return 2;
    }
    if (loops < 0 || warmup < 0) die("--loops and --warmup must be >= 0");
    if (stage != "all" && stage != "network" && stage != "decode") die("--stage: all|network|decode");
    // Applied right before the timed loops (after capture() in --stage decode), so that the
    // counted work differs only by the kernels used in the stage being measured.
    auto apply_kernels = [&]() {
        if (kernels_arg.empty()) return;
        kernels::set_neon_enabled(kernels_arg == "neon");
        if (kernels_arg == "neon" && !kernels::neon_enabled())
            die("--kernels neon: this build has no NEON kernels");
    };
    if (!kernels_arg.empty() && kernels_arg != "neon" && kernels_arg != "scalar")
        die("--kernels: neon|scalar");

    const fs::path param = resolve_model(model_arg);
    const fs::path bin = fs::path(param).replace_extension(".bin");
    imgio::Image img;
    try {
        if (!raw.empty()) {
            int w, h;
            if (!parse_wh(raw, w, h)) die("--raw wants WxH");
            img = imgio::read_raw_bgr(image_path, w, h);
        } else {
            img = imgio::read_pnm(image_path);
        }
    } catch (const std::exception& e) {
        die(e.what());
    }
    params.pixel_format = img.channels == 1 ? PixelFormat::GRAY : PixelFormat::BGR;
    const int stride = img.w * img.channels;

    opts.num_threads = threads;
    opts.input_width = in_w;
    opts.input_height = in_h;
    auto t_load = Clock::now();
    std::unique_ptr<Detector> det;
    try {
        det = Detector::from_files(param.string(), bin.string(), opts);
    } catch (const std::exception& e) {
        die(e.what());
    }
    const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_load).count();

    std::vector<double> pre, inf, dec, nms, tot, wall;
    int feed_w = 0, feed_h = 0;
    size_t n_det = 0;
    try {
        if (stage == "all") {
            apply_kernels();
            for (int k = 0; k < warmup + loops; ++k) {
                auto t0 = Clock::now();
                DetectResult r = det->detect(img.pixels.data(), img.w, img.h, stride, params);
                const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
                feed_w = r.input_width, feed_h = r.input_height, n_det = r.detections.size();
                if (k < warmup) continue;
                pre.push_back(r.times.preprocess_ms);
                inf.push_back(r.times.inference_ms);
                dec.push_back(r.times.decode_ms);
                nms.push_back(r.times.nms_ms);
                tot.push_back(r.times.total_ms());
                wall.push_back(ms);
            }
        } else if (stage == "decode") {
            auto cap = det->capture(img.pixels.data(), img.w, img.h, stride, params);
            apply_kernels();
            for (int k = 0; k < warmup + loops; ++k) {
                auto t0 = Clock::now();
                DetectResult r = det->postprocess(*cap, params);
                const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
                feed_w = r.input_width, feed_h = r.input_height, n_det = r.detections.size();
                if (k < warmup) continue;
                dec.push_back(r.times.decode_ms);
                nms.push_back(r.times.nms_ms);
                tot.push_back(r.times.decode_ms + r.times.nms_ms);
                wall.push_back(ms);
            }
        } else {  // network: the input size detect() would feed for this image (same planner)
            const Placement pl = plan_placement(img.w, img.h, det->input_width(),
                                                det->input_height(), opts.resize, opts.pad_multiple);
            feed_w = pl.input_w, feed_h = pl.input_h;
            apply_kernels();
            for (int k = 0; k < warmup + loops; ++k) {
                auto t0 = Clock::now();
                det->run_network(feed_w, feed_h);
                const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
                if (k < warmup) continue;
                inf.push_back(ms);
                tot.push_back(ms);
                wall.push_back(ms);
            }
        }
    } catch (const std::exception& e) {
        die(e.what());
    }

    const std::string cpu = cpu_model();
    const char* resize_name = opts.resize == ResizeMode::Letterbox ? "letterbox"
                              : opts.resize == ResizeMode::Dynamic ? "dynamic"
                                                                   : "stretch";
    const char* prec_name = opts.precision == Precision::Auto   ? "auto"
                            : opts.precision == Precision::FP32 ? "fp32"
                            : opts.precision == Precision::FP16 ? "fp16"
                                                                : "int8";
    struct Row {
        const char* name;
        const std::vector<double>* v;
    };
    const Row rows[] = {{"preprocess", &pre}, {"inference", &inf}, {"decode", &dec},
                        {"nms", &nms},        {"total", &tot},     {"wall", &wall}};
    if (!quiet) {
        std::printf("model      %s\n", param.string().c_str());
        std::printf("head       %s\n", det->describe().c_str());
        std::printf("image      %s %dx%d -> input %dx%d (%s), %zu detections\n",
                    image_path.c_str(), img.w, img.h, feed_w, feed_h, resize_name, n_det);
        std::printf("threads    %d   precision %s   loops %d   warmup %d   stage %s\n", threads,
                    prec_name, loops, warmup, stage.c_str());
        std::printf("cpu        %s\n", cpu.c_str());
        std::printf("ncnn       %s   kernels %s   load %.1f ms\n", ncnn_version(), kernels_name(),
                    load_ms);
        std::printf("%-11s %10s %10s %10s\n", "stage (ms)", "min", "median", "max");
        for (const Row& r : rows)
            if (!r.v->empty()) {
                Stat s = stat_of(*r.v);
                std::printf("%-11s %10.3f %10.3f %10.3f\n", r.name, s.min, s.median, s.max);
            }
    }
    if (!json_path.empty()) {
        std::ostringstream j;
        j << "{\n  \"model\": " << json_str(param.string()) << ",\n  \"image\": "
          << json_str(image_path) << ",\n  \"image_size\": [" << img.w << ", " << img.h
          << "],\n  \"input_size\": [" << feed_w << ", " << feed_h << "],\n  \"resize\": \""
          << resize_name << "\",\n  \"precision\": \"" << prec_name << "\",\n  \"threads\": "
          << threads << ",\n  \"loops\": " << loops << ",\n  \"warmup\": " << warmup
          << ",\n  \"stage\": \"" << stage << "\",\n  \"detections\": " << n_det
          << ",\n  \"cpu\": " << json_str(cpu) << ",\n  \"ncnn_version\": "
          << json_str(ncnn_version()) << ",\n  \"kernels\": \"" << kernels_name()
          << "\",\n  \"load_ms\": " << load_ms << ",\n  \"stages_ms\": {";
        bool first = true;
        for (const Row& r : rows) {
            if (r.v->empty()) continue;
            Stat s = stat_of(*r.v);
            j << (first ? "\n" : ",\n") << "    \"" << r.name << "\": {\"min\": " << s.min
              << ", \"median\": " << s.median << ", \"max\": " << s.max << "}";
            first = false;
        }
        j << "\n  }\n}\n";
        std::ofstream f(json_path);
        if (!f) die("cannot write " + json_path);
        f << j.str();
    }
    return 0;
}
