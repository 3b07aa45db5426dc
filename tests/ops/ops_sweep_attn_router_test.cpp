// Size sweeps across the OpenMP threshold (kParallelWork, core/parallel.h) for causal attention (with and without
// segment masks) and the MoE router (forward, backward, balance loss, load count, aux-free bias update). Same
// scheme as ops_sweep_test.cpp: double reference written here, odd shapes below and above the threshold, 1 and
// 2 threads, sentinel pads (sweep_util.h), ACCUMULATE outputs starting nonzero, OVERWRITE outputs starting NaN.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "core/parallel.h"
#include "ops/attention.h"
#include "ops/moe_router.h"
#include "sweep_util.h"

namespace nanoseek {
namespace {
using namespace sweep;

// ---------------------------------------------------------------------------------------------------------------
// attention_forward / attention_backward.

// Forward: S = scale·QKᵀ is a float GEMM over Dq ≤ 17 terms, exp turns the absolute logit error (a few u for these
// O(1) logits) into the same relative error in P, and O = PV sums T ≤ 129 float terms (random-sign growth
// ~√T·u ≈ 7e-7 of Σ|p v|). Observed ≤ 2.2e-7 (P and o); 2e-6 is ~10× that. A mask off by one token moves P by
// ≥ 1e-2.
constexpr double kAttnFwdTol = 2e-6;
// Backward chains three more float GEMMs (dP = dO Vᵀ, dQ = dS K, dK = dSᵀ Q, each ≤ 129 terms) through the
// P ⊙ (dP − rowsum) difference, whose cancellation the normalized error absorbs. Observed ≤ 4.3e-7 (dv); 5e-6 is
// ~10× that, still far below a dropped key or a race on dS (≥ 1e-3).
constexpr double kAttnBwdTol = 5e-6;

enum class Seg { None, Packed, Random };
struct AttnCase {
  int64_t B, T, H, Dq, Dv;
  Seg seg;
};
std::string attn_name(const testing::TestParamInfo<AttnCase>& p) {
  const AttnCase& c = p.param;
  return fmt::format("B{}_T{}_H{}_Dq{}_Dv{}_{}", c.B, c.T, c.H, c.Dq, c.Dv,
                     c.seg == Seg::None ? "causal" : c.seg == Seg::Packed ? "packed" : "randomseg");
}
class AttentionSweep : public testing::TestWithParam<AttnCase> {};
// Work estimates: forward B·H·T²·(Dq+Dv), backward twice that.
const std::vector<AttnCase> kAttnCases = {
    {1, 1, 1, 1, 1, Seg::None},     {1, 3, 1, 7, 3, Seg::Packed},  {2, 7, 3, 17, 1, Seg::Random},
    {1, 17, 2, 3, 7, Seg::None},    {3, 5, 2, 4, 4, Seg::Packed},
    {2, 16, 2, 16, 16, Seg::Packed},  // fwd ser 32768, bwd par at exactly 65536
    {2, 33, 3, 17, 7, Seg::None},     // par 156816
    {2, 33, 3, 17, 7, Seg::Packed},
    {1, 65, 1, 17, 15, Seg::Random},  // par 135200 with a single (b, h) pair: the second thread idles
    {3, 17, 7, 13, 5, Seg::Packed},   // par 109242, 21 pairs over 2 threads
    {1, 129, 2, 3, 3, Seg::None},     // par 199692, long rows
    {4, 33, 16, 17, 7, Seg::Packed}};  // par 1.67M: 64 pairs, enough work for both threads to overlap
INSTANTIATE_TEST_SUITE_P(OpsSweep, AttentionSweep, testing::ValuesIn(kAttnCases), attn_name);

TEST_P(AttentionSweep, ForwardBackward) {
  const AttnCase c = GetParam();
  const AttnShape s{c.B, c.T, c.H, c.Dq, c.Dv};
  const int64_t N = c.B * c.T, T = c.T, qs = c.H * c.Dq, vs = c.H * c.Dv;
  const float scale = float(1.3 / std::sqrt(double(c.Dq)));
  const auto q = randn(N * qs, 801), k = randn(N * qs, 802), v = randn(N * vs, 803), dout = randn(N * vs, 804);
  const auto dq0 = randn(N * qs, 805, 0.5), dk0 = randn(N * qs, 806, 0.5), dv0 = randn(N * vs, 807, 0.5);
  // Segments: packed runs of 1..T/3+1 tokens with increasing ids, or arbitrary ids (the contract only needs
  // seg[j] == seg[i]).
  std::vector<int32_t> seg(N, 0);
  Rng rng(808);
  for (int64_t b = 0; b < c.B; ++b) {
    int32_t id = 0;
    for (int64_t t = 0; t < T;) {
      const int64_t len = 1 + int64_t(rng.below(uint64_t(T / 3 + 1)));
      for (int64_t u = 0; u < len && t < T; ++u, ++t)
        seg[b * T + t] = c.seg == Seg::Random ? int32_t(rng.below(3)) : id;
      ++id;
    }
  }
  const bool has_seg = c.seg != Seg::None;
  auto allowed = [&](int64_t b, int64_t i, int64_t j) {
    return j <= i && (!has_seg || seg[b * T + j] == seg[b * T + i]);
  };

  std::vector<double> P_ref(c.B * c.H * T * T, 0.0), o_ref(N * vs, 0.0);
  std::vector<double> dq_ref = to_double(dq0), dk_ref = to_double(dk0), dv_ref = to_double(dv0);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h) {
      auto Q = [&](int64_t t, int64_t d) { return double(q[(b * T + t) * qs + h * c.Dq + d]); };
      auto K = [&](int64_t t, int64_t d) { return double(k[(b * T + t) * qs + h * c.Dq + d]); };
      auto Vv = [&](int64_t t, int64_t d) { return double(v[(b * T + t) * vs + h * c.Dv + d]); };
      auto dO = [&](int64_t t, int64_t d) { return double(dout[(b * T + t) * vs + h * c.Dv + d]); };
      double* Pb = &P_ref[(b * c.H + h) * T * T];
      for (int64_t i = 0; i < T; ++i) {
        std::vector<double> l(T, -INFINITY);
        double m = -INFINITY, z = 0;
        for (int64_t j = 0; j < T; ++j)
          if (allowed(b, i, j)) {
            double d = 0;
            for (int64_t e = 0; e < c.Dq; ++e) d += Q(i, e) * K(j, e);
            l[j] = scale * d;
            m = std::max(m, l[j]);
          }
        for (int64_t j = 0; j < T; ++j)
          if (allowed(b, i, j)) z += std::exp(l[j] - m);
        for (int64_t j = 0; j < T; ++j) Pb[i * T + j] = allowed(b, i, j) ? std::exp(l[j] - m) / z : 0.0;
        for (int64_t e = 0; e < c.Dv; ++e) {
          double acc = 0;
          for (int64_t j = 0; j < T; ++j) acc += Pb[i * T + j] * Vv(j, e);
          o_ref[(b * T + i) * vs + h * c.Dv + e] = acc;
        }
      }
      // Backward from the reference P: dP_ij = dO_i·V_j, dS = P ⊙ (dP − Σ_j P dP), dQ += s·dS K, dK += s·dSᵀ Q,
      // dV += Pᵀ dO.
      for (int64_t i = 0; i < T; ++i) {
        std::vector<double> dP(T, 0.0);
        double rowdot = 0;
        for (int64_t j = 0; j < T; ++j) {
          for (int64_t e = 0; e < c.Dv; ++e) dP[j] += dO(i, e) * Vv(j, e);
          rowdot += Pb[i * T + j] * dP[j];
        }
        for (int64_t j = 0; j < T; ++j) {
          const double p = Pb[i * T + j], dS = p * (dP[j] - rowdot);
          for (int64_t e = 0; e < c.Dv; ++e) dv_ref[(b * T + j) * vs + h * c.Dv + e] += p * dO(i, e);
          for (int64_t e = 0; e < c.Dq; ++e) {
            dq_ref[(b * T + i) * qs + h * c.Dq + e] += scale * dS * K(j, e);
            dk_ref[(b * T + j) * qs + h * c.Dq + e] += scale * dS * Q(i, e);
          }
        }
      }
    }

