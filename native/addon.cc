// N-API bindings. Every array argument is a typed-array view used in place
// (no copies); sizes and offsets are checked here so a wrong call from
// TypeScript raises a RangeError instead of touching memory it does not own.
#include <node_api.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "half.h"
#include "kernels.h"

namespace {

struct Args {
  napi_env env;
  napi_value values[32];
  size_t count = 32;
  bool failed = false;

  Args(napi_env e, napi_callback_info info, size_t expected) : env(e) {
    napi_get_cb_info(env, info, &count, values, nullptr, nullptr);
    if (count < expected) fail("expected " + std::to_string(expected) + " arguments");
  }

  void fail(const std::string& message) {
    if (!failed) napi_throw_range_error(env, nullptr, message.c_str());
    failed = true;
  }

  template <typename T>
  T* array(size_t index, napi_typedarray_type wanted, size_t minLength, const char* name) {
    if (failed) return nullptr;
    bool isTyped = false;
    napi_is_typedarray(env, values[index], &isTyped);
    if (!isTyped) {
      fail(std::string(name) + ": expected a typed array");
      return nullptr;
    }
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    napi_get_typedarray_info(env, values[index], &type, &length, &data, nullptr, nullptr);
    if (type != wanted) {
      fail(std::string(name) + ": wrong typed array type");
      return nullptr;
    }
    if (length < minLength) {
      fail(std::string(name) + ": needs " + std::to_string(minLength) + " elements, has " +
           std::to_string(length));
      return nullptr;
    }
    return static_cast<T*>(data);
  }

