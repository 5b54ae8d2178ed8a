// stb_image (from the ncnn source tree the build uses) compiled for image_io.h: JPEG and PNG.
// STB_IMAGE_STATIC keeps its symbols private, so an ncnn built with its own copy (simpleocv)
// does not clash.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_NO_THREAD_LOCALS
#define STBI_NO_LINEAR  // no float images (and no <math.h>: ncnn's copy leaves it out)
#define STBI_NO_HDR
#if defined(__ARM_NEON)
#define STBI_NEON
#endif
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include "stb_image.h"

#include "image_io.h"

namespace imgio {
namespace stb {

unsigned char* load(const char* path, int* w, int* h, int* channels_in_file, int want) {
    return stbi_load(path, w, h, channels_in_file, want);
}
void free(unsigned char* p) { stbi_image_free(p); }
const char* failure_reason() { return stbi_failure_reason(); }

}  // namespace stb
}  // namespace imgio
