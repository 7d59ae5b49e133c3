// llama: Llama 2/3, TinyLlama, Mistral-style GQA, SmolLM. RMSNorm, SwiGLU, RoPE on adjacent pairs (the GGUF
// converter permutes Q/K for it), optional tied output (no output.weight: the token embedding is reused).
#include "model/arch.h"

namespace amusd::model {

extern const ArchSpec kLlamaArch;
const ArchSpec kLlamaArch{.name = "llama", .rope_style = RopeStyle::Normal, .qkv_bias = false};

}  // namespace amusd::model
