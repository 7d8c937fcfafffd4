// The NATS bridge stages as the config layer sees them once rill::nats is
// linked: registered in registry::global() (nats/src/nats_stages.cpp), their
// needs_codec() ports checked by the loader and by the runner, and listed in
// the shipped JSON Schema, which is generated with them.
#include "config_loader_util.hpp"
#include "config_util.hpp"

#include <rill/config/runner.hpp>
#include <rill/runtime.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace rill::config;
using config_test::chan;
using config_test::stage;
namespace cfg = rill::config;

TEST_CASE("the NATS stages register themselves when rill::nats is linked") {
    CHECK(registry::global().find("nats_publish") != nullptr);
    CHECK(registry::global().find("nats_subscribe") != nullptr);
}

TEST_CASE("the shipped JSON Schema is the generated one") {
    std::string generated = json_schema(registry::global());
    std::string path = std::string(RILL_SOURCE_DIR) + "/config/schema/rill-topology.schema.json";
    std::ifstream in(path);
    std::stringstream shipped;
    shipped << in.rdbuf();
    if (shipped.str() != generated) {
        std::string fresh = std::filesystem::absolute("rill-topology.schema.json").string();
        std::ofstream(fresh) << generated;
        FAIL("the shipped JSON Schema is out of date: review the generated one, then\n  cp "
             << fresh << " " << path);
    }
}

TEST_CASE("types: a port that needs a codec refuses a type without one, at the binding") {
    test_stages(); // registers record, which has no codec
    // The NATS bridge stages of the global registry: their ports take any type with a codec.
    auto bytes = load_string("channels: {raw: bytes, paced: bytes}\nstages:\n"
                             "  sub: {stage: nats_subscribe, out: raw, args: {subject: a}}\n"
                             "  pace: {stage: throttle, in: raw, out: paced, args: {rate: 10}}\n"
                             "  pub: {stage: nats_publish, in: paced, args: {subject: b}}\n",
                             "t.yaml");
    INFO(dump(bytes));
    REQUIRE(bytes.topo);
    CHECK(bytes.topo->find_stage("pace")->type_param == "bytes");
    auto r = load_string("channels: {c: record}\nstages:\n"
                         "  sub: {stage: nats_subscribe, out: c, args: {subject: a}}\n"
                         "  pub:\n    stage: nats_publish\n    in: c\n    args: {subject: b}\n",
                         "t.yaml");
    INFO(dump(r));
    REQUIRE(r.errors.size() == 2);
    CHECK(r.errors[0].at == mark{"t.yaml", 3, 37});
    CHECK(r.errors[0].message ==
          "stage sub (nats_subscribe) output port 'out' needs a type with a codec, but channel "
          "'c' carries record, which has none: specialise rill::config::codec for it before "
          "registering it (rill/config/codec.hpp)");
    CHECK(r.errors[1].at == mark{"t.yaml", 6, 9});
    CHECK_THAT(r.errors[1].message,
               Catch::StartsWith("stage pub (nats_publish) input port 'in' needs a type with a "
                                 "codec, but channel 'c' carries record"));
}

namespace {
// A type with no codec, which the NATS bridge stages cannot carry.
struct opaque {};
} // namespace
RILL_CONFIG_TYPE(opaque, "runner_opaque");

TEST_CASE("config runner: a port that needs a codec refuses a type without one before running") {
    cfg::topology t;
    t.channels = {chan("c", "runner_opaque")};
    t.stages = {stage("pub", "nats_publish", {{"in", {"c"}}}, {}, {{"subject", std::string("s")}})};
    rill::run([&] {
        CHECK_THROWS_WITH(cfg::runner(t),
                          "rill::config::runner: stage pub (nats_publish): port 'in' needs a type "
                          "with a codec, but runner_opaque has none (rill/config/codec.hpp)");
    });
}
