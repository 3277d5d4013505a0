#include "shared/plan/effective_plan.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"
#include "shared/crypto.h"
#include "shared/plan/platform.h"

namespace purser {

std::vector<int> EffectiveSteps(const v1::Plan& plan, const v1::OsFacts& os,
                                const std::map<std::string, std::string>& params) {
  std::vector<int> out;
  for (int i = 0; i < plan.steps_size(); ++i) {
    const v1::Step& step = plan.steps(i);
    if (!step.when_param().empty()) {
      auto it = params.find(step.when_param());
      if (it == params.end() || it->second != "true") continue;
    }
    for (const auto& platform : step.platforms()) {
      if (PlatformMatches(platform, os)) {
        out.push_back(i);
        break;
      }
    }
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ResolveParams(
    const v1::Plan& plan, const std::map<std::string, std::string>& given) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : given) {
    bool known = false;
    for (const auto& p : plan.params()) known |= p.name() == name;
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("params: plan \"", plan.name(), "\" has no parameter \"", name, "\""));
    }
  }
  for (const auto& p : plan.params()) {
    auto it = given.find(p.name());
    if (it != given.end()) {
      out[p.name()] = it->second;
    } else if (!p.default_value().empty()) {
      out[p.name()] = p.default_value();
    } else if (p.required()) {
      return absl::InvalidArgumentError(absl::StrCat("params: plan \"", plan.name(),
                                                     "\" requires parameter \"", p.name(), "\"",
                                                     p.secret() ? " (the name of a secret)" : ""));
    }
  }
  return out;
}

int StepTimeoutSeconds(const v1::Step& step) {
  return step.timeout_seconds() > 0 ? step.timeout_seconds() : 600;
}
int StepMaxAttempts(const v1::Step& step) {
  return step.max_attempts() > 0 ? step.max_attempts() : 3;
}
int StepBackoffSeconds(const v1::Step& step) {
  return step.backoff_seconds() > 0 ? step.backoff_seconds() : 30;
}

std::string PlanDigest(const v1::Plan& plan) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    plan.SerializeToCodedStream(&coded);
  }
  return Sha256Hex(bytes);
}

std::set<std::string> SecretRefs(const v1::Step& step) {
  // Every string of the step, as printed; "${secret:" is never escaped.
  std::string text;
  google::protobuf::TextFormat::PrintToString(step, &text);
  std::set<std::string> out;
  const std::string ref = "${secret:";
  for (size_t pos = text.find(ref); pos != std::string::npos; pos = text.find(ref, pos)) {
    pos += ref.size();
    size_t end = text.find('}', pos);
    if (end == std::string::npos) break;
    out.insert(text.substr(pos, end - pos));
  }
  return out;
}

absl::StatusOr<std::string> ExpandRefs(const std::string& text,
                                       const std::map<std::string, std::string>& params) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t start = text.find("${", pos);
    if (start == std::string::npos) break;
    size_t end = text.find('}', start);
    if (end == std::string::npos) return absl::InvalidArgumentError("unterminated ${ reference");
    out.append(text, pos, start - pos);
    std::string ref = text.substr(start + 2, end - start - 2);
    auto it = params.find(ref);
    if (it == params.end()) {
      // Name only the parameter: the reference itself is not secret, the value is.
      return absl::InvalidArgumentError(absl::StrCat("parameter \"", ref, "\" has no value"));
    }
    out += it->second;
    pos = end + 1;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

}  // namespace purser
