// nanoseek tokenizer train --corpus FILE --vocab-size N --out DIR [--special-tokens a,b,...]
// Trains a byte-level BPE (src/tokenizer/bpe_trainer.h) and writes DIR/tokenizer.json + tokenizer_config.json.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "core/error.h"
#include "core/fs.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace nanoseek::cli {
namespace {

struct TrainOpts {
  std::string corpus, out;
  int32_t vocab_size = 0;
  int64_t min_frequency = 2;
  std::vector<std::string> specials = default_special_tokens();
};

int run_train(const TrainOpts& o) {
  std::string text = read_file(o.corpus);
  BpeTrainerOptions opt;
  opt.vocab_size = o.vocab_size;
  opt.special_tokens = o.specials;
  opt.min_frequency = o.min_frequency;
  opt.progress = [](int32_t done, int32_t target, int64_t best) {
    std::fprintf(stderr, "tokenizer train: %d / %d merges (best pair count %lld)\n", done, target,
                 static_cast<long long>(best));
  };
  std::fprintf(stderr, "tokenizer train: %zu bytes from %s, target vocab %d, %zu special tokens\n", text.size(),
               o.corpus.c_str(), o.vocab_size, o.specials.size());
  TrainedTokenizer t = train_bpe(text, opt);
  save_trained_tokenizer(t, o.out);
  // Reload what was written: the files must load back in our own loader.
  Tokenizer tok = Tokenizer::load(o.out);
  std::fprintf(stderr, "tokenizer train: %lld words (%lld unique) -> %d merges, vocab %d -> %s\n",
               static_cast<long long>(t.n_words), static_cast<long long>(t.n_unique_words), t.n_merges,
               tok.vocab_size(), o.out.c_str());
  return 0;
}

const bool registered = add_command({"tokenizer", "Tokenizer tools (train a byte-level BPE)", 14,
                                     [](CLI::App& app) -> Runner {
                                       app.require_subcommand(1);
                                       CLI::App* train = app.add_subcommand("train", "Train a byte-level BPE");
                                       auto o = std::make_shared<TrainOpts>();
                                       train->add_option("--corpus", o->corpus, "UTF-8 text file")->required();
                                       train->add_option("--vocab-size", o->vocab_size,
                                                         "Total vocabulary (special + 256 bytes + merges)")
                                           ->required()
                                           ->check(CLI::PositiveNumber);
                                       train->add_option("--out", o->out, "Output directory")->required();
                                       train->add_option("--special-tokens", o->specials,
                                                         "Comma-separated special tokens (default: the DeepSeek-R1 "
                                                         "+ ChatML + <think>/<answer> set, see docs/tokenizer.md)")
                                           ->delimiter(',');
                                       train->add_option("--min-frequency", o->min_frequency,
                                                         "Stop when the best pair occurs fewer times")
                                           ->capture_default_str();
                                       return [o, train]() -> int {
                                         if (train->parsed()) return run_train(*o);
                                         return 1;
                                       };
                                     }});

}  // namespace
}  // namespace nanoseek::cli