  float* f32(size_t index, size_t minLength, const char* name) {
    return array<float>(index, napi_float32_array, minLength, name);
  }
  // Optional gradient outputs may be passed as null.
  float* f32OrNull(size_t index, size_t minLength, const char* name) {
    napi_valuetype kind;
    napi_typeof(env, values[index], &kind);
    if (kind == napi_null || kind == napi_undefined) return nullptr;
    return f32(index, minLength, name);
  }
  double* f64(size_t index, size_t minLength, const char* name) {
    return array<double>(index, napi_float64_array, minLength, name);
  }
  uint16_t* u16(size_t index, size_t minLength, const char* name) {
    return array<uint16_t>(index, napi_uint16_array, minLength, name);
  }
  int32_t* i32(size_t index, size_t minLength, const char* name) {
    return array<int32_t>(index, napi_int32_array, minLength, name);
  }
  int64_t integer(size_t index) {
    int64_t value = 0;
    if (!failed && napi_get_value_int64(env, values[index], &value) != napi_ok)
      fail("argument " + std::to_string(index) + ": expected a number");
    return value;
  }
  double number(size_t index) {
    double value = 0;
    if (!failed && napi_get_value_double(env, values[index], &value) != napi_ok)
      fail("argument " + std::to_string(index) + ": expected a number");
    return value;
  }
  bool boolean(size_t index) {
    bool value = false;
    if (!failed && napi_get_value_bool(env, values[index], &value) != napi_ok)
      fail("argument " + std::to_string(index) + ": expected a boolean");
    return value;
  }
};

napi_value undefinedValue(napi_env env) {
  napi_value result;
  napi_get_undefined(env, &result);
  return result;
}

// Elements a row-major [rows, cols] matrix with leading dimension ld spans.
size_t extent(int64_t rows, int64_t cols, int64_t ld) {
  if (rows <= 0 || cols <= 0) return 0;
  return (size_t)((rows - 1) * ld + cols);
}

template <bool Portable>
napi_value Sgemm(napi_env env, napi_callback_info info) {
  // (transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc)
  Args args(env, info, 16);
  const bool transA = args.boolean(0), transB = args.boolean(1);
  const int64_t M = args.integer(2), N = args.integer(3), K = args.integer(4);
  const float alpha = (float)args.number(5);
  const int64_t aOffset = args.integer(7), lda = args.integer(8);
  const int64_t bOffset = args.integer(10), ldb = args.integer(11);
  const float beta = (float)args.number(12);
  const int64_t cOffset = args.integer(14), ldc = args.integer(15);
  if (args.failed) return nullptr;
  if (M < 0 || N < 0 || K < 0 || aOffset < 0 || bOffset < 0 || cOffset < 0) {
    args.fail("sgemm: negative size or offset");
    return nullptr;
  }
  const int64_t aRows = transA ? K : M, aCols = transA ? M : K;
  const int64_t bRows = transB ? N : K, bCols = transB ? K : N;
  if (lda < (aCols > 0 ? aCols : 1) || ldb < (bCols > 0 ? bCols : 1) || ldc < (N > 0 ? N : 1)) {
    args.fail("sgemm: leading dimension smaller than the row length");
    return nullptr;
  }
  float* A = args.f32(6, aOffset + extent(aRows, aCols, lda), "sgemm A");
  float* B = args.f32(9, bOffset + extent(bRows, bCols, ldb), "sgemm B");
  float* C = args.f32(13, cOffset + extent(M, N, ldc), "sgemm C");
  if (args.failed) return nullptr;
  auto kernel = Portable ? elder::sgemmPortable : elder::sgemm;
  kernel(transA, transB, (int)M, (int)N, (int)K, alpha, A + aOffset, (int)lda, B + bOffset,
         (int)ldb, beta, C + cOffset, (int)ldc);
  return undefinedValue(env);
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args args(env, info, 1);
  const int64_t threads = args.integer(0);
  if (args.failed) return nullptr;
  elder::setThreads((int)threads);
  return undefinedValue(env);
}

napi_value GetThreads(napi_env env, napi_callback_info) {
  napi_value result;
  napi_create_int32(env, elder::getThreads(), &result);
  return result;
}

napi_value GeluForward(napi_env env, napi_callback_info info) {
  Args args(env, info, 3);  // (x, y, n)
  const size_t n = (size_t)args.integer(2);
  float* x = args.f32(0, n, "x");
  float* y = args.f32(1, n, "y");
  if (args.failed) return nullptr;
  elder::geluForward(x, y, n);
  return undefinedValue(env);
}

napi_value GeluBackward(napi_env env, napi_callback_info info) {
  Args args(env, info, 4);  // (x, dy, dx, n)
  const size_t n = (size_t)args.integer(3);
  float* x = args.f32(0, n, "x");
  float* dy = args.f32(1, n, "dy");
  float* dx = args.f32(2, n, "dx");
  if (args.failed) return nullptr;
  elder::geluBackward(x, dy, dx, n);
  return undefinedValue(env);
}

napi_value SiluMulForward(napi_env env, napi_callback_info info) {
  Args args(env, info, 4);  // (gate, up, y, n)
  const size_t n = (size_t)args.integer(3);
  float* gate = args.f32(0, n, "gate");
  float* up = args.f32(1, n, "up");
  float* y = args.f32(2, n, "y");
  if (args.failed) return nullptr;
  elder::siluMulForward(gate, up, y, n);
  return undefinedValue(env);
}

napi_value SiluMulBackward(napi_env env, napi_callback_info info) {
  Args args(env, info, 6);  // (gate, up, dy, dgate, dup, n)
  const size_t n = (size_t)args.integer(5);
  float* gate = args.f32(0, n, "gate");
  float* up = args.f32(1, n, "up");
  float* dy = args.f32(2, n, "dy");
  float* dgate = args.f32(3, n, "dgate");
  float* dup = args.f32(4, n, "dup");
  if (args.failed) return nullptr;
  elder::siluMulBackward(gate, up, dy, dgate, dup, n);
  return undefinedValue(env);
}

napi_value LayerNormForward(napi_env env, napi_callback_info info) {
  Args args(env, info, 9);  // (x, gamma, beta, y, mean, rstd, rows, cols, eps)
  const int64_t rows = args.integer(6), cols = args.integer(7);
  const float eps = (float)args.number(8);
  const size_t n = (size_t)(rows * cols);
  float* x = args.f32(0, n, "x");
  float* gamma = args.f32(1, cols, "gamma");
  float* beta = args.f32(2, cols, "beta");
  float* y = args.f32(3, n, "y");
  float* mean = args.f32(4, rows, "mean");
  float* rstd = args.f32(5, rows, "rstd");
  if (args.failed) return nullptr;
  elder::layerNormForward(x, gamma, beta, y, mean, rstd, (int)rows, (int)cols, eps);
  return undefinedValue(env);
}

napi_value LayerNormBackward(napi_env env, napi_callback_info info) {
  Args args(env, info, 10);  // (x, gamma, mean, rstd, dy, dx?, dgamma?, dbeta?, rows, cols)
  const int64_t rows = args.integer(8), cols = args.integer(9);
  const size_t n = (size_t)(rows * cols);
  float* x = args.f32(0, n, "x");
  float* gamma = args.f32(1, cols, "gamma");
  float* mean = args.f32(2, rows, "mean");
  float* rstd = args.f32(3, rows, "rstd");
  float* dy = args.f32(4, n, "dy");
  float* dx = args.f32OrNull(5, n, "dx");
  float* dgamma = args.f32OrNull(6, cols, "dgamma");
  float* dbeta = args.f32OrNull(7, cols, "dbeta");
  if (args.failed) return nullptr;
  elder::layerNormBackward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, (int)rows, (int)cols);
  return undefinedValue(env);
}

