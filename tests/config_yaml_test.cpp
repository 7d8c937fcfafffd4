// The YAML layer under the loader: the tree (marks, duplicate keys, anchors,
// merge keys, limits, syntax errors), ${VAR} interpolation and the scalars.
#include "format/interpolation.hpp"
#include "format/json_text.hpp"
#include "format/scalars.hpp"
#include "format/yaml_tree.hpp"

#include <catch2/catch.hpp>

using namespace rill::config;
using yaml::node;

namespace {
struct parsed_doc {
    yaml::node_ptr root;
    std::vector<diagnostic> errors;
};
parsed_doc parse(const std::string& text, const yaml::limits& lim = {}) {
    parsed_doc d;
    d.root = yaml::parse(text, "f.yaml", d.errors, {}, lim);
    return d;
}
} // namespace

TEST_CASE("tree keeps the marks of keys and values") {
    auto d = parse("a: 1\nbb:\n  - x\n  - {k: v}\n");
    REQUIRE(d.errors.empty());
    const auto& root = *d.root;
    REQUIRE(root.kind == node::mapping);
    REQUIRE(root.entries.size() == 2);
    CHECK(root.entries[0].key_at == mark{"f.yaml", 1, 1});
    CHECK(root.entries[0].value->at == mark{"f.yaml", 1, 4});
    CHECK(root.entries[1].key_at == mark{"f.yaml", 2, 1});
    const auto& list = *root.entries[1].value;
    REQUIRE(list.kind == node::sequence);
    CHECK(list.items[0]->text == "x");
    CHECK(list.items[0]->at == mark{"f.yaml", 3, 5});
    CHECK(list.items[1]->find("k")->key_at == mark{"f.yaml", 4, 6});
}

TEST_CASE("empty documents and values are null nodes") {
    auto d = parse("# only a comment\n");
    REQUIRE(d.errors.empty());
    CHECK(d.root->kind == node::null);
    auto e = parse("a:\nb: ~\n");
    CHECK(e.root->find("a")->value->kind == node::null);
    CHECK(e.root->find("b")->value->kind == node::null);
}

TEST_CASE("a duplicate key is an error at the second key; the first is kept") {
    auto d = parse("a: 1\nb: 2\na: 3\n");
    REQUIRE(d.errors.size() == 1);
    CHECK(d.errors[0].at == mark{"f.yaml", 3, 1});
    CHECK(d.errors[0].message == "duplicate key 'a' (first at line 1)");
    CHECK(d.root->find("a")->value->text == "1");
}

TEST_CASE("aliases share the anchored subtree") {
    auto d = parse("base: &b {x: 1, y: [2, 3]}\ncopy: *b\n");
    REQUIRE(d.errors.empty());
    CHECK(d.root->find("copy")->value == d.root->find("base")->value);
    CHECK(d.root->find("copy")->value->find("y")->value->items.size() == 2);
}

TEST_CASE("merge keys: explicit keys win, earlier sources win, no duplicates") {
    auto d = parse("a: &a {x: 1, y: 1}\n"
                   "b: &b {y: 2, z: 2}\n"
                   "c:\n  <<: [*a, *b]\n  x: 3\n");
    REQUIRE(d.errors.empty());
    const node& c = *d.root->find("c")->value;
    REQUIRE(c.entries.size() == 3);
    CHECK(c.find("x")->value->text == "3");
    CHECK(c.find("y")->value->text == "1");
    CHECK(c.find("z")->value->text == "2");
    auto single = parse("a: &a {x: 1}\nc: {<<: *a, w: 0}\n");
    REQUIRE(single.errors.empty());
    CHECK(single.root->find("c")->value->find("x")->value->text == "1");
    auto quoted = parse("c: {\"<<\": 1}\n");
    CHECK(quoted.root->find("c")->value->find("<<"));
}

TEST_CASE("a merge key needs mappings") {
    auto d = parse("c:\n  <<: 5\n");
    REQUIRE(d.errors.size() == 1);
    CHECK(d.errors[0].at == mark{"f.yaml", 2, 7});
    CHECK_THAT(d.errors[0].message, Catch::Contains("merge key"));
}

