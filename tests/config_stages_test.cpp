// The built-in stages, each run in a small topology: files in a temporary
// directory, TCP on loopback, values collected by test stages.
#include "config_util.hpp"
#include "stages/line_matcher.hpp"

#include <rill/net.hpp>
#include <rill/sync.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <sys/socket.h>
#include <unistd.h>

using namespace config_test;
using std::int64_t;
using strings = std::vector<std::string>;

namespace {

// What the collecting stages received, by stage id.
rill::mutex mu;
std::map<std::string, strings> got;

strings received(const std::string& id) {
    std::lock_guard lk(mu);
    return got[id];
}

void collect(cfg::stage_io& io) {
    for (auto& s : io.in<std::string>("in")) {
        std::lock_guard lk(mu);
        got[io.id()].push_back(s);
    }
}
RILL_STAGE(cfg::stage_def("test_collect", collect).input<std::string>("in"));

// Batches arrive as their lines joined by '|'.
void collect_batches(cfg::stage_io& io) {
    for (auto& batch : io.in<strings>("in")) {
        std::string joined;
        for (auto& l : batch)
            joined += (joined.empty() ? "" : "|") + l;
        std::lock_guard lk(mu);
        got[io.id()].push_back(joined);
    }
}
RILL_STAGE(cfg::stage_def("test_collect_batches", collect_batches).input<strings>("in"));

// Sends its `lines` argument.
void emit(cfg::stage_io& io) {
    auto out = io.out<std::string>("out");
    for (auto& l : io.arg<strings>("lines"))
        if (!out.send(l)) return;
}
RILL_STAGE(
    cfg::stage_def("test_emit", emit).output<std::string>("out").arg<strings>("lines", strings{}));

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        char tmpl[] = "/tmp/rill-stages-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~temp_dir() { std::filesystem::remove_all(path); }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

void spit(const std::string& path, const std::string& text, bool append = false) {
    std::ofstream f(path, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
    f << text;
}

// emit(lines) -> id(stage, args) -> collect, on string channels.
cfg::topology filter(const std::string& stage, strings lines,
                     std::map<std::string, cfg::arg_value> args,
                     std::vector<cfg::port_binding> outputs = {{"out", {"b"}}}) {
    cfg::topology t;
    t.channels = {chan("a", "string"), chan("b", "string")};
    t.stages = {
        config_test::stage("src", "test_emit", {}, {{"out", {"a"}}}, {{"lines", std::move(lines)}}),
        config_test::stage("f", stage, {{"in", {"a"}}}, outputs, std::move(args)),
        config_test::stage("dst", "test_collect", {{"in", {"b"}}}, {})};
    for (auto& o : outputs)
        if (o.port != "out") {
            t.channels.push_back(chan(o.channels.front(), "string"));
            t.stages.push_back(
                config_test::stage("dst_" + o.port, "test_collect", {{"in", o.channels}}, {}));
        }
    return t;
}

cfg::run_result run_clean(const cfg::topology& t) {
    {
        std::lock_guard lk(mu);
        got.clear();
    }
    return run(t);
}

} // namespace

TEST_CASE("config stages: read_lines and write_lines copy a file line by line") {
    temp_dir dir;
    // Longer than one read buffer, with CRLF, empty lines and no final newline.
    std::string long_line(100000, 'x');
    spit(dir.file("in.txt"), "one\r\n\ntwo\n" + long_line + "\nlast");
    for (bool skip_empty : {false, true}) {
        cfg::topology t;
        t.channels = {chan("lines", "string")};
        t.stages = {stage("read", "read_lines", {}, {{"out", {"lines"}}},
                          {{"path", dir.file("in.txt")}, {"skip_empty", skip_empty}}),
                    stage("write", "write_lines", {{"in", {"lines"}}}, {},
                          {{"path", dir.file("out.txt")}})};
        t.stages[1].type_param = "string";
        auto r = run_clean(t);
        CHECK(r.outcome == cfg::run_outcome::completed);
        CHECK(slurp(dir.file("out.txt")) ==
              (skip_empty ? "one\ntwo\n" : "one\n\ntwo\n") + long_line + "\nlast\n");
    }
}

TEST_CASE("config stages: write_lines appends and formats other types") {
    temp_dir dir;
    spit(dir.file("out.txt"), "before\n");
    cfg::topology t;
    t.channels = {chan("a", "string"), chan("b", "lines")};
    t.stages = {
        stage("src", "test_emit", {}, {{"out", {"a"}}}, {{"lines", strings{"x", "y", "z"}}}),
        stage("batch", "batch", {{"in", {"a"}}}, {{"out", {"b"}}}, {{"size", int64_t{2}}}),
        stage("write", "write_lines", {{"in", {"b"}}}, {},
              {{"path", dir.file("out.txt")}, {"append", true}, {"flush", true}})};
    CHECK(run_clean(t).outcome == cfg::run_outcome::completed);
    CHECK(slurp(dir.file("out.txt")) == "before\nx\ny\nz\n");
}

TEST_CASE("config stages: read_lines reads stdin") {
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    int saved = ::dup(STDIN_FILENO);
    ::dup2(pipe_fds[0], STDIN_FILENO);
    ::close(pipe_fds[0]);
    std::string text = "a\nb\nc\n";
    REQUIRE(::write(pipe_fds[1], text.data(), text.size()) == ssize_t(text.size()));
    ::close(pipe_fds[1]);
    cfg::topology t;
    t.channels = {chan("lines", "string")};
    t.stages = {stage("read", "read_lines", {}, {{"out", {"lines"}}}),
                stage("dst", "test_collect", {{"in", {"lines"}}}, {})};
    auto r = run_clean(t);
    ::dup2(saved, STDIN_FILENO);
    ::close(saved);
    CHECK(r.outcome == cfg::run_outcome::completed);
    CHECK(received("dst") == strings{"a", "b", "c"});
}

TEST_CASE("config stages: read_lines follows a growing file until drained") {
    temp_dir dir;
    spit(dir.file("log"), "1\n2\n");
    cfg::topology t;
    t.channels = {chan("lines", "string")};
    t.stages = {stage("read", "read_lines", {}, {{"out", {"lines"}}},
                      {{"path", dir.file("log")}, {"follow", true}}),
                stage("dst", "test_collect", {{"in", {"lines"}}}, {})};
    {
        std::lock_guard lk(mu);
        got.clear();
    }
    auto r = run(t, [&](cfg::runner& r) {
        REQUIRE(rill_test::eventually([] { return received("dst").size() == 2; }));
        spit(dir.file("log"), "3\n4\n", true);
        REQUIRE(rill_test::eventually([] { return received("dst").size() == 4; }));
        r.drain();
    });
    CHECK(r.outcome == cfg::run_outcome::drained);
    CHECK(received("dst") == strings{"1", "2", "3", "4"});
}

TEST_CASE("config stages: read_lines follows a file through rotation and truncation") {
    temp_dir dir;
    auto log = dir.file("log");
    spit(log, "1\n2\n");
    cfg::topology t;
    t.channels = {chan("lines", "string")};
    t.stages = {
        stage("read", "read_lines", {}, {{"out", {"lines"}}}, {{"path", log}, {"follow", true}}),
        stage("dst", "test_collect", {{"in", {"lines"}}}, {})};
    {
        std::lock_guard lk(mu);
        got.clear();
    }
    auto r = run(t, [&](cfg::runner& r) {
        REQUIRE(rill_test::eventually([] { return received("dst").size() == 2; }));
        // Rotated: what the old file gets after the rename is read, then the new file.
        std::filesystem::rename(log, dir.file("log.1"));
        spit(dir.file("log.1"), "3\npart", true);
        spit(log, "4\n5\n");
        REQUIRE(rill_test::eventually([] { return received("dst").size() == 6; }));
        // Truncated (copytruncate): read again from its start.
        spit(log, "6\n");
        REQUIRE(rill_test::eventually([] { return received("dst").size() == 7; }));
        r.drain();
    });
    CHECK(r.outcome == cfg::run_outcome::drained);
    CHECK(received("dst") == strings{"1", "2", "3", "part", "4", "5", "6"});
}

TEST_CASE("config stages: generate sends numbered lines, at an interval or at once") {
    for (auto interval : {std::chrono::nanoseconds(0), std::chrono::nanoseconds(1000)}) {
        cfg::topology t;
        t.channels = {chan("a", "string")};
        t.stages = {
            stage(
                "gen", "ticker", {}, {{"out", {"a"}}},
                {{"count", int64_t{3}}, {"text", std::string("x{n}-{n}")}, {"interval", interval}}),
            stage("dst", "test_collect", {{"in", {"a"}}}, {})};
        CHECK(run_clean(t).outcome == cfg::run_outcome::completed);
        CHECK(received("dst") == strings{"x1-1", "x2-2", "x3-3"});
    }
}

TEST_CASE("config stages: grep passes matches and sends the rest to rejects") {
    strings lines{"apple", "banana", "avocado", "cherry"};
    run_clean(filter("grep", lines, {{"pattern", std::string("^a")}},
                     {{"out", {"b"}}, {"rejects", {"c"}}}));
    CHECK(received("dst") == strings{"apple", "avocado"});
    CHECK(received("dst_rejects") == strings{"banana", "cherry"});
    run_clean(filter("grep", lines, {{"pattern", std::string("an")}, {"invert", true}}));
    CHECK(received("dst") == strings{"apple", "avocado", "cherry"});
}

TEST_CASE("config stages: grep's matcher searches plain text as std::regex_search would") {
    struct pattern {
        std::string text;
        bool literal;
    };
    const std::vector<pattern> patterns{{"\"GET /healthz ", true},
                                        {"an", true},
                                        {"a\\.b\\(", true},
                                        {"", true},
                                        {"a.b", false},
                                        {"^a", false},
                                        {"an$", false},
                                        {"\\d", false},
                                        {"a|b", false},
                                        {"[ab]c", false},
                                        {"x*", false},
                                        {"\\bapp", false}};
    const strings lines{
        "apple", "banana", "a.b(", "axb(", "GET /healthz x", "\"GET /healthz HTTP/1.1\"",
        "",      "b1c",    "bc"};
    for (const auto& p : patterns) {
        cfg::stages::line_matcher m(p.text);
        std::regex re(p.text, std::regex::ECMAScript);
        CHECK(m.is_literal() == p.literal);
        for (const auto& l : lines) {
            INFO("pattern '" << p.text << "', line '" << l << "'");
            CHECK(m.matches(l) == std::regex_search(l, re));
        }
    }
}

TEST_CASE("config stages: split sends the fields of each line") {
    run_clean(filter("split", {"a  b\tc", "", "d"}, {}));
    CHECK(received("dst") == strings{"a", "b", "c", "d"});
    run_clean(filter("split", {"a,,b"}, {{"pattern", std::string(",")}, {"keep_empty", true}}));
    CHECK(received("dst") == strings{"a", "", "b"});
}

TEST_CASE("config stages: batch groups lines, sending the rest at the end") {
    cfg::topology t;
    t.channels = {chan("a", "string"), chan("b", "lines")};
    t.stages = {stage("src", "test_emit", {}, {{"out", {"a"}}},
                      {{"lines", strings{"1", "2", "3", "4", "5", "6", "7"}}}),
                stage("batch", "batch", {{"in", {"a"}}}, {{"out", {"b"}}},
                      {{"size", int64_t{3}},
                       {"max_wait", std::chrono::nanoseconds(std::chrono::hours(1))}}),
                stage("dst", "test_collect_batches", {{"in", {"b"}}}, {})};
    CHECK(run_clean(t).outcome == cfg::run_outcome::completed);
    CHECK(received("dst") == strings{"1|2|3", "4|5|6", "7"});
}

TEST_CASE("config stages: batch sends a partial batch once max_wait has passed") {
    temp_dir dir;
    spit(dir.file("log"), "only\n");
    cfg::topology t;
    t.channels = {chan("a", "string"), chan("b", "lines")};
    t.stages = {stage("src", "read_lines", {}, {{"out", {"a"}}},
                      {{"path", dir.file("log")}, {"follow", true}}),
                stage("batch", "batch", {{"in", {"a"}}}, {{"out", {"b"}}},
                      {{"size", int64_t{100}}, {"max_wait", std::chrono::nanoseconds(1000)}}),
                stage("dst", "test_collect_batches", {{"in", {"b"}}}, {})};
    {
        std::lock_guard lk(mu);
        got.clear();
    }
    // The source follows the file, so only max_wait can send the batch.
    auto r = run(t, [](cfg::runner& r) {
        REQUIRE(rill_test::eventually([] { return received("dst").size() == 1; }));
        r.drain();
    });
    CHECK(r.outcome == cfg::run_outcome::drained);
    CHECK(received("dst") == strings{"only"});
}

TEST_CASE("config stages: throttle passes every value in order") {
    strings lines;
    for (int i = 0; i < 50; ++i)
        lines.push_back(std::to_string(i));
    run_clean(filter("throttle", lines, {{"rate", 1e6}, {"burst", int64_t{5}}}));
    CHECK(received("dst") == lines);
}

TEST_CASE("config stages: count reports its total at the end") {
    cfg::topology t = filter("count", {"a", "b", "c"},
                             {{"every", std::chrono::nanoseconds(std::chrono::hours(1))}});
    CHECK(run_clean(t).outcome == cfg::run_outcome::completed);
    CHECK(received("dst") == strings{"count=3 total=3"});
}

TEST_CASE("config stages: fail_every fails on every n-th value and is restarted") {
    cfg::topology t =
        filter("fail_every", {"1", "2", "3", "4", "5", "6", "7"}, {{"n", int64_t{3}}});
    t.supervisors = {sup("root", rill::strategy::one_for_one, 10, {st("src"), st("f"), st("dst")})};
    auto r = run_clean(t);
    CHECK(r.outcome == cfg::run_outcome::completed);
    CHECK(received("dst") == strings{"1", "2", "4", "5", "7"});
}

TEST_CASE("config stages: tcp_source receives lines from connections until drained") {
    // A free port: bound, noted, released.
    auto port = rill::run(
        [] { return rill::net::tcp_listener::bind("127.0.0.1:0").local_address().port(); });
    auto addr = "127.0.0.1:" + std::to_string(port);
    cfg::topology t;
    t.channels = {chan("a", "string")};
    t.stages = {stage("tcp", "tcp_source", {}, {{"out", {"a"}}}, {{"listen", addr}}),
                stage("dst", "test_collect", {{"in", {"a"}}}, {})};
    {
        std::lock_guard lk(mu);
        got.clear();
    }
    auto r = run(t, [&](cfg::runner& r) {
        rill::net::tcp_stream c;
        REQUIRE(rill_test::eventually([&] {
            if (c.is_open()) return true;
            std::error_code ec;
            c = rill::net::tcp_stream::connect(addr, ec);
            return !ec;
        }));
        c.write_all("hello\nworld\npartial");
        c.shutdown(SHUT_WR);
        REQUIRE(rill_test::eventually([] { return received("dst").size() == 3; }));
        r.drain();
    });
    CHECK(r.outcome == cfg::run_outcome::drained);
    CHECK(received("dst") == strings{"hello", "world", "partial"});
}

TEST_CASE("config stages: tcp_sink writes each value as a line") {
    std::string text = rill::run([] {
        auto listener = rill::net::tcp_listener::bind("127.0.0.1:0");
        auto addr = "127.0.0.1:" + std::to_string(listener.local_address().port());
        cfg::topology t;
        t.channels = {chan("a", "string")};
        t.stages = {stage("gen", "generate", {}, {{"out", {"a"}}}, {{"count", int64_t{3}}}),
                    stage("tcp", "tcp_sink", {{"in", {"a"}}}, {}, {{"connect", addr}})};
        t.stages[1].type_param = "string";
        rill_test::watchdog wd("tcp_sink", std::chrono::seconds(60));
        cfg::runner r(t);
        r.start();
        auto c = listener.accept();
        std::string all;
        char buf[256];
        for (;;) {
            std::error_code ec;
            auto n = c.read(std::as_writable_bytes(std::span(buf)), ec);
            REQUIRE(!ec);
            if (n == 0) break;
            all.append(buf, n);
        }
        CHECK(r.wait().outcome == cfg::run_outcome::completed);
        return all;
    });
    CHECK(text == "tick 1\ntick 2\ntick 3\n");
}

TEST_CASE("config stages: every built-in stage has help, and every port and argument too") {
    for (auto name : {"read_lines", "write_lines", "tcp_source", "tcp_sink", "generate", "ticker",
                      "grep", "split", "batch", "throttle", "count", "fail_every"}) {
        INFO(name);
        auto* s = cfg::registry::global().find(name);
        REQUIRE(s);
        CHECK(!s->help.empty());
        for (auto* ports : {&s->inputs, &s->outputs})
            for (auto& p : *ports)
                CHECK(!p.help.empty());
        for (auto& a : s->args)
            CHECK(!a.help.empty());
    }
}