napi_value RmsNormForward(napi_env env, napi_callback_info info) {
  Args args(env, info, 7);  // (x, weight, y, rstd, rows, cols, eps)
  const int64_t rows = args.integer(4), cols = args.integer(5);
  const float eps = (float)args.number(6);
  const size_t n = (size_t)(rows * cols);
  float* x = args.f32(0, n, "x");
  float* weight = args.f32(1, cols, "weight");
  float* y = args.f32(2, n, "y");
  float* rstd = args.f32(3, rows, "rstd");
  if (args.failed) return nullptr;
  elder::rmsNormForward(x, weight, y, rstd, (int)rows, (int)cols, eps);
  return undefinedValue(env);
}

napi_value RmsNormBackward(napi_env env, napi_callback_info info) {
  Args args(env, info, 8);  // (x, weight, rstd, dy, dx?, dweight?, rows, cols)
  const int64_t rows = args.integer(6), cols = args.integer(7);
  const size_t n = (size_t)(rows * cols);
  float* x = args.f32(0, n, "x");
  float* weight = args.f32(1, cols, "weight");
  float* rstd = args.f32(2, rows, "rstd");
  float* dy = args.f32(3, n, "dy");
  float* dx = args.f32OrNull(4, n, "dx");
  float* dweight = args.f32OrNull(5, cols, "dweight");
  if (args.failed) return nullptr;
  elder::rmsNormBackward(x, weight, rstd, dy, dx, dweight, (int)rows, (int)cols);
  return undefinedValue(env);
}

napi_value SoftmaxRows(napi_env env, napi_callback_info info) {
  Args args(env, info, 5);  // (x, count, rows, cols, causalOffset)
  const int64_t count = args.integer(1), rows = args.integer(2), cols = args.integer(3);
  const int64_t causalOffset = args.integer(4);
  float* x = args.f32(0, (size_t)(count * rows * cols), "x");
  if (args.failed) return nullptr;
  if (cols <= 0) return undefinedValue(env);
  elder::softmaxRows(x, (int)count, (int)rows, (int)cols, (int)causalOffset);
  return undefinedValue(env);
}

napi_value SoftmaxBackwardRows(napi_env env, napi_callback_info info) {
  Args args(env, info, 5);  // (p, dp, dx, rows, cols)
  const int64_t rows = args.integer(3), cols = args.integer(4);
  const size_t n = (size_t)(rows * cols);
  float* p = args.f32(0, n, "p");
  float* dp = args.f32(1, n, "dp");
  float* dx = args.f32(2, n, "dx");
  if (args.failed) return nullptr;
  elder::softmaxBackwardRows(p, dp, dx, (size_t)rows, (int)cols);
  return undefinedValue(env);
}

napi_value CrossEntropyForward(napi_env env, napi_callback_info info) {
  Args args(env, info, 6);  // (logits, targets, losses, lse, rows, cols)
  const int64_t rows = args.integer(4), cols = args.integer(5);
  float* logits = args.f32(0, (size_t)(rows * cols), "logits");
  int32_t* targets = args.i32(1, rows, "targets");
  float* losses = args.f32(2, rows, "losses");
  float* lse = args.f32(3, rows, "lse");
  if (args.failed) return nullptr;
  for (int64_t r = 0; r < rows; ++r)
    if (targets[r] < 0 || targets[r] >= cols) {
      args.fail("crossEntropy: target " + std::to_string(targets[r]) + " outside the vocabulary");
      return nullptr;
    }
  elder::crossEntropyForward(logits, targets, losses, lse, (int)rows, (int)cols);
  return undefinedValue(env);
}

