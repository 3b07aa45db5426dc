// Chat data for SFT: strict JSONL errors name line and field; the loss mask covers exactly the assistant content and
// the token closing each assistant turn (checked token by token for a prompt format and text by text for the chat
// templates); packing keeps samples whole, resumes exactly, and seg ids isolate samples inside the model (logits of a
// sample packed with others equal its logits alone).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/fs.h"
#include "data/chat_pack.h"
#include "model/model.h"
#include "tasks/problem_json.h"
#include "test_util.h"

namespace nanoseek {
namespace {

Tokenizer trained_tok() { return Tokenizer::load(test::source_dir() + "/tests/golden/tokenizer/trained"); }

ChatSample sample(std::vector<ChatMessage> ms) {
  ChatSample s;
  s.messages = std::move(ms);
  s.where = "test sample";
  return s;
}

std::string error_of(std::string_view text) {
  try {
    parse_chat_jsonl(text, "bad.jsonl");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ChatData, MalformedJsonlNamesLineAndField) {
  const std::string ok = R"({"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]})";
  const std::map<std::string, std::string> cases = {
      {ok + "\n{oops", "bad.jsonl line 2 col 2: syntax error"},
      {"\n\n[1,2]", "bad.jsonl line 3: expected a JSON object"},
      {R"({"msgs":[]})", "line 1: missing field 'messages'"},
      {R"({"messages":[]})", "line 1: field 'messages' must be a non-empty array"},
      {R"({"messages":[{"role":"user","content":"q"}]})", "line 1: 'messages' has no assistant message"},
      {R"({"messages":[{"role":"bot","content":"q"}]})", "line 1: messages[0].role is 'bot'"},
      {R"({"messages":[{"role":"user"},{"role":"assistant","content":"a"}]})",
       "line 1: messages[0].content is missing or not a string"},
      {R"({"messages":[{"role":"user","content":"q"},{"role":"assistant","content":7}]})",
       "line 1: messages[1].content is missing or not a string"},
      {R"({"messages":[{"role":"user","content":"q"},{"role":"assistant","content":""}]})",
       "line 1: messages[1].content is empty"},
      {R"({"messages":[{"role":"user","content":"q","name":"x"},{"role":"assistant","content":"a"}]})",
       "line 1: messages[0] has unknown field 'name'"},
      {R"({"messages":[3,{"role":"assistant","content":"a"}]})", "line 1: messages[0] is not an object"},
  };
  for (const auto& [text, want] : cases) EXPECT_NE(error_of(text).find(want), std::string::npos) << error_of(text);
  // A valid file round-trips, metadata kept.
  auto s = parse_chat_jsonl(ok.substr(0, ok.size() - 1) + R"(,"problem":{"a":1}})" + "\n\n" + ok + "\n", "f");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].meta["problem"]["a"], 1);
  EXPECT_EQ(s[1].where, "f line 3");
  EXPECT_EQ(parse_chat_jsonl(chat_jsonl_line(s[0]), "g")[0].messages[1].content, "a");
}

TEST(ChatData, PlainFormatMaskIsExactlyAssistantPlusEos) {
  const Tokenizer tok = trained_tok();
  const std::string q = "Calculate 12 + 30.", a = "<think>\n12 + 30 = 42\n</think>\n<answer>42</answer>";
  ChatRendering r;
  r.format = PromptFormat::Plain;
  const TokenizedSample t = tokenize_chat(sample({{"user", q}, {"assistant", a}}), tok, r);
  // Hand-built: the prompt the model is given at generation time, then " " + solution and EOS (document_text + EOS).
  std::vector<int32_t> want = tok.encode("User: " + q + "\nAssistant:");
  const size_t n_prompt = want.size();
  for (int32_t id : tok.encode(" " + a)) want.push_back(id);
  want.push_back(tok.eos_id());
  ASSERT_EQ(t.tokens, want);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(t.loss[i], i >= n_prompt) << "token " << i;
  EXPECT_EQ(tok.decode(t.tokens), document_text(PromptFormat::Plain, q, a) + "<｜end▁of▁sentence｜>");
  // A system message or two user turns cannot be rendered by a prompt format.
  EXPECT_THROW(tokenize_chat(sample({{"system", "s"}, {"user", q}, {"assistant", a}}), tok, r), Error);
}

// Text under the mask and outside it, for a template rendering.
std::pair<std::string, std::string> split_text(const Tokenizer& tok, const TokenizedSample& t) {
  std::vector<int32_t> in, out;
  for (size_t i = 0; i < t.tokens.size(); ++i) (t.loss[i] ? in : out).push_back(t.tokens[i]);
  return {tok.decode(in), tok.decode(out)};
}

