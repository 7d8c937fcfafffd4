#include "format/yaml_tree.hpp"

#include "format/yaml_syntax.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace rill::config::yaml {

const entry* node::find(std::string_view key) const noexcept {
    auto it =
        std::find_if(entries.begin(), entries.end(), [&](const entry& e) { return e.key == key; });
    return it == entries.end() ? nullptr : &*it;
}

const char* describe(node::kind_t k) noexcept {
    switch (k) {
    case node::null:
        return "nothing";
    case node::scalar:
        return "a scalar";
    case node::sequence:
        return "a list";
    case node::mapping:
        return "a mapping";
    }
    return "?";
}

namespace {

// Unwinds the parser once a limit is hit; the diagnostic is already recorded.
struct limit_reached {};
// Unwinds the parser at the start of a second document.
struct second_document {
    YAML::Mark at;
};

class tree_builder : public YAML::EventHandler {
public:
    tree_builder(std::string_view text, const std::string& file, std::vector<diagnostic>& errors,
                 const value_filter& filter, const limits& lim)
        : text_(text), file_(file), errors_(errors), filter_(filter), lim_(lim) {}

    node_ptr root() const { return root_ ? root_ : std::make_shared<node>(); }

    // Where the innermost '[' or '{' still open starts, if any.
    std::optional<mark> open_flow() const {
        for (auto f = stack_.rbegin(); f != stack_.rend(); ++f)
            if (f->flow) return f->n->at;
        return std::nullopt;
    }

    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnAnchor(const YAML::Mark&, const std::string& name) override {
        anchor_names_.push_back(name);
    }

    void OnNull(const YAML::Mark& m, YAML::anchor_t anchor) override {
        add(finish(make(node::null, m), anchor));
    }

    void OnScalar(const YAML::Mark& m, const std::string& tag, YAML::anchor_t anchor,
                  const std::string& value) override {
        auto n = make(node::scalar, m);
        // yaml-cpp takes an unclosed quoted string to the end of the file.
        auto at = std::size_t(m.pos);
        if (tag == "!" && at < text_.size() && (text_[at] == '"' || text_[at] == '\'') &&
            !quote_closed(text_, at)) {
            error(n->at, fmt::format("the string opened by this {} is never closed",
                                     text_[at] == '"' ? "double quote" : "single quote"));
            throw limit_reached{};
        }
        bool key = expecting_key();
        n->text = key || !filter_ ? value : filter_(value, n->at, errors_);
        add(finish(std::move(n), anchor), key && tag == "?" && value == "<<");
    }

    void OnAlias(const YAML::Mark& m, YAML::anchor_t anchor) override {
        auto it = anchors_.find(anchor);
        if (it == anchors_.end()) {
            // yaml-cpp knows the anchor, so its node is still open: the alias is inside it.
            error(to_mark(m), fmt::format("alias '*{}' refers to a node that contains it",
                                          anchor_name(anchor)));
            add(finish(make(node::null, m), 0));
            return;
        }
        const node_ptr& target = it->second;
        count(target->weight, to_mark(m));
        if (int(stack_.size()) + target->height > lim_.max_depth) too_deep(to_mark(m));
        add(target);
    }

    void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value style) override {
        open(node::sequence, m, anchor, style == YAML::EmitterStyle::Flow);
    }
    void OnSequenceEnd() override { close(); }

    void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value style) override {
        open(node::mapping, m, anchor, style == YAML::EmitterStyle::Flow);
    }
    void OnMapEnd() override { close(); }

