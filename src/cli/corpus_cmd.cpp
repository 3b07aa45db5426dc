// nanoseek corpus RECIPE --out DIR [--set data.key=value ...] — builds the recipe's pretraining corpus alone:
// DIR/train.bin, DIR/val.bin (token shards), DIR/tokenizer/, DIR/corpus.json, DIR/samples.txt.
// `nanoseek pretrain` does the same into OUT/corpus; use this to inspect a mix or share one corpus (data.corpus).
#include <fmt/format.h>

#include <memory>

#include "cli/command.h"
#include "data/corpus.h"
#include "pipeline/recipe.h"

namespace nanoseek {
namespace {

struct CorpusOpts {
  std::string recipe, out;
  std::vector<std::string> sets;
};

const bool registered = cli::add_command({"corpus", "Build a recipe's pretraining corpus (documents, tokenizer, "
                                          "token shards)", 35,
    [](CLI::App& app) -> cli::Runner {
      auto o = std::make_shared<CorpusOpts>();
      app.add_option("recipe", o->recipe, "Recipe file (TOML); only [data] is used")->required();
      app.add_option("--out", o->out, "Output corpus directory")->required();
      app.add_option("--set", o->sets, "Override a recipe key: --set data.train_docs=1000 (repeatable)");
      return [o] {
        Recipe r = load_recipe(o->recipe);
        for (const auto& s : o->sets) apply_override(r, s);
        r.data.format = r.format;
        build_corpus(r.data, o->out, true);
        return 0;
      };
    }});

}  // namespace
}  // namespace nanoseek
