#include "server/secrets.h"

#include "absl/strings/str_cat.h"
#include "shared/crypto.h"
#include "shared/logging.h"

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

absl::Status SecretBox::FillJobSecrets(std::map<std::string, std::string>* params) {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : *params) {
    if (key.rfind("secretref:", 0) != 0) {
      out[key] = value;
      continue;
    }
    auto secret = Get(value);
    if (!secret.ok()) return secret.status();
    out[absl::StrCat("secret:", key.substr(10))] = *secret;
  }
  *params = std::move(out);
  return absl::OkStatus();
}

}  // namespace purser::server
