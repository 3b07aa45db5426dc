#include "tokenizer/bpe.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/error.h"
#include "core/json_io.h"
#include "tokenizer/unicode.h"

namespace nanoseek {
namespace {

std::string byte_char(uint8_t b) {
  std::string s;
  unicode::append_utf8(s, unicode::byte_to_codepoint()[b]);
  return s;
}

bool is_null_or_empty(const nlohmann::json& j, const char* key) {
  return !j.contains(key) || j[key].is_null() || (j[key].is_string() && j[key].get<std::string>().empty());
}

}  // namespace

BpeModel BpeModel::from_json(const nlohmann::json& m, const std::string& where) {
  BpeModel bpe;
  check(m.is_object(), "{}: model must be an object", where);
  const std::string model_where = where + ": model";
  std::string type = json_string_or(m, "type", "BPE", model_where);
  check(type == "BPE", "{}: model.type '{}' is not supported (only BPE)", where, type);
  check(!m.contains("dropout") || m["dropout"].is_null() || (m["dropout"].is_number() && m["dropout"].get<double>() == 0.0),
        "{}: model.dropout is not supported (must be null)", where);
  check(is_null_or_empty(m, "continuing_subword_prefix"),
        "{}: model.continuing_subword_prefix is not supported (must be null or \"\")", where);
  check(is_null_or_empty(m, "end_of_word_suffix"),
        "{}: model.end_of_word_suffix is not supported (must be null or \"\")", where);
  bpe.fuse_unk_ = json_bool_or(m, "fuse_unk", false, model_where);
  bpe.ignore_merges_ = json_bool_or(m, "ignore_merges", false, model_where);
  bool byte_fallback = json_bool_or(m, "byte_fallback", false, model_where);

  check(m.contains("vocab") && m["vocab"].is_object(), "{}: model.vocab must be an object", where);
  for (auto& [tok, id] : m["vocab"].items()) {
    check(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < (1 << 30),
          "{}: model.vocab['{}'] must be a non-negative integer id", where, tok);
    int32_t i = id.get<int32_t>();
    bpe.vocab_.emplace(tok, i);
    bpe.max_id_ = std::max(bpe.max_id_, i);
  }
  if (m.contains("unk_token") && m["unk_token"].is_string()) {
    auto it = bpe.vocab_.find(m["unk_token"].get<std::string>());
    check(it != bpe.vocab_.end(), "{}: model.unk_token '{}' is not in model.vocab", where,
          m["unk_token"].get<std::string>());
    bpe.unk_id_ = it->second;
  }

  check(m.contains("merges") && m["merges"].is_array(), "{}: model.merges must be an array", where);
  const auto& merges = m["merges"];
  bpe.merges_.reserve(merges.size() * 2);
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& e = merges[r];
    std::string a, b;
    if (e.is_string()) {  // "a b"
      const std::string& s = e.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      check(sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos,
            "{}: model.merges[{}] '{}' must be two tokens separated by one space", where, r, s);
      a = s.substr(0, sp), b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {  // ["a", "b"]
      a = e[0].get<std::string>(), b = e[1].get<std::string>();
    } else {
      fail("{}: model.merges[{}] must be \"a b\" or [\"a\", \"b\"]", where, r);
    }
    auto ia = bpe.vocab_.find(a), ib = bpe.vocab_.find(b), ic = bpe.vocab_.find(a + b);
    check(ia != bpe.vocab_.end() && ib != bpe.vocab_.end(), "{}: model.merges[{}] uses '{}' / '{}' not in model.vocab",
          where, r, a, b);
    check(ic != bpe.vocab_.end(), "{}: model.merges[{}] result '{}' is not in model.vocab", where, r, a + b);
    uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(ia->second)) << 32) | static_cast<uint32_t>(ib->second);
    bpe.merges_[key] = {static_cast<int32_t>(r), ic->second};  // a repeated pair keeps its last rank, as HF
  }

  // Initial symbols per input byte, following HF's order: the byte's character, else byte fallback over
  // the UTF-8 bytes of that character, else the unknown token, else nothing (HF drops it silently).
  bpe.byte_symbols_.resize(256);
  for (int b = 0; b < 256; ++b) {
    std::string ch = byte_char(static_cast<uint8_t>(b));
    auto& syms = bpe.byte_symbols_[b];
    if (auto it = bpe.vocab_.find(ch); it != bpe.vocab_.end()) {
      syms.push_back(it->second);
      continue;
    }
    if (byte_fallback) {
      bool all = true;
      std::vector<int32_t> fb;
      for (unsigned char c : ch) {
        auto it = bpe.vocab_.find(fmt::format("<0x{:02X}>", c));
        if (it == bpe.vocab_.end()) all = false;
        else fb.push_back(it->second);
      }
      if (all) {
        syms = fb;
        continue;
      }
    }
    if (bpe.unk_id_ >= 0) syms.push_back(bpe.unk_id_);
  }
  return bpe;
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (ignore_merges_) {
    std::string mapped;
    for (unsigned char c : word) unicode::append_utf8(mapped, unicode::byte_to_codepoint()[c]);
    if (auto it = vocab_.find(mapped); it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  // Doubly linked list of symbols; len == 0 marks a symbol merged into its left neighbour.
  struct Sym {
    int32_t id, prev, next, len;
  };
  struct Cand {
    int32_t rank, pos, new_id;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  thread_local std::vector<Sym> syms;
  thread_local std::vector<Cand> heap;
  syms.clear();
  heap.clear();
  for (unsigned char c : word) {
    for (int32_t id : byte_symbols_[c]) {
      if (fuse_unk_ && id == unk_id_ && !syms.empty() && syms.back().id == unk_id_) continue;
      int32_t n = static_cast<int32_t>(syms.size());
      syms.push_back({id, n - 1, n + 1, 1});
    }
  }
  if (syms.empty()) return;
  syms.back().next = -1;
  auto push = [&](int32_t pos, int32_t a, int32_t b) {
    if (const Merge* m = find_merge(a, b)) {
      heap.push_back({m->rank, pos, m->new_id});
      std::push_heap(heap.begin(), heap.end(), std::greater<>{});
    }
  };
  for (size_t i = 0; i + 1 < syms.size(); ++i) push(static_cast<int32_t>(i), syms[i].id, syms[i + 1].id);
  // Lowest rank first, leftmost on ties: stale candidates (a side already merged away) are skipped.
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>{});
    Cand c = heap.back();
    heap.pop_back();
    Sym& s = syms[c.pos];
    if (s.len == 0 || s.next < 0) continue;
    Sym& r = syms[s.next];
    const Merge* m = find_merge(s.id, r.id);
    if (!m || m->new_id != c.new_id) continue;
    s.id = c.new_id;
    s.len += r.len;
    r.len = 0;
    s.next = r.next;
    if (s.next >= 0) syms[s.next].prev = c.pos;
    if (s.prev >= 0) push(s.prev, syms[s.prev].id, s.id);
    if (s.next >= 0) push(c.pos, s.id, syms[s.next].id);
  }
  for (int32_t i = 0; i >= 0; i = syms[i].next) out.push_back(syms[i].id);
}

}  // namespace nanoseek
