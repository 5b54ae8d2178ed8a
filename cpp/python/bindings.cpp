// pybind11 adapter over nanodet::Detector: numpy in, numpy out, GIL released while detecting.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>

#include "nanodet_ncnn/detector.h"
#include "nanodet_ncnn/scheduler.h"
#include "cores.h"
#include "precision.h"

namespace py = pybind11;
using namespace nanodet;

namespace {

template <typename T>
T parse_enum(const std::string& s, std::initializer_list<std::pair<const char*, T>> table,
             const char* what) {
    std::string allowed;
    for (const auto& [name, v] : table) {
        if (s == name) return v;
        allowed += std::string(allowed.empty() ? "" : ", ") + "'" + name + "'";
    }
    throw py::value_error(std::string(what) + " must be one of " + allowed + ", got '" + s + "'");
}

DetectorOptions make_options(int num_threads, py::object input_size, const std::string& resize,
                             int pad_multiple, py::object mean, py::object norm,
                             const std::string& precision, int num_classes, int reg_max,
                             std::vector<int> strides, float center_offset, py::object cls_sigmoid,
                             const std::string& cores) {
    DetectorOptions o;
    o.num_threads = num_threads;
    o.cores = parse_enum<Cores>(cores, {{"all", Cores::All}, {"big", Cores::Big},
                                        {"little", Cores::Little}},
                                "cores");
    if (!input_size.is_none()) {
        if (py::isinstance<py::int_>(input_size)) {
            o.input_width = o.input_height = input_size.cast<int>();
        } else {
            auto wh = input_size.cast<std::vector<int>>();
            if (wh.size() != 2) throw py::value_error("input_size must be an int or (width, height)");
            o.input_width = wh[0];
            o.input_height = wh[1];
        }
        if (o.input_width < 32 || o.input_height < 32)
            throw py::value_error("input_size must be at least 32 pixels");
    }
    o.resize = parse_enum<ResizeMode>(resize, {{"letterbox", ResizeMode::Letterbox},
                                               {"dynamic", ResizeMode::Dynamic},
                                               {"stretch", ResizeMode::Stretch}},
                                      "resize");
    o.pad_multiple = pad_multiple;
    auto triple = [](py::object v, std::array<float, 3>& dst, const char* what) {
        if (v.is_none()) return;
        auto vals = v.cast<std::vector<float>>();
        if (vals.size() != 3) throw py::value_error(std::string(what) + " needs 3 values (B, G, R)");
        std::copy(vals.begin(), vals.end(), dst.begin());
    };
    triple(mean, o.mean, "mean");
    triple(norm, o.norm, "norm");
    o.precision = parse_enum<Precision>(precision, {{"auto", Precision::Auto},
                                                    {"fp32", Precision::FP32},
                                                    {"fp16", Precision::FP16},
                                                    {"int8", Precision::INT8}},
                                        "precision");
    o.head.num_classes = num_classes;
    o.head.reg_max = reg_max;
    o.head.strides = std::move(strides);
    o.head.center_offset = center_offset;
    o.head.cls_sigmoid = cls_sigmoid.is_none() ? -1 : (cls_sigmoid.cast<bool>() ? 1 : 0);
    return o;
}

// A uint8 image the core can read in place: rows may be padded, pixels must be packed.
struct ImageView {
    py::array arr;  // keeps the buffer alive while the GIL is released
    int w = 0, h = 0, channels = 0, stride = 0;
};

ImageView view_image(py::handle obj) {
    if (!py::isinstance<py::array>(obj))
        throw py::type_error("image must be a numpy array (H x W x 3 uint8, BGR) or a path, got " +
                             std::string(py::str(py::type::of(obj))));
    py::array a = py::reinterpret_borrow<py::array>(obj);
    if (!a.dtype().is(py::dtype::of<uint8_t>()))
        throw py::type_error("image dtype must be uint8, got " + std::string(py::str(a.dtype())) +
                             " (for float images in [0, 1] use (img * 255).round().astype(np.uint8))");
    if (a.ndim() != 2 && a.ndim() != 3)
        throw py::value_error("image must be H x W or H x W x C, got " + std::to_string(a.ndim()) +
                              " dimensions");
    ImageView v;
    v.h = int(a.shape(0));
    v.w = int(a.shape(1));
    v.channels = a.ndim() == 3 ? int(a.shape(2)) : 1;
    if (v.channels != 1 && v.channels != 3 && v.channels != 4)
        throw py::value_error("image must have 1, 3 or 4 channels, got " + std::to_string(v.channels));
    if (a.shape(0) == 0 || a.shape(1) == 0)
        throw py::value_error("image is empty (" + std::to_string(a.shape(0)) + " x " +
                              std::to_string(a.shape(1)) + ")");
    if (a.shape(0) > 65535 || a.shape(1) > 65535)
        throw py::value_error("image is larger than 65535 pixels on a side");
    bool packed = a.strides(1) == v.channels && (a.ndim() == 2 || a.strides(2) == 1) &&
                  a.strides(0) >= a.strides(1) * a.shape(1);
    if (!packed) a = py::array::ensure(a, py::array::c_style | py::array::forcecast);
    v.arr = a;
    v.stride = int(a.strides(0));
    return v;
}

bool parse_rgb(const std::string& pixel_format) {
    return parse_enum<bool>(pixel_format, {{"bgr", false}, {"rgb", true}}, "pixel_format");
}

PixelFormat pixel_format_of(const ImageView& v, bool rgb) {
    return v.channels == 1   ? PixelFormat::GRAY
           : v.channels == 4 ? (rgb ? PixelFormat::RGBA : PixelFormat::BGRA)
                             : (rgb ? PixelFormat::RGB : PixelFormat::BGR);
}

DetectParams make_params(float conf, float iou, const std::string& nms, int max_det,
                         int max_candidates) {
    DetectParams p;
    p.conf = conf;
    p.iou = iou;
    p.max_det = max_det;
    p.max_candidates = max_candidates;
    p.nms = parse_enum<NmsMode>(nms, {{"class", NmsMode::PerClass},
                                      {"agnostic", NmsMode::Agnostic},
                                      {"multilabel", NmsMode::MultiLabel}},
                                "nms");
    return p;
}

// (xyxy, scores, class_ids, times_ms, (input_w, input_h)): what detect() returns.
py::tuple result_tuple(const DetectResult& r) {
    const py::ssize_t n = py::ssize_t(r.detections.size());
    py::array_t<float> xyxy({n, py::ssize_t(4)});
    py::array_t<float> scores(n);
    py::array_t<int32_t> classes(n);
    auto bx = xyxy.mutable_unchecked<2>();
    auto sc = scores.mutable_unchecked<1>();
    auto cl = classes.mutable_unchecked<1>();
    for (py::ssize_t i = 0; i < n; ++i) {
        const Detection& dd = r.detections[size_t(i)];
        bx(i, 0) = dd.x1;
        bx(i, 1) = dd.y1;
        bx(i, 2) = dd.x2;
        bx(i, 3) = dd.y2;
        sc(i) = dd.score;
        cl(i) = dd.class_id;
    }
    py::dict times;
    times["preprocess"] = r.times.preprocess_ms;
    times["inference"] = r.times.inference_ms;
    times["decode"] = r.times.decode_ms;
    times["nms"] = r.times.nms_ms;
    times["total"] = r.times.total_ms();
    return py::make_tuple(xyxy, scores, classes, times,
                          py::make_tuple(r.input_width, r.input_height));
}

// A Python object held from C++ threads: released (with the GIL) wherever the last owner drops it.
std::shared_ptr<void> hold(py::object o) {
    return std::shared_ptr<void>(o.release().ptr(), [](void* p) {
        if (!p) return;
        py::gil_scoped_acquire gil;
        Py_DECREF(static_cast<PyObject*>(p));
    });
}

// Blocking pool calls wait in slices so that Ctrl+C reaches Python.
constexpr double kWaitSliceMs = 100;
void check_signals() {
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

const char* cores_text(Cores c) {
    return c == Cores::Big ? "big" : c == Cores::Little ? "little" : "all";
}

}  // namespace

// The keyword arguments shared by Detector(param, bin, ...) and Detector.from_memory(...).
#define LOAD_ARGS                                                                              \
    py::arg("param"), py::arg("bin"), py::kw_only(), py::arg("num_threads") = 1,              \
        py::arg("input_size") = py::none(), py::arg("resize") = "letterbox",                  \
        py::arg("pad_multiple") = 32, py::arg("mean") = py::none(),                           \
        py::arg("norm") = py::none(), py::arg("precision") = "auto",                          \
        py::arg("num_classes") = 0, py::arg("reg_max") = -1,                                  \
        py::arg("strides") = std::vector<int>{}, py::arg("center_offset") = -1.f,             \
        py::arg("cls_sigmoid") = py::none(), py::arg("cores") = "all"

PYBIND11_MODULE(_core, m) {
    m.doc() = "nanodet-ncnn C++ core";
    static py::exception<Error> base_exc(m, "NanodetError", PyExc_ValueError);
    static py::exception<ModelError> model_exc(m, "ModelError", base_exc.ptr());
    static py::exception<InputError> input_exc(m, "InputError", base_exc.ptr());
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const ModelError& e) {
            py::set_error(model_exc, e.what());
        } catch (const InputError& e) {
            py::set_error(input_exc, e.what());
        } catch (const Error& e) {
            py::set_error(base_exc, e.what());
        }
    });

    m.def("ncnn_version", &ncnn_version);
    m.def("kernels", &kernels_name, "Which decode/NMS kernels this build uses: 'neon' or 'scalar'.");

    py::class_<Detector>(m, "Detector")
        .def(py::init([](const std::string& param, const std::string& bin, int num_threads,
                         py::object input_size, const std::string& resize, int pad_multiple,
                         py::object mean, py::object norm, const std::string& precision,
                         int num_classes, int reg_max, std::vector<int> strides,
                         float center_offset, py::object cls_sigmoid, const std::string& cores) {
                 DetectorOptions o = make_options(num_threads, input_size, resize, pad_multiple,
                                                  mean, norm, precision, num_classes, reg_max,
                                                  std::move(strides), center_offset, cls_sigmoid,
                                                  cores);
                 py::gil_scoped_release nogil;
                 return Detector::from_files(param, bin, o);
             }),
             LOAD_ARGS)
        .def_static(
            "from_memory",
            [](py::bytes param, py::bytes bin, int num_threads, py::object input_size,
               const std::string& resize, int pad_multiple, py::object mean, py::object norm,
               const std::string& precision, int num_classes, int reg_max,
               std::vector<int> strides, float center_offset, py::object cls_sigmoid,
               const std::string& cores) {
                DetectorOptions o = make_options(num_threads, input_size, resize, pad_multiple,
                                                 mean, norm, precision, num_classes, reg_max,
                                                 std::move(strides), center_offset, cls_sigmoid,
                                                 cores);
                std::string text = param;
                std::string weights = bin;
                py::gil_scoped_release nogil;
                return Detector::from_memory(
                    text, reinterpret_cast<const uint8_t*>(weights.data()), weights.size(), o);
            },
            LOAD_ARGS)
        .def(
            "detect",
            [](const Detector& d, py::handle image, float conf, float iou, const std::string& nms,
               int max_det, int max_candidates, const std::string& pixel_format) {
                ImageView v = view_image(image);
                DetectParams p = make_params(conf, iou, nms, max_det, max_candidates);
                p.pixel_format = pixel_format_of(v, parse_rgb(pixel_format));
                const uint8_t* px = static_cast<const uint8_t*>(v.arr.data());
                DetectResult r;
                {
                    py::gil_scoped_release nogil;
                    r = d.detect(px, v.w, v.h, v.stride, p);
                }
                return result_tuple(r);
            },
            py::arg("image"), py::kw_only(), py::arg("conf") = 0.35f, py::arg("iou") = 0.6f,
            py::arg("nms") = "class", py::arg("max_det") = 100, py::arg("max_candidates") = 3000,
            py::arg("pixel_format") = "bgr",
            "Detect objects; returns (xyxy, scores, class_ids, times_ms, (input_w, input_h)).")
        .def(
            "run_network",
            [](const Detector& d, int w, int h) {
                if (w < 1 || h < 1 || w > 8192 || h > 8192)
                    throw py::value_error("network input size out of range");
                py::gil_scoped_release nogil;
                return d.run_network(w, h);
            },
            py::arg("width"), py::arg("height"))
        .def(
            "extract_blobs",
            [](const Detector& d, py::handle image, std::vector<std::string> names,
               const std::string& pixel_format) {
                ImageView v = view_image(image);
                PixelFormat pf = pixel_format_of(v, parse_rgb(pixel_format));
                const uint8_t* px = static_cast<const uint8_t*>(v.arr.data());
                std::vector<Detector::Blob> blobs;
                {
                    py::gil_scoped_release nogil;
                    blobs = d.extract_blobs(px, v.w, v.h, v.stride, names, pf);
                }
                py::dict out;
                for (size_t k = 0; k < names.size(); ++k) {
                    std::vector<py::ssize_t> shape(blobs[k].shape.begin(), blobs[k].shape.end());
                    py::array_t<float> a(shape);
                    std::memcpy(a.mutable_data(), blobs[k].data.data(),
                                blobs[k].data.size() * sizeof(float));
                    out[py::str(names[k])] = a;
                }
                return out;
            },
            py::arg("image"), py::arg("names"), py::kw_only(), py::arg("pixel_format") = "bgr",
            "Preprocess like detect(), run the network and return {name: float32 array} for the "
            "named blobs (for INT8 calibration and debugging).")
        .def_property_readonly("num_classes", [](const Detector& d) { return d.head().num_classes; })
        .def_property_readonly("reg_max", [](const Detector& d) { return d.head().reg_max; })
        .def_property_readonly("strides", [](const Detector& d) { return d.head().strides; })
        .def_property_readonly("center_offset", [](const Detector& d) { return d.head().center_offset; })
        .def_property_readonly("cls_sigmoid", [](const Detector& d) { return d.head().cls_sigmoid; })
        .def_property_readonly("family", [](const Detector& d) { return d.head().legacy_or_plus; })
        .def_property_readonly("layout", [](const Detector& d) {
            return d.head().family == HeadFamily::SingleOutput ? "single-output" : "per-stride";
        })
        .def_property_readonly("quantized", [](const Detector& d) { return d.head().quantized; })
        .def_property_readonly("input_blob", [](const Detector& d) { return d.head().input_blob; })
        .def_property_readonly("output_blobs", [](const Detector& d) { return d.head().output_blobs; })
        .def_property_readonly("input_size", [](const Detector& d) {
            return py::make_tuple(d.input_width(), d.input_height());
        })
        .def_property_readonly("num_threads", [](const Detector& d) { return d.options().num_threads; })
        .def_property_readonly("cores", [](const Detector& d) { return cores_text(d.options().cores); })
        .def_property_readonly("cores_used", [](const Detector& d) {
            return cores_text(effective_cores(d.options().cores));
        })
        .def_property_readonly("precision_used", [](const Detector& d) {
            return std::string(precision_name(d.precision()));
        })
        .def_property_readonly("precision_detail", &Detector::precision_description)
        .def("describe", &Detector::describe);

    py::class_<Pool>(m, "Pool", "Worker pool over one Detector: submit() frames, collect() "
                                "results in submission order.")
        .def(py::init([](const Detector& d, int workers, int threads_per_worker, int max_pending) {
                 PoolOptions o;
                 o.workers = workers;
                 o.threads_per_worker = threads_per_worker;
                 o.max_pending = max_pending;
                 return std::make_unique<Pool>(d, o);
             }),
             py::arg("detector"), py::arg("workers") = 2, py::arg("threads_per_worker") = 1,
             py::arg("max_pending") = 0, py::keep_alive<1, 2>())
        .def(
            "submit",
            [](Pool& pool, py::object image, float conf, float iou, const std::string& nms,
               int max_det, int max_candidates, const std::string& pixel_format) {
                DetectParams p = make_params(conf, iou, nms, max_det, max_candidates);
                const bool rgb = parse_rgb(pixel_format);
                ImageRef ref;
                std::exception_ptr error;
                py::object keep;
                try {  // a frame that is not an image fails in its turn, from collect()
                    ImageView v = view_image(image);
                    p.pixel_format = pixel_format_of(v, rgb);
                    ref.pixels = static_cast<const uint8_t*>(v.arr.data());
                    ref.w = v.w;
                    ref.h = v.h;
                    ref.stride = v.stride;
                    keep = v.arr;
                } catch (const py::builtin_exception&) {
                    error = std::current_exception();
                }
                std::shared_ptr<void> held = hold(std::move(keep));
                uint64_t seq = 0;
                for (;;) {
                    bool queued;
                    {
                        py::gil_scoped_release nogil;
                        queued = pool.try_submit(ref, p, seq, kWaitSliceMs, held, error);
                    }
                    if (queued) return seq;
                    check_signals();
                }
            },
            py::arg("image"), py::kw_only(), py::arg("conf") = 0.35f, py::arg("iou") = 0.6f,
            py::arg("nms") = "class", py::arg("max_det") = 100, py::arg("max_candidates") = 3000,
            py::arg("pixel_format") = "bgr",
            "Queue a frame (kept referenced, not copied, until collected); returns its sequence "
            "number. Blocks while max_pending frames are pending.")
        .def(
            "collect",
            [](Pool& pool) {
                PoolResult r;
                for (;;) {
                    bool ready;
                    {
                        py::gil_scoped_release nogil;
                        ready = pool.try_collect(r, kWaitSliceMs);
                    }
                    if (ready) break;
                    check_signals();
                }
                if (r.error) std::rethrow_exception(r.error);
                py::tuple t = result_tuple(r.result);
                return py::make_tuple(r.seq, t[0], t[1], t[2], t[3], t[4]);
            },
            "The next result in submission order: (seq, xyxy, scores, class_ids, times_ms, "
            "(input_w, input_h)); raises the frame's error in its place.")
        .def("close", [](Pool& pool) {
            py::gil_scoped_release nogil;
            pool.close();
        })
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](Pool& pool, py::args) {
            py::gil_scoped_release nogil;
            pool.close();
        })
        .def_property_readonly("pending", &Pool::pending)
        .def_property_readonly("workers", &Pool::workers)
        .def_property_readonly("threads_per_worker", &Pool::threads_per_worker)
        .def_property_readonly("max_pending", &Pool::max_pending)
        .def_property_readonly("closed", &Pool::closed);
}
