#include "cores.h"

#include "cpu.h"

namespace nanodet {

Cores effective_cores(Cores c) {
    if (c != Cores::Little && c != Cores::Big) return Cores::All;
    const int n = ncnn::get_cpu_thread_affinity_mask(int(c)).num_enabled();
    return n == 0 || n >= ncnn::get_cpu_count() ? Cores::All : c;
}

namespace {
thread_local Cores t_pinned = Cores::All;  // threads start unpinned
}

Cores pin_thread(Cores c) {
    const Cores want = effective_cores(c);
    if (want == t_pinned) return want;
    // ncnn::set_cpu_powersave without its process-wide (and racy) mode variable: this pins
    // the calling thread's OpenMP team, which is what this thread's extractors run on.
    // Not retried on failure (it would cost a parallel region on every call).
    ncnn::set_cpu_thread_affinity(ncnn::get_cpu_thread_affinity_mask(int(want)));
    t_pinned = want;
    return want;
}

const char* cores_name(Cores c) {
    switch (c) {
        case Cores::Little: return "little";
        case Cores::Big: return "big";
        case Cores::All: return "all";
        default: return "default";
    }
}

}  // namespace nanodet
