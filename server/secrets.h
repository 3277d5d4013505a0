// Secrets (the workspace key) sealed with AES-256-GCM under the data
// directory's key before they reach the store; opened only to fill in the job
// of the endpoint that runs the step.
#pragma once
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "db/store.h"
#include "purser/v1/plan.pb.h"

namespace purser::server {

class SecretBox {
 public:
  // `key_path`: where the key lives, for RotateKey ("" : no rotation).
  SecretBox(std::string key, db::Store* store, std::string key_path = "")
      : key_(std::move(key)), store_(store), key_path_(std::move(key_path)) {}

  absl::Status Put(const std::string& name, const std::string& value, int64_t now_ms);
  absl::StatusOr<std::string> Get(const std::string& name);
  // Run parameters keep secret parameters as "secretref:<param>" = secret name.
  // For a job, each secret its step references becomes "secret:<param>" = the
  // secret's value; the others are left out of the job.
  absl::Status FillJobSecrets(const v1::Step& step, std::map<std::string, std::string>* params);
  // Teaches the log redactor every stored secret (at start, before any is used).
  absl::Status RegisterAll();
  // A new key: every secret re-sealed under it in one transaction and the key
  // file replaced crash-safely (secrets_key.h). Secrets are neither read nor
  // written meanwhile. Returns how many were re-sealed.
  absl::StatusOr<int> RotateKey(int64_t now_ms);
  const std::string& key_path() const { return key_path_; }

 private:
  absl::Mutex mu_;  // shared by Put and Get; RotateKey holds it alone
  std::string key_ ABSL_GUARDED_BY(mu_);
  db::Store* store_;
  const std::string key_path_;
};

}  // namespace purser::server
