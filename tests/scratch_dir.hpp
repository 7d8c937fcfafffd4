// A temporary directory for one test, removed afterwards.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace rill_test {

class scratch_dir {
public:
    scratch_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "rill-test-XXXXXX").string();
        REQUIRE(mkdtemp(tmpl.data()));
        path_ = tmpl;
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    ~scratch_dir() { std::filesystem::remove_all(path_); }
    // Writes text to a file here and returns its path.
    std::string file(const std::string& name, const std::string& text = {}) const {
        std::string p = (path_ / name).string();
        std::ofstream(p) << text;
        return p;
    }

private:
    std::filesystem::path path_;
};

} // namespace rill_test
