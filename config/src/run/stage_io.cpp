// Stage I/O: boxes for values of run-time types, and port operations that
// give up when the stage's context is done. A port operation first tries the
// channel without blocking (most values pass that way in a busy pipeline) and
// only then waits in a select on the channel and ctx.done().
#include <rill/config/stage_io.hpp>

#include <fmt/format.h>

#include <new>
#include <stdexcept>
#include <typeindex>

namespace rill::config {

namespace {
bool fits_inline(const type_desc& t) noexcept {
    return t.ops->size <= 256 && t.ops->align <= alignof(std::max_align_t);
}
} // namespace

box::box(const type_desc& t) : t_(&t), p_(buf_) {
    if (!fits_inline(t)) p_ = ::operator new(t.ops->size, std::align_val_t(t.ops->align));
}

box::~box() {
    reset();
    if (p_ != buf_) ::operator delete(p_, std::align_val_t(t_->ops->align));
}

void box::reset() noexcept {
    if (full_) t_->ops->destroy(p_);
    full_ = false;
}

void box::copy_from(const box& other) {
    if (!t_->copy)
        throw std::logic_error("rill::config::box: type " + t_->name + " is not copyable");
    if (other.t_ != t_ || !other.full_ || full_)
        throw std::logic_error("rill::config::box: copy_from needs an empty box and a full box of "
                               "the same type");
    t_->copy(p_, other.p_);
    full_ = true;
}

std::string box::to_string() const {
    if (!t_->to_string)
        throw std::logic_error("rill::config::box: type " + t_->name + " cannot be formatted");
    if (!full_) throw std::logic_error("rill::config::box: to_string of an empty box");
    return t_->to_string(p_);
}

namespace detail {

using rill::detail::chan_core;
using rill::detail::select_case;

recv_status port_recv_until(chan_core* c, chan_core* done, void* dst, std::int64_t deadline) {
    if (rill::detail::chan_closed(done)) return recv_status::ended;
    auto r = rill::detail::chan_recv(c, dst, false);
    if (r.selected) return r.received ? recv_status::value : recv_status::ended;
    std::monostate ignored;
    select_case cases[2] = {{c, dst, select_case::recv, false},
                            {done, &ignored, select_case::recv, false}};
    int chosen = rill::detail::select_go(cases, 2, true, deadline);
    if (chosen == -2) return recv_status::timeout;
    return chosen == 0 && cases[0].received ? recv_status::value : recv_status::ended;
}

bool port_recv(chan_core* c, chan_core* done, void* dst) {
    return port_recv_until(c, done, dst, rill::detail::no_deadline) == recv_status::value;
}

bool port_send(chan_core* c, chan_core* done, void* src) {
    if (rill::detail::chan_closed(done)) return false;
    if (rill::detail::chan_send(c, src, false)) return true;
    std::monostate ignored;
    select_case cases[2] = {{c, src, select_case::send, false},
                            {done, &ignored, select_case::recv, false}};
    return rill::detail::select_go(cases, 2, true, rill::detail::no_deadline) == 0;
}

bool port_send(const port_core& p, chan_core* done, void* src) {
    if (!port_send(p.c, done, src)) return false;
    if (p.sent) p.sent->fetch_add(1, std::memory_order_relaxed);
    return true;
}

std::string worker_id(const stage_decl& d, int worker) {
    return d.workers == 1 ? d.id : fmt::format("{}[{}]", d.id, worker);
}

void worker_memory::wrong_type(const std::string& id, const std::type_info& asked) const {
    throw std::logic_error(fmt::format("stage {}: state<{}>() asked for after state<{}>()", id,
                                       asked.name(), type_.name()));
}

} // namespace detail

namespace {
void check_box(const box& b, const type_desc& t, const std::string& port, bool want_full) {
    if (&b.type() != &t)
        throw std::logic_error("rill::config: port '" + port + "' carries " + t.name +
                               ", the box holds " + b.type().name);
    if (b.has_value() != want_full)
        throw std::logic_error("rill::config: port '" + port + "' needs " +
                               (want_full ? "a full box to send" : "an empty box to receive into"));
}
} // namespace

bool any_in_port::recv(box& b) {
    bool timed_out;
    return recv_until(b, std::chrono::steady_clock::time_point::max(), timed_out);
}

bool any_in_port::recv_until(box& b, std::chrono::steady_clock::time_point deadline,
                             bool& timed_out) {
    handled();
    check_box(b, *p_->type, p_->name, false);
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch());
    auto st = detail::port_recv_until(p_->c, done_.core(), b.storage(), ns.count());
    timed_out = st == detail::recv_status::timeout;
    if (st != detail::recv_status::value) return false;
    took();
    b.filled();
    return true;
}

bool any_out_port::send(box& b) {
    check_box(b, *p_->type, p_->name, true);
    if (!detail::port_send(*p_, done_.core(), b.storage())) return false;
    b.reset(); // destroys the moved-from value
    return true;
}

stage_io::stage_io(context ctx, context stopped, const detail::stage_binding& b, int worker,
                   detail::worker_memory& memory, detail::hand& h)
    : ctx_(std::move(ctx)), stopped_(std::move(stopped)), b_(&b), worker_(worker),
      id_(detail::worker_id(*b.decl, worker)), memory_(&memory), hand_(&h) {}

void stage_io::bad_arg(std::string_view name) const {
    auto it = b_->decl->args.find(std::string(name));
    if (it == b_->decl->args.end())
        throw std::logic_error(
            fmt::format("stage {} ({}): no argument '{}' is declared", id_, b_->decl->stage, name));
    throw std::logic_error(fmt::format("stage {} ({}): argument '{}' read as the wrong C++ type",
                                       id_, b_->decl->stage, name));
}

namespace {
const detail::port_core& find_port(const std::vector<detail::port_core>& ports,
                                   std::string_view port, const std::type_info* t,
                                   const std::string& id, const std::string& stage,
                                   const char* direction) {
    for (auto& p : ports) {
        if (p.name != port) continue;
        if (t && p.type->cpp != std::type_index(*t))
            throw std::logic_error(fmt::format("stage {} ({}): {} port '{}' carries {}, not {}", id,
                                               stage, direction, port, p.type->name, t->name()));
        return p;
    }
    throw std::logic_error(
        fmt::format("stage {} ({}): no {} port '{}' is declared", id, stage, direction, port));
}
} // namespace

const detail::port_core& stage_io::input(std::string_view port, const std::type_info* t) const {
    return find_port(b_->inputs, port, t, id_, b_->decl->stage, "input");
}

const detail::port_core& stage_io::output(std::string_view port, const std::type_info* t) const {
    return find_port(b_->outputs, port, t, id_, b_->decl->stage, "output");
}

any_in_port stage_io::in_any(std::string_view port) const {
    return any_in_port(input(port, nullptr), ctx_.done(), *hand_);
}

any_out_port stage_io::out_any(std::string_view port) const {
    return any_out_port(output(port, nullptr), ctx_.done());
}

bool stage_io::bound(std::string_view port) const {
    for (auto* ports : {&b_->inputs, &b_->outputs})
        for (auto& p : *ports)
            if (p.name == port) return p.bound;
    throw std::logic_error(
        fmt::format("stage {} ({}): no port '{}' is declared", id_, b_->decl->stage, port));
}

} // namespace rill::config
