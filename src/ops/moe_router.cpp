#include "core/parallel.h"
#include "ops/moe_router.h"

#include <cmath>
#include <limits>
#include <vector>

namespace nanoseek {

const char* to_string(ScoringFunc s) { return s == ScoringFunc::Sigmoid ? "sigmoid" : "softmax"; }
const char* to_string(TopkMethod m) {
  switch (m) {
    case TopkMethod::NoauxTc: return "noaux_tc";
    case TopkMethod::Greedy: return "greedy";
    case TopkMethod::GroupLimitedGreedy: return "group_limited_greedy";
  }
  return "?";
}


namespace {

// Indices of the k largest values of x[0..n) (masked entries are −inf), ties to the lower index, in
// descending order of value.
void topk(const float* x, int64_t n, int64_t k, int32_t* out) {
  for (int64_t s = 0; s < k; ++s) {
    int32_t best = -1;
    for (int64_t i = 0; i < n; ++i) {
      bool taken = false;
      for (int64_t t = 0; t < s; ++t) taken |= out[t] == i;
      if (taken) continue;
      if (best < 0 || x[i] > x[best]) best = int32_t(i);
    }
    out[s] = best;
  }
}

}  // namespace

void router_forward(float* scores, int32_t* idx, float* w, const float* logits, const float* bias, int64_t N,
                    const RouterConfig& rc) {
  const int64_t E = rc.E, K = rc.K, G = rc.n_group, per = E / G;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
#pragma omp parallel if (worth_parallel(N * E * K))
  {
    std::vector<float> sel(static_cast<size_t>(E)), gscore(static_cast<size_t>(G));
    std::vector<int32_t> gkeep(static_cast<size_t>(G));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const float* l = logits + n * E;
      float* s = scores + n * E;
      if (rc.scoring == ScoringFunc::Sigmoid) {
        for (int64_t e = 0; e < E; ++e) s[e] = 1.f / (1.f + std::exp(-l[e]));
      } else {
        float m = l[0];
        for (int64_t e = 1; e < E; ++e) m = l[e] > m ? l[e] : m;
        double z = 0;
        for (int64_t e = 0; e < E; ++e) z += std::exp(double(l[e] - m));
        for (int64_t e = 0; e < E; ++e) s[e] = float(std::exp(double(l[e] - m)) / z);
      }
      for (int64_t e = 0; e < E; ++e) sel[e] = s[e] + (rc.method == TopkMethod::NoauxTc && bias ? bias[e] : 0.f);
      if (rc.method != TopkMethod::Greedy && G > 1) {
        for (int64_t g = 0; g < G; ++g) {
          const float* x = sel.data() + g * per;
          if (rc.method == TopkMethod::NoauxTc) {  // group score = sum of its top-2 biased scores
            int32_t t2[2];
            topk(x, per, 2, t2);
            gscore[g] = x[t2[0]] + x[t2[1]];
          } else {  // group_limited_greedy: the group's best affinity
            float m = x[0];
            for (int64_t i = 1; i < per; ++i) m = x[i] > m ? x[i] : m;
            gscore[g] = m;
          }
        }
        topk(gscore.data(), G, rc.topk_group, gkeep.data());
        for (int64_t g = 0; g < G; ++g) {
          bool keep = false;
          for (int64_t t = 0; t < rc.topk_group; ++t) keep |= gkeep[t] == g;
          if (!keep)
            for (int64_t i = 0; i < per; ++i) sel[g * per + i] = kNegInf;
        }
      }
      int32_t* id = idx + n * K;
      topk(sel.data(), E, K, id);
      float* wn = w + n * K;
      double denom = 1e-20;
      for (int64_t k = 0; k < K; ++k) denom += s[id[k]];
      for (int64_t k = 0; k < K; ++k)
        wn[k] = rc.routed_scaling * (rc.norm_topk_prob ? float(s[id[k]] / denom) : s[id[k]]);
    }
  }
}

