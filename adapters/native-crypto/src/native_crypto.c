/*
 * native_crypto: AES-256-GCM / AES-256-CBC primitives for effect-uid2's
 * `Crypto` service, as a plain Node-API (C) addon over the OpenSSL that Node
 * itself ships (the OpenSSL symbols resolve against the node binary at load
 * time; nothing is linked in).
 *
 * Speed comes from keeping one EVP_CIPHER_CTX per key and direction with the
 * AES key schedule (and GHASH table) computed once; every call re-initialises
 * the context with a NULL key and the new IV only.
 *
 * Contract (mirrors CryptoShape in src/Crypto.ts):
 *   importKey(secret: Uint8Array(32)) -> handle      (throws on bad input)
 *   releaseKey(handle) -> undefined                  (keys and key tables; idempotent; ignores non-handles)
 *   gcmDecrypt(handle, data, start, end) -> Uint8Array | undefined   (never throws)
 *   cbcDecrypt(handle, data, start, end) -> Uint8Array | undefined   (never throws)
 *   gcmEncrypt(handle, nonce(12), plaintext) -> Uint8Array          (throws on bad input)
 *   cbcEncrypt(handle, iv(16), plaintext) -> Uint8Array             (throws on bad input)
 *   gcmEncryptInto(handle, nonce(12), plaintext, out, offset) -> bytes written | -1
 *   cbcEncryptInto(handle, iv(16), plaintext, out, offset) -> bytes written | -1
 *       (throw exactly as gcmEncrypt / cbcEncrypt on a bad handle, iv or plaintext; -1, nothing
 *       written, for an unusable target: bad type or offset, too little room, overlapping an input)
 *   gcmDecryptInto(handle, data, start, end, out, offset) -> boolean          (never throws)
 *   cbcDecryptInto(handle, data, start, end, out, offset) -> length | -1      (never throws)
 *   importKeyTable(ids: Int32Array, secrets: Uint8Array(32 * n)) -> table handle   (throws on bad input)
 *   openToken(text, alphabet 0 | 1, table, fields: Uint8Array(>= 75)) -> string | undefined  (never throws)
 *       (the raw UID as Base64; header, master and site fields written to fields[0, 75) on success only)
 *   liveKeys() / liveContexts() -> number   (process-wide counters, for leak tests)
 *
 * Safety rules followed below:
 *   - every byte read from JS memory is inside [start, end) of a validated
 *     Uint8Array, with 0 <= start <= end <= length and start/end integers;
 *   - handles are externals carrying a private type tag, so any other value
 *     (objects, other addons' externals, KeyObjects) is rejected before a
 *     pointer is dereferenced;
 *   - a released handle keeps its (zeroed) struct alive until the external is
 *     garbage collected, so use-after-release and double release are checked
 *     flag reads, never dangling pointers;
 *   - whatever a failed operation queued in OpenSSL's error queue is cleared before returning
 *     (as node:crypto does), so it cannot surface later as a stale node:crypto error;
 *   - the *Into variants write only inside out[offset, offset + need), which must lie within the
 *     target Uint8Array and must not overlap the input range(s) (for encrypt: the iv and the plaintext);
 *   - openToken copies the token text into a bounded stack buffer (at most TOKEN_MAX_TEXT UTF-16
 *     code units, and any code unit outside one byte is invalid, so nothing can alias an alphabet
 *     character), keeps every intermediate on the stack (plaintexts wiped before returning), runs
 *     no JS while it works (both key ids are resolved in the table), and writes its fields output
 *     only once everything has succeeded.
 */
#include <node_api.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY_LEN 32
#define GCM_NONCE 12
#define GCM_TAG 16
#define CBC_IV 16
#define AES_BLOCK 16
/* OpenSSL takes int lengths: keep every length (plus a block of slack) well below INT_MAX. */
#define MAX_LEN ((size_t)INT_MAX - 1024)
/* CBC decrypts into a scratch buffer first (the plaintext length is only known after unpadding). */
#define STACK_SCRATCH 2048
/* What one key costs at most, reported to V8 so the finalizer backstop gets a fair GC pressure. */
#define KEY_EXTERNAL_BYTES 4096

enum { CTX_GCM_DEC = 0, CTX_GCM_ENC = 1, CTX_CBC_DEC = 2, CTX_CBC_ENC = 3, CTX_COUNT = 4 };

typedef struct {
  /* Lazily created, once each, on first use of that mode/direction. */
  EVP_CIPHER_CTX* ctx[CTX_COUNT];
  unsigned char key[KEY_LEN];
  bool released;
} native_key;

/* Process-wide: the addon may be loaded by several worker threads. */
static atomic_long live_keys;
static atomic_long live_contexts;

static const napi_type_tag KEY_TYPE_TAG = {0x6566666563742d75ULL, 0x6964322d6165736bULL};

/* ------------------------------------------------------------------------ */
/* Small N-API helpers                                                       */
/* ------------------------------------------------------------------------ */

static napi_value js_undefined(napi_env env) {
  napi_value v = NULL;
  napi_get_undefined(env, &v);
  return v;
}

static napi_value throw_error(napi_env env, const char* code, const char* message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, code, message);
  return NULL;
}

static napi_value throw_type_error(napi_env env, const char* code, const char* message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_type_error(env, code, message);
  return NULL;
}

static napi_value throw_range_error(napi_env env, const char* code, const char* message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_range_error(env, code, message);
  return NULL;
}

/* A Uint8Array (Buffer included) and nothing else; data may be NULL when len == 0.
 * napi_get_typedarray_info fails with napi_invalid_arg on anything that is not a typed array. */