napi_value CrossEntropyBackward(napi_env env, napi_callback_info info) {
  Args args(env, info, 7);  // (logits, targets, lse, rowScale, dlogits, rows, cols)
  const int64_t rows = args.integer(5), cols = args.integer(6);
  const size_t n = (size_t)(rows * cols);
  float* logits = args.f32(0, n, "logits");
  int32_t* targets = args.i32(1, rows, "targets");
  float* lse = args.f32(2, rows, "lse");
  float* rowScale = args.f32(3, rows, "rowScale");
  float* dlogits = args.f32(4, n, "dlogits");
  if (args.failed) return nullptr;
  elder::crossEntropyBackward(logits, targets, lse, rowScale, dlogits, (int)rows, (int)cols);
  return undefinedValue(env);
}

// The buffers of a fused LM-head loss call: x at 0, the head's weight at
// `weightIndex`, then (after vocab) targets, losses, argmax and dx, each sized
// and every target checked against the vocabulary. False once a check failed.
struct HeadLossArgs {
  int64_t rows = 0, width = 0, vocab = 0;
  float* x = nullptr;
  int32_t* targets = nullptr;
  float* losses = nullptr;
  int32_t* argmax = nullptr;
  float* dx = nullptr;
};

bool headLossArgs(Args& args, size_t vocabIndex, const char* name, HeadLossArgs& out) {
  out.rows = args.integer(1);
  out.width = args.integer(2);
  out.vocab = args.integer(vocabIndex);
  if (!args.failed && (out.rows < 1 || out.width < 1 || out.vocab < 1)) args.fail(std::string(name) + ": rows, width and vocab must be positive");
  out.x = args.f32(0, (size_t)(out.rows * out.width), "x");
  out.targets = args.i32(vocabIndex + 1, out.rows, "targets");
  out.losses = args.f32(vocabIndex + 2, out.rows, "losses");
  out.argmax = args.i32(vocabIndex + 3, out.rows, "argmax");
  out.dx = args.f32(vocabIndex + 4, (size_t)(out.rows * out.width), "dx");
  if (args.failed) return false;
  for (int64_t r = 0; r < out.rows; ++r)
    if (out.targets[r] < 0 || out.targets[r] >= out.vocab) {
      args.fail(std::string(name) + ": target " + std::to_string(out.targets[r]) + " outside the vocabulary");
      return false;
    }
  return true;
}

napi_value LinearCrossEntropy(napi_env env, napi_callback_info info) {
  Args args(env, info, 9);  // (x, rows, width, weight, vocab, targets, losses, argmax, dx)
  HeadLossArgs a;
  if (!headLossArgs(args, 4, "linearCrossEntropy", a)) return nullptr;
  float* weight = args.f32(3, (size_t)(a.vocab * a.width), "weight");
  if (args.failed) return nullptr;
  elder::linearCrossEntropy(a.x, (int)a.rows, (int)a.width, weight, (int)a.vocab, a.targets, a.losses, a.argmax, a.dx);
  return undefinedValue(env);
}

napi_value AdamStep(napi_env env, napi_callback_info info) {
  // (param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step)
  Args args(env, info, 11);
  const size_t n = (size_t)args.integer(4);
  float* param = args.f32(0, n, "param");
  float* grad = args.f32(1, n, "grad");
  float* m = args.f32(2, n, "m");
  float* v = args.f32(3, n, "v");
  const float lr = (float)args.number(5), beta1 = (float)args.number(6);
  const float beta2 = (float)args.number(7), eps = (float)args.number(8);
  const float weightDecay = (float)args.number(9);
  const int64_t step = args.integer(10);
  if (args.failed) return nullptr;
  elder::adamStep(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, (int)step);
  return undefinedValue(env);
}

// A strided [rows, cols] view: (array, offset, ld) at args index..index+2.
struct View {
  float* data = nullptr;
  int64_t ld = 0;
};

View viewArg(Args& args, size_t index, int64_t rows, int64_t cols, const char* name, bool nullable) {
  View view;
  const int64_t offset = args.integer(index + 1);
  view.ld = args.integer(index + 2);
  if (args.failed) return view;
  if (offset < 0 || view.ld < cols) {
    args.fail(std::string(name) + ": negative offset or leading dimension below the row length");
    return view;
  }
  const size_t needed = (size_t)offset + extent(rows, cols, view.ld);
  float* base = nullable ? args.f32OrNull(index, needed, name) : args.f32(index, needed, name);
  if (base != nullptr) view.data = base + offset;
  return view;
}