  std::vector<float> o[2], P[2], dq[2], dk[2], dv[2];
  for (int t = 0; t < 2; ++t) {
    SCOPED_TRACE(fmt::format("threads {}", kThreadCounts[t]));
    OmpThreads threads(kThreadCounts[t]);
    Guarded<float> gq(q, kInNaN), gk(k, kInNaN), gv(v, kInNaN), gdout(dout, kInNaN);
    Guarded<int32_t> gseg(seg, kInNaN);
    Guarded<float> go(N * vs, kOutNaN), gP(c.B * c.H * T * T, kOutNaN);
    Guarded<float> gdq(dq0, kAccPad), gdk(dk0, kAccPad), gdv(dv0, kAccPad);
    attention_forward(go.data(), gP.data(), gq.data(), gk.data(), gv.data(), has_seg ? gseg.data() : nullptr, s,
                      scale);
    attention_backward(gdq.data(), gdk.data(), gdv.data(), gdout.data(), gP.data(), gq.data(), gk.data(), gv.data(), s,
                       scale);
    expect_pads("o", go);
    expect_pads("P", gP);
    expect_pads("dq", gdq);
    expect_pads("dk", gdk);
    expect_pads("dv", gdv);
    o[t] = go.payload(), P[t] = gP.payload(), dq[t] = gdq.payload(), dk[t] = gdk.payload(), dv[t] = gdv.payload();
    for (int64_t b = 0; b < c.B; ++b)
      for (int64_t h = 0; h < c.H; ++h)
        for (int64_t i = 0; i < T; ++i)
          for (int64_t j = 0; j < T; ++j)
            if (!allowed(b, i, j)) {
              ASSERT_EQ(P[t][((b * c.H + h) * T + i) * T + j], 0.f)
                  << "masked probability not exactly 0 at b " << b << " h " << h << " i " << i << " j " << j;
            }
    expect_close("P", P[t], P_ref, kAttnFwdTol);
    expect_close("o", o[t], o_ref, kAttnFwdTol);
    expect_close("dq (accumulated onto nonzero)", dq[t], dq_ref, kAttnBwdTol);
    expect_close("dk (accumulated onto nonzero)", dk[t], dk_ref, kAttnBwdTol);
    expect_close("dv (accumulated onto nonzero)", dv[t], dv_ref, kAttnBwdTol);
  }
  expect_threads_agree("P", P[0], P[1], kAttnFwdTol);
  expect_threads_agree("o", o[0], o[1], kAttnFwdTol);
  expect_threads_agree("dq", dq[0], dq[1], kAttnBwdTol);
  expect_threads_agree("dk", dk[0], dk[1], kAttnBwdTol);
  expect_threads_agree("dv", dv[0], dv[1], kAttnBwdTol);
}

// ---------------------------------------------------------------------------------------------------------------
// router_forward / router_backward / balance_loss / count_expert_load / update_router_bias.

// Scores: sigmoid in float (expf ≤ 1 ulp, an add, a divide: ~3u) or softmax with a float exponent difference
// (u·|l − max| absolute, ~1e-6 of the largest score here); w and dlogits are double internally, rounded to float
// once. Observed ≤ 1.3e-7 (w), ≤ 9e-8 (the rest); 1e-6 covers all of them with margin; a wrong expert, slot or row
// gives O(1).
constexpr double kRouterTol = 1e-6;
// balance_loss is double throughout over float inputs; the reference sums in another order: ≤ n·2^-53 ≈ 1e-13
// relative for n ≤ 10^4 terms. 1e-12.
constexpr double kBalanceLossRelTol = 1e-12;

struct RouterCase {
  int64_t B, T, E, K, G, TG;
  ScoringFunc scoring;
  TopkMethod method;
  bool norm, ties;  // ties: logits and bias on a coarse grid, so top-k ties are frequent and exact
};
std::string router_name(const testing::TestParamInfo<RouterCase>& p) {
  const RouterCase& c = p.param;
  const char* m = c.method == TopkMethod::NoauxTc  ? "noaux"
                  : c.method == TopkMethod::Greedy ? "greedy"
                                                   : "grouplimited";
  return fmt::format("B{}_T{}_E{}_K{}_G{}_TG{}_{}_{}{}{}", c.B, c.T, c.E, c.K, c.G, c.TG,
                     c.scoring == ScoringFunc::Sigmoid ? "sigmoid" : "softmax", m, c.norm ? "_norm" : "",
                     c.ties ? "_ties" : "");
}
class RouterSweep : public testing::TestWithParam<RouterCase> {};
using SF = ScoringFunc;
using TM = TopkMethod;
// Work estimates (N = B·T): forward N·E·K, backward N·E·4.
const std::vector<RouterCase> kRouterCases = {
    {1, 1, 1, 1, 1, 1, SF::Softmax, TM::Greedy, false, false},
    {1, 3, 8, 3, 4, 2, SF::Sigmoid, TM::NoauxTc, true, false},
    {1, 7, 17, 5, 1, 1, SF::Softmax, TM::Greedy, false, true},
    {3, 11, 16, 4, 4, 2, SF::Softmax, TM::GroupLimitedGreedy, true, true},
    {1, 33, 12, 4, 3, 2, SF::Sigmoid, TM::GroupLimitedGreedy, false, true},
    {129, 1, 16, 2, 2, 1, SF::Sigmoid, TM::NoauxTc, true, true},         // one-token sequences
    {1, 257, 64, 6, 8, 3, SF::Sigmoid, TM::NoauxTc, true, false},        // par 98688 / par 65792
    {3, 43, 33, 16, 1, 1, SF::Softmax, TM::Greedy, false, false},        // par 68112 / ser 17028
    {1, 1031, 16, 4, 4, 2, SF::Softmax, TM::GroupLimitedGreedy, true, true},  // par 65984 / par 65984
    {2, 257, 32, 8, 1, 1, SF::Sigmoid, TM::NoauxTc, true, true},         // par 131584 / par 65792
    {1, 129, 256, 8, 8, 4, SF::Sigmoid, TM::NoauxTc, true, false}};      // DeepSeek-V3's router; par / par
INSTANTIATE_TEST_SUITE_P(OpsSweep, RouterSweep, testing::ValuesIn(kRouterCases), router_name);

// Indices of the k largest of x, in descending order of value, equal values in ascending index order.
std::vector<int32_t> ref_topk(const std::vector<float>& x, int64_t k) {
  std::vector<int32_t> id(x.size());
  std::iota(id.begin(), id.end(), 0);
  std::stable_sort(id.begin(), id.end(), [&](int32_t a, int32_t b) { return x[a] > x[b]; });
  id.resize(size_t(k));
  return id;
}

TEST_P(RouterSweep, ForwardBackwardBalanceLoadBias) {
  const RouterCase c = GetParam();
  const int64_t N = c.B * c.T, E = c.E, K = c.K;
  ASSERT_EQ(E % c.G, 0);
  RouterConfig rc;
  rc.E = E, rc.K = K, rc.n_group = c.G, rc.topk_group = c.TG, rc.scoring = c.scoring, rc.method = c.method;
  rc.norm_topk_prob = c.norm;
  rc.routed_scaling = 2.5f;
  const double alpha = 0.1;
  const float gamma = 1e-3f;

  std::vector<float> logits = randn(N * E, 901, 1.5), bias = randn(E, 902, 0.3);
  if (c.ties) {  // multiples of 1/2 and 1/8: equal logits give bit-equal scores, equal biases bit-equal sums
    Rng r(903);
    for (auto& l : logits) l = std::round(l * 2.f) / 2.f;
    for (auto& b : bias) b = float(int64_t(r.below(5)) - 2) / 8.f;
  }
  const auto dw = randn(N * K, 904);
  std::vector<int64_t> load0(E);
  {
    Rng r(905);
    for (auto& l : load0) l = int64_t(r.below(100));
  }
  // A bias is passed for every method: only NoauxTc may use it.
  const bool use_bias = c.method == TM::NoauxTc;

  // Reference scores, in double from the logits.
  std::vector<double> s_ref(N * E);
  for (int64_t n = 0; n < N; ++n) {
    const float* l = &logits[n * E];
    if (c.scoring == SF::Sigmoid) {
      for (int64_t e = 0; e < E; ++e) s_ref[n * E + e] = 1.0 / (1.0 + std::exp(-double(l[e])));
    } else {
      double m = l[0], z = 0;
      for (int64_t e = 1; e < E; ++e) m = std::max(m, double(l[e]));
      for (int64_t e = 0; e < E; ++e) z += std::exp(double(l[e]) - m);
      for (int64_t e = 0; e < E; ++e) s_ref[n * E + e] = std::exp(double(l[e]) - m) / z;
    }
  }

  std::vector<float> sc[2], w[2], dl[2], dl_nods[2], dsc[2], bias_out[2];
  std::vector<int32_t> idx[2];
  std::vector<int64_t> load[2];
  double L[2];
  for (int t = 0; t < 2; ++t) {
    SCOPED_TRACE(fmt::format("threads {}", kThreadCounts[t]));
    OmpThreads threads(kThreadCounts[t]);
    Guarded<float> glog(logits, kInNaN), gbias(bias, kInNaN), gdw(dw, kInNaN);
    Guarded<float> gs(N * E, kOutNaN), gw(N * K, kOutNaN);
    Guarded<int32_t> gidx(N * K, kOutNaN);
    router_forward(gs.data(), gidx.data(), gw.data(), glog.data(), gbias.data(), N, rc);
    expect_pads("scores", gs);
    expect_pads("idx", gidx);
    expect_pads("w", gw);
    sc[t] = gs.payload(), idx[t] = gidx.payload(), w[t] = gw.payload();
    expect_close("scores", sc[t], s_ref, kRouterTol);

    // Selection, from the op's own float scores (checked just above) so that near-ties between a float and a
    // double score cannot flip a choice: s + bias in float as the selection key, group scores (top-2 sum for
    // NoauxTc, max for group-limited greedy), the best topk_group groups, then the top K; ties to lower indices.
    std::vector<int32_t> idx_ref(N * K);
    std::vector<double> w_ref(N * K);
    for (int64_t n = 0; n < N; ++n) {
      std::vector<float> key(E);
      for (int64_t e = 0; e < E; ++e) key[e] = sc[t][n * E + e] + (use_bias ? bias[e] : 0.f);
      if (c.method != TM::Greedy && c.G > 1) {
        const int64_t per = E / c.G;
        std::vector<float> gscore(c.G);
        for (int64_t g = 0; g < c.G; ++g) {
          std::vector<float> part(key.begin() + g * per, key.begin() + (g + 1) * per);
          const auto best = ref_topk(part, c.method == TM::NoauxTc ? 2 : 1);
          gscore[g] = c.method == TM::NoauxTc ? part[best[0]] + part[best[1]] : part[best[0]];
        }
        const auto keep = ref_topk(gscore, c.TG);
        for (int64_t g = 0; g < c.G; ++g)
          if (std::find(keep.begin(), keep.end(), int32_t(g)) == keep.end())
            for (int64_t i = 0; i < per; ++i) key[g * per + i] = -INFINITY;
      }
      const auto top = ref_topk(key, K);
      double denom = 1e-20;
      for (int64_t k = 0; k < K; ++k) denom += sc[t][n * E + top[k]];
      for (int64_t k = 0; k < K; ++k) {
        idx_ref[n * K + k] = top[k];
        const double sv = s_ref[n * E + top[k]];
        w_ref[n * K + k] = double(rc.routed_scaling) * (c.norm ? sv / denom : sv);
      }
    }
    ASSERT_EQ(idx[t], idx_ref) << "expert selection (ties must go to the lower index)";
    expect_close("w", w[t], w_ref, kRouterTol);

    // Balance loss over B sequences of T tokens, from the op's scores and selection:
    //   f_e = E/(K·T)·count_e, P_e = (1/T) Σ_t s_et/z_t, L = α/B Σ_b Σ_e f_e P_e,
    //   dL/ds_et = α/(B·T)·(f_e/z_t − Σ_e' f_e' s_e't / z_t²).
    double L_ref = 0;
    std::vector<double> g_ref(N * E, 0.0);
    for (int64_t b = 0; b < c.B; ++b) {
      std::vector<double> f(E, 0.0), Pe(E, 0.0);
      for (int64_t tt = 0; tt < c.T; ++tt)
        for (int64_t k = 0; k < K; ++k) f[idx_ref[(b * c.T + tt) * K + k]] += double(E) / double(K * c.T);
      for (int64_t tt = 0; tt < c.T; ++tt) {
        const float* sr = &sc[t][(b * c.T + tt) * E];
        double z = 0, fs = 0;
        for (int64_t e = 0; e < E; ++e) z += sr[e];
        for (int64_t e = 0; e < E; ++e) Pe[e] += sr[e] / z / double(c.T), fs += f[e] * sr[e];
        for (int64_t e = 0; e < E; ++e)
          g_ref[(b * c.T + tt) * E + e] = alpha / double(c.B * c.T) * (f[e] / z - fs / (z * z));
      }
      for (int64_t e = 0; e < E; ++e) L_ref += alpha / double(c.B) * f[e] * Pe[e];
    }
    // dscores accumulates: start from values on the gradient's own scale, so the += is visible in the check.
    const double gscale = std::max(max_abs(g_ref), 1e-3);
    std::vector<float> dsc0 = randn(N * E, 906, gscale);
    std::vector<double> dsc_ref(N * E);
    for (int64_t i = 0; i < N * E; ++i) dsc_ref[i] = dsc0[i] + g_ref[i];
    Guarded<float> gdsc(dsc0, kAccPad);
    L[t] = balance_loss(gdsc.data(), gs.data(), gidx.data(), c.B, c.T, rc, alpha);
    const double L_nograd = balance_loss(nullptr, gs.data(), gidx.data(), c.B, c.T, rc, alpha);
    expect_pads("dscores", gdsc);
    dsc[t] = gdsc.payload();
    EXPECT_LE(std::fabs(L[t] - L_ref), kBalanceLossRelTol * std::fabs(L_ref)) << L[t] << " vs " << L_ref;
    EXPECT_EQ(L_nograd, L[t]) << "balance loss with and without the gradient";
    expect_close("dscores (accumulated onto nonzero)", dsc[t], dsc_ref, kRouterTol);

    // Backward, with the balance gradient as dscores and without: ds_e = dscores_e + Σ_k [idx_k = e]·∂w_k/∂s_e·dw_k
    // (w_k = r·s_k/D, D = 1e-20 + Σ_sel s, when normalized; w_k = r·s_k otherwise), then through the scoring.
    auto backward_ref = [&](const std::vector<float>* dscores) {
      std::vector<double> out(N * E);
      for (int64_t n = 0; n < N; ++n) {
        const float* sr = &sc[t][n * E];
        std::vector<double> ds(E, 0.0);
        if (dscores)
          for (int64_t e = 0; e < E; ++e) ds[e] = (*dscores)[n * E + e];
        double D = 1e-20, gs_dot = 0;
        for (int64_t k = 0; k < K; ++k) {
          D += sr[idx_ref[n * K + k]];
          gs_dot += double(dw[n * K + k]) * sr[idx_ref[n * K + k]];
        }
        for (int64_t k = 0; k < K; ++k) {
          const int32_t e = idx_ref[n * K + k];
          ds[e] += double(rc.routed_scaling) * (c.norm ? dw[n * K + k] / D - gs_dot / (D * D) : double(dw[n * K + k]));
        }
        double dot = 0;
        for (int64_t e = 0; e < E; ++e) dot += ds[e] * sr[e];
        for (int64_t e = 0; e < E; ++e)
          out[n * E + e] = c.scoring == SF::Sigmoid ? ds[e] * sr[e] * (1.0 - sr[e]) : sr[e] * (ds[e] - dot);
      }
      return out;
    };
    Guarded<float> gdl(N * E, kOutNaN), gdl2(N * E, kOutNaN);
    router_backward(gdl.data(), gdw.data(), gdsc.data(), gs.data(), gidx.data(), N, rc);
    router_backward(gdl2.data(), gdw.data(), nullptr, gs.data(), gidx.data(), N, rc);
    expect_pads("dlogits", gdl);
    expect_pads("dlogits (no dscores)", gdl2);
    dl[t] = gdl.payload(), dl_nods[t] = gdl2.payload();
    expect_close("dlogits (overwrite)", dl[t], backward_ref(&dsc[t]), kRouterTol);
    expect_close("dlogits without dscores", dl_nods[t], backward_ref(nullptr), kRouterTol);

    // Load count (ACCUMULATE, exact) and the aux-free bias step (exact: one float add of ±γ or nothing).
    Guarded<int64_t> gload(load0, kAccPad);
    count_expert_load(gload.data(), gidx.data(), N, rc);
    expect_pads("load", gload);
    load[t] = gload.payload();
    std::vector<int64_t> load_ref = load0;
    for (int32_t e : idx_ref) load_ref[e] += 1;
    ASSERT_EQ(load[t], load_ref);
    Guarded<float> gb(bias, kAccPad);
    update_router_bias(gb.data(), gload.data(), E, gamma);
    expect_pads("bias", gb);
    bias_out[t] = gb.payload();
    double mean = 0;
    for (int64_t l : load_ref) mean += double(l);
    mean /= double(E);
    for (int64_t e = 0; e < E; ++e) {
      const double le = double(load_ref[e]);
      const float want = le < mean ? bias[e] + gamma : le > mean ? bias[e] - gamma : bias[e];
      ASSERT_TRUE(same_bits(bias_out[t][e], want)) << "bias " << e << ": " << bias_out[t][e] << " vs " << want;
    }
  }
  EXPECT_EQ(idx[0], idx[1]) << "selection by thread count";
  EXPECT_EQ(load[0], load[1]);
  EXPECT_LE(std::fabs(L[0] - L[1]), kBalanceLossRelTol * std::fabs(L[0]));
  expect_threads_agree("scores", sc[0], sc[1], kRouterTol);
  expect_threads_agree("w", w[0], w[1], kRouterTol);
  expect_threads_agree("dscores", dsc[0], dsc[1], kRouterTol);
  expect_threads_agree("dlogits", dl[0], dl[1], kRouterTol);
  expect_threads_agree("dlogits without dscores", dl_nods[0], dl_nods[1], kRouterTol);
  expect_threads_agree("bias", bias_out[0], bias_out[1], 0.0);  // exact above, so exact here
}

// update_router_bias on loads built so the mean is an exact integer that some experts hit (d == 0: no step),
// others are above or below it.
class RouterBiasSweep : public testing::TestWithParam<int64_t> {};
INSTANTIATE_TEST_SUITE_P(OpsSweep, RouterBiasSweep, testing::Values(1, 3, 7, 17, 33, 127, 129, 257),
                         [](const testing::TestParamInfo<int64_t>& p) { return fmt::format("E{}", p.param); });

TEST_P(RouterBiasSweep, StepsTowardTheMean) {
  const int64_t E = GetParam();
  const int64_t mean = 1000;
  std::vector<int64_t> load(E);
  int64_t rest = 0;
  for (int64_t e = 0; e + 1 < E; ++e) load[e] = mean + (e * 7) % 5 - 2, rest += (e * 7) % 5 - 2;
  load[E - 1] = mean - rest;  // Σ load = E·mean exactly
  const auto bias0 = randn(E, 1001, 0.01);
  const float gamma = 1e-3f;
  for (int t = 0; t < 2; ++t) {
    SCOPED_TRACE(fmt::format("threads {}", kThreadCounts[t]));
    OmpThreads threads(kThreadCounts[t]);
    Guarded<int64_t> gload(load, kInNaN);
    Guarded<float> gb(bias0, kAccPad);
    update_router_bias(gb.data(), gload.data(), E, gamma);
    expect_pads("bias", gb);
    int64_t unchanged = 0;
    for (int64_t e = 0; e < E; ++e) {
      const float want = load[e] < mean ? bias0[e] + gamma : load[e] > mean ? bias0[e] - gamma : bias0[e];
      unchanged += load[e] == mean;
      EXPECT_TRUE(same_bits(gb[e], want)) << "expert " << e << " load " << load[e] << ": " << gb[e] << " vs " << want;
    }
    EXPECT_GE(unchanged, 1);  // the d == 0 branch is exercised in every case
  }
}

TEST(OpsSweepCoverage, AttentionRouterCasesStraddleTheThreshold) {
  auto straddles = [](const auto& cases, auto work) {
    bool below = false, above = false;
    for (const auto& c : cases) (worth_parallel(work(c)) ? above : below) = true;
    return below && above;
  };
  EXPECT_TRUE(straddles(kAttnCases, [](const AttnCase& c) { return c.B * c.H * c.T * c.T * (c.Dq + c.Dv); }));
  EXPECT_TRUE(straddles(kAttnCases, [](const AttnCase& c) { return 2 * c.B * c.H * c.T * c.T * (c.Dq + c.Dv); }));
  EXPECT_TRUE(straddles(kRouterCases, [](const RouterCase& c) { return c.B * c.T * c.E * c.K; }));
  EXPECT_TRUE(straddles(kRouterCases, [](const RouterCase& c) { return c.B * c.T * c.E * 4; }));
}

}  // namespace
}  // namespace nanoseek
