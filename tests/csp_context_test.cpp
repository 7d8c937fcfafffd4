// Contexts: the cancellation tree, causes, deadlines, values, after_func, and
// that creating and cancelling many contexts leaves nothing behind.
#include "csp_util.hpp"

#include <rill/csp/context.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>
#include <rill/sync.hpp>
#include <rill/timer.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using rill::context_err;

namespace {

const rill::context_key<std::string> user_key{"user"};
const rill::context_key<std::string> other_key{"other"};
const rill::context_key<int> depth_key{"depth"};

bool is_closed(const rill::context& c) {
    auto d = c.done();
    return !d.is_nil() && d.closed();
}

template <class E> bool cause_is(const rill::context& c) {
    try {
        c.throw_if_done();
    } catch (const E&) {
        return true;
    } catch (...) {
    }
    return false;
}

} // namespace

TEST_CASE("background is never done and has nothing") {
    rill::run([] {
        auto bg = rill::background();
        REQUIRE(bg.done().is_nil());
        REQUIRE(bg.err() == context_err::none);
        REQUIRE(bg.cause() == nullptr);
        REQUIRE_FALSE(bg.deadline());
        REQUIRE(bg.value(user_key) == nullptr);
        REQUIRE(bg == rill::context());
        REQUIRE_NOTHROW(bg.throw_if_done());
    });
}

TEST_CASE("cancel closes done, sets err and cause, and is idempotent") {
    rill::run([] {
        auto [ctx, cancel] = rill::with_cancel(rill::background());
        REQUIRE(ctx.err() == context_err::none);
        REQUIRE_FALSE(is_closed(ctx));
        cancel();
        REQUIRE(is_closed(ctx));
        REQUIRE(ctx.err() == context_err::canceled);
        REQUIRE(cause_is<rill::context_canceled>(ctx));
        cancel(std::make_exception_ptr(std::runtime_error("later"))); // first call wins
        REQUIRE(cause_is<rill::context_canceled>(ctx));

        auto [c2, cancel2] = rill::with_cancel(rill::background());
        cancel2(std::make_exception_ptr(std::runtime_error("shutting down")));
        REQUIRE(c2.err() == context_err::canceled);
        try {
            c2.throw_if_done();
            FAIL("not thrown");
        } catch (const std::runtime_error& e) {
            REQUIRE(std::string(e.what()) == "shutting down");
        }
    });
}

TEST_CASE("done works in select and wakes every waiter") {
    rill::run([] {
        auto [ctx, cancel] = rill::with_cancel(rill::background());
        constexpr int waiters = 50;
        rill::wait_group wg;
        std::atomic<int> woke{0};
        for (int i = 0; i < waiters; ++i) {
            wg.add(1);
            rill::go([&, ctx = ctx] {
                rill::chan<int> never(0);
                rill::select(rill::on_recv(never, [](std::optional<int>) {}),
                             rill::on_recv(ctx.done(), [&](auto) { ++woke; }));
                wg.done();
            });
        }
        cancel();
        wg.wait();
        REQUIRE(woke == waiters);
    });
}

TEST_CASE("cancelling a parent cancels every descendant; a child never its parent") {
    rill::run([] {
        auto [root, cancel_root] = rill::with_cancel(rill::background());
        auto [a, cancel_a] = rill::with_cancel(root);
        auto [b, cancel_b] = rill::with_cancel(root);
        auto av = rill::with_value(a, user_key, std::string("ann")); // value node in between
        auto [a1, cancel_a1] = rill::with_cancel(av);
        auto [a2, cancel_a2] = rill::with_timeout(av, 1h);

        cancel_a();
        REQUIRE(a.err() == context_err::canceled);
        REQUIRE(av.err() == context_err::canceled);
        REQUIRE(is_closed(av));
        REQUIRE(a1.err() == context_err::canceled);
        REQUIRE(a2.err() == context_err::canceled); // the parent's reason, not its own deadline
        REQUIRE(root.err() == context_err::none);
        REQUIRE(b.err() == context_err::none);

        auto cause = std::make_exception_ptr(std::logic_error("root cause"));
        cancel_root(cause);
        REQUIRE(b.err() == context_err::canceled);
        REQUIRE(b.cause() == cause); // descendants share the cause
        REQUIRE(a.cause() != cause); // a was cancelled before, on its own
    });
}

TEST_CASE("a child of a done parent is done at once") {
    rill::run([] {
        auto [p, cancel] = rill::with_cancel(rill::background());
        auto cause = std::make_exception_ptr(std::runtime_error("gone"));
        cancel(cause);
        auto [c, cancel_c] = rill::with_cancel(p);
        REQUIRE(c.err() == context_err::canceled);
        REQUIRE(c.cause() == cause);
        auto [d, cancel_d] = rill::with_timeout(p, 1h);
        REQUIRE(d.err() == context_err::canceled);
    });
}