private:
    // An entry as written: an explicit key, or a merge key's value (a source).
    struct slot {
        entry e;
        bool merge;
    };
    struct frame {
        std::shared_ptr<node> n;
        YAML::anchor_t anchor;
        bool flow;             // written [...] or {...}
        bool have_key = false; // a key was read, its value is next
        bool key_ok = false;   // ... and it is a usable key
        bool key_is_merge = false;
        std::string key{};
        mark key_at{};
        std::vector<slot> slots{};
        std::map<std::string, mark, std::less<>> explicit_keys{};
    };

    mark to_mark(const YAML::Mark& m) const {
        if (m.line < 0) return {file_, 0, 0};
        return {file_, m.line + 1, m.column + 1};
    }

    void error(mark at, std::string message) {
        errors_.push_back({std::move(at), std::move(message)});
    }

    [[noreturn]] void too_deep(mark at) {
        error(std::move(at), fmt::format("nesting deeper than {} levels", lim_.max_depth));
        throw limit_reached{};
    }

    void count(std::size_t weight, const mark& at) {
        total_ = weight > lim_.max_nodes ? lim_.max_nodes + 1 : total_ + weight;
        if (total_ > lim_.max_nodes) {
            error(at, fmt::format("the document is too large: more than {} nodes after expanding "
                                  "aliases",
                                  lim_.max_nodes));
            throw limit_reached{};
        }
    }

    std::string anchor_name(YAML::anchor_t a) const {
        return a >= 1 && a <= anchor_names_.size() ? anchor_names_[a - 1] : std::to_string(a);
    }

    bool expecting_key() const {
        return !stack_.empty() && stack_.back().n->kind == node::mapping && !stack_.back().have_key;
    }

    std::shared_ptr<node> make(node::kind_t k, const YAML::Mark& m) {
        count(1, to_mark(m));
        auto n = std::make_shared<node>();
        n->kind = k;
        n->at = to_mark(m);
        return n;
    }

    node_ptr finish(std::shared_ptr<node> n, YAML::anchor_t anchor) {
        auto grow = [&](const node_ptr& c) {
            n->weight = std::min(n->weight + c->weight, lim_.max_nodes + 1);
            n->height = std::max(n->height, c->height + 1);
        };
        for (const auto& c : n->items)
            grow(c);
        for (const auto& e : n->entries)
            grow(e.value);
        if (anchor) anchors_[anchor] = n;
        return n;
    }

    void open(node::kind_t k, const YAML::Mark& m, YAML::anchor_t anchor, bool flow) {
        if (int(stack_.size()) + 1 > lim_.max_depth) too_deep(to_mark(m));
        stack_.push_back({make(k, m), anchor, flow});
    }

    void close() {
        frame f = std::move(stack_.back());
        stack_.pop_back();
        if (f.n->kind == node::mapping) resolve_merges(f);
        add(finish(std::move(f.n), f.anchor));
    }

    // Explicit keys first claim their names; merged mappings then fill in the
    // rest at the merge key's place, earlier sources winning over later ones.
    void resolve_merges(frame& f) {
        std::set<std::string, std::less<>> merged;
        for (auto& s : f.slots) {
            if (!s.merge) {
                f.n->entries.push_back(std::move(s.e));
                continue;
            }
            const node& src = *s.e.value;
            std::vector<const node*> sources;
            if (src.kind == node::sequence)
                for (const auto& item : src.items)
                    sources.push_back(item.get());
            else
                sources.push_back(&src);
            for (const node* m : sources) {
                if (m->kind != node::mapping) {
                    error(m->at, fmt::format("a merge key '<<' takes a mapping or a list of "
                                             "mappings, not {}",
                                             describe(m->kind)));
                    continue;
                }
                for (const auto& e : m->entries)
                    if (!f.explicit_keys.count(e.key) && merged.insert(e.key).second)
                        f.n->entries.push_back(e);
            }
        }
    }

    void add(node_ptr child, bool merge_key = false) {
        if (stack_.empty()) {
            root_ = std::move(child);
            return;
        }
        frame& f = stack_.back();
        if (f.n->kind == node::sequence) {
            f.n->items.push_back(std::move(child));
            return;
        }
        if (!f.have_key) {
            f.have_key = true;
            f.key_ok = child->kind == node::scalar;
            if (!f.key_ok)
                error(child->at, child->kind == node::null
                                     ? std::string("empty mapping key")
                                     : fmt::format("a mapping key must be a scalar, not {}",
                                                   describe(child->kind)));
            f.key = child->text;
            f.key_at = child->at;
            f.key_is_merge = merge_key;
            return;
        }
        f.have_key = false;
        if (!f.key_ok) return;
        if (!f.key_is_merge) {
            auto [first, fresh] = f.explicit_keys.emplace(f.key, f.key_at);
            if (!fresh) {
                error(f.key_at, fmt::format("duplicate key '{}' (first at line {})", f.key,
                                            first->second.line));
                return;
            }
        }
        f.slots.push_back({entry{std::move(f.key), f.key_at, std::move(child)}, f.key_is_merge});
    }

    std::string_view text_;
    const std::string& file_;
    std::vector<diagnostic>& errors_;
    const value_filter& filter_;
    const limits& lim_;
    std::vector<frame> stack_;
    node_ptr root_;
    std::map<YAML::anchor_t, node_ptr> anchors_;
    std::vector<std::string> anchor_names_;
    std::size_t total_ = 0;
};

// Stops at the start of a further document.
struct document_detector : YAML::EventHandler {
    void OnDocumentStart(const YAML::Mark& m) override { throw second_document{m}; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
};

} // namespace

node_ptr parse(std::string_view text, const std::string& file, std::vector<diagnostic>& errors,
               const value_filter& filter, const limits& lim) {
    if (auto e = character_error(text, file)) {
        errors.push_back(std::move(*e));
        return nullptr;
    }
    std::istringstream in{std::string(text)};
    // yaml-cpp's marks count from after a byte order mark.
    std::string_view body = text.starts_with("\xEF\xBB\xBF") ? text.substr(3) : text;
    tree_builder builder(body, file, errors, filter, lim);
    auto to_mark = [&](const YAML::Mark& m) {
        return m.line < 0 ? mark{file, 0, 0} : mark{file, m.line + 1, m.column + 1};
    };
    try {
        YAML::Parser parser(in);
        parser.HandleNextDocument(builder);
        document_detector detector;
        parser.HandleNextDocument(detector);
    } catch (const limit_reached&) {
        return nullptr;
    } catch (const second_document& d) {
        // yaml-cpp also starts a document, unmarked, at a line that fits no
        // node of the first one (a key below a top-level list).
        std::string_view from = body.substr(std::min(body.size(), std::size_t(d.at.pos)));
        bool marked = from.starts_with("---") || from.starts_with("%");
        errors.push_back({to_mark(d.at), marked ? "a topology file holds one YAML document; this "
                                                  "is a second one"
                                                : "this line is outside the document above it: "
                                                  "check its indentation"});
        return nullptr;
    } catch (const YAML::Exception& e) {
        mark at = to_mark(e.mark);
        errors.push_back(explain(body, file, e.msg, at.line, at.column, builder.open_flow()));
        return nullptr;
    }
    return builder.root();
}

} // namespace rill::config::yaml
