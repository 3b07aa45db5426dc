#include "data/corpus.h"

#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/rng.h"
#include "data/shard.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace nanoseek {

PromptFormat parse_prompt_format(std::string_view name) {
  if (name == "r1-zero") return PromptFormat::R1Zero;
  if (name == "plain") return PromptFormat::Plain;
  fail("prompt format '{}' is not one of: r1-zero, plain", name);
}
const char* prompt_format_name(PromptFormat f) { return f == PromptFormat::R1Zero ? "r1-zero" : "plain"; }

std::string prompt_text(PromptFormat f, const std::string& question) {
  if (f == PromptFormat::Plain) return "User: " + question + "\nAssistant:";
  const ChatMessage user{"user", question};
  return render_chat(ChatTemplate::R1Zero, {&user, 1}, true);
}

std::string document_text(PromptFormat f, const std::string& question, const std::string& solution) {
  return prompt_text(f, question) + " " + solution;
}

namespace {

size_t pick(Rng& r, const std::vector<double>& w) {
  double total = 0;
  for (double x : w) total += x;
  double u = r.uniform() * total;
  for (size_t i = 0; i + 1 < w.size(); ++i) {
    if (u < w[i]) return i;
    u -= w[i];
  }
  return w.size() - 1;
}

struct Prepared {
  std::vector<std::unique_ptr<Task>> tasks;
  std::vector<std::vector<std::string>> levels;
  std::vector<double> task_w, style_w;
};

Prepared prepare(const CorpusSpec& s) {
  Prepared p;
  check(!s.tasks.empty(), "corpus: data.tasks is empty");
  check(s.task_weights.empty() || s.task_weights.size() == s.tasks.size(),
        "corpus: data.task_weights has {} entries for {} tasks", s.task_weights.size(), s.tasks.size());
  for (size_t i = 0; i < s.tasks.size(); ++i) {
    p.tasks.push_back(make_task(s.tasks[i]));
    std::vector<std::string> lv;
    for (const auto& l : p.tasks.back()->levels())
      if (s.levels.empty() || std::find(s.levels.begin(), s.levels.end(), l) != s.levels.end()) lv.push_back(l);
    check(!lv.empty(), "corpus: task '{}' has none of the levels in data.levels", s.tasks[i]);
    p.levels.push_back(lv);
    const double w = s.task_weights.empty() ? 1.0 : s.task_weights[i];
    check(w >= 0, "corpus: data.task_weights[{}] = {} is negative", i, w);
    p.task_w.push_back(w);
  }
  p.style_w = {s.bare, s.short_, s.long_, s.selfcheck, s.wrong};
  double tot = 0;
  for (double w : p.style_w) {
    check(w >= 0, "corpus: style weights must be >= 0");
    tot += w;
  }
  check(tot > 0, "corpus: every style weight is 0");
  return p;
}

constexpr SolutionStyle kStyles[] = {SolutionStyle::Bare, SolutionStyle::Short, SolutionStyle::Long,
                                     SolutionStyle::SelfCheck, SolutionStyle::Wrong};

Doc make_doc(const Prepared& p, const CorpusSpec& s, Split split, int64_t i) {
  Rng r = Rng::derive(s.seed * 4 + uint64_t(split), uint64_t(i));
  const size_t t = pick(r, p.task_w);
  const auto& lv = p.levels[t];
  const std::string& level = lv[r.below(lv.size())];
  uint64_t state = r.next();
  const Problem prob = sample_problem(*p.tasks[t], level, split, state);
  const SolutionStyle style = kStyles[pick(r, p.style_w)];
  const std::string sol = p.tasks[t]->render_solution(prob, style, r.next());
  return Doc{prob, style_name(style), document_text(s.format, prob.question, sol)};
}

std::vector<Doc> make_docs(const Prepared& p, const CorpusSpec& s, Split split, int64_t n) {
  std::vector<Doc> docs(n);
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < n; ++i) docs[i] = make_doc(p, s, split, i);
  return docs;
}

std::vector<int32_t> tokenize(const Tokenizer& tok, const std::vector<Doc>& docs, int32_t eos) {
  std::vector<std::vector<int32_t>> parts(docs.size());
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < int64_t(docs.size()); ++i) {
    parts[i] = tok.encode(docs[i].text);
    parts[i].push_back(eos);
  }
  std::vector<int32_t> out;
  for (auto& v : parts) out.insert(out.end(), v.begin(), v.end());
  return out;
}

}  // namespace

