// qwen2: the llama block with biases on the q/k/v projections, NeoX-style RoPE (rotating the two halves of each
// head) and usually tied embeddings.
#include "model/arch.h"

namespace amusd::model {

extern const ArchSpec kQwen2Arch;
const ArchSpec kQwen2Arch{.name = "qwen2", .rope_style = RopeStyle::NeoX, .qkv_bias = true};

}  // namespace amusd::model
