#include "tokenizer/regex.h"

#include <algorithm>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace amusd::tok::detail {

// ---- code points ----------------------------------------------------------------------------------------

CodePoints CodePoints::from_utf8(std::string_view text) {
  AMUSD_CHECK(text.size() < UINT32_MAX, "text of ", text.size(), " bytes is too long to match (limit 4 GiB)");
  CodePoints t;
  t.cp.reserve(text.size());
  t.flags.reserve(text.size());
  t.byte_offset.reserve(text.size() + 1);
  for (size_t pos = 0; pos < text.size();) {
    t.byte_offset.push_back(uint32_t(pos));
    if (const auto b = uint8_t(text[pos]); b < 0x80) {  // ASCII fast path
      t.cp.push_back(b);
      t.flags.push_back(unicode::flags(b));
      ++pos;
      continue;
    }
    const unicode::Decoded d = unicode::decode(text, pos);
    t.cp.push_back(d.cp);
    t.flags.push_back(unicode::flags(d.cp));
    pos += d.len;
  }
  t.byte_offset.push_back(uint32_t(text.size()));
  return t;
}

// ---- character classes ----------------------------------------------------------------------------------

void CharClass::add_range(uint32_t lo, uint32_t hi) { ranges_.emplace_back(lo, hi); }
void CharClass::add_flags(uint8_t f) { flag_sets_.push_back(f); }
void CharClass::add_not_flags(uint8_t f) { not_flag_sets_.push_back(f); }

void CharClass::add_ascii_other_case() {
  const auto ranges = ranges_;
  for (auto [lo, hi] : ranges) {
    const uint32_t l = std::max<uint32_t>(lo, 'a'), h = std::min<uint32_t>(hi, 'z');
    if (l <= h) add_range(l - 32, h - 32);
    const uint32_t L = std::max<uint32_t>(lo, 'A'), H = std::min<uint32_t>(hi, 'Z');
    if (L <= H) add_range(L + 32, H + 32);
  }
}

