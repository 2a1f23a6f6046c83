// Post-processors: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel
// (offset trimming) and Sequence. Offsets here are character offsets.
#include "autolm/error.h"
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace autolm::tokenizer_detail {
namespace {

void push_special(Encoding& e, const std::string& tok, int32_t id) {
  e.ids.push_back(id);
  e.tokens.push_back(tok);
  e.offsets.emplace_back(0, 0);
}

void append(Encoding& dst, const Encoding& src) {
  dst.ids.insert(dst.ids.end(), src.ids.begin(), src.ids.end());
  dst.tokens.insert(dst.tokens.end(), src.tokens.begin(), src.tokens.end());
  dst.offsets.insert(dst.offsets.end(), src.offsets.begin(), src.offsets.end());
}

// HF processors/bytelevel.rs process_offsets.
void trim_byte_level_offsets(Encoding& e, bool add_prefix_space) {
  const char32_t space = byte_to_char_table()[' '];
  for (size_t i = 0; i < e.tokens.size(); ++i) {
    const std::string& t = e.tokens[i];
    std::u32string cs;
    for (size_t k = 0; k < t.size();) {
      size_t len;
      cs.push_back(decode_utf8(t, k, &len));
      k += len;
    }
    size_t lead = 0, trail = 0;
    while (lead < cs.size() && (cs[lead] == space || is_whitespace(cs[lead]))) ++lead;
    while (trail < cs.size() && (cs[cs.size() - 1 - trail] == space || is_whitespace(cs[cs.size() - 1 - trail]))) ++trail;
    auto& off = e.offsets[i];
    if (lead > 0) {
      bool is_first = i == 0 || off.first == 0;
      if (is_first && add_prefix_space && lead == 1) lead = 0;
      off.first = std::min(off.first + lead, off.second);
    }
    if (trail > 0 && off.second >= trail) off.second = std::max(off.second - trail, off.first);
  }
}

class Template : public PostProcessor {
 public:
  Template(const json& j, const std::string& source) {
    for (const auto& piece : jfield(j, "single", source)) {
      if (piece.contains("Sequence")) {
        items_.push_back({true, ""});
      } else if (piece.contains("SpecialToken")) {
        items_.push_back({false, jfield(piece["SpecialToken"], "id", source).get<std::string>()});
      } else {
        throw Error(ErrorKind::kInvalidInput, source + ": bad TemplateProcessing piece " + piece.dump());
      }
    }
    const json& sp = j.contains("special_tokens") ? j["special_tokens"] : json::object();
    for (auto it = sp.begin(); it != sp.end(); ++it) {
      auto& ids = jfield(it.value(), "ids", source);
      auto& toks = jfield(it.value(), "tokens", source);
      if (ids.size() != toks.size())
        throw Error(ErrorKind::kInvalidInput, source + ": special token \"" + it.key() + "\" has ids/tokens of different length");
      std::vector<std::pair<std::string, int32_t>> v;
      for (size_t k = 0; k < ids.size(); ++k)
        v.emplace_back(toks[k].get<std::string>(), jtoken_id(ids[k], "special token \"" + it.key() + "\"", source));
      specials_[it.key()] = std::move(v);
    }
    for (auto& item : items_)
      if (!item.sequence && !specials_.count(item.special))
        throw Error(ErrorKind::kInvalidInput, source + ": TemplateProcessing uses undefined special token \"" + item.special + "\"");
  }
  void process(Encoding& e, bool add_special) const override {
    if (!add_special) return;
    Encoding out;
    for (const auto& item : items_) {
      if (item.sequence) append(out, e);
      else
        for (const auto& [tok, id] : specials_.at(item.special)) push_special(out, tok, id);
    }
    e = std::move(out);
  }

 private:
  struct Item {
    bool sequence;
    std::string special;
  };
  std::vector<Item> items_;
  std::unordered_map<std::string, std::vector<std::pair<std::string, int32_t>>> specials_;
};

class BertLike : public PostProcessor {
 public:
  BertLike(const json& j, const std::string& source, bool roberta) : roberta_(roberta) {
    auto pair = [&](const char* key, std::string& tok, int32_t& id) {
      const json& p = jfield(j, key, source);
      if (!p.is_array() || p.size() != 2)
        throw Error(ErrorKind::kInvalidInput, source + ": post_processor " + key + " must be [token, id]");
      tok = p[0].get<std::string>();
      id = jtoken_id(p[1], std::string("post_processor ") + key, source);
    };
    pair("cls", cls_, cls_id_);
    pair("sep", sep_, sep_id_);
    trim_ = roberta && jbool(j, "trim_offsets", true);
    add_prefix_space_ = jbool(j, "add_prefix_space", true);
  }
  void process(Encoding& e, bool add_special) const override {
    if (trim_) trim_byte_level_offsets(e, add_prefix_space_);
    if (!add_special) return;
    Encoding out;
    push_special(out, cls_, cls_id_);
    append(out, e);
    push_special(out, sep_, sep_id_);
    e = std::move(out);
  }

 private:
  bool roberta_, trim_ = false, add_prefix_space_ = true;
  std::string cls_, sep_;
  int32_t cls_id_ = 0, sep_id_ = 0;
};

class ByteLevelPost : public PostProcessor {
 public:
  ByteLevelPost(bool trim, bool add_prefix_space) : trim_(trim), add_prefix_space_(add_prefix_space) {}
  void process(Encoding& e, bool) const override {
    if (trim_) trim_byte_level_offsets(e, add_prefix_space_);
  }

 private:
  bool trim_, add_prefix_space_;
};

class SequencePost : public PostProcessor {
 public:
  void process(Encoding& e, bool add_special) const override {
    for (auto& p : items_) p->process(e, add_special);
  }
  std::vector<std::unique_ptr<PostProcessor>> items_;
};

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const json& j, const std::string& source) {
  if (j.is_null()) return nullptr;
  std::string type = jstring(j, "type", source, "");
  if (type == "TemplateProcessing") return std::make_unique<Template>(j, source);
  if (type == "BertProcessing") return std::make_unique<BertLike>(j, source, false);
  if (type == "RobertaProcessing") return std::make_unique<BertLike>(j, source, true);
  if (type == "ByteLevel")
    return std::make_unique<ByteLevelPost>(jbool(j, "trim_offsets", true), jbool(j, "add_prefix_space", true));
  if (type == "Sequence") {
    SequenceNesting nesting("post_processor", source);
    auto seq = std::make_unique<SequencePost>();
    for (const auto& item : jfield(j, "processors", source)) {
      auto p = make_post_processor(item, source);
      if (p) seq->items_.push_back(std::move(p));
    }
    return seq;
  }
  unknown_type("post_processor", type, source);
}

}  // namespace autolm::tokenizer_detail
