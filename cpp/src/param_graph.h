// A structural reading of an ncnn text .param: layer types, blob wiring and the few parameters
// the head-layout inference needs. ncnn parses the file for inference; this only validates it
// up front (clear errors before ncnn sees it) and answers questions about the graph.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nanodet {

struct ParamLayer {
    std::string type, name;
    std::vector<std::string> bottoms, tops;
    std::map<int, std::string> params;            // key -> raw value text
    std::map<int, std::vector<std::string>> arrays;  // key -> raw array items (ncnn's -23300-key)
    // The integer value of `key`; dflt when the layer does not give it or gives a float.
    int int_param(int key, int dflt) const;
};

// The value of decimal integer text (optional sign, digits, nothing else) when it fits in an
// int. parse() rejects integer text outside that range, so ParamLayer values always fit.
std::optional<int> parse_int(const std::string& text);

struct ParamGraph {
    std::vector<ParamLayer> layers;
    std::map<std::string, int> producer;  // blob -> index of the layer that writes it

    // Throws ModelError naming the line on malformed text.
    static ParamGraph parse(const std::string& text);

    // The first layer of `type` met walking from `blob` towards the inputs through layers that
    // only move data (reshape, permute, concat, slice, ...; also Sigmoid if `through_sigmoid`).
    const ParamLayer* find_above(const std::string& blob, const std::string& type,
                                 bool through_sigmoid = false) const;
    bool passes_through(const std::string& blob, const std::string& type) const {
        return find_above(blob, type) != nullptr;
    }
};

}  // namespace nanodet