TEST_CASE("deadlines: fire with deadline_exceeded, keep the earlier one, past ones fire at once") {
    rill::run([] {
        rill_test::maxprocs_scope procs(2);
        csp_test::leak_check leaks;
        {
            auto [ctx, cancel] = rill::with_timeout(rill::background(), 5ms);
            REQUIRE(ctx.deadline());
            (void)ctx.done().recv();
            REQUIRE(ctx.err() == context_err::deadline_exceeded);
            REQUIRE(cause_is<rill::deadline_exceeded>(ctx));
            REQUIRE(cause_is<rill::context_canceled>(ctx)); // deadline_exceeded is one

            auto [outer, c1] = rill::with_timeout(rill::background(), 1h);
            auto [inner, c2] = rill::with_timeout(outer, 2h);
            REQUIRE(inner.deadline() == outer.deadline());
            auto [tighter, c3] = rill::with_timeout(outer, 1min);
            REQUIRE(*tighter.deadline() < *outer.deadline());

            auto [past, c4] = rill::with_timeout(rill::background(), -1s);
            REQUIRE(past.err() == context_err::deadline_exceeded);
            auto [now, c5] =
                rill::with_deadline(rill::background(), std::chrono::steady_clock::now());
            REQUIRE(now.err() == context_err::deadline_exceeded);

            // A deadline that fires cancels descendants too.
            auto [parent, c6] = rill::with_timeout(rill::background(), 1ms);
            auto [child, c7] = rill::with_cancel(parent);
            (void)child.done().recv();
            REQUIRE(child.err() == context_err::deadline_exceeded);
            c1(), c2(), c3(), c4(), c5(), c6(), c7(), cancel();
        }
        REQUIRE(leaks.clean());
    });
}

TEST_CASE("cancel frees a deadline's timer; so does dropping the context") {
    rill::run([] {
        auto before = rill::callback_timer::armed();
        auto [ctx, cancel] = rill::with_timeout(rill::background(), 1h);
        REQUIRE(rill::callback_timer::armed() == before + 1);
        cancel();
        REQUIRE(rill::callback_timer::armed() == before);
        {
            auto [dropped, forgotten] = rill::with_timeout(rill::background(), 1h);
            REQUIRE(rill::callback_timer::armed() == before + 1);
        }
        REQUIRE(rill::callback_timer::armed() == before);
    });
}

TEST_CASE("values: typed keys, lookup through ancestors, shadowing") {
    rill::run([] {
        auto a = rill::with_value(rill::background(), user_key, std::string("ann"));
        auto [b, cancel] = rill::with_cancel(a);
        auto c = rill::with_value(b, depth_key, 3);
        auto d = rill::with_value(c, user_key, std::string("bob"));
        REQUIRE(*c.value(user_key) == "ann");
        REQUIRE(*c.value(depth_key) == 3);
        REQUIRE(*d.value(user_key) == "bob");
        REQUIRE(*a.value(user_key) == "ann");
        REQUIRE(a.value(depth_key) == nullptr);
        REQUIRE(d.value(other_key) == nullptr); // same type, other key
        REQUIRE(user_key.name() == "user");
        REQUIRE(a.err() == context_err::none);
        REQUIRE(a.done().is_nil()); // a value node under background is never done
        cancel();
        REQUIRE(d.err() == context_err::canceled);
    });
}

TEST_CASE("after_func runs once the context is done, unless stopped first") {
    rill::run([] {
        auto [ctx, cancel] = rill::with_cancel(rill::background());
        rill::chan<int> ran(4);
        auto stop1 = rill::after_func(ctx, [tx = ran.tx()]() mutable { tx.send(1); });
        auto stop2 = rill::after_func(ctx, [tx = ran.tx()]() mutable { tx.send(2); });
        REQUIRE(stop2());       // stopped before the cancel: never runs
        REQUIRE_FALSE(stop2()); // second stop: nothing left to stop
        cancel();
        REQUIRE(*ran.recv() == 1);
        REQUIRE_FALSE(stop1()); // already started
        auto stop3 = rill::after_func(ctx, [tx = ran.tx()]() mutable { tx.send(3); });
        REQUIRE(*ran.recv() == 3); // done already: runs at once
        REQUIRE_FALSE(stop3());
        REQUIRE_FALSE(ran.try_recv()); // 2 never ran
        auto never = rill::after_func(rill::background(), [] {});
        REQUIRE(never());
        REQUIRE_THROWS_AS(rill::after_func(ctx, nullptr), std::invalid_argument);
    });
}

