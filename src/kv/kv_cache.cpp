#include "kv/kv_cache.h"

#include "core/error.h"

namespace amusd::kv {

KvCache::KvCache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim, DType type)
    : n_layer_(n_layer), n_ctx_(n_ctx), kv_dim_(kv_dim), type_(type) {
  AMUSD_CHECK(type == DType::F32 || type == DType::F16, "KV cache type must be f32 or f16, not ", dtype_name(type));
  AMUSD_CHECK(n_ctx > 0 && n_layer > 0 && kv_dim > 0, "invalid KV cache shape");
  slot_bytes_ = size_t(kv_dim) * (type == DType::F32 ? 4 : 2);
  k_.resize(n_layer);
  v_.resize(n_layer);
  for (int64_t l = 0; l < n_layer; ++l) {
    k_[l].resize(size_t(n_ctx) * slot_bytes_);
    v_[l].resize(size_t(n_ctx) * slot_bytes_);
  }
}

void KvCache::truncate(int64_t n) {
  AMUSD_ASSERT(n >= 0 && n <= size_);
  size_ = n;
}

void KvCache::commit(int64_t n) {
  AMUSD_ASSERT(n >= 0 && size_ + n <= n_ctx_);
  size_ += n;
}

}  // namespace amusd::kv
