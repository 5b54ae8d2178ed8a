// JNI adapter for com.nanodet.ncnn.demo.NanoDet: Java arrays and direct buffers in, the plain
// C++ core (nanodet_ncnn/frame.h, nanodet_ncnn/detector.h) does the work, float arrays out.
// Nothing here knows about cameras or bitmaps; the desktop test harness (tools/android/) loads a
// host build of this very file and calls the same methods.
#include <jni.h>

#include <memory>
#include <new>
#include <string>
#include <vector>

#include "nanodet_ncnn/detector.h"
#include "nanodet_ncnn/frame.h"

#define NANODET_JNI(ret, name) \
    extern "C" JNIEXPORT ret JNICALL Java_com_nanodet_ncnn_demo_NanoDet_##name

namespace {

void throw_java(JNIEnv* env, const char* cls, const char* msg) {
    if (env->ExceptionCheck()) return;
    jclass c = env->FindClass(cls);
    if (c) env->ThrowNew(c, msg);
}

// Runs f(), turning C++ exceptions into Java ones; returns `fallback` after a throw.
template <typename R, typename F>
R guarded(JNIEnv* env, R fallback, F&& f) {
    try {
        return f();
    } catch (const nanodet::InputError& e) {
        throw_java(env, "java/lang/IllegalArgumentException", e.what());
    } catch (const nanodet::ModelError& e) {
        throw_java(env, "java/lang/IllegalStateException", e.what());
    } catch (const nanodet::Error& e) {
        throw_java(env, "java/lang/IllegalArgumentException", e.what());
    } catch (const std::bad_alloc&) {
        throw_java(env, "java/lang/OutOfMemoryError", "nanodet: out of memory");
    } catch (const std::exception& e) {
        throw_java(env, "java/lang/RuntimeException", e.what());
    }
    return fallback;
}

// Byte array pinned (or copied) for the duration of a call; never written back.
struct Bytes {
    JNIEnv* env;
    jbyteArray array;
    jbyte* ptr = nullptr;
    size_t size = 0;
    Bytes(JNIEnv* e, jbyteArray a) : env(e), array(a) {
        if (!a) throw nanodet::InputError("byte array is null");
        size = size_t(env->GetArrayLength(a));
        ptr = env->GetByteArrayElements(a, nullptr);
        if (!ptr) throw std::bad_alloc();
    }
    ~Bytes() {
        if (ptr) env->ReleaseByteArrayElements(array, ptr, JNI_ABORT);
    }
    const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(ptr); }
    Bytes(const Bytes&) = delete;
    Bytes& operator=(const Bytes&) = delete;
};

const uint8_t* direct(JNIEnv* env, jobject buffer, size_t* size, const char* what) {
    if (!buffer) throw nanodet::InputError(std::string(what) + " buffer is null");
    void* p = env->GetDirectBufferAddress(buffer);
    jlong cap = env->GetDirectBufferCapacity(buffer);
    if (!p || cap < 0)
        throw nanodet::InputError(std::string(what) + " buffer is not a direct ByteBuffer");
    *size = size_t(cap);
    return static_cast<const uint8_t*>(p);
}

nanodet::Detector& detector(jlong handle) {
    if (!handle) throw nanodet::Error("detector is closed");
    return *reinterpret_cast<nanodet::Detector*>(handle);
}

nanodet::DetectParams params(jfloat conf, jfloat iou) {
    nanodet::DetectParams p;
    p.conf = conf;
    p.iou = iou;
    return p;
}

nanodet::Frame packed_frame(const Bytes& b, jint w, jint h, jint stride, jint format, jint rotation,
                            jboolean mirror) {
    nanodet::Frame f;
    f.format = static_cast<nanodet::FrameFormat>(format);
    f.width = w;
    f.height = h;
    f.data = b.data();
    f.data_size = b.size;
    f.stride = stride;
    f.rotation = rotation;
    f.mirror = mirror;
    return f;
}

nanodet::Frame yuv420_frame(JNIEnv* env, jobject y, jobject u, jobject v, jint w, jint h,
                            jint y_stride, jint uv_stride, jint uv_pixel_stride, jint rotation,
                            jboolean mirror) {
    nanodet::Frame f;
    f.format = nanodet::FrameFormat::YUV420;
    f.width = w;
    f.height = h;
    f.data = direct(env, y, &f.data_size, "Y");
    f.u = direct(env, u, &f.u_size, "U");
    f.v = direct(env, v, &f.v_size, "V");
    f.stride = y_stride;
    f.uv_stride = uv_stride;
    f.uv_pixel_stride = uv_pixel_stride;
    f.rotation = rotation;
    f.mirror = mirror;
    return f;
}

jfloatArray to_java(JNIEnv* env, const std::vector<float>& v) {
    jfloatArray a = env->NewFloatArray(jsize(v.size()));
    if (a) env->SetFloatArrayRegion(a, 0, jsize(v.size()), v.data());
    return a;
}