void CharClass::finish() {
  std::sort(ranges_.begin(), ranges_.end());  // then merged, for the binary search in matches_slow()
  std::vector<std::pair<uint32_t, uint32_t>> merged;
  for (auto r : ranges_) {
    if (!merged.empty() && r.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  ranges_.swap(merged);
  ascii_[0] = ascii_[1] = 0;
  for (uint32_t cp = 0; cp < 128; ++cp)
    if (matches_slow(cp, unicode::flags(cp))) ascii_[cp >> 6] |= uint64_t(1) << (cp & 63);
}

bool CharClass::matches_slow(uint32_t cp, uint8_t flags) const {
  // The reference engine's quirk (see regex.h): non-ASCII white space is U+000B for literal comparisons.
  const uint32_t literal = (cp >= 128 && (flags & unicode::kWhitespace)) ? 0x0B : cp;
  // The last range starting at or before `literal` (ranges are sorted and disjoint).
  const auto after = std::upper_bound(ranges_.begin(), ranges_.end(), literal,
                                      [](uint32_t c, const std::pair<uint32_t, uint32_t>& r) { return c < r.first; });
  bool in = after != ranges_.begin() && literal <= std::prev(after)->second;
  for (uint8_t f : flag_sets_) in = in || (flags & f) != 0;
  for (uint8_t f : not_flag_sets_) in = in || (flags & f) == 0;
  return in != negated_;
}

// ---- parsing and compiling ------------------------------------------------------------------------------

namespace {

struct Node {
  enum class Kind { kClass, kSeq, kAlt, kRepeat, kLookahead, kBegin, kEnd } kind;
  uint32_t cls = 0;          // kClass
  std::vector<Node> kids;    // kSeq, kAlt: the parts; kRepeat, kLookahead: kids[0]
  uint32_t min = 0, max = 0; // kRepeat
  bool negative = false;     // kLookahead
};

bool nullable(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kClass: return false;
    case Node::Kind::kSeq: return std::all_of(n.kids.begin(), n.kids.end(), nullable);
    case Node::Kind::kAlt: return std::any_of(n.kids.begin(), n.kids.end(), nullable);
    case Node::Kind::kRepeat: return n.min == 0 || nullable(n.kids[0]);
    default: return true;  // lookaheads and anchors consume nothing
  }
}

}  // namespace

class RegexCompiler {
 public:
  explicit RegexCompiler(Regex& re) : re_(re) {
    const std::string& p = re.pattern_;
    for (size_t pos = 0; pos < p.size();) {
      const unicode::Decoded d = unicode::decode(p, pos);
      if (!d.valid) error("invalid UTF-8");
      cps_.push_back(d.cp);
      pos += d.len;
    }
  }

  void compile() {
    Node root = parse_alt(false);
    if (!at_end()) error("unbalanced ')'");
    emit(root);
    push({Regex::Op::kMatch});
    for (Regex::Inst& in : re_.program_)
      if (in.op == Regex::Op::kSplit) first_set(in.x, in.x_first, in.x_nullable);
  }

 private:
  // ---- parser: alt := seq ('|' seq)* ; seq := (atom quantifier?)* ----
  Node parse_alt(bool icase) {
    Node alt{Node::Kind::kAlt};
    alt.kids.push_back(parse_seq(icase));
    while (peek('|')) {
      ++pos_;
      alt.kids.push_back(parse_seq(icase));
    }
    return alt.kids.size() == 1 ? std::move(alt.kids[0]) : alt;
  }

  Node parse_seq(bool icase) {
    Node seq{Node::Kind::kSeq};
    while (!at_end() && !peek('|') && !peek(')')) seq.kids.push_back(parse_quantified(icase));
    return seq;
  }

  Node parse_quantified(bool icase) {
    Node atom = parse_atom(icase);
    uint32_t min = 0, max = 0;
    if (peek('?')) {
      min = 0, max = 1;
    } else if (peek('*')) {
      min = 0, max = Regex::kUnbounded;
    } else if (peek('+')) {
      min = 1, max = Regex::kUnbounded;
    } else if (peek('{')) {
      parse_braces(min, max);
    } else {
      return atom;
    }
    ++pos_;  // the quantifier's last character
    if (peek('?') || peek('+')) error("lazy and possessive quantifiers are not supported");
    if (atom.kind == Node::Kind::kLookahead || atom.kind == Node::Kind::kBegin || atom.kind == Node::Kind::kEnd)
      error("quantifier after an assertion");
    if (max == Regex::kUnbounded && nullable(atom)) error("repetition of a sub-pattern that can match empty");
    Node rep{Node::Kind::kRepeat};
    rep.min = min, rep.max = max;
    rep.kids.push_back(std::move(atom));
    return rep;
  }

  // {n} {n,} {n,m}; leaves pos_ on the closing brace.
  void parse_braces(uint32_t& min, uint32_t& max) {
    ++pos_;
    min = parse_number();
    max = min;
    if (peek(',')) {
      ++pos_;
      max = peek('}') ? Regex::kUnbounded : parse_number();
    }
    if (!peek('}') || max < min) error("malformed {n,m} quantifier");
  }

  uint32_t parse_number() {
    uint32_t n = 0;
    bool any = false;
    while (!at_end() && cps_[pos_] >= '0' && cps_[pos_] <= '9') {
      n = n * 10 + (cps_[pos_++] - '0');
      any = true;
      if (n > 100000) error("repetition count too large");
    }
    if (!any) error("expected a number in {n,m}");
    return n;
  }

  Node parse_atom(bool icase) {
    const uint32_t c = cps_[pos_++];
    switch (c) {
      case '(': return parse_group(icase);
      case '[': return class_node(parse_class(icase));
      case '^': return Node{Node::Kind::kBegin};
      case '$': return Node{Node::Kind::kEnd};
      case '.': error("'.' is not supported");
      case ')': case '*': case '+': case '?': case '{': error("unexpected '", char(c), "'");
      case '\\': {
        if (at_end()) error("pattern ends with '\\'");
        CharClass cls;
        if (is_set_escape(cps_[pos_])) {
          parse_set_escape_into(cls);
        } else {
          const uint32_t lit = parse_literal_escape();
          cls.add_range(lit, lit);
        }
        if (icase) cls.add_ascii_other_case();
        return class_node(std::move(cls));
      }
      default: {
        CharClass cls;
        cls.add_range(c, c);
        if (icase) cls.add_ascii_other_case();
        return class_node(std::move(cls));
      }
    }
  }

  // After '(': (...) (?:...) (?i:...) (?=...) (?!...)
  Node parse_group(bool icase) {
    Node look{Node::Kind::kLookahead};
    bool is_look = false;
    if (peek('?')) {
      ++pos_;
      if (peek(':')) {
        ++pos_;
      } else if (peek('i') && pos_ + 1 < cps_.size() && cps_[pos_ + 1] == ':') {
        pos_ += 2;
        icase = true;
      } else if (peek('=') || peek('!')) {
        look.negative = peek('!');
        is_look = true;
        ++pos_;
      } else {
        error("unsupported group (only (?:, (?i:, (?= and (?! are)");
      }
    }
    Node inner = parse_alt(icase);
    if (!peek(')')) error("missing ')'");
    ++pos_;
    if (!is_look) return inner;
    look.kids.push_back(std::move(inner));
    return look;
  }

  // After '['.
  CharClass parse_class(bool icase) {
    CharClass cls;
    const bool negated = peek('^');
    if (negated) ++pos_;
    while (!peek(']')) {
      if (at_end()) error("missing ']'");
      uint32_t lo = 0;
      if (!parse_class_char(cls, lo)) continue;  // an escape that is a set (\s, \p{L}) was added
      if (peek('-') && pos_ + 1 < cps_.size() && cps_[pos_ + 1] != ']') {
        ++pos_;
        uint32_t hi = 0;
        if (!parse_class_char(cls, hi)) error("a range cannot end with a class escape");
        if (hi < lo) error("range out of order");
        cls.add_range(lo, hi);
      } else {
        cls.add_range(lo, lo);
      }
    }
    ++pos_;
    if (icase) cls.add_ascii_other_case();
    if (negated) cls.negate();
    return cls;
  }

  // One element of a class: returns true with the character in `c`, or false after adding a set escape to cls.
  bool parse_class_char(CharClass& cls, uint32_t& c) {
    c = cps_[pos_++];
    if (c != '\\') return true;
    if (at_end()) error("pattern ends with '\\'");
    if (is_set_escape(cps_[pos_])) {
      parse_set_escape_into(cls);
      return false;
    }
    c = parse_literal_escape();
    return true;
  }

  static bool is_set_escape(uint32_t e) { return e == 's' || e == 'S' || e == 'd' || e == 'p' || e == 'P'; }

  // After '\' when the escape stands for one character: \r \n \t \f \v \0 or escaped punctuation.
  uint32_t parse_literal_escape() {
    const uint32_t e = cps_[pos_++];
    switch (e) {
      case 'r': return '\r';
      case 'n': return '\n';
      case 't': return '\t';
      case 'f': return '\f';
      case 'v': return '\v';
      case '0': return 0;
      default:
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))
          error("unsupported escape '\\", char(e), "'");
        return e;  // escaped punctuation or any other character stands for itself
    }
  }

  // \s \S \d \p{X} \P{X}, with pos_ on the letter.
  void parse_set_escape_into(CharClass& cls) {
    const uint32_t e = cps_[pos_++];
    if (e == 's') return cls.add_flags(unicode::kWhitespace);
    if (e == 'S') return cls.add_not_flags(unicode::kWhitespace);
    if (e == 'd') return cls.add_range('0', '9');
    // \p{X} / \P{X}
    if (!peek('{') || pos_ + 2 >= cps_.size() || cps_[pos_ + 2] != '}') error("expected \\p{X}");
    const uint8_t f = category_flag(cps_[pos_ + 1]);
    pos_ += 3;
    if (e == 'p') cls.add_flags(f);
    else cls.add_not_flags(f);
  }

  uint8_t category_flag(uint32_t letter) {
    switch (letter) {
      case 'L': return unicode::kLetter;
      case 'N': return unicode::kNumber;
      case 'P': return unicode::kPunctuation;
      case 'S': return unicode::kSymbol;
      case 'M': return unicode::kMark;
      case 'Z': return unicode::kSeparator;
      case 'C': return unicode::kOther;
      default: error("unsupported Unicode category");
    }
  }

  Node class_node(CharClass cls) {
    cls.finish();
    re_.classes_.push_back(std::move(cls));
    Node n{Node::Kind::kClass};
    n.cls = uint32_t(re_.classes_.size() - 1);
    return n;
  }

  // ---- code generation ----
  using Op = Regex::Op;

  int32_t push(Regex::Inst in) {
    re_.program_.push_back(in);
    return int32_t(re_.program_.size() - 1);
  }
  int32_t here() const { return int32_t(re_.program_.size()); }
  Regex::Inst& at(int32_t pc) { return re_.program_[size_t(pc)]; }

  void emit(const Node& n) {
    switch (n.kind) {
      case Node::Kind::kClass: push({Op::kClass, false, n.cls}); break;
      case Node::Kind::kSeq:
        for (const Node& k : n.kids) emit(k);
        break;
      case Node::Kind::kAlt: emit_alt(n); break;
      case Node::Kind::kRepeat: emit_repeat(n); break;
      case Node::Kind::kLookahead: {
        const int32_t look = push({Op::kLookahead, n.negative});
        emit(n.kids[0]);
        push({Op::kMatch});
        at(look).x = here();
        break;
      }
      case Node::Kind::kBegin: push({Op::kAssertBegin}); break;
      case Node::Kind::kEnd: push({Op::kAssertEnd}); break;
    }
  }

  // a|b|c: split(a, split(b, c)), each alternative jumping to the end.
  void emit_alt(const Node& n) {
    std::vector<int32_t> to_end;
    for (size_t i = 0; i < n.kids.size(); ++i) {
      if (i + 1 == n.kids.size()) {
        emit(n.kids[i]);
        break;
      }
      const int32_t split = push({Op::kSplit});
      at(split).x = here();
      emit(n.kids[i]);
      to_end.push_back(push({Op::kJump}));
      at(split).y = here();
    }
    for (int32_t j : to_end) at(j).x = here();
  }

  void emit_repeat(const Node& n) {
    const Node& body = n.kids[0];
    if (body.kind == Node::Kind::kClass) {
      push({Op::kRepeat, false, body.cls, n.min, n.max});
      return;
    }
    for (uint32_t i = 0; i < n.min; ++i) emit(body);
    if (n.max == Regex::kUnbounded) {  // loop: split(body; jump loop, out)
      const int32_t loop = push({Op::kSplit});
      at(loop).x = here();
      emit(body);
      const int32_t back = push({Op::kJump});
      at(back).x = loop;
      at(loop).y = here();
      return;
    }
    std::vector<int32_t> splits;  // nested optionals: (body (body ...)?)?
    for (uint32_t i = n.min; i < n.max; ++i) {
      const int32_t split = push({Op::kSplit});
      at(split).x = here();
      splits.push_back(split);
      emit(body);
    }
    for (int32_t s : splits) at(s).y = here();
  }

  // What the program at pc can consume first (ASCII bits) and whether it can succeed consuming nothing: follows
  // the paths that consume nothing (splits, jumps, lookaheads and anchors are passed over, conservatively).
  void first_set(int32_t start, uint64_t first[2], bool& nullable) const {
    first[0] = first[1] = 0;
    nullable = false;
    std::vector<bool> seen(re_.program_.size(), false);
    std::vector<int32_t> todo{start};
    while (!todo.empty()) {
      const int32_t pc = todo.back();
      todo.pop_back();
      if (seen[size_t(pc)]) continue;
      seen[size_t(pc)] = true;
      const Regex::Inst& in = re_.program_[size_t(pc)];
      switch (in.op) {
        case Op::kRepeat:
          if (in.min == 0) todo.push_back(pc + 1);
          [[fallthrough]];
        case Op::kClass: {
          const uint64_t* bits = re_.classes_[in.arg].ascii_bits();
          first[0] |= bits[0], first[1] |= bits[1];
          break;
        }
        case Op::kSplit: todo.push_back(in.x), todo.push_back(in.y); break;
        case Op::kJump:
        case Op::kLookahead: todo.push_back(in.x); break;
        case Op::kAssertBegin: todo.push_back(pc + 1); break;
        case Op::kAssertEnd:
        case Op::kMatch: nullable = true; break;
      }
    }
  }

  bool at_end() const { return pos_ >= cps_.size(); }
  bool peek(uint32_t c) const { return !at_end() && cps_[pos_] == c; }

  template <class... Args>
  [[noreturn]] void error(const Args&... args) const {
    fail("tokenizer regex '", re_.pattern_, "' at code point ", pos_, ": ", args...);
  }

  Regex& re_;
  std::vector<uint32_t> cps_;
  size_t pos_ = 0;
};

