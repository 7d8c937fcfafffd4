// Asynchronous preemption (mirrors Go's runtime/preempt.go and the SIGURG
// half of signal_unix.go). See preempt.hpp for the safe-point rules.
#include "preempt.hpp"

#include "g.hpp"
#include "lock.hpp"
#include "log.hpp"
#include "sched.hpp"
#include "signals.hpp"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace rill::detail {

namespace {

struct range {
    std::uintptr_t lo, hi;
};
// An array that is never freed: the SIGURG handler reads it, and runs as
// long as goroutines do, after main has returned and static destruction
// has begun. A std::vector would be freed under it.
struct range_table {
    const range* begin = nullptr;
    const range* end = nullptr;

    static range_table immortal_copy(const std::vector<range>& v) {
        auto* a = new range[v.size()];
        std::copy(v.begin(), v.end(), a);
        return {a, a + v.size()};
    }
};
// Set once by preempt_init before it installs the handler.
constinit range_table exec_code; // the executable's code segments
// Code inside them that is not the program's own, sorted: the runtime's
// functions (and its logging libraries'), and the PLT stubs, which have no
// symbol and through which every call into a shared library passes, the
// runtime's too (preempted in one, the runtime would resume its call on
// another thread).
constinit range_table foreign_code;
std::atomic<bool> enabled{false};

// Functions of the runtime, by mangled-name prefix: everything in
// rill::detail, the runtime's extern "C" symbols, its public API (the
// names below), and the libraries it logs through. A new public runtime
// function must join public_names.
constexpr std::string_view public_names[] = {
    "gosched",
    "sleep",
    "sleep_until",
    "goroutine_id",
    "goroutine_name",
    "in_goroutine",
    "maxprocs",
    "set_maxprocs",
    "stats",
    "set_panic_handler",
    "lock_os_thread",
    "unlock_os_thread",
    "preempt_point",
    "no_preempt",
    "dump_goroutines",
    "chan",
    "sender",
    "receiver",
    "chan_iterator",
    "select",
    "selector",
    "on_recv",
    "on_send",
    "on_timeout",
    "on_default",
    "mutex",
    "rw_mutex",
    "cond",
    "wait_group",
    "once",
    "semaphore",
    "closed_channel_error",
    "blocking",
    "net",
    "add_dump_section",
    "remove_dump_section",
};
constexpr std::string_view fixed_prefixes[] = {
    "_ZN4rill6detail", "_ZNK4rill6detail", "_ZZN4rill6detail", "_ZZNK4rill6detail",
    "rill_",           "_ZN6spdlog",       "_ZNK6spdlog",      "_ZZN6spdlog",
    "_ZN3fmt",         "_ZNK3fmt",         "_ZZN3fmt",         "__cxa_",
    "_Unwind_",        "__gxx_",
};
// ... except the wrappers that run a goroutine's body: the user's code is
// inlined into them.
constexpr std::string_view user_code_prefixes[] = {
    "_ZN4rill6detail7go_func",
    "_ZNK4rill6detail7go_func",
};

bool is_runtime_symbol(std::string_view name, const std::vector<std::string>& api_prefixes) {
    auto starts = [name](std::string_view p) { return name.substr(0, p.size()) == p; };
    if (std::any_of(std::begin(user_code_prefixes), std::end(user_code_prefixes), starts))
        return false;
    return std::any_of(std::begin(fixed_prefixes), std::end(fixed_prefixes), starts) ||
           std::any_of(api_prefixes.begin(), api_prefixes.end(),
                       [&](const std::string& p) { return starts(p); });
}

std::vector<std::string> api_prefixes() {
    std::vector<std::string> out;
    for (std::string_view n : public_names)
        for (const char* head : {"_ZN4rill", "_ZNK4rill", "_ZZN4rill", "_ZZNK4rill"})
            out.push_back(std::string(head) + std::to_string(n.size()) + std::string(n));
    return out;
}

// The executable's load bias and code segments.
std::uintptr_t find_exec_code(std::vector<range>& code) {
    struct ctx_t {
        std::uintptr_t bias = 0;
        bool found = false;
        std::vector<range>* code;
    } ctx{0, false, &code};
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* arg) -> int {
            auto* c = static_cast<ctx_t*>(arg);
            // The first object is the executable itself.
            c->bias = info->dlpi_addr;
            c->found = true;
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                const auto& ph = info->dlpi_phdr[i];
                if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X))
                    c->code->push_back(
                        {info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz});
            }
            return 1;
        },
        &ctx);
    return ctx.bias;
}