static bool get_u8(napi_env env, napi_value value, const uint8_t** data, size_t* len) {
  napi_typedarray_type type;
  size_t length = 0;
  void* ptr = NULL;
  if (napi_get_typedarray_info(env, value, &type, &length, &ptr, NULL, NULL) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  if (length > 0 && ptr == NULL) return false;
  *data = (const uint8_t*)ptr;
  *len = length;
  return true;
}

/* An integral JS number in [0, max]. Rejects NaN, infinities, fractions, negatives and non-numbers
 * (napi_get_value_double fails with napi_number_expected on anything but a number). */
static bool get_index(napi_env env, napi_value value, size_t max, size_t* out) {
  double d = 0;
  if (napi_get_value_double(env, value, &d) != napi_ok) return false;
  if (!(d >= 0.0) || d > (double)max || d != floor(d)) return false;
  *out = (size_t)d;
  return true;
}

/* The pointer behind an external carrying `tag`, or NULL when `value` is not one. The typeof check
 * comes first: napi_check_object_type_tag would ToObject() its argument and throw on null/undefined.
 * The type tag then rejects externals created by anyone but this addon (for this kind of handle). */
static void* tagged_external(napi_env env, napi_value value, const napi_type_tag* tag) {
  napi_valuetype t;
  if (napi_typeof(env, value, &t) != napi_ok || t != napi_external) return NULL;
  bool tagged = false;
  if (napi_check_object_type_tag(env, value, tag, &tagged) != napi_ok || !tagged) return NULL;
  void* ptr = NULL;
  if (napi_get_value_external(env, value, &ptr) != napi_ok) return NULL;
  return ptr;
}

/* The native_key behind a handle made by importKey, or NULL. */
static native_key* get_key(napi_env env, napi_value value) { return (native_key*)tagged_external(env, value, &KEY_TYPE_TAG); }

/* Wraps `length` bytes of `ab` (offset 0) in a Uint8Array; NULL on failure. */
static napi_value u8_over(napi_env env, napi_value ab, size_t length) {
  napi_value out = NULL;
  if (napi_create_typedarray(env, napi_uint8_array, length, ab, 0, &out) != napi_ok) return NULL;
  return out;
}

/* ------------------------------------------------------------------------ */
/* Key lifecycle                                                             */
/* ------------------------------------------------------------------------ */

static void free_contexts(native_key* k) {
  for (int i = 0; i < CTX_COUNT; i++) {
    if (k->ctx[i] != NULL) {
      /* EVP_CIPHER_CTX_free cleanses the provider context (key schedule, GHASH table). */
      EVP_CIPHER_CTX_free(k->ctx[i]);
      k->ctx[i] = NULL;
      atomic_fetch_sub(&live_contexts, 1);
    }
  }
}

/* Frees the contexts and wipes the key; the struct itself stays until finalized. */
static bool release_key(native_key* k) {
  if (k->released) return false;
  k->released = true;
  free_contexts(k);
  OPENSSL_cleanse(k->key, sizeof k->key);
  atomic_fetch_sub(&live_keys, 1);
  return true;
}

/* Backstop: a handle dropped without releaseKey is freed when V8 collects it. */
static void finalize_key(napi_env env, void* data, void* hint) {
  (void)hint;
  native_key* k = (native_key*)data;
  if (k == NULL) return;
  if (release_key(k)) {
    int64_t ignored;
    napi_adjust_external_memory(env, -(int64_t)KEY_EXTERNAL_BYTES, &ignored);
  }
  OPENSSL_cleanse(k, sizeof *k);
  free(k);
}

/* The context for one mode/direction, created (key schedule set) on first use. */
static EVP_CIPHER_CTX* key_ctx(native_key* k, int which) {
  if (k->released) return NULL;
  EVP_CIPHER_CTX* ctx = k->ctx[which];
  if (ctx != NULL) return ctx;
  ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL) return NULL;
  const bool gcm = which == CTX_GCM_DEC || which == CTX_GCM_ENC;
  const int enc = (which == CTX_GCM_ENC || which == CTX_CBC_ENC) ? 1 : 0;
  int ok = EVP_CipherInit_ex(ctx, gcm ? EVP_aes_256_gcm() : EVP_aes_256_cbc(), NULL, k->key, NULL, enc) == 1;
  if (ok && gcm) {
    /* 12 is OpenSSL's default, but make it explicit: a different IV length would change the scheme. */
    ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, GCM_NONCE, NULL) == 1;
  }
  if (!ok) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  k->ctx[which] = ctx;
  atomic_fetch_add(&live_contexts, 1);
  return ctx;
}

static napi_value ImportKey(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  const uint8_t* secret = NULL;
  size_t len = 0;
  if (argc < 1 || !get_u8(env, argv[0], &secret, &len)) {
    return throw_type_error(env, "ERR_NATIVE_CRYPTO_INVALID_KEY", "importKey: secret must be a Uint8Array");
  }
  if (len != KEY_LEN) {
    return throw_range_error(env, "ERR_NATIVE_CRYPTO_INVALID_KEY", "importKey: secret must be 32 bytes (AES-256)");
  }
  native_key* k = (native_key*)calloc(1, sizeof *k);
  if (k == NULL) return throw_error(env, "ERR_NATIVE_CRYPTO_OOM", "importKey: out of memory");
  memcpy(k->key, secret, KEY_LEN);
  atomic_fetch_add(&live_keys, 1);

  napi_value handle = NULL;
  if (napi_create_external(env, k, finalize_key, NULL, &handle) != napi_ok) {
    release_key(k);
    OPENSSL_cleanse(k, sizeof *k);
    free(k);
    return throw_error(env, "ERR_NATIVE_CRYPTO_INTERNAL", "importKey: cannot create handle");
  }
  /* From here on the finalizer owns k. */
  if (napi_type_tag_object(env, handle, &KEY_TYPE_TAG) != napi_ok) {
    release_key(k);
    return throw_error(env, "ERR_NATIVE_CRYPTO_INTERNAL", "importKey: cannot tag handle");
  }
  int64_t ignored;
  napi_adjust_external_memory(env, KEY_EXTERNAL_BYTES, &ignored);
  return handle;
}

/* Key tables (defined with openToken below) are released through releaseKey too. */
typedef struct key_table key_table;
static key_table* get_table(napi_env env, napi_value value);
static bool release_table(key_table* t);
static int64_t table_external_bytes(const key_table* t);

static napi_value ReleaseKey(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc >= 1) {
    native_key* k = get_key(env, argv[0]);
    if (k != NULL && release_key(k)) {
      int64_t ignored;
      napi_adjust_external_memory(env, -(int64_t)KEY_EXTERNAL_BYTES, &ignored);
    }
    key_table* t = k == NULL ? get_table(env, argv[0]) : NULL;
    if (t != NULL && release_table(t)) {
      int64_t ignored;
      napi_adjust_external_memory(env, -table_external_bytes(t), &ignored);
    }
  }
  return js_undefined(env);
}