Regex::Regex(std::string_view pattern) : pattern_(pattern) { RegexCompiler(*this).compile(); }

// ---- matching -------------------------------------------------------------------------------------------

namespace {

// A backtracking matcher with an explicit stack. A frame resumes at pc with pos; frames made by kRepeat also carry
// the lowest position the run may shrink to, and shrink by one code point each time they are resumed.
class Matcher {
 public:
  Matcher(const std::vector<Regex::Inst>& program, const std::vector<CharClass>& classes, const CodePoints& text)
      : program_(program), classes_(classes), text_(text), run_cache_(program.size()) {
    stack_.resize(64);
  }

  // End position of the match of the program at `pc` starting at `pos`, or -1.
  int64_t run(int32_t pc, uint32_t pos, Span subject) {
    const size_t base = top_;
    for (;;) {
      const Regex::Inst& in = program_[size_t(pc)];
      bool ok = true;
      switch (in.op) {
        case Regex::Op::kClass:
          ok = pos < subject.end && matches(in.arg, pos);
          if (ok) ++pos, ++pc;
          break;
        case Regex::Op::kRepeat: {
          const uint32_t n = run_length(pc, in, pos, subject);
          ok = n >= in.min;
          if (!ok) break;
          if (program_[size_t(pc + 1)].op == Regex::Op::kAssertEnd) {
            ok = pos + n == subject.end;  // a shorter run cannot end at the end: no backtracking (keeps \s+$ linear)
            if (!ok) break;
          } else if (n > in.min) {
            push({pc + 1, pos + n - 1, pos + in.min});
          }
          pos += n, ++pc;
          break;
        }
        case Regex::Op::kSplit:
          if (!in.x_nullable && !can_start(in.x_first, pos, subject)) {
            pc = in.y;  // the first branch cannot match here
            break;
          }
          push({in.y, pos, kNoFloor});
          pc = in.x;
          break;
        case Regex::Op::kJump: pc = in.x; break;
        case Regex::Op::kLookahead: {
          const bool matched = run(pc + 1, pos, subject) >= 0;
          ok = matched != in.negative;
          if (ok) pc = in.x;
          break;
        }
        case Regex::Op::kAssertBegin:
          ok = pos == subject.begin;
          if (ok) ++pc;
          break;
        case Regex::Op::kAssertEnd:
          ok = pos == subject.end;
          if (ok) ++pc;
          break;
        case Regex::Op::kMatch: top_ = base; return pos;
      }
      if (ok) continue;
      if (top_ == base) return -1;
      const Frame f = stack_[--top_];
      pc = f.pc, pos = f.pos;
      if (f.floor != kNoFloor && f.pos > f.floor) push({f.pc, f.pos - 1, f.floor});
    }
  }

