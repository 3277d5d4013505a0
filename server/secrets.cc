#include "server/secrets.h"

#include "absl/strings/str_cat.h"
#include "shared/crypto.h"
#include "shared/logging.h"
#include "shared/plan/effective_plan.h"

namespace purser::server {

absl::Status SecretBox::Put(const std::string& name, const std::string& value, int64_t now_ms) {
  if (name.empty()) return absl::InvalidArgumentError("name: a secret needs a name");
  if (value.empty()) return absl::InvalidArgumentError("value: a secret cannot be empty");
  auto sealed = Seal(key_, value, name);
  if (!sealed.ok()) return sealed.status();
  RegisterSecret(value);
  return store_->PutSecret(name, *sealed, now_ms);
}

absl::StatusOr<std::string> SecretBox::Get(const std::string& name) {
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