// Reads the ranges of foreign_code from /proc/self/exe's symbol table and
// section headers, sorted and merged. Returns false when there is no symbol
// table (a stripped executable).
bool read_foreign_code(std::uintptr_t bias, std::vector<range>& code) {
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st {};
    if (fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(sizeof(ElfW(Ehdr)))) {
        close(fd);
        return false;
    }
    auto size = static_cast<std::size_t>(st.st_size);
    void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return false;
    const auto* base = static_cast<const unsigned char*>(map);
    const auto* eh = reinterpret_cast<const ElfW(Ehdr)*>(base);
    bool found = false;
    if (std::memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_shoff != 0 &&
        eh->e_shoff + std::size_t{eh->e_shnum} * sizeof(ElfW(Shdr)) <= size) {
        const auto* sh = reinterpret_cast<const ElfW(Shdr)*>(base + eh->e_shoff);
        auto prefixes = api_prefixes();
        for (int i = 0; i < eh->e_shnum; ++i) {
            if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum) continue;
            const ElfW(Shdr)& strs = sh[sh[i].sh_link];
            if (sh[i].sh_offset + sh[i].sh_size > size || strs.sh_offset + strs.sh_size > size)
                continue;
            found = true;
            const auto* syms = reinterpret_cast<const ElfW(Sym)*>(base + sh[i].sh_offset);
            std::size_t n = sh[i].sh_size / sizeof(ElfW(Sym));
            const char* names = reinterpret_cast<const char*>(base + strs.sh_offset);
            for (std::size_t k = 0; k < n; ++k) {
                const ElfW(Sym)& s = syms[k];
                if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_value == 0 ||
                    s.st_name >= strs.sh_size)
                    continue;
                std::string_view name(names + s.st_name,
                                      strnlen(names + s.st_name, strs.sh_size - s.st_name));
                if (!is_runtime_symbol(name, prefixes)) continue;
                // Assembly without a .size still counts, for at least a word.
                std::uintptr_t lo = bias + s.st_value;
                code.push_back({lo, lo + std::max<std::uintptr_t>(s.st_size, 8)});
            }
        }
        if (eh->e_shstrndx < eh->e_shnum &&
            sh[eh->e_shstrndx].sh_offset + sh[eh->e_shstrndx].sh_size <= size) {
            const ElfW(Shdr)& strs = sh[eh->e_shstrndx];
            const char* names = reinterpret_cast<const char*>(base + strs.sh_offset);
            for (int i = 0; i < eh->e_shnum; ++i) {
                if (!(sh[i].sh_flags & SHF_EXECINSTR) || sh[i].sh_name >= strs.sh_size) continue;
                std::string_view name(names + sh[i].sh_name,
                                      strnlen(names + sh[i].sh_name, strs.sh_size - sh[i].sh_name));
                // .plt, .plt.got, .plt.sec; .iplt in static executables.
                if (name.starts_with(".plt") || name == ".iplt")
                    code.push_back({bias + sh[i].sh_addr, bias + sh[i].sh_addr + sh[i].sh_size});
            }
        }
    }
    munmap(map, size);
    std::sort(code.begin(), code.end(), [](const range& a, const range& b) { return a.lo < b.lo; });
    // Merge, so that the handler's binary search looks at one range per run.
    std::vector<range> merged;
    for (const range& r : code) {
        if (!merged.empty() && r.lo <= merged.back().hi)
            merged.back().hi = std::max(merged.back().hi, r.hi);
        else
            merged.push_back(r);
    }
    code = std::move(merged);
    return found;
}

// errno through calls the compiler cannot fold: __errno_location is declared
// const, and the handler may resume on another thread.
__attribute__((noinline)) int errno_get() noexcept {
    int e = errno;
    asm volatile("" ::: "memory");
    return e;
}
__attribute__((noinline)) void errno_set(int e) noexcept {
    asm volatile("" ::: "memory");
    errno = e;
}

std::uintptr_t context_pc(const ucontext_t* uc) {
#if defined(__x86_64__)
    return static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
    return static_cast<std::uintptr_t>(uc->uc_mcontext.pc);
#endif
}