bool attentionDims(Args& args, size_t index, elder::AttentionDims& dims) {
  const int64_t batch = args.integer(index), heads = args.integer(index + 1);
  const int64_t kvHeads = args.integer(index + 2), steps = args.integer(index + 3);
  const int64_t headDim = args.integer(index + 4);
  dims.scale = (float)args.number(index + 5);
  if (args.failed) return false;
  if (batch < 0 || steps < 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || heads % kvHeads != 0) {
    args.fail("attention: invalid dimensions");
    return false;
  }
  dims = {(int)batch, (int)heads, (int)kvHeads, (int)steps, (int)headDim, dims.scale};
  return true;
}

napi_value AttentionForward(napi_env env, napi_callback_info info) {
  // (q, qOff, ldq, k, kOff, ldk, v, vOff, ldv, out, outOff, ldo, probs,
  //  batch, heads, kvHeads, steps, headDim, scale, past, keyStride, window)
  Args args(env, info, 22);
  elder::AttentionDims d{};
  if (!attentionDims(args, 13, d)) return nullptr;
  const int64_t past = args.integer(19), keyStride = args.integer(20), window = args.integer(21);
  if (args.failed) return nullptr;
  if (window < 0) {
    args.fail("attention: negative window");
    return nullptr;
  }
  if (past < 0 || past + d.steps > keyStride) {
    args.fail("attention: past + steps exceeds the key stride");
    return nullptr;
  }
  const int64_t qRows = (int64_t)d.batch * d.steps, kvRows = (int64_t)d.batch * keyStride;
  View q = viewArg(args, 0, qRows, (int64_t)d.heads * d.headDim, "attention q", false);
  View k = viewArg(args, 3, kvRows, (int64_t)d.kvHeads * d.headDim, "attention k", false);
  View v = viewArg(args, 6, kvRows, (int64_t)d.kvHeads * d.headDim, "attention v", false);
  View out = viewArg(args, 9, qRows, (int64_t)d.heads * d.headDim, "attention out", false);
  float* probs = args.f32(12, (size_t)d.batch * d.heads * d.steps * (past + d.steps), "attention probs");
  if (args.failed) return nullptr;
  if (qRows == 0) return undefinedValue(env);
  const elder::AttentionViews views{d, q.data, (int)q.ld, k.data, (int)k.ld, v.data, (int)v.ld, out.data, (int)out.ld};
  elder::attentionForward(views, probs, (int)past, (int)keyStride, (int)window);
  return undefinedValue(env);
}

napi_value AttentionBackward(napi_env env, napi_callback_info info) {
  // (q, qOff, ldq, k, kOff, ldk, v, vOff, ldv, probs, dOut, dOutOff, ldo,
  //  dq?, dqOff, ldq, dk?, dkOff, ldk, dv?, dvOff, ldv, batch, heads, kvHeads, steps, headDim, scale)
  Args args(env, info, 28);
  elder::AttentionDims d{};
  if (!attentionDims(args, 22, d)) return nullptr;
  const int64_t rows = (int64_t)d.batch * d.steps;
  const int64_t qCols = (int64_t)d.heads * d.headDim, kvCols = (int64_t)d.kvHeads * d.headDim;
  View q = viewArg(args, 0, rows, qCols, "attention q", false);
  View k = viewArg(args, 3, rows, kvCols, "attention k", false);
  View v = viewArg(args, 6, rows, kvCols, "attention v", false);
  float* probs = args.f32(9, (size_t)d.batch * d.heads * d.steps * d.steps, "attention probs");
  View dOut = viewArg(args, 10, rows, qCols, "attention dOut", false);
  View dq = viewArg(args, 13, rows, qCols, "attention dq", true);
  View dk = viewArg(args, 16, rows, kvCols, "attention dk", true);
  View dv = viewArg(args, 19, rows, kvCols, "attention dv", true);
  if (args.failed) return nullptr;
  if (rows == 0) return undefinedValue(env);
  const elder::AttentionViews views{d, q.data, (int)q.ld, k.data, (int)k.ld, v.data, (int)v.ld, nullptr, (int)dOut.ld};
  const elder::AttentionGrads grads{dOut.data, dq.data, (int)dq.ld, dk.data, (int)dk.ld, dv.data, (int)dv.ld};
  elder::attentionBackward(views, probs, grads);
  return undefinedValue(env);
}