 private:
  static constexpr uint32_t kNoFloor = UINT32_MAX;
  struct Frame {
    int32_t pc;
    uint32_t pos;
    uint32_t floor;  // kRepeat frames: lowest end of the run; kNoFloor otherwise
  };
  // Per kRepeat instruction: [begin, end) is a maximal run of its class in the subject that ends at subject_end
  // (UINT32_MAX: nothing cached yet).
  struct RunCache {
    uint32_t begin = 0, end = 0, subject_end = UINT32_MAX;
  };

  bool matches(uint32_t cls, uint32_t pos) const { return classes_[cls].matches(text_.cp[pos], text_.flags[pos]); }

  // How many code points from pos the class of a kRepeat matches, at most in.max. Where a run ends does not depend
  // on where in it one starts, so the end found last time is reused: retrying one code point further along a long
  // run (as split() does) costs O(1) instead of the run's length.
  uint32_t run_length(int32_t pc, const Regex::Inst& in, uint32_t pos, Span subject) {
    RunCache& c = run_cache_[size_t(pc)];
    if (c.subject_end != subject.end || pos < c.begin || pos > c.end) {
      uint32_t end = pos;
      const uint32_t limit = uint32_t(std::min<uint64_t>(uint64_t(pos) + in.max, subject.end));
      while (end < limit && matches(in.arg, end)) ++end;
      if (end == limit && limit < subject.end) return end - pos;  // stopped by max: the run may go on
      c = {pos, end, subject.end};
    }
    return uint32_t(std::min<uint64_t>(in.max, c.end - pos));
  }

