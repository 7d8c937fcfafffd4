// `rill test`: finds the test files, reads each (every problem reported),
// runs their tests one after another in one rill runtime, and sums up.
#include "test/test_command.hpp"

#include "test/test_file.hpp"
#include "test/test_run.hpp"

#include <rill/runtime.hpp>

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <system_error>
#include <vector>

namespace rill::config {
namespace {

namespace fs = std::filesystem;

bool is_test_file(const fs::path& p) {
    std::string name = p.filename().string();
    return name.ends_with(".test.yaml") || name.ends_with(".test.yml");
}

// The test files in path, sorted; empty with `why` set when there are none.
std::vector<std::string> find_test_files(const std::string& path, std::string& why) {
    std::error_code ec;
    std::vector<std::string> out;
    if (fs::is_regular_file(path, ec)) return {path};
    if (!fs::is_directory(path, ec)) {
        why = fmt::format("{}: no such file or directory", path);
        return out;
    }
    fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec),
        end;
    for (; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec) && is_test_file(it->path())) out.push_back(it->path().string());
    if (ec)
        why = fmt::format("{}: {}", path, ec.message());
    else if (out.empty())
        why = fmt::format("{}: no test files (*.test.yaml) in it", path);
    std::sort(out.begin(), out.end());
    return ec ? std::vector<std::string>{} : out;
}

struct tally {
    int passed = 0, failed = 0, invalid_files = 0;
};

void run_file(const std::string& path, tally& sum) {
    auto loaded = testing::load_test_file(path);
    if (!loaded.file) {
        for (const auto& d : loaded.errors)
            std::cerr << format(d) << '\n';
        auto n = loaded.errors.size();
        fmt::print(std::cout, "{}: invalid test file ({} problem{}), not run\n", path, n,
                   n == 1 ? "" : "s");
        ++sum.invalid_files;
        return;
    }
    for (const auto& t : loaded.file->tests) {
        auto failures = testing::run_test(*loaded.file, t);
        if (failures.empty()) {
            fmt::print(std::cout, "{}: {}: ok\n", path, t.name);
            ++sum.passed;
            continue;
        }
        fmt::print(std::cout, "{}:{}:{}: {}: FAILED\n", path, t.at.line, t.at.column, t.name);
        for (const auto& d : failures)
            fmt::print(std::cout, "  {}\n", format(d));
        ++sum.failed;
    }
    std::cout.flush();
}

} // namespace

int test_command(const std::string& path, spdlog::level::level_enum log_level) {
    std::string why;
    auto files = find_test_files(path, why);
    if (files.empty()) {
        fmt::print(std::cerr, "{}\n", why);
        return test_exit_usage;
    }
    spdlog::set_level(log_level);
    tally sum;
    rill::run([&] {
        for (const auto& f : files)
            run_file(f, sum);
    });
    std::string invalid = sum.invalid_files
                              ? fmt::format(", {} invalid test file{}", sum.invalid_files,
                                            sum.invalid_files == 1 ? "" : "s")
                              : std::string();
    fmt::print(std::cout, "{} tests: {} passed, {} failed{} ({} file{})\n", sum.passed + sum.failed,
               sum.passed, sum.failed, invalid, files.size(), files.size() == 1 ? "" : "s");
    if (sum.invalid_files) return test_exit_invalid;
    return sum.failed ? test_exit_failed : 0;
}

} // namespace rill::config