void router_backward(float* dlogits, const float* dw, const float* dscores, const float* scores, const int32_t* idx,
                     int64_t N, const RouterConfig& rc) {
  const int64_t E = rc.E, K = rc.K;
#pragma omp parallel if (worth_parallel(N * E * 4))
  {
    std::vector<double> ds(static_cast<size_t>(E));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const float* s = scores + n * E;
      const int32_t* id = idx + n * K;
      const float* g = dw + n * K;
      for (int64_t e = 0; e < E; ++e) ds[e] = dscores ? dscores[n * E + e] : 0.0;
      if (rc.norm_topk_prob) {  // w_k = r·s_k/D, D = Σ_sel s + 1e-20  =>  ds_k += r·(g_k/D − Σ_j g_j s_j / D²)
        double D = 1e-20, gs = 0;
        for (int64_t k = 0; k < K; ++k) {
          D += s[id[k]];
          gs += double(g[k]) * s[id[k]];
        }
        for (int64_t k = 0; k < K; ++k) ds[id[k]] += rc.routed_scaling * (g[k] / D - gs / (D * D));
      } else {
        for (int64_t k = 0; k < K; ++k) ds[id[k]] += double(rc.routed_scaling) * g[k];
      }
      float* dl = dlogits + n * E;
      if (rc.scoring == ScoringFunc::Sigmoid) {
        for (int64_t e = 0; e < E; ++e) dl[e] = float(ds[e] * s[e] * (1.0 - s[e]));
      } else {
        double dot = 0;
        for (int64_t e = 0; e < E; ++e) dot += ds[e] * s[e];
        for (int64_t e = 0; e < E; ++e) dl[e] = float(s[e] * (ds[e] - dot));
      }
    }
  }
}

double balance_loss(float* dscores, const float* scores, const int32_t* idx, int64_t B, int64_t T,
                    const RouterConfig& rc, double alpha) {
  const int64_t E = rc.E, K = rc.K;
  double total = 0;
  std::vector<double> f(static_cast<size_t>(E)), P(static_cast<size_t>(E));
  for (int64_t b = 0; b < B; ++b) {
    std::fill(f.begin(), f.end(), 0.0);
    std::fill(P.begin(), P.end(), 0.0);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t n = b * T + t;
      for (int64_t k = 0; k < K; ++k) f[idx[n * K + k]] += double(E) / double(K * T);
      const float* s = scores + n * E;
      double z = 0;
      for (int64_t e = 0; e < E; ++e) z += s[e];
      for (int64_t e = 0; e < E; ++e) P[e] += s[e] / z / double(T);
    }
    double l = 0;
    for (int64_t e = 0; e < E; ++e) l += f[e] * P[e];
    total += l;
    if (!dscores) continue;
    // dL/ds'_{e,t} = c_e := alpha/B · f_e/T;  s' = s/z  =>  ds_e = (c_e − Σ_e' c_e' s'_e') / z
    for (int64_t t = 0; t < T; ++t) {
      const int64_t n = b * T + t;
      const float* s = scores + n * E;
      double z = 0;
      for (int64_t e = 0; e < E; ++e) z += s[e];
      double dot = 0;
      for (int64_t e = 0; e < E; ++e) dot += alpha / double(B) * f[e] / double(T) * (s[e] / z);
      for (int64_t e = 0; e < E; ++e)
        dscores[n * E + e] += float((alpha / double(B) * f[e] / double(T) - dot) / z);
    }
  }
  return alpha * total / double(B);
}

void count_expert_load(int64_t* load, const int32_t* idx, int64_t N, const RouterConfig& rc) {
  for (int64_t i = 0; i < N * rc.K; ++i) load[idx[i]] += 1;
}

void update_router_bias(float* bias, const int64_t* load, int64_t E, float gamma) {
  double mean = 0;
  for (int64_t e = 0; e < E; ++e) mean += double(load[e]);
  mean /= double(E);
  for (int64_t e = 0; e < E; ++e) {
    const double d = mean - double(load[e]);
    bias[e] += d > 0 ? gamma : (d < 0 ? -gamma : 0.f);
  }
}

}  // namespace nanoseek