/* ------------------------------------------------------------------------ */
/* Decrypt cores: validated pointers in, plaintext out                       */
/* ------------------------------------------------------------------------ */

/* Errors this addon makes OpenSSL queue are dropped before returning to JS, as node:crypto does
 * (ClearErrorOnReturn), so a failed decrypt never surfaces as a stale error in node:crypto.
 * Successful calls queue nothing, so the (measurably costly) ERR_set_mark is not needed. */
static void clear_openssl_errors(void) { ERR_clear_error(); }

/* AES-256-GCM over blob = nonce(12) ‖ ct ‖ tag(16), length >= 28. Writes exactly length - 28 bytes
 * to `out` (which must have that much room; may be NULL when that is 0). False if the tag is wrong. */
static bool gcm_decrypt_core(native_key* k, const uint8_t* blob, size_t length, uint8_t* out) {
  const size_t ct_len = length - (GCM_NONCE + GCM_TAG);
  unsigned char tag[GCM_TAG];
  unsigned char empty[AES_BLOCK];
  memcpy(tag, blob + length - GCM_TAG, GCM_TAG);
  unsigned char* dst = ct_len > 0 ? out : empty;
  EVP_CIPHER_CTX* ctx = key_ctx(k, CTX_GCM_DEC);
  int n = 0, fin = 0;
  bool ok = ctx != NULL && EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, blob) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, GCM_TAG, tag) == 1;
  if (ok && ct_len > 0) {
    ok = EVP_DecryptUpdate(ctx, dst, &n, blob + GCM_NONCE, (int)ct_len) == 1 && n >= 0 && (size_t)n <= ct_len;
  }
  /* GCM's final emits no bytes; it verifies the tag. */
  ok = ok && EVP_DecryptFinal_ex(ctx, dst + n, &fin) == 1 && (size_t)n + (size_t)fin == ct_len;
  if (!ok) {
    clear_openssl_errors();
    if (ct_len > 0) OPENSSL_cleanse(out, ct_len);
  }
  return ok;
}

/* AES-256-CBC + PKCS#7 over blob = iv(16) ‖ ct, ct a non-empty multiple of 16. `out` must have
 * room for ct_len + 16 bytes (EVP_DecryptUpdate's documented worst case). On success the
 * plaintext is out[0, *pt_len), pt_len < ct_len; on failure everything written is wiped. */
static bool cbc_decrypt_core(native_key* k, const uint8_t* blob, size_t length, uint8_t* out, size_t* pt_len) {
  const size_t ct_len = length - CBC_IV;
  EVP_CIPHER_CTX* ctx = key_ctx(k, CTX_CBC_DEC);
  int n = 0, fin = 0;
  bool ok = ctx != NULL && EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, blob) == 1 &&
            EVP_DecryptUpdate(ctx, out, &n, blob + CBC_IV, (int)ct_len) == 1 && n >= 0 && (size_t)n <= ct_len &&
            EVP_DecryptFinal_ex(ctx, out + n, &fin) == 1 && fin >= 0 && (size_t)n + (size_t)fin < ct_len;
  if (!ok) {
    clear_openssl_errors();
    OPENSSL_cleanse(out, ct_len + AES_BLOCK);
    return false;
  }
  *pt_len = (size_t)n + (size_t)fin;
  /* Nothing should be there, but the caller only ever sees [0, pt_len): keep the rest clean. */
  OPENSSL_cleanse(out + *pt_len, ct_len + AES_BLOCK - *pt_len);
  return true;
}

/* ------------------------------------------------------------------------ */
/* Decrypt entry points                                                      */
/*   gcmDecrypt / cbcDecrypt (handle, data, start, end) -> Uint8Array | undefined                    */
/*   gcmDecryptInto (handle, data, start, end, out, offset) -> boolean                                */
/*   cbcDecryptInto (handle, data, start, end, out, offset) -> plaintext length, or -1                */
/* None of them throws on bad input. The Into variants let the JS wrapper hand out slices of a        */
/* pooled buffer instead of paying for one ArrayBuffer allocation per call.                           */
/* ------------------------------------------------------------------------ */

typedef struct {
  native_key* key;
  const uint8_t* blob; /* data + start */
  size_t length;       /* end - start */
  uint8_t* out;        /* Into variants: out + offset */
  size_t out_room;     /* Into variants: out.length - offset */
} decrypt_args;

/* Validates (handle, data, start, end[, out, offset]); false means "bad input". */
static bool decrypt_args_of(napi_env env, napi_callback_info info, bool into, decrypt_args* out) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < (into ? 6u : 4u)) return false;
  native_key* k = get_key(env, argv[0]);
  if (k == NULL || k->released) return false;
  const uint8_t* data = NULL;
  size_t len = 0;
  if (!get_u8(env, argv[1], &data, &len)) return false;
  size_t start = 0, end = 0;
  if (!get_index(env, argv[2], len, &start) || !get_index(env, argv[3], len, &end) || start > end) return false;
  out->key = k;
  out->blob = data + start;
  out->length = end - start;
  out->out = NULL;
  out->out_room = 0;
  if (into) {
    const uint8_t* target = NULL;
    size_t target_len = 0, offset = 0;
    if (!get_u8(env, argv[4], &target, &target_len) || !get_index(env, argv[5], target_len, &offset)) return false;
    out->out = (uint8_t*)target + offset;
    out->out_room = target_len - offset;
  }
  return true;
}

/* The output region must not overlap the input: OpenSSL does not support partial overlap. */
static bool disjoint(const decrypt_args* a, size_t need) {
  const uintptr_t in0 = (uintptr_t)a->blob, in1 = in0 + a->length;
  const uintptr_t out0 = (uintptr_t)a->out, out1 = out0 + need;
  return need == 0 || out1 <= in0 || in1 <= out0;
}

static bool gcm_length_ok(size_t length) {
  return length >= GCM_NONCE + GCM_TAG && length - (GCM_NONCE + GCM_TAG) <= MAX_LEN;
}

static bool cbc_length_ok(size_t length) {
  return length > CBC_IV && (length - CBC_IV) % AES_BLOCK == 0 && length - CBC_IV <= MAX_LEN;
}

