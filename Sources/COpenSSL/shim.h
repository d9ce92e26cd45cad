// Debian's libcrypto (OpenSSL 3) as Swift sees it, plus `static inline` glue for what Swift
// cannot call well: OSSL_PARAM arrays keep pointers to their names, which must be C string
// literals that outlive the call (a Swift String passed as `const char *` does not). No
// cryptography here: every function below only arranges arguments for libcrypto.
#ifndef OPENSSL_CRYPTO_SHIM_H
#define OPENSSL_CRYPTO_SHIM_H

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

/// The digest of HKDF and HMAC: 0 = SHA-256, 1 = SHA-512.
static inline char *swift_ossl_digest_name(int sha512) { return sha512 ? "SHA512" : "SHA256"; }

/// HKDF (RFC 5869) through EVP_KDF. mode: EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, _EXTRACT_ONLY
/// (key = input keying material, output = PRK) or _EXPAND_ONLY (key = PRK). 1 on success.
static inline int swift_ossl_hkdf(int sha512, int mode,
                                  const unsigned char *key, size_t key_len,
                                  const unsigned char *salt, size_t salt_len,
                                  const unsigned char *info, size_t info_len,
                                  unsigned char *out, size_t out_len) {
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (kdf == NULL) return 0;
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (ctx == NULL) return 0;
    static const unsigned char empty[1] = {0};
    OSSL_PARAM params[6];
    int n = 0;
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, swift_ossl_digest_name(sha512), 0);
    params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(key ? key : empty), key_len);
    if (mode != EVP_KDF_HKDF_MODE_EXPAND_ONLY)
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)(salt ? salt : empty), salt_len);
    if (mode != EVP_KDF_HKDF_MODE_EXTRACT_ONLY && info_len > 0)
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    params[n] = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(ctx, out, out_len, params);
    EVP_KDF_CTX_free(ctx);
    return ok;
}

/// An HMAC context keyed once (EVP_MAC "HMAC" with SHA-256 or SHA-512), or NULL.
/// EVP_MAC_init(ctx, NULL, 0, NULL) restarts it with the same key.
static inline EVP_MAC_CTX *swift_ossl_hmac_new(int sha512, const unsigned char *key, size_t key_len) {
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    if (ctx == NULL) return NULL;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, swift_ossl_digest_name(sha512), 0);
    params[1] = OSSL_PARAM_construct_end();
    static const unsigned char empty[1] = {0};
    if (EVP_MAC_init(ctx, key_len ? key : empty, key_len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

#endif