napi_value SumSquares(napi_env env, napi_callback_info info) {
  Args args(env, info, 2);  // (x, n)
  const size_t n = (size_t)args.integer(1);
  float* x = args.f32(0, n, "x");
  if (args.failed) return nullptr;
  napi_value result;
  napi_create_double(env, elder::sumSquares(x, n), &result);
  return result;
}

napi_value ScaleInPlace(napi_env env, napi_callback_info info) {
  Args args(env, info, 3);  // (x, n, factor)
  const size_t n = (size_t)args.integer(1);
  const float factor = (float)args.number(2);
  float* x = args.f32(0, n, "x");
  if (args.failed) return nullptr;
  elder::scaleInPlace(x, n, factor);
  return undefinedValue(env);
}

napi_value AddColumnSums(napi_env env, napi_callback_info info) {
  Args args(env, info, 4);  // (x, rows, cols, sums)
  const int64_t rows = args.integer(1), cols = args.integer(2);
  if (!args.failed && (rows < 0 || cols < 0)) args.fail("addColumnSums: negative size");
  if (args.failed) return nullptr;
  float* x = args.f32(0, (size_t)(rows * cols), "x");
  float* sums = args.f32(3, (size_t)cols, "sums");
  if (args.failed) return nullptr;
  elder::addColumnSums(x, (int)rows, (int)cols, sums);
  return undefinedValue(env);
}

// (a, n) -> LAPACK info: 0, or k > 0 for the failing pivot / zero diagonal.
template <int (*Routine)(double*, int)>
napi_value Lapack(napi_env env, napi_callback_info info) {
  Args args(env, info, 2);
  const int64_t n = args.integer(1);
  if (!args.failed && (n < 0 || n > 46340)) args.fail("linear algebra: matrix order out of range");
  double* a = args.f64(0, (size_t)(n * n), "a");
  if (args.failed) return nullptr;
  napi_value result;
  napi_create_int32(env, Routine(a, (int)n), &result);
  return result;
}

// (l, n, rhs, m) -> LAPACK info.
napi_value CholeskySolveRows(napi_env env, napi_callback_info info) {
  Args args(env, info, 4);
  const int64_t n = args.integer(1), m = args.integer(3);
  if (!args.failed && (n < 0 || n > 46340 || m < 0 || m > INT32_MAX / (n > 0 ? n : 1)))
    args.fail("choleskySolveRows: size out of range");
  double* l = args.f64(0, (size_t)(n * n), "l");
  double* rhs = args.f64(2, (size_t)(n * m), "rhs");
  if (args.failed) return nullptr;
  napi_value result;
  napi_create_int32(env, elder::choleskySolveRows(l, (int)n, rhs, (int)m), &result);
  return result;
}

// (a, n, values) -> LAPACK info.
napi_value SymmetricEigen(napi_env env, napi_callback_info info) {
  Args args(env, info, 3);
  const int64_t n = args.integer(1);
  if (!args.failed && (n < 0 || n > 46340)) args.fail("symmetricEigen: matrix order out of range");
  double* a = args.f64(0, (size_t)(n * n), "a");
  double* values = args.f64(2, (size_t)n, "values");
  if (args.failed) return nullptr;
  napi_value result;
  napi_create_int32(env, elder::symmetricEigen(a, (int)n, values), &result);
  return result;
}

// A half-precision dtype code from TypeScript: 1 F16, 2 BF16.
bool halfDtype(Args& args, size_t index, elder::HalfDtype* dtype) {
  const int64_t code = args.integer(index);
  if (args.failed) return false;
  if (code != 1 && code != 2) {
    args.fail("half dtype must be 1 (F16) or 2 (BF16)");
    return false;
  }
  *dtype = (elder::HalfDtype)code;
  return true;
}