Doc make_document(const CorpusSpec& spec, Split split, int64_t i) { return make_doc(prepare(spec), spec, split, i); }

CorpusStats build_corpus(const CorpusSpec& s, const std::string& dir, bool verbose) {
  const auto t0 = std::chrono::steady_clock::now();
  check(s.train_docs > 0 && s.val_docs > 0, "corpus: train_docs and val_docs must be > 0");
  const Prepared p = prepare(s);
  make_dirs(dir);
  const auto train = make_docs(p, s, Split::Train, s.train_docs);
  const auto val = make_docs(p, s, Split::Val, s.val_docs);

  const std::string tok_dir = dir + "/tokenizer";
  if (s.tokenizer.empty()) {
    std::string text;
    const int64_t n = std::min<int64_t>(s.tokenizer_docs, s.train_docs);
    for (int64_t i = 0; i < n; ++i) text += train[i].text + "\n";
    BpeTrainerOptions opt;
    opt.vocab_size = s.vocab_size;
    const TrainedTokenizer t = train_bpe(text, opt);
    save_trained_tokenizer(t, tok_dir);
    if (verbose) fmt::print("corpus: trained a BPE tokenizer on {} documents: vocab {} ({} merges)\n", n,
                            t.vocab_size, t.n_merges);
  } else {
    make_dirs(tok_dir);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      if (file_exists(s.tokenizer + "/" + f)) write_file_atomic(tok_dir + "/" + f, read_file(s.tokenizer + "/" + f));
  }
  const Tokenizer tok = Tokenizer::load(tok_dir);
  const int32_t eos = tok.eos_id();
  check(eos >= 0, "corpus: tokenizer {} has no eos_token (tokenizer_config.json)", tok_dir);

  CorpusStats st;
  const auto train_tok = tokenize(tok, train, eos);
  const auto val_tok = tokenize(tok, val, eos);
  write_shard(dir + "/train.bin", train_tok, s.train_docs, eos);
  write_shard(dir + "/val.bin", val_tok, s.val_docs, eos);
  st.train_docs = s.train_docs;
  st.val_docs = s.val_docs;
  st.train_tokens = int64_t(train_tok.size());
  st.val_tokens = int64_t(val_tok.size());
  st.vocab_size = tok.vocab_size();
  st.eos_id = eos;

  std::string samples;
  for (size_t i = 0; i < std::min<size_t>(20, train.size()); ++i)
    samples += fmt::format("=== {} {} {} ===\n{}\n\n", train[i].problem.task, train[i].problem.level, train[i].style, train[i].text);
  write_file_atomic(dir + "/samples.txt", samples);

  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json j = {
      {"tasks", s.tasks}, {"task_weights", s.task_weights}, {"levels", s.levels},
      {"styles", {{"bare", s.bare}, {"short", s.short_}, {"long", s.long_}, {"selfcheck", s.selfcheck},
                  {"wrong", s.wrong}}},
      {"seed", s.seed}, {"format", prompt_format_name(s.format)}, {"vocab_size", st.vocab_size},
      {"eos_id", eos}, {"train_docs", st.train_docs}, {"val_docs", st.val_docs},
      {"train_tokens", st.train_tokens}, {"val_tokens", st.val_tokens}};
  j["spec"] = corpus_spec_json(s);   // what a reuse compares with (pretrain --resume)
  write_file_atomic(dir + "/corpus.json", j.dump(1) + "\n");
  if (verbose)
    fmt::print("corpus: {} train docs ({} tokens, {:.1f}/doc), {} val docs ({} tokens) in {:.1f}s -> {}\n",
               st.train_docs, st.train_tokens, double(st.train_tokens) / st.train_docs, st.val_docs, st.val_tokens,
               st.seconds, dir);
  return st;
}

nlohmann::json corpus_spec_json(const CorpusSpec& s) {
  return {{"tasks", s.tasks}, {"task_weights", s.task_weights}, {"levels", s.levels}, {"bare", s.bare},
          {"short", s.short_}, {"long", s.long_}, {"selfcheck", s.selfcheck}, {"wrong", s.wrong},
          {"train_docs", s.train_docs}, {"val_docs", s.val_docs}, {"seed", s.seed},
          {"format", prompt_format_name(s.format)}, {"tokenizer", s.tokenizer}, {"vocab_size", s.vocab_size},
          {"tokenizer_docs", s.tokenizer_docs}};
}

}  // namespace nanoseek
