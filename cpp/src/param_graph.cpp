#include "param_graph.h"

#include <charconv>
#include <climits>
#include <set>
#include <sstream>

#include "nanodet_ncnn/types.h"

namespace nanodet {

namespace {

const std::set<std::string>& data_movers() {
    static const std::set<std::string> s{"Reshape", "Permute", "Flatten", "Concat", "Split",
                                         "Slice",   "Crop",    "Squeeze", "ExpandDims", "Noop",
                                         "Packing", "Cast",    "Dropout"};
    return s;
}

[[noreturn]] void fail(int line, const std::string& why) {
    throw ModelError("param file line " + std::to_string(line) + ": " + why);
}

// ncnn reads a value as a float when it has a '.' or an 'e', otherwise as an int.
bool looks_integer(const std::string& v) {
    size_t i = (!v.empty() && (v[0] == '-' || v[0] == '+')) ? 1 : 0;
    if (i == v.size()) return false;
    for (; i < v.size(); ++i)
        if (v[i] < '0' || v[i] > '9') return false;
    return true;
}

void check_int(int line, const std::string& v, const std::string& kv) {
    if (looks_integer(v) && !parse_int(v))
        fail(line, "integer out of range in '" + kv + "'");
}

}  // namespace

std::optional<int> parse_int(const std::string& text) {
    const char* b = text.data();
    const char* e = b + text.size();
    if (b != e && *b == '+' && e - b > 1 && b[1] != '-') ++b;  // from_chars takes '-' only
    int v = 0;
    const auto [end, ec] = std::from_chars(b, e, v);
    if (ec != std::errc() || end != e || b == e) return std::nullopt;
    return v;
}

int ParamLayer::int_param(int key, int dflt) const {
    auto it = params.find(key);
    if (it == params.end()) return dflt;
    return parse_int(it->second).value_or(dflt);
}

ParamGraph ParamGraph::parse(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    int lineno = 0;
    auto next_line = [&]() -> bool {
        while (std::getline(in, line)) {
            ++lineno;
            if (line.find_first_not_of(" \t\r") != std::string::npos) return true;
        }
        return false;
    };
    if (!next_line()) throw ModelError("param file is empty");
    {
        std::istringstream ls(line);
        long magic = 0;
        if (!(ls >> magic) || magic != 7767517)
            throw ModelError(
                "not an ncnn text param file (first line must be the magic number 7767517)");
    }
    if (!next_line()) fail(lineno, "missing 'layer_count blob_count' line");
    int layer_count = 0, blob_count = 0;
    {
        std::istringstream ls(line);
        if (!(ls >> layer_count >> blob_count) || layer_count <= 0 || blob_count <= 0 ||
            layer_count > 1000000 || blob_count > 1000000)
            fail(lineno, "bad 'layer_count blob_count' line");
    }
    ParamGraph g;
    g.layers.reserve(layer_count);
    for (int i = 0; i < layer_count; ++i) {
        if (!next_line())
            fail(lineno, "file ends after " + std::to_string(i) + " of " +
                             std::to_string(layer_count) + " layers (truncated?)");
        std::istringstream ls(line);
        ParamLayer L;
        int nb = -1, nt = -1;
        if (!(ls >> L.type >> L.name >> nb >> nt) || nb < 0 || nt < 0 || nb > 4096 || nt > 4096)
            fail(lineno, "expected 'type name bottom_count top_count ...'");
        for (int k = 0; k < nb; ++k) {
            std::string b;
            if (!(ls >> b)) fail(lineno, "missing bottom blob name");
            L.bottoms.push_back(b);
        }
        for (int k = 0; k < nt; ++k) {
            std::string t;
            if (!(ls >> t)) fail(lineno, "missing top blob name");
            L.tops.push_back(t);
        }
        std::string kv;
        while (ls >> kv) {
            auto eq = kv.find('=');
            if (eq == std::string::npos || eq == 0) fail(lineno, "bad parameter '" + kv + "'");
            const std::string key_text = kv.substr(0, eq);
            if (!looks_integer(key_text)) fail(lineno, "bad parameter key in '" + kv + "'");
            const int key = parse_int(key_text).value_or(INT_MIN);
            // ncnn keys: 0..31, or -23300-k for array k (ncnn's NCNN_MAX_PARAM_COUNT is 32)
            if (!((key >= 0 && key < 32) || (key <= -23300 && key > -23300 - 32)))
                fail(lineno, "parameter key out of range in '" + kv + "'");
            std::string val = kv.substr(eq + 1);
            if (key <= -23300) {
                std::vector<std::string> items;
                std::stringstream vs(val);
                std::string item;
                while (std::getline(vs, item, ',')) items.push_back(item);
                if (items.empty()) fail(lineno, "empty array parameter");
                const std::optional<int> count = parse_int(items[0]);  // leading element count
                if (!count || *count != int(items.size()) - 1)
                    fail(lineno, "array parameter '" + kv + "' does not start with its item count");
                items.erase(items.begin());
                for (const auto& item : items) check_int(lineno, item, kv);
                L.arrays[-key - 23300] = items;
            } else {
                check_int(lineno, val, kv);
                L.params[key] = val;
            }
        }
        // ncnn resolves names itself, but misreports these (as "too many blobs"), and a bottom
        // nobody writes becomes an empty blob at run time.
        for (const auto& b : L.bottoms)
            if (!g.producer.count(b))
                fail(lineno, "layer '" + L.name + "' reads blob '" + b +
                                 "', which no earlier layer writes");
        for (const auto& t : L.tops) {
            auto it = g.producer.find(t);
            if (it != g.producer.end()) {
                const bool same_layer = it->second == int(g.layers.size());  // "1 2 a x x"
                fail(lineno, "blob '" + t + "' is written twice (by layers '" +
                                 (same_layer ? L.name : g.layers[it->second].name) + "' and '" +
                                 L.name + "')");
            }
            g.producer[t] = int(g.layers.size());
        }
        if (int(g.producer.size()) > blob_count)
            fail(lineno, "more blobs than the " + std::to_string(blob_count) +
                             " the second line declares");
        g.layers.push_back(std::move(L));
    }
    if (next_line())
        fail(lineno, "more layer lines than the " + std::to_string(layer_count) +
                         " the second line declares");
    return g;
}

const ParamLayer* ParamGraph::find_above(const std::string& blob, const std::string& type,
                                          bool through_sigmoid) const {
    std::vector<std::string> stack{blob};
    std::set<std::string> seen;
    while (!stack.empty()) {
        std::string b = stack.back();
        stack.pop_back();
        if (!seen.insert(b).second) continue;
        auto it = producer.find(b);
        if (it == producer.end()) continue;
        const ParamLayer& L = layers[it->second];
        if (L.type == type) return &L;
        if (data_movers().count(L.type) || (through_sigmoid && L.type == "Sigmoid"))
            for (const auto& bb : L.bottoms) stack.push_back(bb);
    }
    return nullptr;
}

}  // namespace nanodet