static napi_value GcmDecrypt(napi_env env, napi_callback_info info) {
  decrypt_args a;
  if (!decrypt_args_of(env, info, false, &a) || !gcm_length_ok(a.length)) return js_undefined(env);
  const size_t ct_len = a.length - (GCM_NONCE + GCM_TAG);
  /* Allocate the result first and decrypt straight into it; the core wipes it if the tag is wrong. */
  void* out = NULL;
  napi_value ab = NULL;
  if (napi_create_arraybuffer(env, ct_len, &out, &ab) != napi_ok || (ct_len > 0 && out == NULL)) {
    return throw_error(env, "ERR_NATIVE_CRYPTO_OOM", "gcmDecrypt: cannot allocate the result");
  }
  if (!gcm_decrypt_core(a.key, a.blob, a.length, (uint8_t*)out)) return js_undefined(env);
  napi_value result = u8_over(env, ab, ct_len);
  return result != NULL ? result : js_undefined(env);
}

static napi_value GcmDecryptInto(napi_env env, napi_callback_info info) {
  decrypt_args a;
  bool ok = decrypt_args_of(env, info, true, &a) && gcm_length_ok(a.length);
  if (ok) {
    const size_t ct_len = a.length - (GCM_NONCE + GCM_TAG);
    ok = a.out_room >= ct_len && disjoint(&a, ct_len) && gcm_decrypt_core(a.key, a.blob, a.length, a.out);
  }
  napi_value result = NULL;
  napi_get_boolean(env, ok, &result);
  return result;
}

static napi_value CbcDecrypt(napi_env env, napi_callback_info info) {
  decrypt_args a;
  if (!decrypt_args_of(env, info, false, &a) || !cbc_length_ok(a.length)) return js_undefined(env);
  const size_t ct_len = a.length - CBC_IV;
  /* The plaintext length is only known after unpadding: decrypt into scratch, then copy. */
  const size_t scratch_len = ct_len + AES_BLOCK;
  unsigned char stack_scratch[STACK_SCRATCH];
  unsigned char* scratch = scratch_len <= sizeof stack_scratch ? stack_scratch : (unsigned char*)malloc(scratch_len);
  if (scratch == NULL) return throw_error(env, "ERR_NATIVE_CRYPTO_OOM", "cbcDecrypt: out of memory");
  size_t pt_len = 0;
  napi_value result = NULL;
  if (cbc_decrypt_core(a.key, a.blob, a.length, scratch, &pt_len)) {
    void* out = NULL;
    napi_value ab = NULL;
    if (napi_create_arraybuffer(env, pt_len, &out, &ab) == napi_ok && (pt_len == 0 || out != NULL)) {
      if (pt_len > 0) memcpy(out, scratch, pt_len);
      result = u8_over(env, ab, pt_len);
    }
    OPENSSL_cleanse(scratch, pt_len);
  }
  if (scratch != stack_scratch) free(scratch);
  return result != NULL ? result : js_undefined(env);
}

static napi_value CbcDecryptInto(napi_env env, napi_callback_info info) {
  decrypt_args a;
  int64_t written = -1;
  if (decrypt_args_of(env, info, true, &a) && cbc_length_ok(a.length)) {
    /* Room for ct + one block = exactly end - start. */
    const size_t need = a.length;
    size_t pt_len = 0;
    if (a.out_room >= need && disjoint(&a, need) && cbc_decrypt_core(a.key, a.blob, a.length, a.out, &pt_len)) {
      written = (int64_t)pt_len;
    }
  }
  napi_value result = NULL;
  napi_create_int64(env, written, &result);
  return result;
}

/* ------------------------------------------------------------------------ */
/* Key tables and whole V3/V4 tokens                                         */
/*   importKeyTable (ids: Int32Array, secrets: Uint8Array(32 * ids.length)) -> table handle          */
/*       (throws on bad input: not typed arrays, sizes that disagree, duplicate ids)                  */
/*   openToken (text, alphabet 0 | 1, table, fields: Uint8Array(>= 75)) -> string | undefined          */
/*       Base64-decodes the text (0: standard alphabet, 1: standard or URL-safe), finds the master    */
/*       key (id at bytes 2..6) and the site key (id at master plaintext offset 29) in the table,     */
/*       opens both GCM layers and, only on success, writes header(6) ‖ master fields(33) ‖ site      */
/*       fields(36) to fields[0, 75) and returns the raw UID (site plaintext from offset 36) as       */
/*       standard padded Base64. Never throws: any failure is undefined and writes nothing.           */
/* A table owns its own copies of the keys (same lifecycle rules as importKey's: releaseKey frees     */
/* and wipes them, the finalizer is the backstop), so a decrypt resolves both key ids in C without    */
/* calling back into JS.                                                                              */
/* ------------------------------------------------------------------------ */

/* Longest token text accepted (a V4 token is ~220 characters). */
#define TOKEN_MAX_TEXT 4096
#define TOKEN_MAX_BYTES (TOKEN_MAX_TEXT / 4 * 3)
#define TOKEN_HEADER 6
#define MASTER_KEY_ID_AT 2
/* Master plaintext: 33 bytes of fields, then the site blob nonce(12) ‖ ct(>= 36) ‖ tag(16). */
#define MASTER_FIELDS 33
#define SITE_KEY_ID_AT 29
#define SITE_FIELDS 36
#define MIN_MASTER_PLAINTEXT (MASTER_FIELDS + GCM_NONCE + GCM_TAG + SITE_FIELDS)
#define OPENED_FIELDS (TOKEN_HEADER + MASTER_FIELDS + SITE_FIELDS)

enum { ALPHABET_STANDARD = 0, ALPHABET_EITHER = 1 };

/* Drops whatever a failed call left pending: the entry point never throws. */
static void clear_pending_exception(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value ignored = NULL;
    napi_get_and_clear_last_exception(env, &ignored);
  }
}

static const napi_type_tag TABLE_TYPE_TAG = {0x6566666563742d75ULL, 0x6964322d6b747462ULL};

struct key_table {
  size_t count;
  int32_t* ids;      /* ascending, unique */
  native_key* keys;  /* keys[i] has id ids[i] */
  bool released;
};

static bool release_table(key_table* t) {
  if (t->released) return false;
  t->released = true;
  for (size_t i = 0; i < t->count; i++) release_key(&t->keys[i]);
  return true;
}

static int64_t table_external_bytes(const key_table* t) { return (int64_t)t->count * KEY_EXTERNAL_BYTES; }

