// Small crypto helpers over OpenSSL: randomness, SHA-256, AES-256-GCM.
#pragma once
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace purser {

// `n` bytes from the OS CSPRNG.
std::string RandomBytes(size_t n);
// Lowercase hex of `n` random bytes.
std::string RandomHex(size_t n);
std::string HexEncode(std::string_view bytes);
std::string Sha256(std::string_view data);     // raw 32 bytes
std::string Sha256Hex(std::string_view data);  // lowercase hex
// SHA-256 (hex) of a file, read a block at a time: packages may be large.
absl::StatusOr<std::string> Sha256HexOfFile(const std::string& path);
// Constant-time equality.
bool SecureEquals(std::string_view a, std::string_view b);

// AES-256-GCM with a random 96-bit nonce; output is nonce || ciphertext || tag.
// `aad` binds the ciphertext to its context (e.g. the secret's name).
absl::StatusOr<std::string> Seal(std::string_view key, std::string_view plaintext,
                                 std::string_view aad);
absl::StatusOr<std::string> Open(std::string_view key, std::string_view sealed,
                                 std::string_view aad);

}  // namespace purser
