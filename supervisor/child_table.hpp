// The children of one supervisor: kept in start order, and found by id
// (static children) or by ref (dynamic children) in O(1), so that
// administering N children costs O(N) rather than O(N^2) — OTP keeps a map
// beside its list of ids for the same reason. A child_rec stays at its
// address until it is erased, so the supervisor may hold pointers to it
// (its runs, its due queue). Private to the supervisor layer.
//
// Not synchronised: sup_core changes it on its own goroutine only, under its
// mutex, which readers on other threads take.
#pragma once

#include <rill/csp/context.hpp>
#include <rill/supervisor/child_spec.hpp>
#include <rill/supervisor/options.hpp>

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rill::detail {

struct instance;

struct child_rec {
    child_spec spec;
    std::string name; // id, or id#ref for dynamic children
    std::uint64_t ref = 0;
    std::shared_ptr<instance> inst;
    // The context with this child's token (child_token) that every run of a
    // child whose start is not awaited derives its own from: the token is the
    // same for each run, so it is made once, at the first.
    context token_ctx;
    child_state state = child_state::stopped;
    int restarts = 0;
    int backoff_attempt = 0;
    std::chrono::steady_clock::time_point last_start{};
    // A pending restart (backoff delay, or the retry of a failed start);
    // count_again: the retry counts towards intensity when it fires.
    std::optional<std::chrono::steady_clock::time_point> due;
    bool count_again = false;
};

class child_table {
public:
    using list = std::list<child_rec>;
    using iterator = list::iterator;
    using const_iterator = list::const_iterator;

    // Appends a child; a dynamic one (ref != 0) is indexed by its ref, a
    // static one by its id, which must be new (the caller checks with find).
    child_rec& push_back(child_rec rec);
    child_rec* find(std::string_view id);
    child_rec* find_ref(std::uint64_t ref);
    // Where c is in start order.
    iterator position(const child_rec& c);
    void erase(const child_rec& c);
    void clear();

    std::size_t size() const noexcept { return list_.size(); }
    bool empty() const noexcept { return list_.empty(); }
    iterator begin() noexcept { return list_.begin(); }
    iterator end() noexcept { return list_.end(); }
    const_iterator begin() const noexcept { return list_.begin(); }
    const_iterator end() const noexcept { return list_.end(); }

private:
    list list_;
    // Keys view the ids of the records in list_, which never move.
    std::unordered_map<std::string_view, iterator> by_id_;
    std::unordered_map<std::uint64_t, iterator> by_ref_;
};

} // namespace rill::detail
