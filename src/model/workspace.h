// Activation workspace: every buffer the forward saves for backward, sized once for (B sequences × T tokens)
// before step 1 and reported in MiB (llm.c's habit). Nothing in forward/backward allocates per step except
// small per-thread scratch.
// Legend: N = B·T tokens of one stack (T shrinks by k for MTP module k), d hidden, H heads, Dq = nope+rope,
// Dv = v head dim, E experts, K per token, F intermediate size.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/language_model.h"

namespace nanoseek {

using Buf = std::vector<float>;
constexpr int kScratchSlots = 18;

struct AttnActs {
  Buf xn, rstd_in;          // [N,d] RMSNorm_in(x), [N]
  Buf qa, qa_rstd, qa_n;    // [N,q_lora] q_a(xn), [N], RMSNorm(qa)      (q_lora_rank > 0)
  Buf q;                    // [N,H,Dq] after RoPE on the rope part
  Buf kva;                  // [N,kv_lora+R] kv_a(xn); the k_pe part rotated in place
  Buf c_rstd, c_n;          // [N], [N,kv_lora] RMSNorm(latent)
  Buf kv;                   // [N,H,nope+Dv] kv_b(c_n)
  Buf k, v;                 // [N,H,Dq] = [k_nope | k_pe broadcast], [N,H,Dv]
  Buf P;                    // [B,H,T,T] attention probabilities
  Buf o;                    // [N,H,Dv]
};

struct FfnActs {            // SwiGLU over M rows
  Buf a, b, h;              // [M,F] gate(x), up(x), silu(a)*b
};

struct MoeActs {
  Buf scores, w;                       // [N,E] unbiased affinities, [N,K] combine weights
  std::vector<int32_t> idx;            // [N,K] chosen experts
  std::vector<int32_t> slot_row;       // [N,K] row of (n,k) in the expert-sorted buffers
  std::vector<int32_t> row_token;      // [N·K] token of each sorted row
  std::vector<int64_t> offsets;        // [E+1] expert e owns sorted rows [offsets[e], offsets[e+1])
  Buf xg;                              // [N·K,d] gathered inputs
  FfnActs routed;                      // [N·K, moe_inter]
  Buf y;                               // [N·K,d] expert outputs (unweighted)
  FfnActs shared;                      // [N, n_shared·moe_inter]
};

struct LayerActs {
  Buf x_in;                 // [N,d] layer input (residual stream)
  AttnActs attn;
  Buf x_mid;                // [N,d] x_in + attention
  Buf xn2, rstd2;           // [N,d] RMSNorm_post(x_mid), [N]
  FfnActs dense;            // [N,intermediate]
  MoeActs moe;
};

struct MtpActs {            // MTP module k over N_k = B·(T−k) tokens
  std::vector<int32_t> ids, targets, pos;  // [N_k]
  Buf emb, e_n, e_rstd;     // [N_k,d] embeddings of ids[i+k], enorm out, [N_k]
  Buf h_in, h_n, h_rstd;    // [N_k,d] previous hidden (gathered), hnorm out, [N_k]
  Buf cat;                  // [N_k,2d] [e_n ; h_n]
  Buf m;                    // [N_k,d] eh_proj(cat) = decoder layer input
  LayerActs layer;
  Buf h_out;                // [N_k,d] h^k
  Buf hn, hn_rstd;          // [N_k,d] shared_head.norm(h^k), [N_k]
  Buf logits;               // [N_k,V]
};

struct Workspace final : Activations {   // B, T, logits [N,V] and bytes (the planned total) in Activations
  std::vector<int32_t> pos;           // [B·T] 0..T−1 per sequence
  std::vector<LayerActs> layers;      // main layers
  Buf h_final;                        // [N,d] last layer output (h^0, before the final norm)
  Buf xnf, rstd_f;                    // [N,d] final norm, [N]
  std::vector<MtpActs> mtp;           // D modules
  // Backward scratch: numbered slots, each sized for its largest use (see Slot in workspace.cpp).
  std::vector<Buf> tmp;
  float* scratch(int slot, size_t n, bool zero = true);  // n floats of slot `slot`, zeroed unless zero=false
  bool with_grad = false;
};

// Sizes every buffer for B×T (with_grad adds backward scratch). Throws if T exceeds max_position_embeddings.
Workspace plan_workspace(const ModelConfig& c, int64_t B, int64_t T, bool with_grad);
std::string describe_workspace(const Workspace& ws);  // one line, MiB
// Sizes one layer's activations for N tokens without attention probabilities (inference scratch); returns bytes.
size_t plan_layer_acts(const ModelConfig& c, int64_t L, int64_t N, LayerActs& a);

}  // namespace nanoseek