TEST(ChatData, TemplateMaskMultiTurnDeepSeekAndChatML) {
  const Tokenizer tok = trained_tok();
  const auto s = sample({{"system", "Be brief."}, {"user", "2+2?"}, {"assistant", "<think>\nsum\n</think> 4"},
                         {"user", "and 3+3?"}, {"assistant", "6"}});
  ChatRendering r = parse_rendering("template", tok);
  ASSERT_EQ(r.tmpl, ChatTemplate::DeepSeekR1);
  TokenizedSample t = tokenize_chat(s, tok, r);
  EXPECT_EQ(tok.decode(t.tokens), render_chat(r.tmpl, s.messages, false));
  auto [in, out] = split_text(tok, t);
  EXPECT_EQ(in, "<think>\nsum\n</think> 4<｜end▁of▁sentence｜>6<｜end▁of▁sentence｜>");
  EXPECT_EQ(out, "<｜begin▁of▁sentence｜>Be brief.<｜User｜>2+2?<｜Assistant｜><｜User｜>and 3+3?<｜Assistant｜>");

  r = parse_rendering("template:chatml", tok);
  t = tokenize_chat(s, tok, r);
  EXPECT_EQ(tok.decode(t.tokens), render_chat(r.tmpl, s.messages, false));
  std::tie(in, out) = split_text(tok, t);
  EXPECT_EQ(in, "<think>\nsum\n</think> 4<|im_end|>6<|im_end|>");  // the "\n" after <|im_end|> is context
  EXPECT_EQ(out, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
                 "\n<|im_start|>user\nand 3+3?<|im_end|>\n<|im_start|>assistant\n\n");

  // r1-zero has no end-of-turn token: the last assistant turn is closed by EOS.
  r = parse_rendering("template:r1-zero", tok);
  t = tokenize_chat(sample({{"user", "2+2?"}, {"assistant", "<think> x </think> <answer>4</answer>"}}), tok, r);
  std::tie(in, out) = split_text(tok, t);
  EXPECT_EQ(in, "<think> x </think> <answer>4</answer><｜end▁of▁sentence｜>");
  EXPECT_EQ(out, std::string(kR1ZeroPreamble) + " User: 2+2?. Assistant: ");
  // System after a user turn does not extend the DeepSeek rendering (systems are gathered first).
  r = parse_rendering("template", tok);
  EXPECT_THROW(tokenize_chat(sample({{"user", "q"}, {"system", "s"}, {"assistant", "a"}}), tok, r), Error);
}

TEST(ChatData, GenerationPromptInvertsTheSplit) {
  const Tokenizer tok = trained_tok();
  GenerationPrompt g = generation_prompt(parse_rendering("template", tok), "2+2?");
  EXPECT_EQ(g.prompt, "<｜begin▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜><think>\n");
  EXPECT_EQ(g.content("x\n</think>\n<answer>4</answer>"), "<think>\nx\n</think>\n<answer>4</answer>");
  g = generation_prompt(parse_rendering("plain", tok), "2+2?");
  EXPECT_EQ(g.prompt, "User: 2+2?\nAssistant:");
  EXPECT_EQ(g.content(" <think>\nx\n</think>"), "<think>\nx\n</think>");
  g = generation_prompt(parse_rendering("template:r1-zero", tok), "2+2?");
  EXPECT_EQ(g.content(" <think> x </think>"), "<think> x </think>");
}

TEST(ChatData, TaskChatSamplesVerifyAndCycleLevelsAndStyles) {
  TaskChatOptions o;
  o.task = "countdown";
  o.levels = {"d1", "d2"};
  o.n = 8;
  const auto s = make_task_chat(o);
  ASSERT_EQ(s.size(), 8u);
  auto task = make_task("countdown");
  for (size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(s[i].meta["problem"]["level"], i % 2 ? "d2" : "d1");
    EXPECT_EQ(s[i].meta["style"], (i / 2) % 2 ? "selfcheck" : "long");
    const Problem p = problem_from_json(s[i].meta["problem"], "meta");
    EXPECT_EQ(split_of(p), Split::Train);
    ASSERT_EQ(s[i].messages.size(), 2u);
    EXPECT_EQ(s[i].messages[0].content, p.question);
    EXPECT_EQ(task->verify(p, s[i].messages[1].content), Verdict::Correct) << s[i].messages[1].content;
  }
  o.styles = {"wrong"};
  EXPECT_THROW(make_task_chat(o), Error);
}

TokenizedSample synthetic(int64_t id, int64_t len) {  // tokens id·100 + i; loss on the second half
  TokenizedSample s;
  for (int64_t i = 0; i < len; ++i) {
    s.tokens.push_back(int32_t(id * 100 + i));
    s.loss.push_back(i >= len / 2);
  }
  return s;
}

