// nanoseek tasks sample|verify|chat — look at the task suite by hand; make cold-start SFT data.
//
//   nanoseek tasks sample --task countdown --level d4 --n 3 --split test --style long
//     -> one JSON object per line: the problem's fields, "split", "style" and "solution"
//   nanoseek tasks verify --task add < lines.jsonl   (each line: problem fields + "completion"; --task fills a
//     missing "task") -> one line per input {"line", "verdict", "answer_key"}, and the counts on stderr
//   nanoseek tasks chat --task add --levels d1,d2 --n 200 --styles long,selfcheck --out cold.jsonl
//     -> chat JSONL (user = question, assistant = solution; data/chat_data.h make_task_chat), written atomically
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "cli/command.h"
#include "core/fs.h"
#include "core/error.h"
#include "core/json_io.h"
#include "data/chat_data.h"
#include "tasks/problem_json.h"
#include "tasks/task.h"

namespace nanoseek::cli {
namespace {

struct SampleOpts {
  std::string task, level, split = "train", style = "long", lang = "auto";
  int n = 10;
  uint64_t seed = 0;
};

struct VerifyOpts {
  std::string task, input = "-";
};

struct ChatOpts {
  TaskChatOptions o;
  std::string levels, styles = "long,selfcheck", split = "train", out;
};

int run_chat(ChatOpts& c) {
  c.o.levels = cli::split_csv(c.levels);
  c.o.styles = cli::split_csv(c.styles);
  c.o.split = parse_split(c.split);
  const auto samples = make_task_chat(c.o);
  write_chat_jsonl(c.out, samples);
  std::cerr << fmt::format("wrote {} chat samples ({} {}, styles {}) to {}\n", samples.size(), c.o.task, c.split,
                           c.styles, c.out);
  return 0;
}

int run_sample(const SampleOpts& o) {
  auto task = make_task(o.task);
  Split split = parse_split(o.split);
  SolutionStyle style = parse_style(o.style);
  Lang lang = parse_lang(o.lang);
  check(o.n >= 0, "--n must be >= 0, got {}", o.n);
  uint64_t rng = o.seed;
  for (int i = 0; i < o.n; ++i) {
    Problem p = sample_problem(*task, o.level, split, rng);
    nlohmann::json j = problem_to_json(p);
    j["split"] = split_name(split);
    j["style"] = style_name(style);
    j["solution"] = task->render_solution(p, style, o.seed + static_cast<uint64_t>(i), lang);
    std::cout << j.dump() << '\n';
  }
  return 0;
}

int run_verify(const VerifyOpts& o) {
  std::ifstream file;
  if (o.input != "-") {
    file.open(o.input);
    check(file.good(), "tasks verify: cannot open '{}'", o.input);
  }
  std::istream& in = o.input == "-" ? std::cin : file;
  std::string name = o.input == "-" ? "stdin" : o.input;
  std::map<std::string, std::unique_ptr<Task>> tasks;
  std::map<std::string, int> counts;
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string where = fmt::format("{} line {}", name, lineno);
    nlohmann::json j = parse_json_line(line, where);
    if (j.is_object() && !j.contains("task") && !o.task.empty()) j["task"] = o.task;
    Problem p = problem_from_json(j, where);
    check(j.contains("completion") && j["completion"].is_string(), "{}: missing string field 'completion'", where);
    std::string completion = j["completion"].get<std::string>();
    auto& task = tasks[p.task];
    if (!task) task = make_task(p.task);
    Verdict v = task->verify(p, completion);
    auto key = task->answer_key(p, completion);
    ++counts[verdict_name(v)];
    std::cout << nlohmann::json{{"line", lineno}, {"verdict", verdict_name(v)},
                                {"answer_key", key ? nlohmann::json(*key) : nlohmann::json()}}
                     .dump()
              << '\n';
  }
  std::cerr << fmt::format("correct {}  wrong {}  unparseable {}\n", counts["correct"], counts["wrong"],
                           counts["unparseable"]);
  return 0;
}

const bool registered = add_command({"tasks", "Sample task problems with solutions; verify completions; write cold-start "
                                     "chat JSONL", 30,
  [](CLI::App& app) -> Runner {
    app.require_subcommand(1);
    auto s = std::make_shared<SampleOpts>();
    CLI::App* sample = app.add_subcommand("sample", "Print problems with rendered solutions as JSONL");
    sample->add_option("--task", s->task, "Task name (add, add-zh, countdown, mul)")->required();
    sample->add_option("--level", s->level, "Difficulty level (d1..d4)")->required();
    sample->add_option("--n", s->n, "Number of problems")->capture_default_str();
    sample->add_option("--split", s->split, "train, val or test")->capture_default_str();
    sample->add_option("--seed", s->seed, "Sampling seed")->capture_default_str();
    sample->add_option("--style", s->style, "bare, short, long, selfcheck or wrong")->capture_default_str();
    sample->add_option("--lang", s->lang, "Reasoning language: auto, en, zh, mixed (zh/mixed: add-zh only)")
        ->capture_default_str();
    auto v = std::make_shared<VerifyOpts>();
    CLI::App* verify = app.add_subcommand("verify", "Read JSONL {problem fields, completion}; print verdicts");
    verify->add_option("--task", v->task, "Task for lines without a 'task' field");
    verify->add_option("--in", v->input, "Input JSONL file ('-' = stdin)")->capture_default_str();
    auto c = std::make_shared<ChatOpts>();
    CLI::App* chat = app.add_subcommand("chat", "Write cold-start chat JSONL: user = question, assistant = solution");
    chat->add_option("--task", c->o.task, "Task name (add, add-zh, countdown, mul)")->required();
    chat->add_option("--levels", c->levels, "Comma-separated levels (default: all); sample i uses level i mod L");
    chat->add_option("--n", c->o.n, "Number of samples")->capture_default_str();
    chat->add_option("--styles", c->styles, "Comma-separated solution styles (not 'wrong'), cycled")
        ->capture_default_str();
    chat->add_option("--split", c->split, "train, val or test")->capture_default_str();
    chat->add_option("--seed", c->o.seed, "Problem and solution seed")->capture_default_str();
    chat->add_option("--out", c->out, "Output JSONL file")->required();
    return [s, v, c, sample, chat] {
      if (sample->parsed()) return run_sample(*s);
      if (chat->parsed()) {
        check_output_path(c->out, "tasks chat --out");
        return run_chat(*c);
      }
      return run_verify(*v);
    };
  }});

}  // namespace
}  // namespace nanoseek::cli