TEST_CASE("a million contexts created and cancelled leave no goroutine or timer behind") {
    rill::run([] {
        const int n = rill_test::by_build(1'000'000, 100'000, 20'000);
        csp_test::leak_check leaks;
        auto [root, cancel_root] = rill::with_cancel(rill::background());
        for (int i = 0; i < n; ++i) {
            if (i % 2 == 0) {
                auto [c, cancel] = rill::with_cancel(root);
                cancel();
            } else {
                auto [c, cancel] = rill::with_timeout(root, 1h);
                cancel();
            }
        }
        // Some never cancelled, only dropped, and some cancelled by the root.
        std::vector<rill::context> kept;
        for (int i = 0; i < 1000; ++i) {
            auto [c, cancel] = rill::with_timeout(root, 1h);
            if (i % 2) kept.push_back(c);
        }
        cancel_root();
        for (auto& c : kept)
            REQUIRE(c.err() == context_err::canceled);
        REQUIRE(leaks.clean());
    });
}

TEST_CASE("a long chain of contexts cancels without deep recursion") {
    rill::run([] {
        const int depth = rill_test::by_build(100'000, 20'000, 5'000);
        csp_test::leak_check leaks;
        {
            auto [root, cancel] = rill::with_cancel(rill::background());
            rill::context leaf = root;
            for (int i = 0; i < depth; ++i)
                leaf = rill::with_cancel(leaf).first;
            cancel();
            REQUIRE(leaf.err() == context_err::canceled);
        } // and its destruction does not recurse all the way down either
        REQUIRE(leaks.clean());
    });
}

TEST_CASE("children created and cancelled while the parent is cancelled concurrently") {
    rill::run([] {
        rill_test::maxprocs_scope procs(4);
        csp_test::leak_check leaks;
        const int rounds = rill_test::by_build(200, 50, 20);
        for (int r = 0; r < rounds; ++r) {
            auto [root, cancel_root] = rill::with_cancel(rill::background());
            rill::wait_group wg;
            std::atomic<int> done_seen{0};
            for (int g = 0; g < 4; ++g) {
                wg.add(1);
                rill::go([&, root = root] {
                    for (int i = 0; i < 50; ++i) {
                        auto [c, cancel] = rill::with_timeout(root, 1h);
                        if (i % 3 == 0) cancel();
                        if (c.is_done()) ++done_seen;
                    }
                    wg.done();
                });
            }
            cancel_root();
            wg.wait();
            auto [late, c] = rill::with_cancel(root);
            REQUIRE(late.err() == context_err::canceled);
        }
        REQUIRE(leaks.clean());
    });
}

// ---- Memory ordering (context.hpp's "Memory ordering"; docs/runtime.md "Memory model") --
//
// A plain payload written before cancel on one thread and read on another
// once the context is seen done: under TSan a missing happens-before edge is
// a data race on the payload (see rill_test::on_two_threads). Outside
// rill::run, so that only the context orders the two threads.

TEST_CASE("memory ordering: cancel happens before the context is seen done, in every way") {
    enum mode { recv_done, select_done, closed_query, err_query, child_done, value_child, last };
    for (int m = recv_done; m != last; ++m) {
        for (int round = 0; round < 10; ++round) {
            auto [ctx, cancel] = rill::with_cancel(rill::background());
            auto [child, cancel_child] = rill::with_cancel(ctx);
            auto valued = rill::with_value(ctx, user_key, std::string("ann"));
            int payload = 0, seen = 0;
            bool cause_right = false;
            rill_test::on_two_threads(
                [&, cancel = cancel] {
                    payload = 42;
                    cancel();
                },
                [&, ctx = ctx, child = child] {
                    switch (m) {
                    case recv_done:
                        (void)ctx.done().recv();
                        break;
                    case select_done:
                        rill::select(rill::on_recv(ctx.done(), [](auto) {}));
                        break;
                    case closed_query:
                        while (!is_closed(ctx))
                            std::this_thread::yield();
                        break;
                    case err_query:
                        while (ctx.err() == context_err::none)
                            std::this_thread::yield();
                        cause_right = cause_is<rill::context_canceled>(ctx);
                        break;
                    case child_done:
                        (void)child.done().recv();
                        break;
                    default:
                        (void)valued.done().recv();
                    }
                    seen = payload;
                });
            INFO("mode " << m << ", round " << round);
            REQUIRE(seen == 42);
            if (m == err_query) REQUIRE(cause_right);
        }
    }
}

TEST_CASE("memory ordering: cancel happens before after_func's f starts") {
    for (int round = 0; round < 10; ++round) {
        auto [ctx, cancel] = rill::with_cancel(rill::background());
        int payload = 0, seen = 0;
        rill::chan<int> ran(1);
        auto stop = rill::after_func(ctx, [&, tx = ran.tx()]() mutable {
            seen = payload;
            tx.send(1);
        });
        std::thread writer([&, cancel = cancel] {
            payload = 42;
            cancel();
        });
        (void)ran.recv(); // orders seen before the read below
        writer.join();
        REQUIRE(seen == 42);
        REQUIRE_FALSE(stop());
    }
}
