// Every GGUF tensor and metadata name the models use, in one place.
#pragma once

#include <string>
#include <string_view>

namespace amusd::model::names {

// Global tensors
constexpr std::string_view kTokenEmbd = "token_embd.weight";
constexpr std::string_view kOutputNorm = "output_norm.weight";
constexpr std::string_view kOutput = "output.weight";
constexpr std::string_view kRopeFreqs = "rope_freqs.weight";

// Per-block tensors: blk.<i>.<suffix>
constexpr std::string_view kAttnNorm = "attn_norm.weight";
constexpr std::string_view kAttnQ = "attn_q.weight";
constexpr std::string_view kAttnK = "attn_k.weight";
constexpr std::string_view kAttnV = "attn_v.weight";
constexpr std::string_view kAttnQBias = "attn_q.bias";
constexpr std::string_view kAttnKBias = "attn_k.bias";
constexpr std::string_view kAttnVBias = "attn_v.bias";
constexpr std::string_view kAttnOut = "attn_output.weight";
constexpr std::string_view kFfnNorm = "ffn_norm.weight";
constexpr std::string_view kFfnGate = "ffn_gate.weight";
constexpr std::string_view kFfnUp = "ffn_up.weight";
constexpr std::string_view kFfnDown = "ffn_down.weight";

inline std::string block(int layer, std::string_view suffix) {
  return "blk." + std::to_string(layer) + "." + std::string(suffix);
}

// Metadata keys: "<arch>.<suffix>"
constexpr std::string_view kContextLength = "context_length";
constexpr std::string_view kEmbeddingLength = "embedding_length";
constexpr std::string_view kBlockCount = "block_count";
constexpr std::string_view kFeedForwardLength = "feed_forward_length";
constexpr std::string_view kHeadCount = "attention.head_count";
constexpr std::string_view kHeadCountKv = "attention.head_count_kv";
constexpr std::string_view kKeyLength = "attention.key_length";
constexpr std::string_view kValueLength = "attention.value_length";
constexpr std::string_view kRmsEps = "attention.layer_norm_rms_epsilon";
constexpr std::string_view kRopeDims = "rope.dimension_count";
constexpr std::string_view kRopeFreqBase = "rope.freq_base";
constexpr std::string_view kRopeScalingType = "rope.scaling.type";
constexpr std::string_view kRopeScalingFactor = "rope.scaling.factor";
constexpr std::string_view kRopeScaleLinear = "rope.scale_linear";
constexpr std::string_view kVocabSize = "vocab_size";

inline std::string arch_key(std::string_view arch, std::string_view suffix) {
  return std::string(arch) + "." + std::string(suffix);
}

constexpr std::string_view kArchitecture = "general.architecture";
constexpr std::string_view kName = "general.name";
constexpr std::string_view kChatTemplate = "tokenizer.chat_template";

}  // namespace amusd::model::names