napi_value SgemmHalfB(napi_env env, napi_callback_info info) {
  // (transB, M, N, K, A, aOffset, lda, B, bOffset, ldb, dtype, beta, C, cOffset, ldc)
  Args args(env, info, 15);
  const bool transB = args.boolean(0);
  const int64_t M = args.integer(1), N = args.integer(2), K = args.integer(3);
  const int64_t aOffset = args.integer(5), lda = args.integer(6);
  const int64_t bOffset = args.integer(8), ldb = args.integer(9);
  elder::HalfDtype dtype;
  if (!halfDtype(args, 10, &dtype)) return nullptr;
  const float beta = (float)args.number(11);
  const int64_t cOffset = args.integer(13), ldc = args.integer(14);
  if (args.failed) return nullptr;
  if (M < 0 || N < 0 || K < 0 || aOffset < 0 || bOffset < 0 || cOffset < 0) {
    args.fail("sgemmHalfB: negative size or offset");
    return nullptr;
  }
  const int64_t bRows = transB ? N : K, bCols = transB ? K : N;
  if (lda < (K > 0 ? K : 1) || ldb < (bCols > 0 ? bCols : 1) || ldc < (N > 0 ? N : 1)) {
    args.fail("sgemmHalfB: leading dimension smaller than the row length");
    return nullptr;
  }
  float* A = args.f32(4, aOffset + extent(M, K, lda), "sgemmHalfB A");
  uint16_t* B = args.u16(7, bOffset + extent(bRows, bCols, ldb), "sgemmHalfB B");
  float* C = args.f32(12, cOffset + extent(M, N, ldc), "sgemmHalfB C");
  if (args.failed) return nullptr;
  elder::sgemmHalfB(transB, (int)M, (int)N, (int)K, A + aOffset, (int)lda, B + bOffset, dtype, (int)ldb, beta,
                    C + cOffset, (int)ldc);
  return undefinedValue(env);
}

napi_value HalfToFloat(napi_env env, napi_callback_info info) {
  Args args(env, info, 5);  // (src, srcOffset, dtype, dst, n)
  const int64_t offset = args.integer(1), n = args.integer(4);
  elder::HalfDtype dtype;
  if (!halfDtype(args, 2, &dtype)) return nullptr;
  if (!args.failed && (offset < 0 || n < 0)) args.fail("halfToFloat: negative offset or count");
  uint16_t* src = args.u16(0, (size_t)(offset + n), "src");
  float* dst = args.f32(3, (size_t)n, "dst");
  if (args.failed) return nullptr;
  elder::halfToFloatParallel(src + offset, dtype, dst, (size_t)n);
  return undefinedValue(env);
}

// (data: Float32Array for F32, Uint16Array for F16 (1) / BF16 (2), kind) -> first non-finite index or -1.
napi_value FirstNonFinite(napi_env env, napi_callback_info info) {
  Args args(env, info, 2);
  const int64_t kind = args.integer(1);
  if (!args.failed && (kind < 0 || kind > 2)) args.fail("firstNonFinite: kind must be 0 (F32), 1 (F16) or 2 (BF16)");
  if (args.failed) return nullptr;
  const void* data = kind == 0 ? (const void*)args.f32(0, 0, "data") : (const void*)args.u16(0, 0, "data");
  if (args.failed) return nullptr;
  size_t length = 0;
  napi_typedarray_type type;
  napi_get_typedarray_info(env, args.values[0], &type, &length, nullptr, nullptr, nullptr);
  napi_value result;
  napi_create_int64(env, elder::firstNonFinite(data, (elder::StoredKind)kind, length), &result);
  return result;
}

napi_value LinearCrossEntropyHalf(napi_env env, napi_callback_info info) {
  Args args(env, info, 10);  // (x, rows, width, weight, dtype, vocab, targets, losses, argmax, dx)
  elder::HalfDtype dtype;
  if (!halfDtype(args, 4, &dtype)) return nullptr;
  HeadLossArgs a;
  if (!headLossArgs(args, 5, "linearCrossEntropyHalf", a)) return nullptr;
  uint16_t* weight = args.u16(3, (size_t)(a.vocab * a.width), "weight");
  if (args.failed) return nullptr;
  elder::linearCrossEntropyHalf(a.x, (int)a.rows, (int)a.width, weight, dtype, (int)a.vocab, a.targets, a.losses, a.argmax, a.dx);
  return undefinedValue(env);
}

struct Mapping {
  void* base;
  size_t length;
};

void unmap(napi_env, void*, void* hint) {
  Mapping* mapping = static_cast<Mapping*>(hint);
  munmap(mapping->base, mapping->length);
  delete mapping;
}

