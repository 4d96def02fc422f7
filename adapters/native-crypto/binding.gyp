{
  "targets": [
    {
      "target_name": "native_crypto",
      "sources": ["src/native_crypto.c"],
      "defines": ["NAPI_VERSION=8", "OPENSSL_API_COMPAT=30000", "OPENSSL_NO_DEPRECATED"],
      "cflags": ["-std=c11", "-O2", "-Wall", "-Wextra", "-Wconversion", "-Wno-sign-conversion", "-fvisibility=hidden", "-fstack-protector-strong"],
      "cflags!": ["-fno-exceptions"],
      "xcode_settings": {
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "OTHER_CFLAGS": ["-std=c11", "-O2", "-Wall", "-Wextra"]
      }
    }
  ]
}
