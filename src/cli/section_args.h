// A command configured by one recipe section (`nanoseek sft` by [sft], `nanoseek distill` by [distill]): an optional
// RECIPE file, --set section.key=value, and one --flag per key of the section declared from the recipe table
// (pipeline/recipe.h section_flags), so a flag and its key share one name, type, default and help.
// resolve() applies, in order: the recipe file, each --set, each flag given on the command line.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/error.h"
#include "pipeline/recipe.h"

namespace nanoseek::cli {

struct SectionArgs {
  std::string section, recipe;
  std::vector<std::string> sets;
  std::vector<SectionFlag> flags;
  std::vector<std::string> values;       // [flags] the text given
  std::vector<CLI::Option*> options;     // [flags] to ask whether it was given

  Recipe resolve() const {
    Recipe r = recipe.empty() ? Recipe{} : load_recipe(recipe);
    for (const std::string& s : sets) {
      check(s.rfind(section + ".", 0) == 0, "--set {}: this command reads the [{}] section only", s, section);
      apply_override(r, s);
    }
    for (size_t i = 0; i < flags.size(); ++i)
      if (options[i]->count() > 0) apply_flag(r, flags[i], values[i]);
    return r;
  }
};

inline std::shared_ptr<SectionArgs> add_section_flags(CLI::App& app, const std::string& section) {
  auto a = std::make_shared<SectionArgs>();
  a->section = section;
  a->flags = section_flags(section);
  a->values.resize(a->flags.size());
  app.add_option("recipe", a->recipe, "Recipe file (TOML) whose [" + section + "] section sets the defaults");
  app.add_option("--set", a->sets, "Override a key: --set " + section + ".lr=3e-4 (repeatable)");
  for (size_t i = 0; i < a->flags.size(); ++i) {
    const SectionFlag& f = a->flags[i];
    a->options.push_back(app.add_option("--" + f.flag, a->values[i], f.help + " (" + f.key + ")")
                             ->default_str(f.default_value)
                             ->type_name(f.type));
  }
  return a;
}

}  // namespace nanoseek::cli
