// Chat templates against strings rendered by the real Jinja templates (tools/tokenizer/make_chat_goldens.py:
// DeepSeek-V3's template + R1's "<think>\n", Qwen3's template where it is plain ChatML) and the spec §7.2
// R1-Zero wording.
#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

#include "core/error.h"
#include "test_util.h"
#include "tokenizer/bpe_trainer.h"

using namespace nanoseek;

namespace {

TEST(TokenizerChatTemplate, MatchesJinjaGoldens30Cases) {
  std::istringstream in(read_file(test::golden_dir() + "/chat_templates.jsonl"));
  int n = 0;
  for (std::string line; std::getline(in, line); ++n) {
    auto r = nlohmann::json::parse(line);
    std::vector<ChatMessage> msgs;
    for (auto& m : r["messages"]) msgs.push_back({m["role"], m["content"]});
    ChatTemplate t = parse_chat_template(r["template"].get<std::string>());
    EXPECT_EQ(render_chat(t, msgs, r["add_generation_prompt"]), r["expected"].get<std::string>()) << line;
  }
  EXPECT_EQ(n, 30);
}

TEST(TokenizerChatTemplate, R1ZeroWordingFromSpec) {
  std::vector<ChatMessage> msgs{{"user", "What is 3*4"}};
  std::string s = render_chat(ChatTemplate::R1Zero, msgs, true);
  // Hand-checked against spec §7.2 (R1-arXiv Table 1).
  EXPECT_EQ(s,
            "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
            "assistant first thinks about the reasoning process in the mind and then provides the user with the "
            "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> "
            "tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. "
            "User: What is 3*4. Assistant:");
}

TEST(TokenizerChatTemplate, BadRolesAndNamesAreErrors) {
  std::vector<ChatMessage> tool{{"tool", "{}"}};
  EXPECT_THROW(render_chat(ChatTemplate::DeepSeekR1, tool, false), Error);
  EXPECT_THROW(render_chat(ChatTemplate::ChatML, tool, false), Error);
  std::vector<ChatMessage> sys{{"system", "x"}, {"user", "y"}};
  EXPECT_THROW(render_chat(ChatTemplate::R1Zero, sys, true), Error);
  EXPECT_THROW(parse_chat_template("llama3"), Error);
  for (auto t : {ChatTemplate::DeepSeekR1, ChatTemplate::R1Zero, ChatTemplate::ChatML})
    EXPECT_EQ(parse_chat_template(chat_template_name(t)), t);
}

TEST(TokenizerChatTemplate, DetectFromSpecialTokens) {
  if (auto* ds = test::real_tokenizer("deepseek-v3")) EXPECT_EQ(detect_chat_template(*ds), ChatTemplate::DeepSeekR1);
  if (auto* qw = test::real_tokenizer("qwen3")) EXPECT_EQ(detect_chat_template(*qw), ChatTemplate::ChatML);
  BpeTrainerOptions opt;
  opt.vocab_size = 300;
  opt.special_tokens = {"<|im_start|>", "<|im_end|>"};
  auto t = train_bpe("some text for a tiny vocabulary", opt);
  EXPECT_EQ(detect_chat_template(Tokenizer::from_json(t.tokenizer_json, "", "tiny")), ChatTemplate::ChatML);
  opt.special_tokens = {"<pad>"};
  t = train_bpe("some text for a tiny vocabulary", opt);
  EXPECT_EQ(detect_chat_template(Tokenizer::from_json(t.tokenizer_json, "", "tiny")), ChatTemplate::R1Zero);
}

TEST(TokenizerChatTemplate, DeepSeekR1PromptEncodesMarkersAsSingleTokens) {
  NANOSEEK_REAL_TOKENIZER_OR_SKIP(tok, "deepseek-v3");
  std::vector<ChatMessage> msgs{{"user", "1+1=?"}};
  auto ids = tok->encode(render_chat(ChatTemplate::DeepSeekR1, msgs, true));
  EXPECT_EQ(ids.front(), tok->bos_id());
  EXPECT_EQ(ids[1], *tok->token_id("<｜User｜>"));
  EXPECT_NE(std::find(ids.begin(), ids.end(), *tok->token_id("<｜Assistant｜>")), ids.end());
}

}  // namespace