TEST_CASE("an alias inside its own anchor is an error") {
    auto d = parse("a: &x [1, *x]\n");
    REQUIRE(d.errors.size() == 1);
    CHECK(d.errors[0].message == "alias '*x' refers to a node that contains it");
    CHECK(d.errors[0].at == mark{"f.yaml", 1, 11});
}

TEST_CASE("alias expansion is capped") {
    std::string bomb;
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 10; ++i) {
        std::string prev = "*a" + std::to_string(i - 1);
        bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int k = 0; k < 10; ++k)
            bomb += (k ? ", " : "") + prev;
        bomb += "]\n";
    }
    auto d = parse(bomb);
    CHECK(d.root == nullptr);
    REQUIRE(d.errors.size() == 1);
    CHECK_THAT(d.errors[0].message, Catch::Contains("too large"));
}

TEST_CASE("nesting depth is capped, for flow and block collections and aliases") {
    for (std::string deep : {std::string(100000, '['), std::string(5000, '{') + "", [] {
                                 std::string s;
                                 for (int i = 0; i < 20000; ++i)
                                     s += "- ";
                                 return s + "x\n";
                             }()}) {
        auto d = parse(deep);
        CHECK(d.root == nullptr);
        REQUIRE(d.errors.size() == 1);
        // The project's own limit and message, below yaml-cpp's (about 500,
        // "bad file"), at the collection that goes one level too deep.
        CHECK(d.errors[0].message == "nesting deeper than 256 levels");
        CHECK(d.errors[0].at.line == 1);
    }
    for (const char* open : {"[", "{a: "}) {
        std::string deepest = "x: ", close = open[0] == '[' ? "]" : "}";
        for (int i = 0; i < 255; ++i)
            deepest += open;
        for (int i = 0; i < 255; ++i)
            deepest += close;
        auto ok = parse(deepest + "\n");
        INFO(open);
        CHECK(ok.errors.empty());
        CHECK(ok.root != nullptr);
    }
    yaml::limits lim;
    lim.max_depth = 4;
    auto d = parse("a: &a [[1]]\nb: [[*a]]\n", lim);
    REQUIRE(d.errors.size() == 1);
    CHECK_THAT(d.errors[0].message, Catch::Contains("nesting deeper than 4"));
}