jbyteArray to_java(JNIEnv* env, const std::vector<uint8_t>& v) {
    jbyteArray a = env->NewByteArray(jsize(v.size()));
    if (a) env->SetByteArrayRegion(a, 0, jsize(v.size()), reinterpret_cast<const jbyte*>(v.data()));
    return a;
}

}  // namespace

NANODET_JNI(jlong, nativeCreate)(JNIEnv* env, jclass, jbyteArray param, jbyteArray bin,
                                 jint num_threads, jint input_size) {
    return guarded(env, jlong(0), [&] {
        Bytes p(env, param), b(env, bin);
        nanodet::DetectorOptions o;
        o.num_threads = num_threads;
        o.input_width = o.input_height = input_size;  // 0 = the model's own size
        std::string text(reinterpret_cast<const char*>(p.data()), p.size);
        auto d = nanodet::Detector::from_memory(text, b.data(), b.size, o);
        return reinterpret_cast<jlong>(d.release());
    });
}

NANODET_JNI(void, nativeRelease)(JNIEnv*, jclass, jlong handle) {
    delete reinterpret_cast<nanodet::Detector*>(handle);
}

NANODET_JNI(jstring, nativeDescribe)(JNIEnv* env, jclass, jlong handle) {
    return guarded(env, jstring(nullptr),
                   [&] { return env->NewStringUTF(detector(handle).describe().c_str()); });
}

NANODET_JNI(jint, nativeNumClasses)(JNIEnv* env, jclass, jlong handle) {
    return guarded(env, jint(0), [&] { return jint(detector(handle).head().num_classes); });
}

NANODET_JNI(jfloatArray, nativeDetect)(JNIEnv* env, jclass, jlong handle, jbyteArray data, jint w,
                                       jint h, jint stride, jint format, jint rotation,
                                       jboolean mirror, jfloat conf, jfloat iou) {
    return guarded(env, jfloatArray(nullptr), [&] {
        const nanodet::Detector& d = detector(handle);
        Bytes b(env, data);
        auto r = nanodet::detect_frame(d, packed_frame(b, w, h, stride, format, rotation, mirror),
                                       params(conf, iou));
        return to_java(env, nanodet::pack_result(r));
    });
}

NANODET_JNI(jfloatArray, nativeDetectYuv420)(JNIEnv* env, jclass, jlong handle, jobject y,
                                             jobject u, jobject v, jint w, jint h, jint y_stride,
                                             jint uv_stride, jint uv_pixel_stride, jint rotation,
                                             jboolean mirror, jfloat conf, jfloat iou) {
    return guarded(env, jfloatArray(nullptr), [&] {
        const nanodet::Detector& d = detector(handle);
        auto f = yuv420_frame(env, y, u, v, w, h, y_stride, uv_stride, uv_pixel_stride, rotation,
                              mirror);
        return to_java(env, nanodet::pack_result(nanodet::detect_frame(d, f, params(conf, iou))));
    });
}

NANODET_JNI(jbyteArray, nativeToBgr)(JNIEnv* env, jclass, jbyteArray data, jint w, jint h,
                                     jint stride, jint format, jint rotation, jboolean mirror) {
    return guarded(env, jbyteArray(nullptr), [&] {
        Bytes b(env, data);
        return to_java(env, nanodet::frame_to_bgr(
                                packed_frame(b, w, h, stride, format, rotation, mirror), nullptr,
                                nullptr));
    });
}

NANODET_JNI(jbyteArray, nativeToBgrYuv420)(JNIEnv* env, jclass, jobject y, jobject u, jobject v,
                                           jint w, jint h, jint y_stride, jint uv_stride,
                                           jint uv_pixel_stride, jint rotation, jboolean mirror) {
    return guarded(env, jbyteArray(nullptr), [&] {
        auto f = yuv420_frame(env, y, u, v, w, h, y_stride, uv_stride, uv_pixel_stride, rotation,
                              mirror);
        return to_java(env, nanodet::frame_to_bgr(f, nullptr, nullptr));
    });
}

NANODET_JNI(jboolean, nativeSetCpuCores)(JNIEnv*, jclass, jint mode) {
    return nanodet::set_cpu_cores(mode) ? JNI_TRUE : JNI_FALSE;
}

NANODET_JNI(jintArray, nativeCpuInfo)(JNIEnv* env, jclass) {
    nanodet::CpuInfo c = nanodet::cpu_info();
    const jint v[3] = {c.count, c.little, c.big};
    jintArray a = env->NewIntArray(3);
    if (a) env->SetIntArrayRegion(a, 0, 3, v);
    return a;
}

NANODET_JNI(jstring, nativeVersion)(JNIEnv* env, jclass) {
    std::string s = std::string("ncnn ") + nanodet::ncnn_version() + ", " + nanodet::kernels_name() +
                    " kernels";
    return env->NewStringUTF(s.c_str());
}
