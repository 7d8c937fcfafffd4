// The public classes over sup_core, spec checks and defaults, names, the
// child token behind notify_started, and the logger.
#include "core.hpp"

#include <rill/supervisor/dynamic_supervisor.hpp>
#include <rill/supervisor/supervisor.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <unordered_set>

namespace rill {

namespace detail {

spdlog::logger& sup_log() {
    // Kept for the whole process: abandoned children may outlive main. A
    // logger registered under this name before the first supervisor is used
    // as is (tests and programs pick its sinks and level that way).
    static auto* logger = new std::shared_ptr<spdlog::logger>([] {
        if (auto existing = spdlog::get("rill.supervisor")) return existing;
        try {
            return spdlog::stderr_color_mt("rill.supervisor");
        } catch (const spdlog::spdlog_ex&) { // registered meanwhile
            return spdlog::get("rill.supervisor");
        }
    }());
    return **logger;
}

const context_key<child_token>& child_token_key() {
    static const context_key<child_token> key{"rill.supervisor.child"};
    return key;
}

void check_options(const supervisor_options& o, bool dynamic) {
    auto bad = [&](const std::string& why) {
        throw std::invalid_argument("supervisor '" + o.name + "': " + why);
    };
    if (o.intensity < 0) bad("negative intensity");
    if (o.period <= std::chrono::nanoseconds::zero()) bad("period must be positive");
    if (o.max_children && !dynamic) bad("max_children is for dynamic supervisors");
    if (o.max_children && *o.max_children == 0) bad("max_children must be positive");
    // OTP 27 refuses it too (bad_combination): a dynamic child is not
    // significant to anything but itself.
    if (dynamic && o.auto_shutdown != auto_shutdown::never)
        bad("auto_shutdown must be never for a dynamic supervisor");
    if (o.backoff) {
        const auto& b = *o.backoff;
        if (b.initial < std::chrono::nanoseconds::zero() || b.max < b.initial)
            bad("backoff needs 0 <= initial <= max");
        if (!(b.factor >= 1.0)) bad("backoff factor must be at least 1");
        if (!(b.jitter >= 0.0 && b.jitter <= 1.0)) bad("backoff jitter must be within [0, 1]");
    }
}

void check_spec(const std::string& sup, const child_spec& s, auto_shutdown as) {
    auto bad = [&](const std::string& why) {
        throw std::invalid_argument("supervisor '" + sup + "': child '" + s.id + "': " + why);
    };
    if (s.id.empty()) bad("empty id");
    if (!s.start) bad("no start function");
    if (s.significant && s.restart == restart::permanent)
        bad("significant is invalid on a permanent child");
    if (s.significant && as == auto_shutdown::never)
        bad("significant is invalid when auto_shutdown is never");
    if (s.shutdown < std::chrono::nanoseconds::zero() && s.shutdown != shutdown_default)
        bad("negative shutdown");
}

void check_specs(const std::string& sup, const std::vector<child_spec>& specs, auto_shutdown as) {
    std::unordered_set<std::string_view> ids;
    for (const auto& s : specs) {
        check_spec(sup, s, as);
        if (!ids.insert(s.id).second)
            throw std::invalid_argument("supervisor '" + sup + "': duplicate child id '" + s.id +
                                        "'");
    }
}

child_spec with_defaults(child_spec s) {
    if (s.shutdown == shutdown_default)
        s.shutdown = s.kind == child_kind::supervisor
                         ? shutdown_infinity
                         : std::chrono::nanoseconds(std::chrono::seconds(5));
    return s;
}

supervisor_base::supervisor_base(std::shared_ptr<sup_core> core) noexcept
    : core_(std::move(core)) {}
supervisor_base::~supervisor_base() {
    if (core_) core_->stop();
}
void supervisor_base::start(const context& parent) { core_->start(parent); }
sup_exit supervisor_base::stop() { return core_->stop(); }
sup_exit supervisor_base::wait() { return core_->wait(); }
bool supervisor_base::running() const { return core_->running(); }
std::vector<child_info> supervisor_base::which_children() const { return core_->which_children(); }
child_counts supervisor_base::count_children() const { return core_->count_children(); }
std::string supervisor_base::path() const { return core_->path(); }
std::string supervisor_base::view() const {
    std::string out;
    core_->render(out, 0);
    return out;
}

} // namespace detail

void notify_started(const context& ctx) {
    if (auto* t = ctx.value(detail::child_token_key())) {
        auto started = t->started;
        std::monostate v;
        (void)started.try_send(v);
    }
}

std::string supervision_path(const context& ctx) {
    auto* t = ctx.value(detail::child_token_key());
    return t ? t->path : std::string();
}

supervisor::supervisor(supervisor_options options, std::vector<child_spec> children)
    : supervisor_base(
          std::make_shared<detail::sup_core>(std::move(options), std::move(children), false)) {}

bool supervisor::start_child(child_spec spec) {
    bool started = false;
    core_->call([&] { started = core_->op_start_child(std::move(spec)); });
    return started;
}
void supervisor::terminate_child(const std::string& id) {
    core_->call([&] { core_->op_terminate_child(id); });
}
bool supervisor::restart_child(const std::string& id) {
    bool started = false;
    core_->call([&] { started = core_->op_restart_child(id); });
    return started;
}
void supervisor::delete_child(const std::string& id) {
    core_->call([&] { core_->op_delete_child(id); });
}
child_info supervisor::which_child(const std::string& id) const { return core_->which_child(id); }
child_spec supervisor::get_childspec(const std::string& id) const {
    return core_->get_childspec(id);
}

std::optional<std::string> check_childspecs(const std::vector<child_spec>& specs,
                                            rill::auto_shutdown as) {
    try {
        detail::check_specs("check_childspecs", specs, as);
        return std::nullopt;
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
}

child_spec supervisor_child(std::string id, supervisor_options options,
                            std::vector<child_spec> children, rill::restart restart) {
    // Checked now, so that a bad nested spec fails where the tree is built.
    options.name = id;
    { supervisor check(options, children); }
    child_spec s;
    s.id = std::move(id);
    s.kind = child_kind::supervisor;
    s.restart = restart;
    s.shutdown = shutdown_infinity;
    s.await_started = true;
    s.start = [options = std::move(options), children = std::move(children)](const context& ctx) {
        supervisor sup(options, children);
        sup.start(ctx);
        notify_started(ctx);
        auto why = sup.wait();
        if (why == sup_exit::intensity_exceeded)
            throw shutdown_exit("reached_max_restart_intensity");
        if (why == sup_exit::auto_shutdown) throw shutdown_exit("auto_shutdown");
    };
    return s;
}

dynamic_supervisor::dynamic_supervisor(supervisor_options options, child_spec child_template)
    : supervisor_base(std::make_shared<detail::sup_core>(
          std::move(options), std::vector<child_spec>{}, true, std::move(child_template))) {}

std::optional<std::uint64_t> dynamic_supervisor::start_child() { return start_child(nullptr); }
std::optional<std::uint64_t> dynamic_supervisor::start_child(child_fn body) {
    std::optional<std::uint64_t> ref;
    core_->call([&] { ref = core_->op_start_dynamic(std::move(body)); });
    return ref;
}
void dynamic_supervisor::terminate_child(std::uint64_t ref) {
    core_->call([&] { core_->op_terminate_dynamic(ref); });
}
child_info dynamic_supervisor::which_child(std::uint64_t ref) const {
    return core_->which_child({}, ref);
}
child_spec dynamic_supervisor::get_childspec() const { return core_->get_childspec({}); }

std::chrono::nanoseconds backoff::delay(int attempt, std::uint64_t random) const noexcept {
    double d = static_cast<double>(initial.count()) *
               std::pow(factor, static_cast<double>(std::max(attempt, 1) - 1));
    d = std::min(d, static_cast<double>(max.count()));
    // random / 2^64 in [0, 1) -> a factor in [1 - jitter, 1 + jitter)
    double u = static_cast<double>(random >> 11) * 0x1.0p-53;
    d *= 1.0 + jitter * (2.0 * u - 1.0);
    return std::chrono::nanoseconds(static_cast<std::int64_t>(std::max(d, 0.0)));
}

const char* to_string(restart r) noexcept {
    switch (r) {
    case restart::permanent:
        return "permanent";
    case restart::transient:
        return "transient";
    case restart::temporary:
        return "temporary";
    }
    return "?";
}
namespace {
// The enumerator of `all` whose to_string is `word`.
template <class E, std::size_t N>
std::optional<E> word_to_enum(const std::array<E, N>& all, std::string_view word) noexcept {
    for (E e : all)
        if (word == to_string(e)) return e;
    return std::nullopt;
}
} // namespace

std::optional<restart> restart_from(std::string_view word) noexcept {
    return word_to_enum(restart_types, word);
}
const char* to_string(child_kind k) noexcept {
    return k == child_kind::worker ? "worker" : "supervisor";
}
const char* to_string(exit_reason r) noexcept {
    switch (r) {
    case exit_reason::normal:
        return "normal";
    case exit_reason::shutdown:
        return "shutdown";
    case exit_reason::abnormal:
        return "abnormal";
    }
    return "?";
}
const char* to_string(event_kind k) noexcept {
    switch (k) {
    case event_kind::started:
        return "started";
    case event_kind::start_failed:
        return "start_failed";
    case event_kind::exited:
        return "exited";
    case event_kind::restarted:
        return "restarted";
    case event_kind::restart_scheduled:
        return "restart_scheduled";
    case event_kind::abandoned:
        return "abandoned";
    case event_kind::intensity_exceeded:
        return "intensity_exceeded";
    case event_kind::auto_shutdown:
        return "auto_shutdown";
    }
    return "?";
}
const char* to_string(sup_errc e) noexcept {
    switch (e) {
    case sup_errc::not_found:
        return "not_found";
    case sup_errc::running:
        return "running";
    case sup_errc::restarting:
        return "restarting";
    case sup_errc::already_started:
        return "already_started";
    case sup_errc::already_present:
        return "already_present";
    case sup_errc::max_children:
        return "max_children";
    case sup_errc::start_failed:
        return "start_failed";
    case sup_errc::not_running:
        return "not_running";
    }
    return "?";
}
const char* to_string(strategy s) noexcept {
    switch (s) {
    case strategy::one_for_one:
        return "one_for_one";
    case strategy::one_for_all:
        return "one_for_all";
    case strategy::rest_for_one:
        return "rest_for_one";
    }
    return "?";
}
std::optional<strategy> strategy_from(std::string_view word) noexcept {
    return word_to_enum(strategies, word);
}
const char* to_string(auto_shutdown a) noexcept {
    switch (a) {
    case auto_shutdown::never:
        return "never";
    case auto_shutdown::any_significant:
        return "any_significant";
    case auto_shutdown::all_significant:
        return "all_significant";
    }
    return "?";
}
const char* to_string(child_state s) noexcept {
    switch (s) {
    case child_state::running:
        return "running";
    case child_state::restarting:
        return "restarting";
    case child_state::stopped:
        return "stopped";
    }
    return "?";
}
const char* to_string(sup_exit e) noexcept {
    switch (e) {
    case sup_exit::stopped:
        return "stopped";
    case sup_exit::intensity_exceeded:
        return "intensity_exceeded";
    case sup_exit::auto_shutdown:
        return "auto_shutdown";
    case sup_exit::start_failed:
        return "start_failed";
    }
    return "?";
}

} // namespace rill
