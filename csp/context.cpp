// The context tree (mirrors Go's context/context.go). Only cancellable nodes
// (with_cancel, with_deadline) hold cancellation state; a value node defers to
// its nearest cancellable ancestor, its `canceller`. Parents know their
// cancellable children through an intrusive list under the parent's lock and
// hold them weakly, so an abandoned child frees itself; children hold their
// parents strongly, which keeps every ancestor (and its lock) alive.
#include <rill/csp/context.hpp>
#include <rill/runtime.hpp>
#include <rill/sync.hpp>
#include <rill/timer.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace rill {
namespace detail {

using steady = std::chrono::steady_clock;
constexpr std::int64_t no_deadline_ns = INT64_MAX;

struct ctx_node : std::enable_shared_from_this<ctx_node> {
    std::shared_ptr<ctx_node> parent;
    std::uint32_t depth = 0;       // 0 for a child of background
    ctx_node* canceller = nullptr; // this, an ancestor, or nullptr: never cancelled
    std::int64_t deadline = no_deadline_ns;
    const void* key = nullptr;
    std::shared_ptr<const void> value;

    // Cancellable nodes only. err is set (release) after cause, both under mu.
    mutex mu;
    chan<std::monostate> done;
    std::atomic<context_err> err{context_err::none};
    std::exception_ptr cause;
    ctx_node* children = nullptr;                                       // guarded by mu
    std::vector<std::pair<std::uint64_t, std::function<void()>>> after; // guarded by mu
    std::uint64_t after_next = 0;
    // The link in registered_with's child list, guarded by registered_with->mu.
    ctx_node* registered_with = nullptr;
    ctx_node *prev = nullptr, *next = nullptr;
    bool linked = false;
    std::unique_ptr<callback_timer> timer;

    ~ctx_node() {
        if (timer) timer->stop();
        unlink();
        // Releasing the parent may destroy it, and its parent, and so on: in
        // a long chain that recursion would overflow a goroutine's stack, so
        // every so many levels the rest is released on a fresh goroutine.
        if (parent && depth % release_stride == release_stride - 1)
            rill::go([p = std::move(parent)]() mutable { p.reset(); }, {.name = "context release"});
    }
    static constexpr std::uint32_t release_stride = 128;

    void unlink() {
        ctx_node* a = registered_with;
        if (!a) return;
        std::lock_guard<mutex> g(a->mu);
        if (!linked) return;
        (prev ? prev->next : a->children) = next;
        if (next) next->prev = prev;
        prev = next = nullptr;
        linked = false;
    }

    // Marks this node done; returns its live children, for the caller to
    // cancel in turn (iteratively: a long chain must not exhaust a stack).
    std::vector<std::shared_ptr<ctx_node>> cancel_one(context_err e, const std::exception_ptr& c) {
        std::vector<std::shared_ptr<ctx_node>> kids;
        std::vector<std::pair<std::uint64_t, std::function<void()>>> funcs;
        {
            std::lock_guard<mutex> g(mu);
            if (err.load(std::memory_order_relaxed) != context_err::none) return kids;
            cause = c;
            err.store(e, std::memory_order_release);
            done.close();
            for (ctx_node* k = children; k;) {
                ctx_node* nk = k->next;
                k->linked = false;
                k->prev = k->next = nullptr;
                // A child whose last owner is gone is being destroyed, blocked
                // on mu in unlink(); it needs no cancelling.
                if (auto sp = k->weak_from_this().lock()) kids.push_back(std::move(sp));
                k = nk;
            }
            children = nullptr;
            funcs.swap(after);
        }
        if (timer) timer->stop(); // frees the heap slot now, not at the deadline
        unlink();
        for (auto& [id, f] : funcs)
            rill::go(std::move(f), {.name = "context after_func"});
        return kids;
    }

    static void on_deadline(void* arg) {
        // On a scheduler stack: must not block, so the cancelling (which
        // takes locks) runs in a goroutine.
        if (auto sp = static_cast<ctx_node*>(arg)->weak_from_this().lock())
            rill::go(
                [sp = std::move(sp)] { cancel_tree(sp, context_err::deadline_exceeded, nullptr); },
                {.name = "context deadline"});
    }

