// Which CPU cores the calling thread runs inference on (ncnn's powersave masks from cpu.h).
#pragma once

#include "nanodet_ncnn/types.h"

namespace nanodet {

// The mode actually used for `c`: All for Default, and for a cluster this machine does not
// have (or that is every core).
Cores effective_cores(Cores c);

// Pins the calling thread and the OpenMP threads it runs ncnn with to effective_cores(c).
// Remembers per thread what it applied, so repeated calls with the same mode cost nothing.
// Best effort: a kernel that refuses affinity changes leaves the thread where it was.
Cores pin_thread(Cores c);

const char* cores_name(Cores c);

}  // namespace nanodet
