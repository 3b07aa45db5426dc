#include "train/pretrain.h"

#include <fmt/format.h>
#include <omp.h>

#include <chrono>

#include "core/error.h"
#include "core/json_io.h"
#include "core/fs.h"

namespace nanoseek {

PretrainStage::PretrainStage(const PretrainSpec& r, const LanguageModel& m, std::shared_ptr<const Shard> train,
                             std::shared_ptr<const Shard> val, Tokenizer tok, std::string tokenizer_dir)
    : ws(m.plan(r.batch_size, r.seq_len, true)),
      r_(r),
      train_(std::move(train)),
      val_(std::move(val)),
      loader_(*train_, r.batch_size, r.seq_len, r.seed, true, r.pack),
      tok_(std::move(tok)),
      tok_dir_(std::move(tokenizer_dir)),
      lc_{r.mtp_lambda, r.alpha} {}

MicroResult PretrainStage::micro_step(LanguageModel& m, int64_t, int) {
  const Batch b = loader_.next();
  MicroResult out;
  out.tokens = b.B * b.T;  // row positions processed, padding included (tokens/s is compute throughput)
  StepStats s = m.forward(b, *ws, lc_);
  m.backward(b, *ws, lc_);
  out.metrics = {{"loss", s.loss}, {"ce_loss", s.ce}};
  if (m.routed_layers() > 0) {   // the DeepSeek-V3 terms (a dense model has neither)
    out.metrics["mtp_loss"] = s.mtp;
    out.metrics["balance_loss"] = s.bal;
  }
  out.expert_load = std::move(s.expert_load);
  return out;
}

nlohmann::json PretrainStage::state() const {
  return {{"loader_epoch", loader_.pos().epoch}, {"loader_cursor", loader_.pos().cursor}};
}

void PretrainStage::restore(const nlohmann::json& j) {
  loader_.set_pos({j.at("loader_epoch").get<int64_t>(), j.at("loader_cursor").get<int64_t>()});
}

std::map<std::string, double> PretrainStage::evaluate(LanguageModel& m, int64_t step) {
  auto out = validation_loss(m, *val_, r_.batch_size, r_.seq_len, r_.val_batches, r_.pack);
  if (r_.problems_per_level > 0) {
    AccuracyOptions o;
    o.tasks = r_.eval_tasks.empty() ? r_.data.tasks : r_.eval_tasks;
    o.levels = r_.eval_levels;
    o.problems_per_level = r_.problems_per_level;
    o.max_new_tokens = int(r_.max_new_tokens);
    o.format = r_.format;
    // The last evaluation reports held-out TEST problems; periodic ones use the validation split.
    const bool final = step == r_.steps;
    o.split = final ? Split::Test : Split::Val;
    for (auto& [k, v] : task_accuracy(m, tok_, o)) out[(final ? "test_" : "val_") + k] = v;
  }
  return out;
}

void PretrainStage::save_extra(const std::string& dir) const {
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    if (file_exists(tok_dir_ + "/" + f)) write_file_atomic(dir + "/" + f, read_file(tok_dir_ + "/" + f));
}

namespace {

double mib(double bytes) { return bytes / double(1 << 20); }

// What a --resume must share with the checkpoint: the model, the data, the batch shape and the seed (steps, the
// schedule and eval settings may change: extending a run is a resume).
nlohmann::json pretrain_fingerprint(const PretrainSpec& r, const nlohmann::json& model) {
  return {{"model", model},           {"data", corpus_spec_json(r.data)}, {"corpus", r.corpus},
          {"batch_size", r.batch_size}, {"seq_len", r.seq_len},           {"grad_accum", r.grad_accum},
          {"pack", pack_name(r.pack)},  {"seed", r.seed}};
}

// A corpus built into OUT/corpus by an earlier run is reused only for the [data] it was built from.
void check_corpus_spec(const std::string& corpus, const CorpusSpec& want) {
  const std::string path = corpus + "/corpus.json";
  const auto j = nlohmann::json::parse(read_file(path), nullptr, false);
  check(!j.is_discarded() && j.is_object(), "{}: not a JSON object", path);
  if (!j.contains("spec")) return;   // built before corpus.json recorded its spec: nothing to compare with
  const nlohmann::json now = corpus_spec_json(want);
  const nlohmann::json built = j["spec"];
  std::string diff;
  for (const auto& [k, v] : now.items())
    if (!built.contains(k) || built[k] != v)
      diff += fmt::format("{}data.{} (built {}, recipe {})", diff.empty() ? "" : "; ", k,
                          built.contains(k) ? built[k].dump() : "unrecorded", v.dump());
  check(diff.empty(), "{}: the corpus was built from a different [data] section: {}; run with --overwrite to rebuild "
        "it (a new run), or restore the recipe's [data]", path, diff);
}

// The finished run's metrics (OUT/final/eval.json is written last, with final/ as one rename).
bool finished(const std::string& out, PretrainResult& res, bool quiet) {
  const std::string ev = out + "/final/eval.json";
  if (!file_exists(ev)) return false;
  const auto j = nlohmann::json::parse(read_file(ev), nullptr, false);
  check(!j.is_discarded() && j.is_object(), "{}: not a JSON object", ev);
  res.completed = true;
  res.steps = j.value("steps", int64_t(0));
  res.train_seconds = j.value("train_seconds", 0.0);
  for (const auto& [k, v] : j.items())
    if (v.is_number()) res.final_eval[k] = v.get<double>();
  if (!quiet) fmt::print("{}: the run is complete ({} steps; final model {}/final); nothing to resume\n", out,
                         res.steps, out);
  return true;
}

void check_recipe(const PretrainSpec& r) {
  check(r.steps > 0, "{}: train.steps must be > 0", r.path);
  check(r.batch_size > 0 && r.seq_len > 1 && r.grad_accum > 0,
        "{}: train.batch_size, train.seq_len (>1) and train.grad_accum must be positive", r.path);
  r.optim.check(r.path + " [train]");
  check(r.optim.warmup < r.steps, "{}: train.warmup ({}) must be in [0, steps)", r.path, r.optim.warmup);
  check(r.gamma >= 0 && r.alpha >= 0 && r.mtp_lambda >= 0, "{}: gamma, alpha and mtp_lambda must be >= 0", r.path);
}

// The tokenized corpus a pretraining run reads.
struct Corpus {
  Tokenizer tok;
  std::string tok_dir;
  std::shared_ptr<const Shard> train, val;
};

// Trains a freshly initialised model of either architecture and writes OUT/final (+ eval.json).
PretrainResult train_model(const PretrainSpec& r, LanguageModel& m, const Corpus& c, const std::string& out,
                           bool resume, bool quiet, std::chrono::steady_clock::time_point t0) {
  const ModelSummary ms = summarize_config(m.config_json(), r.path + " [model]", r.seq_len);
  check(m.vocab_size() >= c.tok.vocab_size(), "{}: model.vocab_size {} is smaller than the tokenizer's {}", r.path,
        m.vocab_size(), c.tok.vocab_size());
  check(r.seq_len <= ms.max_positions, "{}: train.seq_len {} exceeds max_position_embeddings {}", r.path, r.seq_len,
        ms.max_positions);
  m.enable_grad();
  PretrainStage stage(r, m, c.train, c.val, c.tok, c.tok_dir);

  TrainConfig tc;
  tc.steps = r.steps;
  tc.grad_accum = r.grad_accum;
  set_optimizer(tc, r.optim);
  tc.gamma = m.has_router_bias() ? r.gamma : 0.0;
  tc.gamma_until = r.gamma_until;
  tc.log_every = r.log_every;
  tc.eval_every = r.eval_every;
  tc.ckpt_every = r.ckpt_every;
  tc.keep_ckpts = int(r.keep_ckpts);
  tc.out_dir = out;
  tc.quiet = quiet;
  tc.seed = r.seed;
  tc.fingerprint = pretrain_fingerprint(r, m.config_json());

  if (!quiet) {
    fmt::print("model: {} ({}) {} params ({} active/token) + {} MTP, vocab {}, {} layers, hidden {}\n",
               ms.model_type, ms.architecture, ms.total_params, ms.active_params_per_token, ms.mtp_params,
               ms.vocab_size, ms.layers, ms.hidden_size);
    const int64_t per_step = r.batch_size * r.seq_len * r.grad_accum;
    fmt::print("batch: B {} x T {} x accum {} = {} tokens/step; {} steps = {:.2f}M tokens ({:.2f} epochs of {} "
               "train tokens)\n",
               r.batch_size, r.seq_len, r.grad_accum, per_step, r.steps, double(per_step * r.steps) / 1e6,
               double(per_step * r.steps) / double(c.train->tokens.size()), c.train->tokens.size());
    const double pb = double(m.param_buffer().size() * sizeof(float)), ab = double(stage.ws->bytes);
    const double cb = tc.precision == Precision::Bf16 ? pb / 2 : 0;   // the trainer's bf16 weight copy
    fmt::print("memory: params {:.1f} MiB, grads {:.1f} MiB, Adam moments {:.1f} MiB, activations {:.1f} MiB "
               "(B x T = {} x {}){}, total {:.1f} MiB; {} threads\n",
               mib(pb), mib(pb), mib(2 * pb), mib(ab), r.batch_size, r.seq_len,
               cb > 0 ? fmt::format(", bf16 weight copy {:.1f} MiB", mib(cb)) : "", mib(4 * pb + ab + cb),
               omp_get_max_threads());
    if (m.routed_layers() > 0)
      fmt::print("balancing: gamma {} (aux-loss-free bias), alpha {} (sequence-wise loss); MTP lambda {}\n",
                 tc.gamma, r.alpha, r.mtp_lambda);
  }

  Trainer trainer(m, tc, stage);
  if (resume) trainer.resume();
  PretrainResult res;
  res.completed = trainer.run();
  res.steps = trainer.step();
  res.losses = trainer.losses;
  res.train_seconds = trainer.train_seconds;
  res.final_eval = trainer.last_eval;
  if (res.completed) {
    nlohmann::json ev = res.final_eval;
    ev["steps"] = res.steps;
    ev["train_seconds"] = res.train_seconds;
    ev["threads"] = omp_get_max_threads();
    ev["seed"] = r.seed;
    ev["prompt_format"] = prompt_format_name(r.format);  // what the RL stage must prompt with (data/corpus.h prompt_text)
    ev["tasks"] = r.data.tasks;
    trainer.save_final(out + "/final", {{"eval.json", ev.dump(1) + "\n"}});
    if (!quiet) fmt::print("final model: {}/final\n", out);
  }
  res.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace

PretrainResult run_pretrain(PretrainSpec r, const std::string& out, bool resume, bool quiet) {
  const auto t0 = std::chrono::steady_clock::now();
  check_recipe(r);
  if (r.threads > 0) omp_set_num_threads(int(r.threads));
  r.data.format = r.format;
  make_dirs(out);
  if (resume) {
    PretrainResult done;
    if (finished(out, done, quiet)) return done;
  }

  // Corpus: given, reused from OUT/corpus, or built there now.
  Corpus c;
  std::string corpus = r.corpus;
  if (corpus.empty()) {
    corpus = out + "/corpus";
    if (!file_exists(corpus + "/corpus.json")) {
      build_corpus(r.data, corpus, !quiet);
    } else {
      check_corpus_spec(corpus, r.data);
      if (!quiet) fmt::print("corpus: reusing {}\n", corpus);
    }
  }
  c.tok_dir = corpus + "/tokenizer";
  c.tok = Tokenizer::load(c.tok_dir);
  c.train = std::make_shared<const Shard>(read_shard(corpus + "/train.bin", c.tok.vocab_size()));
  c.val = std::make_shared<const Shard>(read_shard(corpus + "/val.bin", c.tok.vocab_size()));

  const nlohmann::json cj = model_config_json(r, c.tok.vocab_size(), c.tok.bos_id(), c.tok.eos_id());
  preflight_training_memory(cj, r.path + " [model]");
  const std::unique_ptr<LanguageModel> m = make_language_model(cj, r.path + " [model]");
  m->init(r.seed);
  return train_model(r, *m, c, out, resume, quiet, t0);
}

nlohmann::json model_config_json(const PretrainSpec& r, int64_t vocab, int64_t bos, int64_t eos) {
  nlohmann::json j = nlohmann::json::object();
  if (!r.model_config.empty()) {
    j = read_json_file(r.model_config);
    check(j.is_object(), "{}: not a JSON object", r.model_config);
  }
  for (auto& [k, v] : r.model_inline.items()) j[k] = v;
  if (!r.model_inline.contains("vocab_size")) j["vocab_size"] = vocab;
  if (!r.model_inline.contains("bos_token_id")) j["bos_token_id"] = bos;
  if (!r.model_inline.contains("eos_token_id")) j["eos_token_id"] = eos;
  return j;
}

}  // namespace nanoseek