// (fd, offset, length) -> an ArrayBuffer over bytes [offset, offset + length) of the
// open file, mapped copy-on-write: pages are read from disk (or the page cache,
// shared between processes) on first touch, and a write makes a private copy of
// its page, never reaching the file. Unmapped when the buffer is collected.
napi_value MapRange(napi_env env, napi_callback_info info) {
  Args args(env, info, 3);
  const int64_t fd = args.integer(0), offset = args.integer(1), length = args.integer(2);
  if (!args.failed && (fd < 0 || offset < 0 || length <= 0)) args.fail("mapRange: bad descriptor, offset or length");
  if (args.failed) return nullptr;
  const int64_t page = sysconf(_SC_PAGESIZE);
  const int64_t start = offset - offset % page;
  const size_t span = (size_t)(offset - start + length);
  void* base = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE, (int)fd, (off_t)start);
  if (base == MAP_FAILED) {
    napi_throw_error(env, nullptr, (std::string("mmap failed: ") + std::strerror(errno)).c_str());
    return nullptr;
  }
  Mapping* mapping = new Mapping{base, span};
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, static_cast<char*>(base) + (offset - start), (size_t)length, unmap, mapping,
                                       &buffer) != napi_ok) {
    munmap(base, span);
    delete mapping;
    napi_throw_error(env, nullptr, "mapRange: this Node.js cannot wrap mapped memory in an ArrayBuffer");
    return nullptr;
  }
  return buffer;
}

void define(napi_env env, napi_value exports, const char* name, napi_callback callback) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, nullptr, &fn);
  napi_set_named_property(env, exports, name, fn);
}

napi_value Init(napi_env env, napi_value exports) {
  define(env, exports, "sgemm", Sgemm<false>);
  define(env, exports, "sgemmPortable", Sgemm<true>);
  define(env, exports, "setThreads", SetThreads);
  define(env, exports, "getThreads", GetThreads);
  define(env, exports, "geluForward", GeluForward);
  define(env, exports, "geluBackward", GeluBackward);
  define(env, exports, "siluMulForward", SiluMulForward);
  define(env, exports, "siluMulBackward", SiluMulBackward);
  define(env, exports, "layerNormForward", LayerNormForward);
  define(env, exports, "layerNormBackward", LayerNormBackward);
  define(env, exports, "rmsNormForward", RmsNormForward);
  define(env, exports, "rmsNormBackward", RmsNormBackward);
  define(env, exports, "softmaxRows", SoftmaxRows);
  define(env, exports, "softmaxBackwardRows", SoftmaxBackwardRows);
  define(env, exports, "crossEntropyForward", CrossEntropyForward);
  define(env, exports, "crossEntropyBackward", CrossEntropyBackward);
  define(env, exports, "linearCrossEntropy", LinearCrossEntropy);
  define(env, exports, "linearCrossEntropyHalf", LinearCrossEntropyHalf);
  define(env, exports, "sgemmHalfB", SgemmHalfB);
  define(env, exports, "halfToFloat", HalfToFloat);
  define(env, exports, "firstNonFinite", FirstNonFinite);
  define(env, exports, "mapRange", MapRange);
  define(env, exports, "adamStep", AdamStep);
  define(env, exports, "sumSquares", SumSquares);
  define(env, exports, "scaleInPlace", ScaleInPlace);
  define(env, exports, "addColumnSums", AddColumnSums);
  define(env, exports, "attentionForward", AttentionForward);
  define(env, exports, "attentionBackward", AttentionBackward);
  if (elder::hasLapack()) {
    define(env, exports, "choleskyLower", Lapack<elder::choleskyLower>);
    define(env, exports, "invertLower", Lapack<elder::invertLower>);
    define(env, exports, "choleskySolveRows", CholeskySolveRows);
    define(env, exports, "symmetricEigen", SymmetricEigen);
  }
  napi_value backend;
  napi_create_string_utf8(env, elder::sgemmBackendName(), NAPI_AUTO_LENGTH, &backend);
  napi_set_named_property(env, exports, "sgemmBackend", backend);
  napi_value simd;
  napi_create_string_utf8(env, elder::simdClone(), NAPI_AUTO_LENGTH, &simd);
  napi_set_named_property(env, exports, "simdClone", simd);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
