#include "nanodet_ncnn/scheduler.h"

#include <stdexcept>
#include <string>

namespace nanodet {

namespace {

using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

// Waits on cv until pred() holds; timeout_ms < 0 waits forever. False on timeout.
template <typename Pred>
bool wait_for(std::condition_variable& cv, std::unique_lock<std::mutex>& lk, double timeout_ms,
              Pred pred) {
    if (timeout_ms < 0) {
        cv.wait(lk, pred);
        return true;
    }
    return cv.wait_for(lk, std::chrono::duration<double, std::milli>(timeout_ms), pred);
}

}  // namespace

Pool::Pool(const Detector& detector, const PoolOptions& o)
    : detector_(detector),
      workers_(o.workers),
      threads_per_worker_(o.threads_per_worker),
      max_pending_(o.max_pending ? o.max_pending : 2 * o.workers),
      cores_(o.cores == Cores::Default ? detector.options().cores : o.cores) {
    if (o.workers < 1 || o.workers > 256) throw Error("workers must be between 1 and 256");
    if (o.threads_per_worker < 1 || o.threads_per_worker > 256)
        throw Error("threads_per_worker must be between 1 and 256");
    if (o.max_pending < 0 || o.max_pending > 65536)
        throw Error("max_pending must be between 1 and 65536 (0 = 2 x workers)");
    if (cores_ != Cores::All && cores_ != Cores::Little && cores_ != Cores::Big)
        throw Error("cores must be all, little or big");
    threads_.reserve(size_t(workers_));
    try {
        for (int i = 0; i < workers_; ++i) threads_.emplace_back(&Pool::run, this, i);
    } catch (...) {
        close();
        throw;
    }
}

Pool::~Pool() { close(); }

void Pool::run(int worker) {
    for (;;) {
        Job job;
        {
            std::unique_lock<std::mutex> lk(mu_);
            work_cv_.wait(lk, [&] { return closing_ || !queue_.empty(); });
            if (closing_) return;
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        PoolResult r;
        r.seq = job.seq;
        r.worker = worker;
        r.keep = std::move(job.keep);
        const auto t0 = Clock::now();
        r.wait_ms = ms_between(job.submitted, t0);
        try {
            DetectParams p = job.params;
            p.num_threads = threads_per_worker_;
            p.cores = cores_;
            r.result = detector_.detect(job.frame.pixels, job.frame.w, job.frame.h,
                                        job.frame.stride, p);
        } catch (...) {
            r.error = std::current_exception();
        }
        r.run_ms = ms_between(t0, Clock::now());
        {
            std::lock_guard<std::mutex> lk(mu_);
            done_.emplace(r.seq, std::move(r));
        }
        done_cv_.notify_all();
    }
}

bool Pool::try_submit(const ImageRef& frame, const DetectParams& params, uint64_t& seq,
                      double timeout_ms, std::shared_ptr<void> keep, std::exception_ptr error) {
    const bool failed = bool(error);
    {
        std::unique_lock<std::mutex> lk(mu_);
        const bool room = wait_for(space_cv_, lk, timeout_ms, [&] {
            return closing_ || next_seq_ - next_collect_ < uint64_t(max_pending_);
        });
        if (closing_) throw std::runtime_error("the pool is closed");
        if (!room) return false;
        seq = next_seq_++;
        if (failed) {
            PoolResult r;
            r.seq = seq;
            r.error = std::move(error);
            r.keep = std::move(keep);
            done_.emplace(seq, std::move(r));
        } else {
            Job job;
            job.seq = seq;
            job.frame = frame;
            job.params = params;
            job.keep = std::move(keep);
            job.submitted = Clock::now();
            queue_.push_back(std::move(job));
        }
    }
    if (failed)
        done_cv_.notify_all();
    else
        work_cv_.notify_one();
    return true;
}

uint64_t Pool::submit(const ImageRef& frame, const DetectParams& params,
                      std::shared_ptr<void> keep) {
    uint64_t seq = 0;
    try_submit(frame, params, seq, -1, std::move(keep));
    return seq;
}

bool Pool::try_collect(PoolResult& out, double timeout_ms) {
    PoolResult r;
    {
        std::unique_lock<std::mutex> lk(mu_);
        if (closing_) throw std::runtime_error("the pool is closed");
        if (next_collect_ == next_seq_)
            throw std::runtime_error("nothing to collect: every submitted frame was collected");
        const bool ready = wait_for(done_cv_, lk, timeout_ms, [&] {
            return closing_ || done_.count(next_collect_) != 0;
        });
        if (closing_) throw std::runtime_error("the pool was closed while waiting for a result");
        if (!ready) return false;
        auto it = done_.find(next_collect_);
        r = std::move(it->second);
        done_.erase(it);
        ++next_collect_;
    }
    space_cv_.notify_one();
    out = std::move(r);  // outside the lock: out's old keep-alive may run arbitrary code
    return true;
}

PoolResult Pool::collect() {
    PoolResult r;
    try_collect(r, -1);
    return r;
}

std::vector<PoolResult> Pool::detect_many(const std::vector<ImageRef>& frames,
                                          const DetectParams& params) {
    if (pending() != 0)
        throw std::runtime_error("detect_many needs a pool with no frames pending");
    std::vector<PoolResult> out;
    out.reserve(frames.size());
    size_t next = 0;
    while (out.size() < frames.size()) {
        while (next < frames.size() && pending() < max_pending_) submit(frames[next++], params);
        out.push_back(collect());
    }
    return out;
}

void Pool::close() {
    std::lock_guard<std::mutex> serial(close_mu_);
    std::vector<std::thread> threads;
    {
        std::lock_guard<std::mutex> lk(mu_);
        closing_ = true;
        threads.swap(threads_);
    }
    work_cv_.notify_all();
    done_cv_.notify_all();
    space_cv_.notify_all();
    for (auto& t : threads) t.join();
    std::deque<Job> queued;
    std::map<uint64_t, PoolResult> finished;
    {
        std::lock_guard<std::mutex> lk(mu_);
        queued.swap(queue_);
        finished.swap(done_);
        next_collect_ = next_seq_;
    }
    // queued and finished (and their keep-alives) go here, outside the lock
}

int Pool::pending() const {
    std::lock_guard<std::mutex> lk(mu_);
    return int(next_seq_ - next_collect_);
}

bool Pool::closed() const {
    std::lock_guard<std::mutex> lk(mu_);
    return closing_;
}

}  // namespace nanodet