    static void cancel_tree(std::shared_ptr<ctx_node> root, context_err e, std::exception_ptr c) {
        if (!c)
            c = e == context_err::deadline_exceeded ? std::make_exception_ptr(deadline_exceeded())
                                                    : std::make_exception_ptr(context_canceled());
        std::vector<std::shared_ptr<ctx_node>> work{std::move(root)};
        while (!work.empty()) {
            auto n = std::move(work.back());
            work.pop_back();
            for (auto& k : n->cancel_one(e, c))
                work.push_back(std::move(k));
        }
    }
};

namespace {

std::shared_ptr<ctx_node> derive(const std::shared_ptr<ctx_node>& parent) {
    auto n = std::make_shared<ctx_node>();
    n->parent = parent;
    if (parent) {
        n->canceller = parent->canceller;
        n->deadline = parent->deadline;
        n->depth = parent->depth + 1;
    }
    return n;
}

// Makes a fresh node cancellable and ties it to its parent's canceller. The
// check for a parent that is already done and the linking happen under the
// parent's lock, so a concurrent cancel either sees the child or the child
// sees it done.
void make_cancellable(const std::shared_ptr<ctx_node>& n) {
    ctx_node* a = n->canceller;
    n->canceller = n.get();
    n->done = chan<std::monostate>(0);
    if (!a) return;
    n->registered_with = a;
    context_err parent_err;
    std::exception_ptr parent_cause;
    {
        std::lock_guard<mutex> g(a->mu);
        parent_err = a->err.load(std::memory_order_relaxed);
        if (parent_err == context_err::none) {
            n->next = a->children;
            if (a->children) a->children->prev = n.get();
            a->children = n.get();
            n->linked = true;
            return;
        }
        parent_cause = a->cause;
    }
    ctx_node::cancel_tree(n, parent_err, parent_cause);
}

} // namespace

std::shared_ptr<ctx_node> ctx_with_value(std::shared_ptr<ctx_node> parent, const void* key,
                                         std::shared_ptr<const void> value) {
    auto n = derive(parent);
    n->key = key;
    n->value = std::move(value);
    return n;
}

const void* ctx_value(const ctx_node* n, const void* key) noexcept {
    for (; n; n = n->parent.get())
        if (n->key == key) return n->value.get();
    return nullptr;
}

} // namespace detail

receiver<std::monostate> context::done() const {
    if (!n_ || !n_->canceller) return {};
    return n_->canceller->done.rx();
}

context_err context::err() const noexcept {
    if (!n_ || !n_->canceller) return context_err::none;
    return n_->canceller->err.load(std::memory_order_acquire);
}

std::exception_ptr context::cause() const {
    // cause is written once, before err is published.
    if (err() == context_err::none) return nullptr;
    return n_->canceller->cause;
}

void context::throw_if_done() const {
    if (auto c = cause()) std::rethrow_exception(c);
}

std::optional<std::chrono::steady_clock::time_point> context::deadline() const noexcept {
    if (!n_ || n_->deadline == detail::no_deadline_ns) return std::nullopt;
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(n_->deadline));
}

void cancel_func::cancel(std::exception_ptr cause) const {
    if (n_) detail::ctx_node::cancel_tree(n_, context_err::canceled, std::move(cause));
}

std::pair<context, cancel_func> with_cancel(const context& parent) {
    auto n = detail::derive(parent.n_);
    detail::make_cancellable(n);
    return {context(n), cancel_func(n)};
}

std::pair<context, cancel_func> with_deadline(const context& parent,
                                              std::chrono::steady_clock::time_point d) {
    std::int64_t when = d.time_since_epoch() / std::chrono::nanoseconds(1);
    if (parent.n_ && parent.n_->deadline <= when) return with_cancel(parent);
    auto n = detail::derive(parent.n_);
    n->deadline = when;
    // Made before the node is linked: a concurrent cancel may stop it.
    n->timer = std::make_unique<callback_timer>(&detail::ctx_node::on_deadline, n.get());
    detail::make_cancellable(n);
    auto left = d - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds::zero()) {
        detail::ctx_node::cancel_tree(n, context_err::deadline_exceeded, nullptr);
    } else {
        std::lock_guard<mutex> g(n->mu);
        if (n->err.load(std::memory_order_relaxed) == context_err::none) n->timer->start(left);
    }
    return {context(n), cancel_func(n)};
}

std::pair<context, cancel_func> with_timeout(const context& parent, std::chrono::nanoseconds d) {
    return with_deadline(parent, std::chrono::steady_clock::now() + d);
}

std::function<bool()> after_func(const context& ctx, std::function<void()> f) {
    if (!f) throw std::invalid_argument("rill::after_func: f must not be empty");
    detail::ctx_node* a = ctx.n_ ? ctx.n_->canceller : nullptr;
    if (!a) return [] { return true; }; // never done, so f never runs
    std::unique_lock<mutex> lk(a->mu);
    if (a->err.load(std::memory_order_relaxed) != context_err::none) {
        lk.unlock();
        rill::go(std::move(f), {.name = "context after_func"});
        return [] { return false; };
    }
    std::uint64_t id = a->after_next++;
    a->after.emplace_back(id, std::move(f));
    return [w = std::weak_ptr<detail::ctx_node>(a->shared_from_this()), id] {
        auto sp = w.lock();
        if (!sp) return true; // gone without being cancelled: f never ran
        std::lock_guard<mutex> g(sp->mu);
        for (auto it = sp->after.begin(); it != sp->after.end(); ++it)
            if (it->first == id) {
                sp->after.erase(it);
                return true;
            }
        return false;
    };
}

} // namespace rill
