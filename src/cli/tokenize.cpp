// nanoseek tokenize --tokenizer DIR --jsonl IN: one {"text": ...} per input line -> one
// {"ids": [...], "decoded": "..."} per output line (no BOS/EOS; special-token strings are recognised;
// decoded keeps special tokens). Any bad line is an error naming its line number (exit code 1).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/error.h"
#include "core/json_io.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace nanoseek::cli {
namespace {

struct TokenizeOpts {
  std::string tokenizer, jsonl;
};

int run_tokenize(const TokenizeOpts& o) {
  Tokenizer tok = Tokenizer::load(o.tokenizer);
  std::ifstream file;
  std::istream* in = &std::cin;
  if (o.jsonl != "-") {
    file.open(o.jsonl, std::ios::binary);
    check(file.good(), "{}: cannot open for reading", o.jsonl);
    in = &file;
  }
  std::string name = o.jsonl == "-" ? "<stdin>" : o.jsonl, line, out;
  for (size_t lineno = 1; std::getline(*in, line); ++lineno) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string where = fmt::format("{} line {}", name, lineno);
    unicode::check_utf8(line, where);
    const nlohmann::json j = parse_json_line(line, where);
    check(j.is_object() && j.contains("text") && j["text"].is_string(), "{}: expected an object with a string \"text\"",
          where);
    std::string text = j["text"].get<std::string>();
    std::vector<int32_t> ids;
    try {
      ids = tok.encode(text);
    } catch (const Error& e) {
      fail("{}: {}", where, e.what());
    }
    nlohmann::ordered_json r;  // keeps "ids" before "decoded"
    r["ids"] = ids;
    r["decoded"] = tok.decode(ids);
    out = r.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::strict);
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  std::fflush(stdout);
  return 0;
}

const bool registered = add_command({"tokenize", "Encode JSONL {\"text\"} lines to ids (and decode them back)", 15,
                                     [](CLI::App& app) -> Runner {
                                       auto o = std::make_shared<TokenizeOpts>();
                                       app.add_option("--tokenizer", o->tokenizer,
                                                      "Directory with tokenizer.json (+ tokenizer_config.json)")
                                           ->required();
                                       app.add_option("--jsonl", o->jsonl, "Input JSONL file, or - for stdin")
                                           ->required();
                                       return [o] { return run_tokenize(*o); };
                                     }});

}  // namespace
}  // namespace nanoseek::cli
