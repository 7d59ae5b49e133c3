// Internal: flat open-addressing hash tables for the tokenizers' hot lookups (a vocabulary piece -> id, a pair of
// symbol ids -> merge rule). Built once at load time, then only read, so encode() can share them across threads.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace amusd::tok::detail {

inline uint64_t mix64(uint64_t k) {  // a 64-bit finaliser (MurmurHash3's)
  k ^= k >> 33;
  k *= 0xFF51AFD7ED558CCDull;
  k ^= k >> 33;
  k *= 0xC4CEB9FE1A85EC53ull;
  k ^= k >> 33;
  return k;
}

inline uint64_t hash_bytes(std::string_view s) {  // 8 bytes at a time, then finalised
  uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
  }
  uint64_t tail = 0;
  for (size_t j = 0; i + j < s.size(); ++j) tail |= uint64_t(uint8_t(s[i + j])) << (8 * j);
  return mix64(h ^ tail);
}

inline size_t table_capacity(size_t n) {  // a power of two, at most half full
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  return cap;
}

// 64-bit key -> value.
template <class V>
class U64Map {
 public:
  void reserve(size_t n) {
    slots_.assign(table_capacity(n), Slot{kEmpty, V{}});
    size_ = 0;
  }

  // Inserts unless the key is present (the first value stays); returns whether it inserted.
  bool insert(uint64_t key, const V& value) {
    if (key == kEmpty) {  // the reserved key lives outside the table
      if (has_reserved_) return false;
      has_reserved_ = true, reserved_value_ = value;
      return true;
    }
    if (2 * (size_ + 1) > slots_.size()) grow();
    for (size_t i = mix64(key) & mask();; i = (i + 1) & mask()) {
      if (slots_[i].key == key) return false;
      if (slots_[i].key == kEmpty) {
        slots_[i] = {key, value};
        ++size_;
        return true;
      }
    }
  }

  const V* find(uint64_t key) const {
    if (key == kEmpty) return has_reserved_ ? &reserved_value_ : nullptr;
    if (slots_.empty()) return nullptr;
    for (size_t i = mix64(key) & mask();; i = (i + 1) & mask()) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

  size_t size() const { return size_ + has_reserved_; }

 private:
  static constexpr uint64_t kEmpty = UINT64_MAX;
  struct Slot {
    uint64_t key;
    V value;
  };
  size_t mask() const { return slots_.size() - 1; }
  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    reserve(old.size() + 8);
    for (const Slot& s : old)
      if (s.key != kEmpty) insert(s.key, s.value);
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;           // keys in slots_
  bool has_reserved_ = false; // whether key kEmpty is present, with reserved_value_
  V reserved_value_{};
};

// String -> int32 id, where the strings live elsewhere (e.g. the vocabulary's pieces) and must outlive the index.
class StringIndex {
 public:
  void reserve(size_t n) {
    slots_.assign(table_capacity(n), Slot{});
    size_ = 0;
  }

  // Inserts unless the string is present; returns the id stored for it (the new one, or the existing one).
  int32_t insert(std::string_view s, int32_t id) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    const uint64_t h = hash_bytes(s);
    for (size_t i = h & mask();; i = (i + 1) & mask()) {
      Slot& slot = slots_[i];
      if (slot.id < 0) {
        slot = {uint32_t(h >> 32), id, s.data(), uint32_t(s.size())};
        ++size_;
        return id;
      }
      if (slot.tag == uint32_t(h >> 32) && slot.view() == s) return slot.id;
    }
  }

  // The id of s, or -1.
  int32_t find(std::string_view s) const {
    if (slots_.empty()) return -1;
    const uint64_t h = hash_bytes(s);
    for (size_t i = h & mask();; i = (i + 1) & mask()) {
      const Slot& slot = slots_[i];
      if (slot.id < 0) return -1;
      if (slot.tag == uint32_t(h >> 32) && slot.view() == s) return slot.id;
    }
  }

  size_t size() const { return size_; }

 private:
  struct Slot {
    uint32_t tag = 0;  // high half of the hash: most mismatches are rejected without comparing the strings
    int32_t id = -1;   // -1: empty
    const char* data = nullptr;
    uint32_t len = 0;
    std::string_view view() const { return {data, len}; }
  };
  size_t mask() const { return slots_.size() - 1; }
  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    reserve(old.size() + 8);
    for (const Slot& s : old)
      if (s.id >= 0) insert(s.view(), s.id);
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace amusd::tok::detail
