{
  # OpenBLAS is optional: detect-openblas.cjs prints the include folder when
  # cblas.h and libopenblas are present (and ELDER_NO_OPENBLAS is unset), or
  # nothing; without it the addon is built with the portable C sgemm only.
  # elder_native_avx2 is the same addon without AVX-512 code paths, loaded
  # when ELDER_SIMD=x86-64-v3 (with OPENBLAS_CORETYPE=Haswell), so that an
  # AVX-512 machine measures the AVX2 path too.
  "variables": {
    "openblas_include": "<!(node native/detect-openblas.cjs)"
  },
  "targets": [
    {
      "target_name": "elder_native",
      "sources": [
        "native/addon.cc",
        "native/sgemm.cc",
        "native/elementwise.cc",
        "native/attention.cc",
        "native/linalg.cc",
        "native/linear_cross_entropy.cc",
        "native/half.cc"
      ],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-exceptions", "-fopenmp-simd", "-fno-trapping-math", "-fno-math-errno"],
      "cflags": ["-O3"],
      "ldflags": ["-pthread"],
      "conditions": [
        ["openblas_include!=''", {
          "defines": ["ELDER_OPENBLAS=1"],
          "include_dirs": ["<(openblas_include)"],
          "libraries": ["-lopenblas"]
        }]
      ]
    },
    {
      "target_name": "elder_native_avx2",
      "sources": [
        "native/addon.cc",
        "native/sgemm.cc",
        "native/elementwise.cc",
        "native/attention.cc",
        "native/linalg.cc",
        "native/linear_cross_entropy.cc",
        "native/half.cc"
      ],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-exceptions", "-fopenmp-simd", "-fno-trapping-math", "-fno-math-errno"],
      "cflags": ["-O3"],
      "defines": ["ELDER_AVX2_ONLY=1"],
      "ldflags": ["-pthread"],
      "conditions": [
        ["openblas_include!=''", {
          "defines": ["ELDER_OPENBLAS=1"],
          "include_dirs": ["<(openblas_include)"],
          "libraries": ["-lopenblas"]
        }]
      ]
    }
  ]
}