TEST(ChatPack, WholeSamplesPerRowB3T16AndExactResume) {
  std::vector<TokenizedSample> ss;
  Rng r(3);
  for (int64_t i = 0; i < 23; ++i) ss.push_back(synthetic(i + 1, r.range(2, 12)));
  ss.push_back(synthetic(24, 20));  // longer than T: truncated, alone in its row
  ChatPacker p(ss, 3, 16, 9, true, 0);
  EXPECT_EQ(p.truncated(), 1);
  std::map<int64_t, int> seen;
  for (int step = 0; step < 12; ++step) {
    const Batch b = p.next();
    for (int64_t row = 0; row < b.B; ++row) {
      const int32_t* ids = b.ids + row * b.T;
      const int32_t* tg = b.targets + row * b.T;
      const int32_t* sg = b.seg + row * b.T;
      for (int64_t t = 0; t < b.T;) {
        if (ids[t] == 0) {  // padding to the row's end: one segment, no targets
          for (int64_t u = t; u < b.T; ++u) EXPECT_TRUE(ids[u] == 0 && tg[u] == -1 && sg[u] == sg[t]);
          break;
        }
        const int64_t id = ids[t] / 100, len = std::min<int64_t>(int64_t(ss[size_t(id - 1)].tokens.size()), 16);
        ASSERT_EQ(ids[t] % 100, 0) << "a row starts a sample mid-way at " << t;
        for (int64_t i = 0; i < len; ++i) {
          ASSERT_LT(t + i, b.T) << "sample " << id << " split across rows";
          EXPECT_EQ(ids[t + i], id * 100 + i);
          EXPECT_EQ(sg[t + i], sg[t]);
          const bool target = i + 1 < len && ss[size_t(id - 1)].loss[size_t(i + 1)];
          EXPECT_EQ(tg[t + i], target ? id * 100 + i + 1 : -1) << id << " " << i;
        }
        if (t > 0) {
          EXPECT_NE(sg[t], sg[t - 1]);
        }
        ++seen[id];
        t += len;
      }
    }
  }
  EXPECT_EQ(seen.size(), ss.size()) << "every sample seen within 12 batches of 3 rows";
  // Resume: a packer set to another's position continues identically.
  ChatPacker a(ss, 3, 16, 9, true, 0), c(ss, 3, 16, 9, true, 0);
  for (int i = 0; i < 7; ++i) a.next();
  c.set_pos(a.pos());
  for (int i = 0; i < 5; ++i) {
    const Batch x = a.next(), y = c.next();
    EXPECT_TRUE(std::equal(x.ids, x.ids + 48, y.ids) && std::equal(x.targets, x.targets + 48, y.targets));
  }
  EXPECT_THROW(c.set_pos({0, 1000}), Error);
}

TEST(ChatPack, SegIdsIsolateSamplesInModelB1T24) {
  nlohmann::json cj = nlohmann::json::parse(read_file(test::source_dir() + "/configs/tiny.json"));
  cj["hidden_size"] = 32, cj["num_hidden_layers"] = 2, cj["intermediate_size"] = 64, cj["q_lora_rank"] = 16;
  Model m(parse_config(cj, "tiny"));
  m.init(4);
  std::vector<TokenizedSample> ss = {synthetic(1, 7), synthetic(2, 9), synthetic(3, 5)};
  for (auto& s : ss)
    for (auto& t : s.tokens) t = t % 500 + 2;
  ChatPacker packed(ss, 1, 24, 0, false, 1);
  ASSERT_EQ(packed.rows(), 1);
  Workspace ws = plan_workspace(m.cfg, 1, 24, false);
  Batch b = packed.rows_at(0);
  b.targets = nullptr;
  m.forward(b, ws, LossConfig{0, 0});
  const std::vector<float> all = ws.logits;
  const int64_t V = m.cfg.vocab_size;
  int64_t off = 0;
  for (size_t i = 0; i < ss.size(); ++i) {
    ChatPacker alone({ss[i]}, 1, 24, 0, false, 1);
    Batch a = alone.rows_at(0);
    a.targets = nullptr;
    m.forward(a, ws, LossConfig{0, 0});
    const int64_t n = int64_t(ss[i].tokens.size());
    // Alone, the sample sits at positions 0..n−1 instead of off..off+n−1: RoPE scores depend only on the relative
    // position, so the logits agree up to float rounding of the rotations (1e-4 relative is far below the change
    // any leak across samples makes, which is O(1)).
    EXPECT_LT(test::norm_err(ws.logits.data(), all.data() + off * V, size_t(n * V)), 1e-4) << "sample " << i;
    off += n;
  }
  // Without seg ids the second sample attends to the first: its logits change (the test can fail).
  Batch nb = packed.rows_at(0);
  nb.targets = nullptr;
  nb.seg = nullptr;
  m.forward(nb, ws, LossConfig{0, 0});
  EXPECT_GT(test::norm_err(ws.logits.data() + 7 * V, all.data() + 7 * V, size_t(9 * V)), 1e-3);
}

}  // namespace
}  // namespace nanoseek
