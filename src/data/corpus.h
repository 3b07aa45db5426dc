// The pretraining corpus: task problems rendered as plain-text documents in a mix of solution styles (bare answer,
// short, long step-by-step, self-check that corrects a slip, and a share of wrong solutions), so that what the base
// model later samples varies in correctness and length — the spread GRPO sharpens.
//
// A document is the prompt the RL stage will use followed by a solution, then EOS:
//   r1-zero: render_chat(R1Zero, {user: question}, generation prompt) + " " + solution
//            "A conversation between User and Assistant. ... User: Calculate 2 + 3.. Assistant: <think>…</answer>"
//   plain:   "User: " + question + "\nAssistant: " + solution   (shorter; for quick experiments)
// Train and validation documents come from disjoint splits (tasks/task.h split_of): never the same problem.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tasks/task.h"

namespace nanoseek {

class Tokenizer;

enum class PromptFormat { R1Zero, Plain };
PromptFormat parse_prompt_format(std::string_view name);  // "r1-zero" | "plain"
const char* prompt_format_name(PromptFormat f);

// What the model is given (generation starts right after it) and the full training document (without EOS).
std::string prompt_text(PromptFormat f, const std::string& question);
std::string document_text(PromptFormat f, const std::string& question, const std::string& solution);

struct CorpusSpec {
  std::vector<std::string> tasks = {"add", "mul", "countdown"};
  std::vector<double> task_weights;   // empty = uniform
  std::vector<std::string> levels;    // empty = every level of each task; else the subset each task has
  // Style mix (normalised): bare, short, long, selfcheck, wrong.
  double bare = 0.15, short_ = 0.2, long_ = 0.35, selfcheck = 0.15, wrong = 0.15;
  int64_t train_docs = 20000, val_docs = 1000;
  uint64_t seed = 1;
  PromptFormat format = PromptFormat::R1Zero;
  std::string tokenizer;              // existing tokenizer dir; empty = train one on the train split
  int32_t vocab_size = 1024;          // for the trained tokenizer
  int64_t tokenizer_docs = 5000;      // train documents the BPE trainer sees
};

// Every field of the spec as JSON: stored in corpus.json ("spec") so a reused corpus can be checked against the
// [data] section that asks for it.
nlohmann::json corpus_spec_json(const CorpusSpec& s);

struct Doc {
  Problem problem;
  std::string style, text;
};

// Document i of a split: a pure function of (spec, split, i).
Doc make_document(const CorpusSpec& spec, Split split, int64_t i);

struct CorpusStats {
  int64_t train_docs = 0, val_docs = 0, train_tokens = 0, val_tokens = 0;
  int32_t vocab_size = 0, eos_id = -1;
  double seconds = 0;
};

// Writes dir/train.bin, dir/val.bin (data/shard.h), dir/tokenizer/ (given or trained), dir/corpus.json (spec +
// stats) and dir/samples.txt (the first documents, for reading). Documents are generated and tokenized in
// parallel; the output does not depend on the thread count.
CorpusStats build_corpus(const CorpusSpec& spec, const std::string& dir, bool verbose = true);

}  // namespace nanoseek