std::uintptr_t context_sp(const ucontext_t* uc) {
#if defined(__x86_64__)
    return static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
    return static_cast<std::uintptr_t>(uc->uc_mcontext.sp);
#endif
}

bool at_safe_point(M* m, G* g, const ucontext_t* uc) {
    if (!m->p || m->blocked || rt_locks_held() != 0) return false;
    if (g->nopreempt > 0 || g->lockedm.load(std::memory_order_relaxed)) return false;
    if (g->status.load(std::memory_order_relaxed) != gstatus::running) return false;
    auto sp = context_sp(uc);
    if (sp <= reinterpret_cast<std::uintptr_t>(g->stk.lo) ||
        sp > reinterpret_cast<std::uintptr_t>(g->stk.hi))
        return false; // not on the goroutine's stack: the M's own code
    // Inside a signal handler that runs on the goroutine's stack (no
    // SA_ONSTACK): the handler's frame must return on this thread, to the
    // code it interrupted with the mask it had. While a handler runs, its
    // own signal and its sa_mask are blocked on top of the M's mask; only
    // one installed with SA_NODEFER and an empty sa_mask looks like plain
    // goroutine code here (see preempt.hpp).
    if (!is_m_sigmask(uc->uc_sigmask)) return false;
    return pc_is_preemptible(context_pc(uc));
}

void on_sigurg(int, siginfo_t*, void* ctx) {
    int saved_errno = errno_get();
    auto* uc = static_cast<ucontext_t*>(ctx);
    M* m = current_m();
    G* g = running_g();
    if (g && g->preempt.load(std::memory_order_relaxed) && at_safe_point(m, g, uc)) {
        g->preempt.store(false, std::memory_order_relaxed);
        g->reason.store(wait_reason::preempted, std::memory_order_relaxed);
        sched.preempts_async.fetch_add(1, std::memory_order_relaxed);
        preempt_yield();
        // Resumed, perhaps on another thread. sigreturn reinstalls the
        // alternate signal stack saved in the frame: make it this thread's.
        // (The mask it reinstalls is an M's, the same on every M.)
        stack_t ss;
        if (sigaltstack(nullptr, &ss) == 0) {
            ss.ss_flags &= ~SS_ONSTACK;
            uc->uc_stack = ss;
        }
    }
    errno_set(saved_errno);
}

} // namespace

void preempt_init() {
#if defined(RILL_SANITIZE_THREAD)
    return; // TSan runs handlers at its own safe points, on a copy of the context
#else
    const char* env = std::getenv("RILL_ASYNC_PREEMPT");
    if (env && std::string_view(env) == "0") return;
    std::vector<range> exec, foreign;
    std::uintptr_t bias = find_exec_code(exec);
    if (!read_foreign_code(bias, foreign)) {
        runtime_log().warn("rill: the executable has no symbol table (stripped?): goroutines "
                           "are preempted only at preemption points, not by signal");
        return;
    }
    exec_code = range_table::immortal_copy(exec);
    foreign_code = range_table::immortal_copy(foreign);
    struct sigaction sa {};
    sa.sa_sigaction = on_sigurg;
    // No SA_ONSTACK: the frame must be on the goroutine's stack, which may
    // resume on another thread. SA_NODEFER and an empty sa_mask: the M goes
    // on scheduling other goroutines from inside the handler, and must stay
    // preemptible with its mask unchanged (at_safe_point compares it).
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGURG, &sa, nullptr);
    enabled.store(true, std::memory_order_release);
#endif
}

bool async_preempt_enabled() noexcept { return enabled.load(std::memory_order_acquire); }

void signal_preempt(M* m) {
    if (enabled.load(std::memory_order_relaxed)) pthread_kill(m->thread, SIGURG);
}

bool pc_is_preemptible(std::uintptr_t pc) noexcept {
    bool in_exec = std::any_of(exec_code.begin, exec_code.end,
                               [pc](const range& r) { return pc >= r.lo && pc < r.hi; });
    if (!in_exec) return false;
    auto it = std::upper_bound(foreign_code.begin, foreign_code.end, pc,
                               [](std::uintptr_t v, const range& r) { return v < r.lo; });
    return it == foreign_code.begin || pc >= std::prev(it)->hi;
}

} // namespace rill::detail