TEST_CASE("text that is not UTF-8 is refused at its first invalid byte") {
    auto latin1 = parse("a: caf\xC3\xA9\nb: caf\xE9\n");
    CHECK(latin1.root == nullptr);
    REQUIRE(latin1.errors.size() == 1);
    CHECK(latin1.errors[0].at.line == 2);
    CHECK(latin1.errors[0].at.column == 7);
    CHECK(latin1.errors[0].message == "invalid UTF-8: byte 0xE9 (YAML files are UTF-8)");
    for (const char* bad : {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82"}) {
        auto d = parse(std::string("x: ") + bad + "\n");
        INFO(d.errors.size());
        REQUIRE(d.errors.size() == 1);
        CHECK(d.errors[0].at.column == 4);
    }
    auto utf16 = parse(std::string("\xFF\xFE"
                                   "a\0:\0 \0"
                                   "1\0\n\0",
                                   12));
    REQUIRE(utf16.errors.size() == 1);
    CHECK(utf16.errors[0].message == "the file is UTF-16: save it as UTF-8");
    auto bom = parse("\xEF\xBB\xBF"
                     "a: \xF0\x9F\x98\x80\n");
    CHECK(bom.errors.empty());
    CHECK(bom.root != nullptr);
}

TEST_CASE("syntax errors carry yaml-cpp's mark") {
    auto d = parse("a: &\n"); // no rewrite of its own: yaml-cpp's message
    REQUIRE(d.errors.size() == 1);
    CHECK(d.errors[0].message == "invalid YAML: anchor not found after &");
    CHECK(d.errors[0].at == mark{"f.yaml", 1, 5});
    auto two = parse("a: 1\n---\nb: 2\n");
    REQUIRE(two.errors.size() == 1);
    CHECK(two.errors[0].at.line == 2);
    CHECK_THAT(two.errors[0].message, Catch::Contains("one YAML document"));
}

// Issue 15, fault 8: yaml-cpp's own messages for these were "end of map not
// found" one column off, a string running silently to the end of the file,
// or an odd escape for binary data. Each now names the mistake, at it.
TEST_CASE("syntax errors name the mistake and point at it") {
    struct expect {
        std::string text;
        int line, column;
        std::string message;
    };
    const std::string tab = "a tab in the indentation: YAML indents with spaces only";
    const std::vector<expect> cases{
        {"a:\n  b: 1\n\tc: 2\n", 3, 1, tab},
        {"a:\n  b: 1\n  \tc: 2\n", 3, 3, tab},
        {"a:\n  b:\n\t  c: 2\n", 3, 1, tab},
        {"a: {b: 1}\nq:\n\t  stage: x\n", 3, 1, tab},
        {"a: \"text\nb: 1\nc: 2\n", 1, 4, "the string opened by this double quote is never closed"},
        {"a: 'it''s\nb: 1\n", 1, 4, "the string opened by this single quote is never closed"},
        {"a: {b: \"x\nc: 1\n", 1, 8, "the string opened by this double quote is never closed"},
        {"\xEF\xBB\xBF"
         "a: \"x\n",
         1, 4, "the string opened by this double quote is never closed"},
        {"a: 1\nb: \x01\x02\x7F\n", 2, 4,
         "control character U+0001 is not allowed in YAML (is this a binary file?)"},
        {"a: \xC2\x9B\n", 1, 4,
         "control character U+009B is not allowed in YAML (is this a binary file?)"},
        {"a: {b: 1\nc: 2\n", 2, 2,
         "the '{' mapping at 1:4 is not closed: expected ',' or '}' here"},
        {"a: [1, 2\nb: 3\n", 2, 2, "the '[' list at 1:4 is not closed: expected ',' or ']' here"},
        {"a: b: c\n", 1, 5,
         "a second ':' after a key on one line: a value cannot hold another 'key: value' (quote "
         "it if the ': ' is text)"},
        {"a:\n  b: x\n   c: y\n", 3, 5,
         "a key indented deeper than the keys above it continues the value above: check its "
         "indentation"},
        {"a:\n  - x\n  b: y\n", 3, 3,
         "this line does not continue the mapping above it: check its indentation"},
        {"- a\nb: c\n", 2, 1, "this line is outside the document above it: check its indentation"},
        {"a: \"x\\qy\"\n", 1, 6,
         "unknown escape '\\q' in a double-quoted string: write '\\\\' for a backslash, or use "
         "single quotes"},
    };
    for (const auto& c : cases) {
        auto d = parse(c.text);
        INFO(c.text);
        REQUIRE(d.errors.size() == 1);
        CHECK(d.errors[0].message == c.message);
        CHECK(d.errors[0].at.line == c.line);
        CHECK(d.errors[0].at.column == c.column);
    }
    // Where YAML allows them: quotes closed after escapes, tabs after the
    // indentation and inside strings.
    for (const char* ok : {"a: \"x\\\"y\"\nb: 'it''s'\n", "a:\t1\nb: \"\tx\"\n", "a: [1,\n\t2]\n",
                           "a: |\n  x\ty\n"}) {
        INFO(ok);
        CHECK(parse(ok).errors.empty());
    }
}

TEST_CASE("non-scalar and empty keys are errors") {
    auto d = parse("? [a]\n: 1\n");
    REQUIRE(d.errors.size() == 1);
    CHECK(d.errors[0].message == "a mapping key must be a scalar, not a list");
}

TEST_CASE("the value filter sees values, not keys") {
    std::vector<diagnostic> errors;
    yaml::value_filter up = [](std::string_view s, const mark&, std::vector<diagnostic>&) {
        return std::string(s) + "!";
    };
    auto root = yaml::parse("k: v\nl: [a]\n", "f", errors, up);
    CHECK(root->find("k")->value->text == "v!");
    CHECK(root->find("l")->value->items[0]->text == "a!");
}

TEST_CASE("interpolation: ${VAR}, defaults, $$ and errors") {
    getenv_fn env = [](std::string_view n) -> std::optional<std::string> {
        if (n == "HOME") return "/home/x";
        if (n == "EMPTY") return "";
        return std::nullopt;
    };
    CHECK(interpolate("${HOME}/a", env).text == "/home/x/a");
    CHECK(interpolate("${NOPE:-dflt}", env).text == "dflt");
    CHECK(interpolate("${HOME:-dflt}", env).text == "/home/x");
    CHECK(interpolate("${EMPTY:-dflt}", env).text == "");
    CHECK(interpolate("cost $$5 and $x", env).text == "cost $5 and $x");
    CHECK(interpolate("${NOPE}", env).error ==
          "environment variable 'NOPE' is not set (give a default: ${NOPE:-value})");
    CHECK_THAT(interpolate("${HOME", env).error, Catch::Contains("unterminated"));
    CHECK_THAT(interpolate("${1x}", env).error, Catch::Contains("malformed"));
}

TEST_CASE("scalars: durations") {
    using namespace std::chrono;
    CHECK(*scalars::duration("250ms").value == milliseconds(250));
    CHECK(*scalars::duration("1.5s").value == milliseconds(1500));
    CHECK(*scalars::duration("1h30m").value == minutes(90));
    CHECK(*scalars::duration("10us").value == microseconds(10));
    CHECK(*scalars::duration("100ns").value == nanoseconds(100));
    CHECK(scalars::duration("5").error == "a duration needs a unit (ns, us, ms, s, m, h), got "
                                          "'5': add a unit, e.g. 5s");
    CHECK(scalars::duration("abc").error == "expected a duration like 250ms, got 'abc'");
    CHECK_THAT(scalars::duration("-1s").error, Catch::Contains("negative"));
    CHECK_THAT(scalars::duration("999999999h").error, Catch::Contains("too long"));
    CHECK(scalars::format_duration(milliseconds(1500)) == "1500ms");
    CHECK(scalars::format_duration(hours(2)) == "2h");
    CHECK(scalars::format_duration(nanoseconds(0)) == "0s");
}

TEST_CASE("scalars: sizes, integers, numbers, booleans") {
    CHECK(scalars::size("512").value->bytes == 512);
    CHECK(scalars::size("64KiB").value->bytes == 65536);
    CHECK(scalars::size("64KB").value->bytes == 64000);
    CHECK(scalars::size("1MiB").value->bytes == 1 << 20);
    CHECK(scalars::size("1GiB").value->bytes == 1 << 30);
    CHECK_THAT(scalars::size("12 parsecs").error, Catch::Contains("expected a size like 64KiB"));
    CHECK(scalars::format_size({65536}) == "64KiB");
    CHECK(scalars::format_size({1000}) == "1000");
    CHECK(*scalars::integer("-42").value == -42);
    CHECK(scalars::integer("4x").error == "expected an integer like 42, got '4x'");
    CHECK_THAT(scalars::integer("99999999999999999999").error, Catch::Contains("out of range"));
    CHECK(*scalars::number("0.25").value == 0.25);
    CHECK(!scalars::number("nan"));
    CHECK(*scalars::boolean("true").value);
    CHECK(scalars::boolean("yes").error == "expected true or false, got 'yes'");
}

TEST_CASE("JSON string literals: escapes, and bytes that are not UTF-8 replaced") {
    auto lit = [](std::string_view s) {
        std::string out;
        json_text::append_string(out, s);
        return out;
    };
    CHECK(lit("plain") == "\"plain\"");
    CHECK(lit("a\"b\\c\nd\x01") == "\"a\\\"b\\\\c\\nd\\u0001\"");
    // Valid UTF-8 passes through: two, three and four bytes.
    CHECK(lit("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") ==
          "\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    // A lone continuation byte, Latin-1, an overlong form, a surrogate, a
    // sequence cut short at the end: one U+FFFD per byte that starts no
    // valid sequence.
    CHECK(lit("\x80") == "\"\\ufffd\"");
    CHECK(lit("caf\xe9!") == "\"caf\\ufffd!\"");
    CHECK(lit("\xc0\xaf") == "\"\\ufffd\\ufffd\"");
    CHECK(lit("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");
    CHECK(lit("x\xe2\x82") == "\"x\\ufffd\\ufffd\"");
}