static void free_table(key_table* t) {
  if (t->keys != NULL) {
    OPENSSL_cleanse(t->keys, t->count * sizeof *t->keys);
    free(t->keys);
  }
  free(t->ids);
  free(t);
}

static void finalize_table(napi_env env, void* data, void* hint) {
  (void)hint;
  key_table* t = (key_table*)data;
  if (t == NULL) return;
  if (release_table(t)) {
    int64_t ignored;
    napi_adjust_external_memory(env, -table_external_bytes(t), &ignored);
  }
  free_table(t);
}

/* The key_table behind a handle, or NULL when `value` is not one (same checks as get_key). */
static key_table* get_table(napi_env env, napi_value value) {
  return (key_table*)tagged_external(env, value, &TABLE_TYPE_TAG);
}

/* Binary search; NULL when the id is not in the table. */
static native_key* table_key(const key_table* t, int32_t id) {
  size_t lo = 0, hi = t->count;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (t->ids[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < t->count && t->ids[lo] == id ? &t->keys[lo] : NULL;
}

typedef struct {
  int32_t id;
  size_t index;
} id_slot;

static int compare_slots(const void* a, const void* b) {
  const int32_t x = ((const id_slot*)a)->id, y = ((const id_slot*)b)->id;
  return (x > y) - (x < y);
}

static napi_value ImportKeyTable(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  napi_typedarray_type type;
  size_t count = 0;
  void* ids_ptr = NULL;
  if (argc < 2 || napi_get_typedarray_info(env, argv[0], &type, &count, &ids_ptr, NULL, NULL) != napi_ok ||
      type != napi_int32_array || (count > 0 && ids_ptr == NULL)) {
    return throw_type_error(env, "ERR_NATIVE_CRYPTO_INVALID_ARG", "importKeyTable: ids must be an Int32Array");
  }
  const uint8_t* secrets = NULL;
  size_t secrets_len = 0;
  if (!get_u8(env, argv[1], &secrets, &secrets_len)) {
    return throw_type_error(env, "ERR_NATIVE_CRYPTO_INVALID_KEY", "importKeyTable: secrets must be a Uint8Array");
  }
  if (count > MAX_LEN / KEY_LEN / 2) {
    return throw_range_error(env, "ERR_NATIVE_CRYPTO_TOO_LARGE", "importKeyTable: too many keys");
  }
  if (secrets_len != count * KEY_LEN) {
    return throw_range_error(env, "ERR_NATIVE_CRYPTO_INVALID_KEY", "importKeyTable: secrets must be 32 bytes per id");
  }
  const int32_t* ids = (const int32_t*)ids_ptr;
  key_table* t = (key_table*)calloc(1, sizeof *t);
  id_slot* order = (id_slot*)calloc(count > 0 ? count : 1, sizeof *order);
  if (t != NULL) {
    t->ids = (int32_t*)calloc(count > 0 ? count : 1, sizeof *t->ids);
    t->keys = (native_key*)calloc(count > 0 ? count : 1, sizeof *t->keys);
  }
  if (t == NULL || order == NULL || t->ids == NULL || t->keys == NULL) {
    free(order);
    if (t != NULL) free_table(t);
    return throw_error(env, "ERR_NATIVE_CRYPTO_OOM", "importKeyTable: out of memory");
  }
  for (size_t i = 0; i < count; i++) {
    order[i].id = ids[i];
    order[i].index = i;
  }
  qsort(order, count, sizeof *order, compare_slots);
  for (size_t i = 1; i < count; i++) {
    if (order[i].id == order[i - 1].id) {
      free(order);
      free_table(t);
      return throw_range_error(env, "ERR_NATIVE_CRYPTO_INVALID_KEY", "importKeyTable: duplicate key id");
    }
  }
  for (size_t i = 0; i < count; i++) {
    t->ids[i] = order[i].id;
    memcpy(t->keys[i].key, secrets + order[i].index * KEY_LEN, KEY_LEN);
  }
  free(order);
  t->count = count;
  atomic_fetch_add(&live_keys, (long)count);

  napi_value handle = NULL;
  if (napi_create_external(env, t, finalize_table, NULL, &handle) != napi_ok) {
    release_table(t);
    free_table(t);
    return throw_error(env, "ERR_NATIVE_CRYPTO_INTERNAL", "importKeyTable: cannot create handle");
  }
  /* From here on the finalizer owns t. */
  if (napi_type_tag_object(env, handle, &TABLE_TYPE_TAG) != napi_ok) {
    release_table(t);
    return throw_error(env, "ERR_NATIVE_CRYPTO_INTERNAL", "importKeyTable: cannot tag handle");
  }
  int64_t ignored;
  napi_adjust_external_memory(env, table_external_bytes(t), &ignored);
  return handle;
}

/* Sextet value of each byte per alphabet; X (0xff) = not in the alphabet. '=' is in neither: padding
 * is stripped before the data characters are looked up. Constant data, so worker threads loading the
 * addon share it without any initialisation race. */
#define X 0xff
#define X16 X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X
static const uint8_t b64_value[2][256] = {
    {
      X16, X16,
      X, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,
      52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
      X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
      15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
      X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
      41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
      X16, X16, X16, X16, X16, X16, X16, X16,
    },
    {
      X16, X16,
      X, X, X, X, X, X, X, X, X, X, X, 62, X, 62, X, 63,
      52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
      X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
      15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, 63,
      X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
      41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
      X16, X16, X16, X16, X16, X16, X16, X16,
    },
};
#undef X16
#undef X

/* The sextet of a UTF-16 code unit: the table value of its low byte, with the high byte kept in
 * bits 8-15 so that any code unit outside one byte is invalid and none can alias an alphabet
 * character. Branch-free. */
static inline uint32_t b64_sextet(const uint8_t* table, uint16_t c) { return table[c & 0xffu] | (c & 0xff00u); }

/* Strict decode with exactly the rules of src/internal/base64.ts `decode`: optional '=' padding
 * (at most two; when present the text length must be a multiple of 4), no data length = 1 mod 4,
 * only alphabet characters before the padding, and zero unused bits in the last data character.
 * `out` must have room for len / 4 * 3 + 2 bytes. Returns the decoded length, or -1. */
static long b64_decode(const uint16_t* text, size_t len, int alphabet, uint8_t* out) {
  const uint8_t* table = b64_value[alphabet];
  size_t end = len;
  if (end > 0 && text[end - 1] == '=') {
    end--;
    if (end > 0 && text[end - 1] == '=') end--;
    if (len % 4 != 0) return -1;
  }
  const size_t rem = end % 4;
  if (rem == 1) return -1;
  const size_t full = end - rem;
  /* Invalid characters set bit 7 or 8 of their sextet: one OR over all groups, one check at the end. */
  uint32_t bad = 0;
  size_t o = 0;
  for (size_t i = 0; i < full; i += 4) {
    const uint32_t a = b64_sextet(table, text[i]), b = b64_sextet(table, text[i + 1]);
    const uint32_t c = b64_sextet(table, text[i + 2]), d = b64_sextet(table, text[i + 3]);
    bad |= a | b | c | d;
    const uint32_t v = a << 18 | b << 12 | c << 6 | d;
    out[o] = (uint8_t)(v >> 16);
    out[o + 1] = (uint8_t)(v >> 8);
    out[o + 2] = (uint8_t)v;
    o += 3;
  }
  if (rem == 2) {
    const uint32_t a = b64_sextet(table, text[full]), b = b64_sextet(table, text[full + 1]);
    bad |= a | b | ((b & 0x0fu) != 0 ? 0x80u : 0u);
    out[o++] = (uint8_t)(a << 2 | b >> 4);
  } else if (rem == 3) {
    const uint32_t a = b64_sextet(table, text[full]), b = b64_sextet(table, text[full + 1]);
    const uint32_t c = b64_sextet(table, text[full + 2]);
    bad |= a | b | c | ((c & 0x03u) != 0 ? 0x80u : 0u);
    const uint32_t v = a << 10 | b << 4 | c >> 2;
    out[o++] = (uint8_t)(v >> 8);
    out[o++] = (uint8_t)v;
  }
  return (bad & ~0x3fu) != 0 ? -1 : (long)o;
}

static const char b64_chars[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard Base64 with padding of in[0, len) into out (room 4 * ceil(len / 3)); returns its length. */
static size_t b64_encode(const uint8_t* in, size_t len, char* out) {
  size_t o = 0, i = 0;
  for (; i + 3 <= len; i += 3) {
    const uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = b64_chars[v >> 18];
    out[o++] = b64_chars[(v >> 12) & 63];
    out[o++] = b64_chars[(v >> 6) & 63];
    out[o++] = b64_chars[v & 63];
  }
  if (len - i == 1) {
    const uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = b64_chars[v >> 18];
    out[o++] = b64_chars[(v >> 12) & 63];
    out[o++] = '=';
    out[o++] = '=';
  } else if (len - i == 2) {
    const uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = b64_chars[v >> 18];
    out[o++] = b64_chars[(v >> 12) & 63];
    out[o++] = b64_chars[(v >> 6) & 63];
    out[o++] = '=';
  }
  return o;
}

static int32_t read_i32(const uint8_t* p) {
  return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

/* The token text as UTF-16 code units into `text` (room TOKEN_MAX_TEXT + 2); false for non-strings
 * and texts longer than TOKEN_MAX_TEXT. */
static bool token_text(napi_env env, napi_value value, uint16_t* text, size_t* len) {
  /* Copies at most bufsize - 1 code units: a copy of more than TOKEN_MAX_TEXT means the text is too
   * long (it may have been cut). */
  return napi_get_value_string_utf16(env, value, (char16_t*)text, TOKEN_MAX_TEXT + 2, len) == napi_ok &&
         *len <= TOKEN_MAX_TEXT;
}

/* Both layers of the decoded token raw[0, n). On success the master plaintext is master[0, *m) and
 * the site plaintext site[0, *s); the caller wipes both (as far as *m and *s) whatever it does next. */
static bool open_layers(const key_table* table, const uint8_t* raw, size_t n, uint8_t* master, size_t* m,
                        uint8_t* site, size_t* s) {
  *m = 0;
  *s = 0;
  if (n < TOKEN_HEADER + GCM_NONCE + GCM_TAG + MIN_MASTER_PLAINTEXT) return false;
  native_key* mk = table_key(table, read_i32(raw + MASTER_KEY_ID_AT));
  if (mk == NULL) return false;
  const size_t master_len = n - TOKEN_HEADER - (GCM_NONCE + GCM_TAG);
  /* gcm_decrypt_core wipes what it wrote on a bad tag. */
  if (!gcm_decrypt_core(mk, raw + TOKEN_HEADER, n - TOKEN_HEADER, master)) return false;
  *m = master_len;
  native_key* sk = table_key(table, read_i32(master + SITE_KEY_ID_AT));
  if (sk == NULL) return false;
  const size_t site_blob = master_len - MASTER_FIELDS;
  if (!gcm_decrypt_core(sk, master + MASTER_FIELDS, site_blob, site)) return false;
  *s = site_blob - (GCM_NONCE + GCM_TAG);
  return true;
}

static napi_value OpenToken(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) return js_undefined(env);
  uint16_t text[TOKEN_MAX_TEXT + 2];
  size_t len = 0;
  double alphabet = -1;
  key_table* table = NULL;
  uint8_t* fields = NULL;
  size_t fields_len = 0;
  /* Exactly the number 0 or 1: a double, so that NaN, fractions and 2^32 + 1 are not truncated into either. */
  if (!token_text(env, argv[0], text, &len) || napi_get_value_double(env, argv[1], &alphabet) != napi_ok ||
      (alphabet != ALPHABET_STANDARD && alphabet != ALPHABET_EITHER) || (table = get_table(env, argv[2])) == NULL ||
      table->released || !get_u8(env, argv[3], (const uint8_t**)&fields, &fields_len) || fields_len < OPENED_FIELDS) {
    clear_pending_exception(env);
    return js_undefined(env);
  }
  uint8_t raw[TOKEN_MAX_BYTES + 4];
  const long n = b64_decode(text, len, alphabet == ALPHABET_EITHER ? ALPHABET_EITHER : ALPHABET_STANDARD, raw);
  if (n < 0) return js_undefined(env);
  uint8_t master[TOKEN_MAX_BYTES], site[TOKEN_MAX_BYTES];
  size_t m = 0, s = 0;
  napi_value uid = NULL;
  if (open_layers(table, raw, (size_t)n, master, &m, site, &s)) {
    char uid_text[TOKEN_MAX_BYTES / 3 * 4 + 4];
    const size_t uid_len = b64_encode(site + SITE_FIELDS, s - SITE_FIELDS, uid_text);
    if (napi_create_string_latin1(env, uid_text, uid_len, &uid) == napi_ok) {
      memcpy(fields, raw, TOKEN_HEADER);
      memcpy(fields + TOKEN_HEADER, master, MASTER_FIELDS);
      memcpy(fields + TOKEN_HEADER + MASTER_FIELDS, site, SITE_FIELDS);
    } else {
      uid = NULL;
    }
    OPENSSL_cleanse(uid_text, uid_len);
  }
  OPENSSL_cleanse(master, m);
  OPENSSL_cleanse(site, s);
  clear_pending_exception(env);
  return uid != NULL ? uid : js_undefined(env);
}

/* ------------------------------------------------------------------------ */
/* Encrypt: throw on misuse                                                  */
/*   gcmEncrypt / cbcEncrypt (handle, iv, plaintext) -> Uint8Array                                   */
/*   gcmEncryptInto / cbcEncryptInto (handle, iv, plaintext, out, offset) -> bytes written, or -1    */
/* The Into variants validate (handle, iv, plaintext) exactly like the allocating ones (same          */
/* exceptions, same order); an unusable target (not a Uint8Array, offset out of range or not an       */
/* integer, too little room, overlapping an input) is not an exception but -1, like the decrypt       */
/* Into variants, so that the JS pool can fall back to the allocating entry point.                    */
/* ------------------------------------------------------------------------ */

typedef struct {
  native_key* key;
  const uint8_t* iv;
  size_t iv_len;
  const uint8_t* pt;
  size_t pt_len;
} encrypt_args;

/* Validates argv[0..2] as (handle, iv, plaintext); throws and returns false on bad input. */
static bool encrypt_args_of(napi_env env, size_t argc, napi_value* argv, size_t iv_len, encrypt_args* out) {
  if (argc < 3) {
    throw_type_error(env, "ERR_NATIVE_CRYPTO_INVALID_ARG", "encrypt: expected (key, iv, plaintext)");
    return false;
  }
  native_key* k = get_key(env, argv[0]);
  if (k == NULL) {
    throw_type_error(env, "ERR_NATIVE_CRYPTO_INVALID_KEY", "encrypt: not a native key handle");
    return false;
  }
  if (k->released) {
    throw_error(env, "ERR_NATIVE_CRYPTO_KEY_RELEASED", "encrypt: key handle has been released");
    return false;
  }
  const uint8_t* iv = NULL;
  size_t len = 0;
  if (!get_u8(env, argv[1], &iv, &len)) {
    throw_type_error(env, "ERR_NATIVE_CRYPTO_INVALID_ARG", "encrypt: iv/nonce must be a Uint8Array");
    return false;
  }
  if (len != iv_len) {
    throw_range_error(env, "ERR_NATIVE_CRYPTO_INVALID_IV",
                      iv_len == GCM_NONCE ? "gcmEncrypt: nonce must be 12 bytes" : "cbcEncrypt: iv must be 16 bytes");
    return false;
  }
  const uint8_t* pt = NULL;
  size_t pt_len = 0;
  if (!get_u8(env, argv[2], &pt, &pt_len)) {
    throw_type_error(env, "ERR_NATIVE_CRYPTO_INVALID_ARG", "encrypt: plaintext must be a Uint8Array");
    return false;
  }
  if (pt_len > MAX_LEN) {
    throw_range_error(env, "ERR_NATIVE_CRYPTO_TOO_LARGE", "encrypt: plaintext too large");
    return false;
  }
  out->key = k;
  out->iv = iv;
  out->iv_len = iv_len;
  out->pt = pt;
  out->pt_len = pt_len;
  return true;
}

static size_t gcm_encrypted_len(size_t pt_len) { return GCM_NONCE + pt_len + GCM_TAG; }

/* PKCS#7 always adds 1..16 bytes. */
static size_t cbc_encrypted_len(size_t pt_len) { return CBC_IV + (pt_len / AES_BLOCK + 1) * AES_BLOCK; }

/* [a, a + a_len) and [b, b + b_len) share no byte (empty ranges share none). */
static bool ranges_disjoint(const uint8_t* a, size_t a_len, const uint8_t* b, size_t b_len) {
  const uintptr_t a0 = (uintptr_t)a, a1 = a0 + a_len, b0 = (uintptr_t)b, b1 = b0 + b_len;
  return a_len == 0 || b_len == 0 || a1 <= b0 || b1 <= a0;
}

/* The target of an Into call: argv[3] a Uint8Array, argv[4] an integral offset in [0, length], at
 * least `need` bytes of room from there, and no byte shared with the iv or the plaintext. NULL if not. */
static uint8_t* encrypt_target(napi_env env, size_t argc, napi_value* argv, const encrypt_args* a, size_t need) {
  if (argc < 5) return NULL;
  const uint8_t* target = NULL;
  size_t target_len = 0, offset = 0;
  if (!get_u8(env, argv[3], &target, &target_len) || !get_index(env, argv[4], target_len, &offset)) return NULL;
  if (target_len - offset < need) return NULL;
  uint8_t* out = (uint8_t*)target + offset;
  if (!ranges_disjoint(out, need, a->iv, a->iv_len) || !ranges_disjoint(out, need, a->pt, a->pt_len)) return NULL;
  return out;
}

/* nonce(12) ‖ ct ‖ tag(16) into `o` (room gcm_encrypted_len(pt_len), disjoint from the inputs).
 * On failure the OpenSSL error queue is cleared and `o` wiped. */
static bool gcm_encrypt_core(const encrypt_args* a, uint8_t* o) {
  const size_t total = gcm_encrypted_len(a->pt_len);
  memcpy(o, a->iv, GCM_NONCE);
  EVP_CIPHER_CTX* ctx = key_ctx(a->key, CTX_GCM_ENC);
  int n = 0, fin = 0;
  bool ok = ctx != NULL && EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, a->iv) == 1;
  if (ok && a->pt_len > 0) ok = EVP_EncryptUpdate(ctx, o + GCM_NONCE, &n, a->pt, (int)a->pt_len) == 1;
  ok = ok && (size_t)n == a->pt_len;
  /* GCM final emits nothing; it is given a pointer inside the result anyway (the tag slot). */
  ok = ok && EVP_EncryptFinal_ex(ctx, o + GCM_NONCE + a->pt_len, &fin) == 1 && fin == 0;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, GCM_TAG, o + GCM_NONCE + a->pt_len) == 1;
  if (!ok) {
    clear_openssl_errors();
    OPENSSL_cleanse(o, total);
  }
  return ok;
}

/* iv(16) ‖ PKCS#7 ciphertext into `o` (room cbc_encrypted_len(pt_len), disjoint from the inputs).
 * On failure the OpenSSL error queue is cleared and `o` wiped. */
static bool cbc_encrypt_core(const encrypt_args* a, uint8_t* o) {
  const size_t total = cbc_encrypted_len(a->pt_len);
  const size_t ct_len = total - CBC_IV;
  memcpy(o, a->iv, CBC_IV);
  EVP_CIPHER_CTX* ctx = key_ctx(a->key, CTX_CBC_ENC);
  int n = 0, fin = 0;
  /* With an empty buffer (fresh init) update emits floor(pt_len / 16) blocks, final the last one. */
  bool ok = ctx != NULL && EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, a->iv) == 1;
  if (ok && a->pt_len > 0) {
    ok = EVP_EncryptUpdate(ctx, o + CBC_IV, &n, a->pt, (int)a->pt_len) == 1 && (size_t)n == ct_len - AES_BLOCK;
  }
  ok = ok && EVP_EncryptFinal_ex(ctx, o + CBC_IV + n, &fin) == 1 && (size_t)n + (size_t)fin == ct_len;
  if (!ok) {
    clear_openssl_errors();
    OPENSSL_cleanse(o, total);
  }
  return ok;
}