  bool can_start(const uint64_t first[2], uint32_t pos, Span subject) const {
    if (pos >= subject.end) return false;
    const uint32_t cp = text_.cp[pos];
    return cp >= 128 || ((first[cp >> 6] >> (cp & 63)) & 1);
  }
  void push(const Frame& f) {
    if (top_ == stack_.size()) stack_.resize(2 * top_);
    stack_[top_++] = f;
  }

  const std::vector<Regex::Inst>& program_;
  const std::vector<CharClass>& classes_;
  const CodePoints& text_;
  std::vector<Frame> stack_;  // backtracking frames [0, top_)
  size_t top_ = 0;
  std::vector<RunCache> run_cache_;  // [program size]
};

}  // namespace

int64_t Regex::match_at(const CodePoints& text, Span subject, uint32_t pos) const {
  Matcher m(program_, classes_, text);
  const int64_t end = m.run(0, pos, subject);
  return end < 0 ? -1 : end - pos;
}

void Regex::split(const CodePoints& text, const std::vector<Span>& in, std::vector<Span>& out) const {
  Matcher m(program_, classes_, text);
  for (const Span s : in) {
    uint32_t gap = s.begin;  // start of the text not matched yet
    for (uint32_t pos = s.begin; pos < s.end;) {
      const int64_t end = m.run(0, pos, s);
      if (end <= int64_t(pos)) {  // no match here (or an empty one): retry one code point further
        ++pos;
        continue;
      }
      if (gap < pos) out.push_back({gap, pos});
      out.push_back({pos, uint32_t(end)});
      pos = gap = uint32_t(end);
    }
    if (gap < s.end) out.push_back({gap, s.end});
  }
}

}  // namespace amusd::tok::detail
