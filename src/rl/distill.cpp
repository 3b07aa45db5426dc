// run_distill (see distill.h): teacher sampling → filter → chat data → dense SFT (+ top-k KD) with the shared
// Trainer → OUT/final.
#include "rl/distill.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <span>

#include "core/error.h"
#include "core/json_io.h"
#include "core/fs.h"
#include "core/rng.h"
#include "data/corpus.h"
#include "infer/session.h"
#include "model/language_model.h"
#include "train/eval.h"
#include "rl/kd_loss.h"
#include "rl/rewards.h"
#include "train/trainer.h"

namespace nanoseek {

using json = nlohmann::json;

std::string assistant_prefill(std::string_view prompt) {
  for (std::string_view tag : {"<think>\n", "<think>"})
    if (prompt.ends_with(tag)) return std::string(tag);
  return "";
}

SampleJudgement judge_sample(const Task& task, const Problem& p, std::string_view text) {
  return {accuracy_reward(task, p, text).value == 1.0, format_reward(text).value == 1.0};
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One kept sample: prompt + completion tokens; the teacher's top-k per completion token (when KD is on).
struct Example {
  std::vector<int32_t> seq;     // prompt then completion
  int64_t prompt_len = 0;
  std::vector<int32_t> kd_ids;  // [completion_len, K]
  std::vector<float> kd_lp;     // [completion_len, K]
};

// SFT (+ KD) on the kept samples. Micro-batch contents are a pure function of (step, micro), so a resumed run
// sees the same batches: global example index g = (step·accum + micro)·B + b, shuffled per epoch.
class DistillStage : public TrainStage {
 public:
  DistillStage(const LanguageModel& m, std::vector<Example> ex, const DistillOptions& o, std::string tok_dir)
      : ex_(std::move(ex)), o_(o), tok_dir_(std::move(tok_dir)) {
    B_ = std::min<int64_t>(o.batch_size, int64_t(ex_.size()));
    for (const Example& e : ex_) T_ = std::max<int64_t>(T_, int64_t(e.seq.size()) - 1);
    acts_ = m.plan(B_, T_, true);
    V_ = m.vocab_size();
    ids_.resize(size_t(B_ * T_));
    targets_.resize(size_t(B_ * T_));
    if (o_.kd_topk > 0) extra_.resize(size_t(B_ * T_ * V_));
  }
  int64_t B() const { return B_; }
  int64_t T() const { return T_; }
  size_t act_bytes() const { return acts_->bytes + extra_.size() * sizeof(float); }

  MicroResult micro_step(LanguageModel& m, int64_t step, int micro) override {
    const int64_t n = int64_t(ex_.size());
    std::fill(ids_.begin(), ids_.end(), 0);
    std::fill(targets_.begin(), targets_.end(), -1);
    std::vector<const Example*> rows(static_cast<size_t>(B_), nullptr);
    for (int64_t b = 0; b < B_; ++b) {
      const int64_t g = (step * o_.grad_accum + micro) * B_ + b;
      rows[b] = &ex_[size_t(perm(g / n)[size_t(g % n)])];
      const Example& e = *rows[b];
      for (int64_t t = 0; t + 1 < int64_t(e.seq.size()); ++t) {
        ids_[b * T_ + t] = e.seq[t];
        if (t + 1 >= e.prompt_len) targets_[b * T_ + t] = e.seq[t + 1];   // completion tokens only
      }
    }
    const Batch batch{B_, T_, ids_.data(), targets_.data(), nullptr};
    // SFT (+ KD) on the main head only: no MTP term, no balance loss (a DeepSeek-V3 student's modules keep theirs)
    const LossConfig main_only{0.0, 0.0};
    StepStats st = m.forward(batch, *acts_, main_only);
    double kd = 0;
    int64_t kd_rows = 0;
    const float* extra = nullptr;
    if (o_.kd_topk > 0) {
      std::vector<int64_t> rr;
      std::vector<int32_t> kid;
      std::vector<float> klp;
      for (int64_t b = 0; b < B_; ++b) {
        const Example& e = *rows[b];
        const int64_t C = int64_t(e.seq.size()) - e.prompt_len;
        for (int64_t c = 0; c < C; ++c) rr.push_back(b * T_ + e.prompt_len - 1 + c);   // row predicting token c
        kid.insert(kid.end(), e.kd_ids.begin(), e.kd_ids.end());
        klp.insert(klp.end(), e.kd_lp.begin(), e.kd_lp.end());
      }
      kd_rows = int64_t(rr.size());
      std::fill(extra_.begin(), extra_.end(), 0.f);
      // mean over completion rows: the same normalisation as the CE term
      const double scale = kd_rows ? o_.kd_weight / double(kd_rows) : 0.0;
      kd = topk_kl(acts_->logits.data(), V_, rr.data(), kd_rows, o_.kd_topk, kid.data(), klp.data(), scale, extra_.data());
      extra = extra_.data();
    }
    m.backward(batch, *acts_, main_only, extra);
    MicroResult r;
    r.tokens = st.ce_count;
    r.metrics = {{"loss", st.loss + kd}, {"ce_loss", st.loss}};
    r.expert_load = std::move(st.expert_load);
    if (o_.kd_topk > 0) r.metrics["kd_kl"] = o_.kd_weight > 0 ? kd / o_.kd_weight : 0.0;
    return r;
  }

  void save_extra(const std::string& dir) const override {
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      if (file_exists(tok_dir_ + "/" + f)) write_file_atomic(dir + "/" + f, read_file(tok_dir_ + "/" + f));
  }

 private:
  const std::vector<int64_t>& perm(int64_t epoch) {
    if (epoch != perm_epoch_) {
      perm_.resize(ex_.size());
      std::iota(perm_.begin(), perm_.end(), 0);
      Rng r = Rng::derive(o_.seed ^ 0x5ffd15711ULL, uint64_t(epoch));
      for (size_t i = perm_.size(); i > 1; --i) std::swap(perm_[i - 1], perm_[r.below(i)]);
      perm_epoch_ = epoch;
    }
    return perm_;
  }

  std::vector<Example> ex_;
  const DistillOptions& o_;
  std::string tok_dir_;
  int64_t B_ = 0, T_ = 1, V_ = 0;
  std::unique_ptr<Activations> acts_;
  std::vector<int32_t> ids_, targets_;
  std::vector<float> extra_;   // [B·T, V] KD gradient on the logits (zero off the completion rows)
  std::vector<int64_t> perm_;
  int64_t perm_epoch_ = -1;
};

std::unique_ptr<LanguageModel> make_student(const DistillOptions& o, const Tokenizer& tok) {
  if (dir_exists(o.student)) {
    auto m = load_language_model(o.student);
    check(m->vocab_size() >= tok.vocab_size(),
          "{}: the student's vocab_size {} is smaller than the teacher tokenizer's {} (they must share it)", o.student,
          m->vocab_size(), tok.vocab_size());
    return m;
  }
  check(file_exists(o.student), "--student {}: neither a model directory nor a config JSON file", o.student);
  json j = read_json_file(o.student);
  check(j.is_object(), "{}: not a JSON object", o.student);
  j["vocab_size"] = tok.vocab_size();   // the student speaks the teacher's tokenizer
  if (tok.bos_id() >= 0) j["bos_token_id"] = tok.bos_id();
  if (tok.eos_id() >= 0) j["eos_token_id"] = tok.eos_id();
  auto m = make_language_model(j, o.student);
  m->init(o.seed);
  return m;
}

std::string teacher_format(const DistillOptions& o, json& teacher_eval) {
  const std::string path = o.teacher + "/eval.json";
  if (file_exists(path)) {
    teacher_eval = read_json_file(path);
    check(teacher_eval.is_object(), "{}: not a JSON object", path);
  }
  if (!o.format.empty()) return o.format;
  if (teacher_eval.is_object() && teacher_eval.contains("prompt_format")) {
    check(teacher_eval["prompt_format"].is_string(), "{}: field 'prompt_format' must be a string", path);
    return teacher_eval["prompt_format"].get<std::string>();
  }
  return "r1-zero";
}

void check_options(const DistillOptions& o) {
  check(!o.teacher.empty() && !o.student.empty() && !o.out.empty(), "distill: --teacher, --student and --out are required");
  check(o.problems >= 1 && o.k >= 1, "distill: --problems ({}) and --k ({}) must be >= 1", o.problems, o.k);
  check(o.filter == "correct" || o.filter == "all", "distill: --filter must be correct or all, got '{}'", o.filter);
  check(o.kd_topk >= 0 && o.kd_weight >= 0, "distill: --kd-topk and --kd-weight must be >= 0");
  check(o.kd_weight == 0 || o.kd_topk > 0, "distill: --kd-weight {} needs --kd-topk > 0", o.kd_weight);
  check(o.steps >= 1 && o.batch_size >= 1 && o.grad_accum >= 1, "distill: --steps, --batch and --accum must be >= 1");
  check(o.optim.warmup >= -1 && o.optim.warmup < o.steps, "distill: need -1 <= warmup < steps (got {} and {})",
        o.optim.warmup, o.steps);
  OptimSpec op = o.optim;
  op.warmup = 0;
  op.check("distill");
  check(o.max_new_tokens >= 1 && o.max_batch >= o.k, "distill: --max-tokens >= 1 and engine batch >= k needed");
}

}  // namespace

DistillResult run_distill(const DistillOptions& o) {
  check_options(o);
  DistillResult res;
  make_dirs(o.out);
  if (o.resume && file_exists(o.out + "/final/eval.json")) {   // final/ is written whole, as one rename
    res.completed = true;
    res.final_dir = o.out + "/final";
    res.steps = o.steps;
    if (!o.quiet) fmt::print("{}: the run is complete (final student {}); nothing to resume\n", o.out, res.final_dir);
    return res;
  }
  TextModel teacher = load_text_model(o.teacher);
  const Tokenizer& tok = teacher.tok;
  json teacher_eval = json::object();
  const std::string format_name = teacher_format(o, teacher_eval);
  const PromptFormat format = parse_prompt_format(format_name);
  auto task = make_task(o.task);
  const std::vector<std::string> levels = o.levels.empty() ? task->levels() : o.levels;
  const auto known = task->levels();
  for (const auto& l : levels)
    check(std::find(known.begin(), known.end(), l) != known.end(), "distill: task {} has no level '{}'", o.task, l);

  // 1. training problems (the TRAIN split; the final evaluation uses TEST) and their prompts
  std::vector<Problem> problems;
  for (size_t li = 0; li < levels.size(); ++li) {
    uint64_t state = (o.seed + 0x9e3779b9ULL) * 1000003 + li;
    for (int64_t i = 0; i < o.problems; ++i) problems.push_back(sample_problem(*task, levels[li], Split::Train, state));
  }
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::string> prompt_texts;
  int64_t max_prompt = 0;
  for (const Problem& p : problems) {
    prompt_texts.push_back(prompt_text(format, p.question));
    prompts.push_back(tok.encode(prompt_texts.back()));
    max_prompt = std::max<int64_t>(max_prompt, int64_t(prompts.back().size()));
  }
  const int64_t max_len = std::min<int64_t>(max_prompt + o.max_new_tokens, teacher.max_positions());
  check(max_prompt < max_len, "distill: prompts of {} tokens leave no room in the teacher's {} positions", max_prompt,
        teacher.max_positions());

  // 2. teacher samples, judged; the kept ones (with the teacher's top-k per completion token) become examples
  const auto tg = std::chrono::steady_clock::now();
  const int64_t slots = sample_slots(o.max_batch, int64_t(problems.size()), o.k);
  auto engine = teacher.make_engine(slots, max_len);
  if (!o.quiet)
    fmt::print("teacher: {} problems x {} samples ({} format); {}\n", problems.size(), o.k, format_name,
               engine->plan().describe());
  const int64_t Vs = tok.vocab_size();
  const int64_t Vt = teacher.vocab_size();
  const int64_t K = o.kd_topk;
  check(K <= Vs, "distill: --kd-topk {} exceeds the vocabulary ({})", K, Vs);
  std::vector<Example> examples;
  std::string jsonl;
  const SamplingParams sp = protocol_sampling(o, Vs, teacher.stop_ids);
  generate_batched(*engine, slots, prompts, o.k, sp, [&](size_t p0, size_t p1, std::vector<Completion>& outs) {
    for (const Completion& c : outs) {
      const size_t pi = p0 + size_t(c.prompt_index);
      const Problem& prob = problems[pi];
      // Special tokens stay: <think>/</think>/<answer> are special in our tokenizers and the judges need them.
      // Only the stop token that ended the sample is left out of the text.
      const std::string completion = tok.decode(completion_body(c, teacher.stop_ids));
      const std::string text = assistant_prefill(prompt_texts[pi]) + completion;
      const SampleJudgement jd = judge_sample(*task, prob, text);
      ++res.generated;
      res.correct += jd.correct;
      res.well_formatted += jd.formatted;
      if (o.filter == "correct" && !(jd.correct && jd.formatted)) continue;
      if (c.tokens.empty()) continue;
      Example e;
      e.seq = prompts[pi];
      e.prompt_len = int64_t(e.seq.size());
      e.seq.insert(e.seq.end(), c.tokens.begin(), c.tokens.end());
      if (K > 0) {   // teacher forward over prompt + completion: rows P−1 … P+C−2 predict the completion tokens
        std::vector<int32_t> ctx(e.seq.begin(), e.seq.end() - 1);
        const std::vector<float> logits = engine->prefill_logits(ctx);
        const int64_t C = int64_t(c.tokens.size());
        e.kd_ids.resize(size_t(C * K));
        e.kd_lp.resize(size_t(C * K));
        for (int64_t t = 0; t < C; ++t)   // ids the student can emit only (the teacher's extra ids are untrained)
          topk_logprobs(&logits[size_t((e.prompt_len - 1 + t) * Vt)], Vs, K, &e.kd_ids[t * K], &e.kd_lp[t * K]);
      }
      res.completion_tokens += int64_t(c.tokens.size());
      json line = {{"messages", json::array({{{"role", "user"}, {"content", prob.question}},
                                             {{"role", "assistant"}, {"content", text}}})},
                   {"prompt", prompt_texts[pi]},
                   {"completion", completion},
                   {"task", prob.task},
                   {"level", prob.level},
                   {"answer", prob.answer},
                   {"correct", jd.correct},
                   {"formatted", jd.formatted},
                   {"finish_reason", c.finish_reason}};
      jsonl += line.dump() + "\n";
      examples.push_back(std::move(e));
    }
    if (!o.quiet) {
      std::fprintf(stderr, "\rteacher: %zu/%zu problems, kept %zu samples   ", p1, problems.size(), examples.size());
      std::fflush(stderr);
    }
  });
  if (!o.quiet) std::fprintf(stderr, "\n");
  res.kept = int64_t(examples.size());
  res.generate_seconds = seconds_since(tg);
  write_file_atomic(o.out + "/distill.jsonl", jsonl);
  if (!o.quiet)
    fmt::print("teacher: {} samples, {} correct, {} well formatted, {} kept ({} completion tokens) in {}\n",
               res.generated, res.correct, res.well_formatted, res.kept, res.completion_tokens,
               format_duration(res.generate_seconds));
  check(res.kept > 0,
        "distill: none of the teacher's {} samples of {} was both correct and well formatted (accuracy {}/{}, format "
        "{}/{}); use a stronger teacher, more --problems/--k, or --filter all",
        res.generated, o.teacher, res.correct, res.generated, res.well_formatted, res.generated);

  // 3. the student learns the kept samples with the shared Trainer
  auto student = make_student(o, tok);
  int64_t longest = 0;
  for (const Example& e : examples) longest = std::max<int64_t>(longest, int64_t(e.seq.size()) - 1);
  check(longest <= student->max_positions(),
        "distill: samples of {} tokens exceed the student's max_position_embeddings {}", longest,
        student->max_positions());
  DistillStage stage(*student, std::move(examples), o, o.teacher);
  TrainConfig tc;
  tc.steps = o.steps;
  tc.grad_accum = o.grad_accum;
  OptimSpec optim = o.optim;
  if (optim.warmup < 0) optim.warmup = o.steps / 10;
  set_optimizer(tc, optim);
  tc.gamma = 0;
  tc.log_every = std::max<int64_t>(1, o.steps / 10);
  tc.out_dir = o.out;
  tc.quiet = o.quiet;
  tc.seed = o.seed;
  tc.fingerprint = {{"teacher", o.teacher}, {"student", o.student}, {"task", o.task},       {"levels", levels},
                    {"problems", o.problems}, {"k", o.k},           {"filter", o.filter},   {"kd_topk", o.kd_topk},
                    {"batch_size", o.batch_size}, {"grad_accum", o.grad_accum}, {"seed", o.seed}};
  if (!o.quiet)
    fmt::print("student: {}, hidden {}, {} params; batch {} x {} tokens x accum {}; activations {:.1f} MiB; "
               "KD top-{} weight {}\n",
               student->model_type(), student->hidden_size(), student->param_buffer().size(), stage.B(), stage.T(),
               o.grad_accum, double(stage.act_bytes()) / (1 << 20), K, o.kd_weight);
  Trainer trainer(*student, tc, stage);
  if (o.resume) trainer.resume();
  res.completed = trainer.run();
  res.steps = trainer.step();
  res.losses = trainer.losses;
  res.train_seconds = trainer.train_seconds;
  if (!res.completed) return res;

  // 4. OUT/final + eval.json (what the next stage needs: prompt format and tasks)
  res.final_dir = o.out + "/final";
  json ev = json::object();
  ev["prompt_format"] = format_name;
  ev["tasks"] = teacher_eval.contains("tasks") ? teacher_eval["tasks"] : json::array({o.task});
  ev["distill"] = {{"teacher", o.teacher}, {"task", o.task}, {"levels", levels}, {"generated", res.generated},
                   {"correct", res.correct}, {"well_formatted", res.well_formatted}, {"kept", res.kept},
                   {"completion_tokens", res.completion_tokens}, {"filter", o.filter}, {"kd_topk", K},
                   {"kd_weight", o.kd_weight}, {"steps", res.steps}, {"train_seconds", res.train_seconds},
                   {"generate_seconds", res.generate_seconds}};
  if (o.eval_problems > 0) {
    EvalOptions eo;
    eo.task = o.task;
    eo.levels = levels;
    eo.problems_per_level = o.eval_problems;
    eo.k = 1;
    eo.max_new_tokens = o.max_new_tokens;
    eo.format = format;
    eo.seed = o.seed;
    eo.max_batch = o.max_batch;
    const EvalReport s = evaluate(*student, tok, eo);
    const EvalReport t = evaluate(*teacher.model, tok, eo);
    res.eval = {{"student", s.to_json()}, {"teacher", t.to_json()}};
    ev["eval"] = res.eval;
    if (!o.quiet) fmt::print("test pass@1: student {:.1f}%, teacher {:.1f}%\n", 100 * s.overall.pass1, 100 * t.overall.pass1);
  }
  ev["threads"] = omp_get_max_threads();
  ev["seed"] = o.seed;
  trainer.save_final(res.final_dir, {{"eval.json", ev.dump(1) + "\n"}});
  if (!o.quiet) fmt::print("final student: {}\n", res.final_dir);
  return res;
}

}  // namespace nanoseek
