// A worker pool beside Detector: N threads share ONE const Detector, each running whole frames
// with `threads_per_worker` ncnn threads. All workers run on one ncnn::Net (one copy of the
// weights): the detector's own when threads_per_worker equals its num_threads, else one more net
// loaded for that thread count (ncnn packs convolution weights per load-time thread count; see
// detector.cpp), still shared by every worker. Frames go in with submit() and come back from
// collect() in submission order, with the same detections serial detect() gives. Python,
// bench_arm and the Android JNI all schedule through this.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "nanodet_ncnn/detector.h"

namespace nanodet {

struct PoolOptions {
    int workers = 1;               // 1..256
    int threads_per_worker = 1;    // ncnn threads per frame, 1..256
    int max_pending = 0;           // submitted, not yet collected; 0 = 2 * workers
    Cores cores = Cores::Default;  // Default = the detector's
};

// A frame the pool reads in place: h rows of w pixels, `stride` bytes apart.
struct ImageRef {
    const uint8_t* pixels = nullptr;
    int w = 0, h = 0, stride = 0;
};

struct PoolResult {
    uint64_t seq = 0;
    DetectResult result;
    std::exception_ptr error;    // what detect() threw for this frame (result is then empty)
    std::shared_ptr<void> keep;  // the submitter's keep-alive, handed back
    int worker = -1;             // which worker ran it (-1: failed before reaching one)
    double wait_ms = 0;          // submit -> a worker took it
    double run_ms = 0;           // the worker's wall time on it
};

class Pool {
public:
    // The detector must outlive the pool. Throws Error on out-of-range options.
    explicit Pool(const Detector& detector, const PoolOptions& options = {});
    ~Pool();  // close()

    // Queues a frame and returns its sequence number (0, 1, 2, ...). The pixels must stay valid
    // until the result is collected or the pool is closed; `keep` is held that long (and
    // released on the collecting or closing thread, never on a worker). Waits while
    // max_pending frames are pending, at most timeout_ms (< 0: forever): false if still full.
    // With `error` set the frame is not run: collect() returns that error in its place (for
    // frames that failed before they could be submitted). Throws std::runtime_error once closed.
    bool try_submit(const ImageRef& frame, const DetectParams& params, uint64_t& seq,
                    double timeout_ms, std::shared_ptr<void> keep = {},
                    std::exception_ptr error = nullptr);
    uint64_t submit(const ImageRef& frame, const DetectParams& params,
                    std::shared_ptr<void> keep = {});

    // The next result in submission order, waiting at most timeout_ms (< 0: forever) for it;
    // false on timeout. Throws std::runtime_error when nothing is pending or the pool is (or
    // gets) closed. A frame's failure is in PoolResult::error, not thrown.
    bool try_collect(PoolResult& out, double timeout_ms);
    PoolResult collect();

    // Every frame through the pool, results in order (a failed frame has its error set). For
    // a caller that is the pool's only user: throws std::runtime_error when frames are pending.
    std::vector<PoolResult> detect_many(const std::vector<ImageRef>& frames,
                                        const DetectParams& params = {});

    // Drops queued frames, lets running ones finish, joins every worker; later submit/collect
    // calls throw. Idempotent; concurrent calls wait for the first.
    void close();

    int pending() const;  // submitted and not yet collected (0 once closed)
    int workers() const { return workers_; }
    int threads_per_worker() const { return threads_per_worker_; }
    int max_pending() const { return max_pending_; }
    Cores cores() const { return cores_; }
    bool closed() const;

    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

private:
    struct Job {
        uint64_t seq = 0;
        ImageRef frame;
        DetectParams params;
        std::shared_ptr<void> keep;
        std::chrono::steady_clock::time_point submitted;
    };
    void run(int worker);

    const Detector& detector_;
    int workers_, threads_per_worker_, max_pending_;
    Cores cores_;

    mutable std::mutex mu_;
    std::condition_variable work_cv_, done_cv_, space_cv_;
    std::deque<Job> queue_;
    std::map<uint64_t, PoolResult> done_;
    uint64_t next_seq_ = 0, next_collect_ = 0;
    bool closing_ = false;
    std::vector<std::thread> threads_;
    std::mutex close_mu_;
};

}  // namespace nanodet