static napi_value GcmEncrypt(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  encrypt_args a;
  if (!encrypt_args_of(env, argc, argv, GCM_NONCE, &a)) return NULL;
  const size_t total = gcm_encrypted_len(a.pt_len);
  void* out = NULL;
  napi_value ab = NULL;
  if (napi_create_arraybuffer(env, total, &out, &ab) != napi_ok || out == NULL) {
    return throw_error(env, "ERR_NATIVE_CRYPTO_OOM", "gcmEncrypt: cannot allocate the result");
  }
  if (!gcm_encrypt_core(&a, (uint8_t*)out)) return throw_error(env, "ERR_NATIVE_CRYPTO_INTERNAL", "gcmEncrypt: OpenSSL failure");
  return u8_over(env, ab, total);
}

static napi_value CbcEncrypt(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  encrypt_args a;
  if (!encrypt_args_of(env, argc, argv, CBC_IV, &a)) return NULL;
  const size_t total = cbc_encrypted_len(a.pt_len);
  void* out = NULL;
  napi_value ab = NULL;
  if (napi_create_arraybuffer(env, total, &out, &ab) != napi_ok || out == NULL) {
    return throw_error(env, "ERR_NATIVE_CRYPTO_OOM", "cbcEncrypt: cannot allocate the result");
  }
  if (!cbc_encrypt_core(&a, (uint8_t*)out)) return throw_error(env, "ERR_NATIVE_CRYPTO_INTERNAL", "cbcEncrypt: OpenSSL failure");
  return u8_over(env, ab, total);
}

