// Secrets (the workspace key) sealed with AES-256-GCM under the data
// directory's key before they reach the store; opened only to fill in the job
// of the endpoint that runs the step.
#pragma once
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "db/store.h"
#include "purser/v1/plan.pb.h"

namespace purser::server {

class SecretBox {
 public:
  SecretBox(std::string key, db::Store* store) : key_(std::move(key)), store_(store) {}

  absl::Status Put(const std::string& name, const std::string& value, int64_t now_ms);
  absl::StatusOr<std::string> Get(const std::string& name);
  // Run parameters keep secret parameters as "secretref:<param>" = secret name.
  // For a job, each secret its step references becomes "secret:<param>" = the
  // secret's value; the others are left out of the job.
  absl::Status FillJobSecrets(const v1::Step& step, std::map<std::string, std::string>* params);
  // Teaches the log redactor every stored secret (at start, before any is used).
  absl::Status RegisterAll();

 private:
  std::string key_;
  db::Store* store_;
};

}  // namespace purser::server
