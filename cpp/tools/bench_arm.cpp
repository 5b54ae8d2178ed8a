// bench_arm: per-stage timing of nanodet::Detector (the same code the Python package runs).
//
//   bench_arm --model PARAM|DIR|NAME --image IMG [--raw WxH] [--threads T] [--loops N]
//             [--warmup M] [--precision auto|fp32|fp16|int8] [--input-size S|WxH]
//             [--resize letterbox|dynamic|stretch] [--conf C] [--iou I] [--workers N]
//             [--cores all|big|little] [--stage all|network|decode] [--kernels neon|scalar]
//             [--json OUT.json] [--quiet] [--ncnn-opt NAME=0|1[,NAME=0|1...]]
//
// --model: a .param file (its .bin beside it), a folder holding one .param, or a name looked up
//   as <name>.param recursively under $NANODET_NCNN_MODELS (a folder laid out like shared/models).
// --image: JPEG or PNG (when built with stb_image, as wheels are), binary PPM/PGM, or raw BGR
//   bytes with --raw. Unreadable or unsupported images exit with status 3.
// --workers N: throughput mode. N workers (nanodet::Pool, each with --threads ncnn threads,
//   default 1) detect --loops frames; reports frames/s and each worker's per-frame latency.
//   Without it: latency mode, one detect() at a time with --threads threads.
// --cores: the CPU cluster to run on (ncnn's powersave modes; "all" where there is no
//   big.LITTLE split).
// --json: the report in the schema `nanodet-ncnn bench --json` also writes (docs/arm.md).
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
#include "cores.h"
#include "nanodet_ncnn/detector.h"
#include "nanodet_ncnn/scheduler.h"
#include "precision.h"
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
        "usage: bench_arm --model PARAM|DIR|NAME --image IMG [--raw WxH] [--threads T]\n"
        "                 [--loops N] [--warmup M] [--precision auto|fp32|fp16|int8]\n"
        "                 [--input-size S|WxH] [--resize letterbox|dynamic|stretch] [--conf C]\n"
        "                 [--iou I] [--workers N] [--cores all|big|little]\n"
        "                 [--stage all|network|decode] [--kernels neon|scalar]\n"
        "                 [--json OUT.json] [--quiet] [--ncnn-opt NAME=0|1[,...]]\n"
        "IMG: JPEG, PNG, PPM or PGM%s. Names are looked up as <name>.param under\n"
        "$NANODET_NCNN_MODELS.\n",
        imgio::have_jpeg_png() ? "" : " (this build: PPM/PGM only)");
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

std::string stat_json(const Stat& s) {
    std::ostringstream j;
    j << "{\"min\": " << s.min << ", \"median\": " << s.median << ", \"max\": " << s.max << "}";
    return j.str();
}

struct WorkerStats {
    int frames = 0;
    std::vector<double> latency_ms;
};

}  // namespace

