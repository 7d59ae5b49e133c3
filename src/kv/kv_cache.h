// KV cache of one sequence, separate from the weights (one model serves many sequences). Indexed by cache slot;
// rollback is a length change, never a copy.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace amusd::kv {

class KvCache {
 public:
  // n_layer layers of n_ctx slots; each slot holds kv_dim keys and kv_dim values of `type` (F32 or F16).
  KvCache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim, DType type = DType::F16);

  int64_t size() const { return size_; }          // slots in use (tokens seen)
  int64_t capacity() const { return n_ctx_; }
  DType type() const { return type_; }
  int64_t kv_dim() const { return kv_dim_; }
  size_t slot_bytes() const { return slot_bytes_; }  // bytes of one slot's keys (or values)

  // Forgets every slot from n on (rollback). Requires n <= size(). O(1).
  void truncate(int64_t n);
  void clear() { size_ = 0; }
  // Marks n more slots as used; the caller has written them. Requires size() + n <= capacity().
  void commit(int64_t n);

  // Keys / values of `layer` at slot `pos`: kv_dim elements of type(). Layout per layer: [n_ctx][kv_dim].
  uint8_t* k(int64_t layer, int64_t pos) { return k_[layer].data() + pos * slot_bytes_; }
  uint8_t* v(int64_t layer, int64_t pos) { return v_[layer].data() + pos * slot_bytes_; }
  const uint8_t* k(int64_t layer, int64_t pos) const { return k_[layer].data() + pos * slot_bytes_; }
  const uint8_t* v(int64_t layer, int64_t pos) const { return v_[layer].data() + pos * slot_bytes_; }

  size_t memory_bytes() const { return 2 * size_t(n_layer_) * size_t(n_ctx_) * slot_bytes_; }

 private:
  int64_t n_layer_, n_ctx_, kv_dim_;
  DType type_;
  size_t slot_bytes_;
  int64_t size_ = 0;
  std::vector<std::vector<uint8_t>> k_, v_;  // per layer: [n_ctx][kv_dim] of type_
};

}  // namespace amusd::kv
