// Image input for the C++ tools and tests: JPEG and PNG (through stb_image, when the build has
// it: NANODET_HAVE_STB_IMAGE, see CMakeLists.txt), binary PPM (P6, RGB -> returned as BGR) and
// PGM (P5, gray) with maxval <= 255, and raw interleaved BGR bytes of a known size. Without
// stb_image, convert other formats first (cpp/tools/to_ppm.py does it with OpenCV or Pillow).
#pragma once

#include <cctype>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace imgio {

struct Image {
    int w = 0, h = 0, channels = 0;  // 3 = BGR, 1 = gray
    std::vector<uint8_t> pixels;     // rows of w * channels bytes, no padding
};

namespace detail {
inline int read_header_int(std::istream& f) {
    int c = f.get();
    for (;;) {  // skip whitespace and # comments
        while (c != EOF && std::isspace(c)) c = f.get();
        if (c != '#') break;
        while (c != EOF && c != '\n') c = f.get();
    }
    if (c == EOF || !std::isdigit(c)) throw std::runtime_error("bad PNM header");
    long v = 0;
    while (c != EOF && std::isdigit(c)) {
        v = v * 10 + (c - '0');
        if (v > (1 << 20)) throw std::runtime_error("PNM dimension too large");
        c = f.get();
    }
    // exactly one whitespace byte follows the last header field; it has been consumed by get()
    return int(v);
}
}  // namespace detail

inline Image read_pnm(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open image " + path);
    char magic[2] = {0, 0};
    f.read(magic, 2);
    if (magic[0] != 'P' || (magic[1] != '6' && magic[1] != '5'))
        throw std::runtime_error(path + ": not a binary PPM/PGM (P6/P5); convert it first, "
                                 "e.g. python cpp/tools/to_ppm.py IN OUT.ppm");
    Image im;
    im.channels = magic[1] == '6' ? 3 : 1;
    im.w = detail::read_header_int(f);
    im.h = detail::read_header_int(f);
    const int maxval = detail::read_header_int(f);
    if (im.w <= 0 || im.h <= 0 || maxval <= 0 || maxval > 255)
        throw std::runtime_error(path + ": unsupported PNM (need 8-bit, non-empty)");
    im.pixels.resize(size_t(im.w) * im.h * im.channels);
    f.read(reinterpret_cast<char*>(im.pixels.data()), std::streamsize(im.pixels.size()));
    if (size_t(f.gcount()) != im.pixels.size()) throw std::runtime_error(path + ": truncated PNM");
    if (im.channels == 3)
        for (size_t i = 0; i < im.pixels.size(); i += 3) std::swap(im.pixels[i], im.pixels[i + 2]);
    return im;
}

inline Image read_raw_bgr(const std::string& path, int w, int h) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open image " + path);
    Image im;
    im.w = w;
    im.h = h;
    im.channels = 3;
    im.pixels.resize(size_t(w) * h * 3);
    f.read(reinterpret_cast<char*>(im.pixels.data()), std::streamsize(im.pixels.size()));
    if (size_t(f.gcount()) != im.pixels.size())
        throw std::runtime_error(path + ": fewer than " + std::to_string(im.pixels.size()) +
                                 " bytes for raw BGR " + std::to_string(w) + "x" + std::to_string(h));
    return im;
}

namespace stb {  // stb_image_impl.cpp
unsigned char* load(const char* path, int* w, int* h, int* channels_in_file, int want);
void free(unsigned char* p);
const char* failure_reason();
}  // namespace stb

constexpr bool have_jpeg_png() {
#if defined(NANODET_HAVE_STB_IMAGE)
    return true;
#else
    return false;
#endif
}

// JPEG / PNG / PPM / PGM by content (not by file name); colour comes back as BGR, gray and
// gray+alpha as one channel, alpha dropped.
inline Image read_image(const std::string& path) {
    unsigned char magic[4] = {0, 0, 0, 0};
    {
        std::ifstream f(path, std::ios::binary);
        if (!f) throw std::runtime_error("cannot open image " + path);
        f.read(reinterpret_cast<char*>(magic), 4);
    }
    if (magic[0] == 'P' && (magic[1] == '5' || magic[1] == '6')) return read_pnm(path);
    const bool jpeg = magic[0] == 0xFF && magic[1] == 0xD8;
    const bool png = magic[0] == 0x89 && magic[1] == 'P' && magic[2] == 'N' && magic[3] == 'G';
    if (!jpeg && !png)
        throw std::runtime_error(path + ": not a JPEG, PNG, PPM (P6) or PGM (P5) image");
#if defined(NANODET_HAVE_STB_IMAGE)
    int w = 0, h = 0, c = 0;
    unsigned char* data = stb::load(path.c_str(), &w, &h, &c, 0);
    if (!data) throw std::runtime_error(path + ": cannot decode (" + stb::failure_reason() + ")");
    Image im;
    im.w = w;
    im.h = h;
    im.channels = c <= 2 ? 1 : 3;
    im.pixels.resize(size_t(w) * h * im.channels);
    const size_t n = size_t(w) * h;
    for (size_t i = 0; i < n; ++i) {
        const unsigned char* s = data + i * size_t(c);
        if (im.channels == 1) {
            im.pixels[i] = s[0];
        } else {
            im.pixels[3 * i] = s[2];
            im.pixels[3 * i + 1] = s[1];
            im.pixels[3 * i + 2] = s[0];
        }
    }
    stb::free(data);
    return im;
#else
    throw std::runtime_error(path + ": this build reads PPM/PGM only (no stb_image); convert it "
                             "first, e.g. python cpp/tools/to_ppm.py IN OUT.ppm");
#endif
}

}  // namespace imgio