int main(int argc, char** argv) {
    std::string model_arg, image_path, raw, json_path, stage = "all", kernels_arg, cores_arg = "all";
    int loops = 20, warmup = 3, workers = 0;
    unsigned hc = std::thread::hardware_concurrency();
    int threads = 0;  // 0: min(4, cores) in latency mode, 1 per worker in throughput mode
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
        else if (a == "--workers") workers = std::atoi(next().c_str());
        else if (a == "--cores") cores_arg = next();
        else if (a == "--loops") loops = std::atoi(next().c_str());
        else if (a == "--warmup") warmup = std::atoi(next().c_str());
        else if (a == "--json") json_path = next();
        else if (a == "--stage") stage = next();
        else if (a == "--kernels") kernels_arg = next();
        else if (a == "--quiet") quiet = true;
        else if (a == "--ncnn-opt") {  // ncnn::Option switches after --precision (docs/precision.md)
            std::stringstream list(next());
            for (std::string kv; std::getline(list, kv, ',');) {
                const size_t eq = kv.find('=');
                if (eq == std::string::npos || eq + 2 != kv.size() || (kv[eq + 1] != '0' && kv[eq + 1] != '1'))
                    die("--ncnn-opt wants NAME=0|1[,NAME=0|1...], got " + kv);
                opts.ncnn_options.emplace_back(kv.substr(0, eq), kv[eq + 1] - '0');
            }
        }
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
    if (workers < 0 || workers > 256) die("--workers must be between 1 and 256");
    if (workers > 0 && stage != "all") die("--workers measures whole frames: use --stage all");
    if (threads == 0) threads = workers > 0 ? 1 : int(std::min(4u, hc ? hc : 1u));
    if (threads < 1 || threads > 256) die("--threads must be between 1 and 256");
    opts.cores = cores_arg == "all"      ? Cores::All
                 : cores_arg == "big"    ? Cores::Big
                 : cores_arg == "little" ? Cores::Little
                                         : (die("--cores: all|big|little"), Cores::All);
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
            img = imgio::read_image(image_path);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_arm: %s\n", e.what());
        return 3;
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
    double run_s = 0;
    std::vector<WorkerStats> per_worker(size_t(std::max(workers, 0)));
    auto record = [&](const DetectResult& r, double wall_ms) {
        feed_w = r.input_width, feed_h = r.input_height, n_det = r.detections.size();
        pre.push_back(r.times.preprocess_ms);
        inf.push_back(r.times.inference_ms);
        dec.push_back(r.times.decode_ms);
        nms.push_back(r.times.nms_ms);
        tot.push_back(r.times.total_ms());
        wall.push_back(wall_ms);
    };
    try {
        if (workers > 0) {
            PoolOptions po;
            po.workers = workers;
            po.threads_per_worker = threads;
            Pool pool(*det, po);
            const ImageRef frame{img.pixels.data(), img.w, img.h, stride};
            apply_kernels();
            pool.detect_many(std::vector<ImageRef>(size_t(warmup), frame), params);
            const auto t0 = Clock::now();
            std::vector<PoolResult> out =
                pool.detect_many(std::vector<ImageRef>(size_t(loops), frame), params);
            run_s = std::chrono::duration<double>(Clock::now() - t0).count();
            for (const PoolResult& r : out) {
                if (r.error) std::rethrow_exception(r.error);
                record(r.result, r.run_ms);
                per_worker[size_t(r.worker)].frames++;
                per_worker[size_t(r.worker)].latency_ms.push_back(r.run_ms);
            }
        } else if (stage == "all") {
            apply_kernels();
            for (int k = 0; k < warmup + loops; ++k) {
                auto t0 = Clock::now();
                DetectResult r = det->detect(img.pixels.data(), img.w, img.h, stride, params);
                const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
                if (k < warmup) {
                    feed_w = r.input_width, feed_h = r.input_height, n_det = r.detections.size();
                    continue;
                }
                record(r, ms);
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
    const char* prec_name = precision_name(opts.precision);
    const std::string prec_used = det->precision_description();
    const char* mode = workers > 0 ? "throughput" : "latency";
    const double fps = workers > 0 && run_s > 0 ? loops / run_s : 0;
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
        std::printf("mode       %s   workers %d   threads %d   cores %s (%s)\n", mode,
                    std::max(workers, 1), threads, cores_name(opts.cores),
                    cores_name(effective_cores(opts.cores)));
        std::printf("precision  %s -> %s   loops %d   warmup %d   stage %s\n", prec_name,
                    prec_used.c_str(), loops, warmup, stage.c_str());
        std::printf("cpu        %s\n", cpu.c_str());
        std::printf("ncnn       %s   kernels %s   load %.1f ms\n", ncnn_version(), kernels_name(),
                    load_ms);
        std::printf("%-11s %10s %10s %10s\n", "stage (ms)", "min", "median", "max");
        for (const Row& r : rows)
            if (!r.v->empty()) {
                Stat s = stat_of(*r.v);
                std::printf("%-11s %10.3f %10.3f %10.3f\n", r.name, s.min, s.median, s.max);
            }
        if (workers > 0) {
            std::printf("throughput %.2f frames/s (%d frames in %.3f s)\n", fps, loops, run_s);
            for (size_t w = 0; w < per_worker.size(); ++w) {
                Stat s = stat_of(per_worker[w].latency_ms);
                std::printf("worker %-3zu %4d frames, latency ms min %.3f median %.3f max %.3f\n",
                            w, per_worker[w].frames, s.min, s.median, s.max);
            }
        }
    }
    if (!json_path.empty()) {
        // Schema nanodet-ncnn-bench/1: documented in docs/arm.md, also written by
        // python/nanodet_ncnn/bench.py.
        std::ostringstream j;
        j << "{\n  \"schema\": \"nanodet-ncnn-bench/1\",\n  \"runner\": \"bench_arm\""
          << ",\n  \"model\": " << json_str(param.string()) << ",\n  \"image\": "
          << json_str(image_path) << ",\n  \"image_size\": [" << img.w << ", " << img.h
          << "],\n  \"input_size\": [" << feed_w << ", " << feed_h << "],\n  \"resize\": \""
          << resize_name << "\",\n  \"precision\": \"" << prec_name
          << "\",\n  \"precision_used\": \"" << precision_name(det->precision())
          << "\",\n  \"precision_detail\": " << json_str(prec_used) << ",\n  \"mode\": \""
          << mode << "\",\n  \"stage\": \"" << stage << "\",\n  \"threads\": " << threads
          << ",\n  \"workers\": " << std::max(workers, 1) << ",\n  \"cores\": \""
          << cores_name(opts.cores) << "\",\n  \"cores_used\": \""
          << cores_name(effective_cores(opts.cores)) << "\",\n  \"loops\": " << loops
          << ",\n  \"warmup\": " << warmup << ",\n  \"detections\": " << n_det
          << ",\n  \"cpu\": " << json_str(cpu) << ",\n  \"ncnn_version\": "
          << json_str(ncnn_version()) << ",\n  \"kernels\": \"" << kernels_name()
          << "\",\n  \"load_ms\": " << load_ms << ",\n  \"stages_ms\": {";
        bool first = true;
        for (const Row& r : rows) {
            if (r.v->empty()) continue;
            j << (first ? "\n" : ",\n") << "    \"" << r.name << "\": " << stat_json(stat_of(*r.v));
            first = false;
        }
        j << "\n  },\n  \"throughput\": ";
        if (workers > 0) {
            j << "{\"frames\": " << loops << ", \"wall_s\": " << run_s << ", \"fps\": " << fps
              << ", \"per_worker\": [";
            for (size_t w = 0; w < per_worker.size(); ++w)
                j << (w ? ", " : "") << "{\"worker\": " << w << ", \"frames\": "
                  << per_worker[w].frames << ", \"latency_ms\": "
                  << stat_json(stat_of(per_worker[w].latency_ms)) << "}";
            j << "]}";
        } else {
            j << "null";
        }
        j << "\n}\n";
        std::ofstream f(json_path);
        if (!f) die("cannot write " + json_path);
        f << j.str();
    }
    return 0;
}
