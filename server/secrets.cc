#include "server/secrets.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "server/secrets_key.h"
#include "shared/crypto.h"
#include "shared/logging.h"
#include "shared/plan/effective_plan.h"
#include "shared/status_macros.h"

namespace purser::server {

absl::Status SecretBox::Put(const std::string& name, const std::string& value, int64_t now_ms) {
  if (name.empty()) return absl::InvalidArgumentError("name: a secret needs a name");
  if (value.empty()) return absl::InvalidArgumentError("value: a secret cannot be empty");
  absl::ReaderMutexLock lock(&mu_);
  auto sealed = Seal(key_, value, name);
  if (!sealed.ok()) return sealed.status();
  RegisterSecret(value);
  return store_->PutSecret(name, *sealed, now_ms);
}

absl::StatusOr<std::string> SecretBox::Get(const std::string& name) {
  absl::ReaderMutexLock lock(&mu_);
  auto sealed = store_->GetSealedSecret(name);
  if (!sealed.ok()) return sealed.status();
  auto value = Open(key_, *sealed, name);
  if (!value.ok()) {
    return absl::DataLossError(absl::StrCat("secret \"", name, "\": ", value.status().message()));
  }
  RegisterSecret(*value);
  return value;
}

absl::Status SecretBox::FillJobSecrets(const v1::Step& step,
                                       std::map<std::string, std::string>* params) {
  std::set<std::string> used = SecretRefs(step);
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : *params) {
    if (key.rfind("secretref:", 0) != 0) {
      out[key] = value;
      continue;
    }
    if (!used.count(key.substr(10))) continue;  // not this step's to know
    auto secret = Get(value);
    if (!secret.ok()) return secret.status();
    out[absl::StrCat("secret:", key.substr(10))] = *secret;
  }
  *params = std::move(out);
  return absl::OkStatus();
}

absl::StatusOr<int> SecretBox::RotateKey(int64_t now_ms) {
  if (key_path_.empty()) return absl::FailedPreconditionError("no secrets key file to rotate");
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckKeyReplaceable(key_path_));
  ASSIGN_OR_RETURN(std::string new_key, WritePendingKey(key_path_));
  auto count = ResealAll(store_, key_, new_key, now_ms);
  if (!count.ok()) {
    // Nothing changed: the old key stays. <key>.new is this call's own
    // (WritePendingKey never reuses one), so removing it loses nothing.
    ::unlink(PendingKeyPath(key_path_).c_str());
    return count.status();
  }
  // From here the secrets are sealed under the new key, whatever happens next.
  key_ = std::move(new_key);
  if (absl::Status st = CommitPendingKey(key_path_); !st.ok()) {
    return absl::InternalError(
        absl::StrCat("the secrets are re-sealed under the new key in ", PendingKeyPath(key_path_),
                     " but it could not replace ", key_path_, " (", st.message(),
                     "); the next start finishes the swap: do not remove either file"));
  }
  LogInfo("secrets key rotated: %d secrets re-sealed, key file %s", *count, key_path_);
  return count;
}

absl::Status SecretBox::RegisterAll() {
  auto names = store_->ListSecretNames();
  if (!names.ok()) return names.status();
  for (const auto& name : *names) {
    auto value = Get(name);  // registers it
    if (!value.ok()) return value.status();
  }
  return absl::OkStatus();
}

}  // namespace purser::server