static napi_value encrypt_into(napi_env env, napi_callback_info info, bool gcm) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  encrypt_args a;
  if (!encrypt_args_of(env, argc, argv, gcm ? GCM_NONCE : CBC_IV, &a)) return NULL;
  const size_t need = gcm ? gcm_encrypted_len(a.pt_len) : cbc_encrypted_len(a.pt_len);
  uint8_t* out = encrypt_target(env, argc, argv, &a, need);
  int64_t written = -1;
  if (out != NULL) {
    if (!(gcm ? gcm_encrypt_core(&a, out) : cbc_encrypt_core(&a, out))) {
      return throw_error(env, "ERR_NATIVE_CRYPTO_INTERNAL", gcm ? "gcmEncrypt: OpenSSL failure" : "cbcEncrypt: OpenSSL failure");
    }
    written = (int64_t)need;
  }
  napi_value result = NULL;
  napi_create_int64(env, written, &result);
  return result;
}

static napi_value GcmEncryptInto(napi_env env, napi_callback_info info) { return encrypt_into(env, info, true); }

static napi_value CbcEncryptInto(napi_env env, napi_callback_info info) { return encrypt_into(env, info, false); }

/* ------------------------------------------------------------------------ */
/* Introspection and registration                                            */
/* ------------------------------------------------------------------------ */

