// The stage registry's builder: which arguments are required and which have a
// default, and what registry::add refuses.
#include <rill/config/registry.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

using namespace rill::config;

namespace {

void nop(stage_io&) {}

} // namespace

TEST_CASE("config registry: arg always has a default, required never has one") {
    auto s = std::move(stage_def("s", nop)
                           .arg<std::string>("p", "-")
                           .arg<std::string>("q", "x", "help for q")
                           .required<std::string>("r", "help for r")
                           .required<std::int64_t>("n"))
                 .build();
    const arg_spec* p = s.find_arg("p");
    REQUIRE(p);
    REQUIRE(p->default_value);
    CHECK(std::get<std::string>(*p->default_value) == "-");
    CHECK(p->help.empty());
    REQUIRE(s.find_arg("q")->default_value);
    CHECK(s.find_arg("q")->help == "help for q");
    CHECK(!s.find_arg("r")->default_value);
    CHECK(s.find_arg("r")->help == "help for r");
    CHECK(!s.find_arg("n")->default_value);
    CHECK(s.find_arg("n")->type == arg_type::integer);
}

TEST_CASE("config registry: add refuses a default outside its own constraints") {
    registry r;
    CHECK_THROWS_AS(r.add(stage_def("a", nop).arg<std::int64_t>("n", 0).min(1)),
                    std::invalid_argument);
    CHECK_THROWS_AS(r.add(stage_def("b", nop).arg<std::string>("m", "slow").choices({"fast"})),
                    std::invalid_argument);
    CHECK_NOTHROW(r.add(stage_def("c", nop).required<std::int64_t>("n").min(1)));
    CHECK_THROWS_WITH(r.add(stage_def("d", nop).regex_arg("p", "a{99999999999999999999}", "")),
                      "d: argument 'p': the default is not a valid regular expression: "
                      "repetition count 99999999999999999999 at offset 2 is more than 1000");
    CHECK_THROWS_WITH(r.add(stage_def("e", nop).regex_arg("p", "a(", "")),
                      Catch::StartsWith("e: argument 'p': the default is not a valid regular "
                                        "expression: "));
    CHECK_NOTHROW(r.add(stage_def("f", nop).regex_arg("p", "a{1000}", "")));
}