static napi_value LiveKeys(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v = NULL;
  napi_create_int64(env, (int64_t)atomic_load(&live_keys), &v);
  return v;
}

static napi_value LiveContexts(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v = NULL;
  napi_create_int64(env, (int64_t)atomic_load(&live_contexts), &v);
  return v;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value version = NULL;
  napi_create_string_utf8(env, OpenSSL_version(OPENSSL_VERSION), NAPI_AUTO_LENGTH, &version);
  napi_property_descriptor props[] = {
      {"importKey", NULL, ImportKey, NULL, NULL, NULL, napi_enumerable, NULL},
      {"releaseKey", NULL, ReleaseKey, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gcmDecrypt", NULL, GcmDecrypt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gcmEncrypt", NULL, GcmEncrypt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cbcDecrypt", NULL, CbcDecrypt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gcmDecryptInto", NULL, GcmDecryptInto, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cbcDecryptInto", NULL, CbcDecryptInto, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cbcEncrypt", NULL, CbcEncrypt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gcmEncryptInto", NULL, GcmEncryptInto, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cbcEncryptInto", NULL, CbcEncryptInto, NULL, NULL, NULL, napi_enumerable, NULL},
      {"importKeyTable", NULL, ImportKeyTable, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openToken", NULL, OpenToken, NULL, NULL, NULL, napi_enumerable, NULL},
      {"liveKeys", NULL, LiveKeys, NULL, NULL, NULL, napi_enumerable, NULL},
      {"liveContexts", NULL, LiveContexts, NULL, NULL, NULL, napi_enumerable, NULL},
      {"opensslVersion", NULL, NULL, NULL, NULL, version, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
