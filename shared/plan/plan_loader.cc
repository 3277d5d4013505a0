#include "shared/plan/plan_loader.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "shared/files.h"
#include "shared/plan/effective_plan.h"
#include "shared/status_macros.h"

namespace purser {

size_t InvalidUtf8At(absl::string_view text) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = byte(i);
    size_t n;                            // continuation bytes
    unsigned char lo = 0x80, hi = 0xbf;  // range of the first continuation byte
    if (c < 0x80) {
      n = 0;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c == 0xe0) lo = 0xa0;  // overlong
      if (c == 0xed) hi = 0x9f;  // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c == 0xf0) lo = 0x90;  // overlong
      if (c == 0xf4) hi = 0x8f;  // past U+10FFFF
    } else {
      return i;
    }
    if (i + n >= text.size() && n > 0) return i;
    for (size_t k = 1; k <= n; ++k) {
      unsigned char b = byte(i + k);
      if (k == 1 ? (b < lo || b > hi) : (b & 0xc0) != 0x80) return i;
    }
    i += n + 1;
  }
  return std::string::npos;
}

bool IsPlanName(const std::string& name) {
  if (name.empty() || name.size() > 64 || !absl::ascii_isalnum(name[0])) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;
using ParseInfoTree = TextFormat::ParseInfoTree;

class IgnoreErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int, int, const std::string&) override {}
};

// The field path ("steps[2].timeout_seconds") being parsed at (line, column)
// of a text-format plan: what the parser's own message leaves out.
std::string FieldPathAt(const std::string& text, int line, int column) {
  google::protobuf::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  IgnoreErrors ignore;
  google::protobuf::io::Tokenizer tokens(&input, &ignore);
  struct Level {
    const Descriptor* type;
    std::string path;
    std::map<std::string, int> seen;  // repeated message fields: how many so far
  };
  std::vector<Level> stack = {{v1::Plan::descriptor(), "", {}}};
  std::string last;  // the identifier before the value being read
  using Tok = google::protobuf::io::Tokenizer;
  while (tokens.Next()) {
    const auto& t = tokens.current();
    if (t.line > line || (t.line == line && t.column >= column)) break;
    if (t.type == Tok::TYPE_IDENTIFIER) {
      if (tokens.previous().text != ":") last = t.text;  // a field name, not an enum value
    } else if (t.text == "{" || t.text == "<") {
      Level& top = stack.back();
      const FieldDescriptor* f = top.type ? top.type->FindFieldByName(last) : nullptr;
      std::string name = last;
      if (f != nullptr && f->is_repeated()) name = absl::StrCat(last, "[", top.seen[last]++, "]");
      stack.push_back({f ? f->message_type() : nullptr,
                       top.path.empty() ? name : absl::StrCat(top.path, ".", name),
                       {}});
      last.clear();
    } else if ((t.text == "}" || t.text == ">") && stack.size() > 1) {
      stack.pop_back();
      last.clear();
    }
  }
  const std::string& path = stack.back().path;
  if (last.empty()) return path;
  return path.empty() ? last : absl::StrCat(path, ".", last);
}

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  CollectErrors(std::string filename, const std::string& text)
      : filename_(std::move(filename)), text_(text) {}
  void AddError(int line, int column, const std::string& message) override {
    std::string path = FieldPathAt(text_, line, column);
    errors.push_back(absl::StrCat(filename_, ":", line + 1, ":", column + 1, ": ",
                                  path.empty() ? "" : path + ": ", message));
  }
  void AddWarning(int, int, const std::string&) override {}
  std::vector<std::string> errors;

 private:
  std::string filename_;
  const std::string& text_;
};

// Validates a parsed plan, collecting "file:line: path: message" errors.
class Validator {
 public:
  Validator(const v1::Plan& plan, std::string filename, const ParseInfoTree* tree)
      : plan_(plan), filename_(std::move(filename)), tree_(tree) {}

  std::vector<std::string> Run() {
    const Descriptor* pd = v1::Plan::descriptor();
    if (plan_.name().empty()) {
      Error(tree_, pd->FindFieldByName("name"), -1, "name", "is required");
    } else if (!IsPlanName(plan_.name())) {
      // The name is also the plan's file name on the server.
      Error(tree_, pd->FindFieldByName("name"), -1, "name",
            "must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or "
            "digit");
    }
    if (plan_.purpose() == v1::PLAN_PURPOSE_UNSPECIFIED) {
      Error(tree_, pd->FindFieldByName("purpose"), -1, "purpose",
            "is required (PLAN_PURPOSE_ONBOARD or PLAN_PURPOSE_OFFBOARD)");
    }
    for (int i = 0; i < plan_.params_size(); ++i) {
      const auto& p = plan_.params(i);
      std::string path = absl::StrCat("params[", i, "]");
      if (p.name().empty()) {
        Error(tree_, pd->FindFieldByName("params"), i, path + ".name", "is required");
      } else if (!params_.emplace(p.name(), p.secret()).second) {
        Error(tree_, pd->FindFieldByName("params"), i, path + ".name",
              absl::StrCat("duplicated parameter \"", p.name(), "\""));
      }
      if (p.secret() && !p.default_value().empty()) {
        Error(tree_, pd->FindFieldByName("params"), i, path + ".default_value",
              "a secret parameter cannot have a default value in the plan");
      }
    }
    for (int i = 0; i < plan_.artifacts_size(); ++i) {
      const auto& a = plan_.artifacts(i);
      std::string path = absl::StrCat("artifacts[", i, "]");
      if (!artifacts_.insert(a.name()).second) {
        Error(tree_, pd->FindFieldByName("artifacts"), i, path + ".name",
              absl::StrCat("duplicated artifact \"", a.name(), "\""));
      }
      // Empty: pinned when the operator uploads it (Microsoft's packages are not ours to ship).
      if (!a.sha256().empty() &&
          (a.sha256().size() != 64 ||
           a.sha256().find_first_not_of("0123456789abcdef") != std::string::npos)) {
        Error(tree_, pd->FindFieldByName("artifacts"), i, path + ".sha256",
              "must be 64 lowercase hex digits");
      }
    }
    if (plan_.steps_size() == 0)
      Error(tree_, nullptr, -1, "steps", "a plan needs at least one step");
    std::set<std::string> ids;
    const FieldDescriptor* steps_field = pd->FindFieldByName("steps");
    for (int i = 0; i < plan_.steps_size(); ++i) {
      const ParseInfoTree* st = tree_ ? tree_->GetTreeForNested(steps_field, i) : nullptr;
      step_line_ = Line(tree_, steps_field, i);
      CheckStep(plan_.steps(i), absl::StrCat("steps[", i, "]"), st, &ids);
    }
    return errors_;
  }

 private:
  int Line(const ParseInfoTree* tree, const FieldDescriptor* field, int index) const {
    if (tree == nullptr || field == nullptr) return 0;
    auto loc = tree->GetLocation(field, field->is_repeated() ? std::max(index, 0) : -1);
    return loc.line >= 0 ? loc.line + 1 : 0;
  }

  void Error(const ParseInfoTree* tree, const FieldDescriptor* field, int index,
             const std::string& path, const std::string& message) {
    int line = Line(tree, field, index);
    if (line == 0) line = step_line_;
    errors_.push_back(line > 0 ? absl::StrCat(filename_, ":", line, ": ", path, ": ", message)
                               : absl::StrCat(filename_, ": ", path, ": ", message));
  }

  // Checks ${name} / ${secret:name} references in `value`.
  void CheckRefs(const std::string& value, bool secrets_allowed, const ParseInfoTree* tree,
                 const FieldDescriptor* field, int index, const std::string& path) {
    size_t pos = 0;
    while ((pos = value.find("${", pos)) != std::string::npos) {
      size_t end = value.find('}', pos);
      if (end == std::string::npos) {
        Error(tree, field, index, path, "unterminated ${ reference");
        return;
      }
      std::string ref = value.substr(pos + 2, end - pos - 2);
      bool secret_ref = absl::StartsWith(ref, "secret:");
      std::string name = secret_ref ? ref.substr(7) : ref;
      auto it = params_.find(name);
      if (it == params_.end()) {
        Error(tree, field, index, path, absl::StrCat("unknown parameter \"", name, "\""));
      } else if (it->second && !secret_ref) {
        Error(tree, field, index, path,
              absl::StrCat("\"", name, "\" is a secret: reference it as ${secret:", name, "}"));
      } else if (!it->second && secret_ref) {
        Error(tree, field, index, path, absl::StrCat("\"", name, "\" is not a secret parameter"));
      } else if (secret_ref && !secrets_allowed) {
        Error(tree, field, index, path,
              absl::StrCat("secret \"", name,
                           "\" used as a plain parameter: secrets may only "
                           "appear in install_package.args"));
      }
      pos = end + 1;
    }
  }

  void CheckArtifact(const std::string& name, const v1::Step& step, const ParseInfoTree* tree,
                     const FieldDescriptor* field, const std::string& path) {
    if (name.empty()) {
      Error(tree, field, -1, path, "is required");
    } else if (!artifacts_.count(name)) {
      Error(tree, field, -1, path, absl::StrCat("unknown artifact \"", name, "\""));
    } else if (std::find(step.artifacts().begin(), step.artifacts().end(), name) ==
               step.artifacts().end()) {
      Error(tree, field, -1, path,
            absl::StrCat("artifact \"", name, "\" is not listed in the step's artifacts"));
    }
  }

  void CheckStep(const v1::Step& step, const std::string& path, const ParseInfoTree* tree,
                 std::set<std::string>* ids) {
    const Descriptor* sd = v1::Step::descriptor();
    auto f = [&](const char* name) { return sd->FindFieldByName(name); };
    if (step.id().empty()) {
      Error(tree, f("id"), -1, path + ".id", "is required");
    } else if (!ids->insert(step.id()).second) {
      Error(tree, f("id"), -1, path + ".id",
            absl::StrCat("duplicated step id \"", step.id(), "\""));
    }
    if (step.kind() == v1::STEP_KIND_UNSPECIFIED)
      Error(tree, f("kind"), -1, path + ".kind", "is required");
    if (step.platforms_size() == 0) {
      Error(tree, nullptr, -1, path + ".platforms", "a step needs at least one platform");
    }
    for (int i = 0; i < step.platforms_size(); ++i) {
      if (step.platforms(i).product() == v1::OS_PRODUCT_UNSPECIFIED) {
        Error(tree, f("platforms"), i, absl::StrCat(path, ".platforms[", i, "].product"),
              "is required");
      }
    }
    for (int i = 0; i < step.artifacts_size(); ++i) {
      if (!artifacts_.count(step.artifacts(i))) {
        Error(tree, f("artifacts"), i, absl::StrCat(path, ".artifacts[", i, "]"),
              absl::StrCat("unknown artifact \"", step.artifacts(i), "\""));
      }
    }
    if (!step.when_param().empty() && !params_.count(step.when_param())) {
      Error(tree, f("when_param"), -1, path + ".when_param",
            absl::StrCat("unknown parameter \"", step.when_param(), "\""));
    }
    if (step.timeout_seconds() < 0 || step.max_attempts() < 0 || step.backoff_seconds() < 0) {
      Error(tree, nullptr, -1, path,
            "timeout_seconds, max_attempts and backoff_seconds must be >= 0");
    }
    const FieldDescriptor* action =
        step.GetReflection()->GetOneofFieldDescriptor(step, sd->FindOneofByName("action"));
    if (action == nullptr) {
      Error(tree, nullptr, -1, path,
            "a step needs exactly one action (install_update, "
            "install_package, set_proxy, check_service, ...)");
      return;
    }
    std::string apath = absl::StrCat(path, ".", action->name());
    const ParseInfoTree* at = tree ? tree->GetTreeForNested(action, -1) : nullptr;
    auto af = [&](const google::protobuf::Message& m, const char* name) {
      return m.GetDescriptor()->FindFieldByName(name);
    };
    switch (step.action_case()) {
      case v1::Step::kInstallUpdate: {
        const auto& a = step.install_update();
        if (a.kb().rfind("KB", 0) != 0)
          Error(at, af(a, "kb"), -1, apath + ".kb", "must look like KB1234567");
        CheckArtifact(a.package(), step, at, af(a, "package"), apath + ".package");
        break;
      }
      case v1::Step::kInstallPackage: {
        const auto& a = step.install_package();
        CheckArtifact(a.package(), step, at, af(a, "package"), apath + ".package");
        for (int i = 0; i < a.args_size(); ++i) {
          CheckRefs(a.args(i), true, at, af(a, "args"), i, absl::StrCat(apath, ".args[", i, "]"));
        }
        break;
      }
      case v1::Step::kSetProxy:
        if (step.set_proxy().target() == v1::SetProxy::TARGET_UNSPECIFIED) {
          Error(at, af(step.set_proxy(), "target"), -1, apath + ".target", "is required");
        }
        CheckRefs(step.set_proxy().proxy(), false, at, af(step.set_proxy(), "proxy"), -1,
                  apath + ".proxy");
        break;
      case v1::Step::kCheckService:
        if (step.check_service().name().empty())
          Error(at, nullptr, -1, apath + ".name", "is required");
        break;
      case v1::Step::kCheckConnectivity:
        if (step.check_connectivity().urls_size() == 0)
          Error(at, nullptr, -1, apath + ".urls", "needs at least one URL");
        for (int i = 0; i < step.check_connectivity().urls_size(); ++i) {
          CheckRefs(step.check_connectivity().urls(i), false, at,
                    af(step.check_connectivity(), "urls"), i,
                    absl::StrCat(apath, ".urls[", i, "]"));
        }
        break;
      case v1::Step::kRemoveWorkspace:
        CheckRefs(step.remove_workspace().workspace_id(), false, at,
                  af(step.remove_workspace(), "workspace_id"), -1, apath + ".workspace_id");
        break;
      case v1::Step::kAddWorkspace: {
        const auto& a = step.add_workspace();
        CheckRefs(a.workspace_id(), false, at, af(a, "workspace_id"), -1, apath + ".workspace_id");
        if (a.workspace_key().find("${secret:") == std::string::npos) {
          Error(at, af(a, "workspace_key"), -1, apath + ".workspace_key",
                "must be a secret parameter, ${secret:name}");
        }
        CheckRefs(a.workspace_key(), true, at, af(a, "workspace_key"), -1,
                  apath + ".workspace_key");
        CheckRefs(a.azure_cloud_type(), false, at, af(a, "azure_cloud_type"), -1,
                  apath + ".azure_cloud_type");
        break;
      }
      case v1::Step::kCheckWorkspace:
        CheckRefs(step.check_workspace().workspace_id(), false, at,
                  af(step.check_workspace(), "workspace_id"), -1, apath + ".workspace_id");
        break;
      case v1::Step::kRunCommand:
        if (step.run_command().argv_size() == 0)
          Error(at, nullptr, -1, apath + ".argv", "needs at least one element");
        for (int i = 0; i < step.run_command().argv_size(); ++i) {
          CheckRefs(step.run_command().argv(i), false, at, af(step.run_command(), "argv"), i,
                    absl::StrCat(apath, ".argv[", i, "]"));
        }
        break;
      case v1::Step::kRequirePrerequisite:
        if (step.require_prerequisite().name().empty())
          Error(at, nullptr, -1, apath + ".name", "is required");
        if (!step.require_prerequisite().has_check())
          Error(at, nullptr, -1, apath + ".check", "is required");
        break;
      default:
        break;
    }
  }

  const v1::Plan& plan_;
  std::string filename_;
  const ParseInfoTree* tree_;
  int step_line_ = 0;
  std::map<std::string, bool> params_;  // name -> secret
  std::set<std::string> artifacts_;
  std::vector<std::string> errors_;
};

}  // namespace

absl::StatusOr<v1::Plan> ParsePlan(const std::string& text, const std::string& filename) {
  // Checked before parsing: the upload has to fit one message, and protobuf
  // would only log (not refuse) text that is not UTF-8.
  if (text.size() > kMaxPlanBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(filename, ": ", text.size(), " bytes; a plan is at most ", kMaxPlanBytes));
  }
  if (size_t bad = InvalidUtf8At(text); bad != std::string::npos) {
    int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + bad, '\n'));
    return absl::InvalidArgumentError(
        absl::StrCat(filename, ":", line, ": not valid UTF-8 (byte ", bad, ")"));
  }
  v1::Plan plan;
  ParseInfoTree tree;
  bool json = absl::EndsWith(filename, ".json");
  if (json) {
    auto st = google::protobuf::util::JsonStringToMessage(text, &plan);
    if (!st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(filename, ": ", st.message().as_string()));
    }
  } else {
    TextFormat::Parser parser;
    CollectErrors errors(filename, text);
    parser.RecordErrorsTo(&errors);
    parser.WriteLocationsTo(&tree);
    if (!parser.ParseFromString(text, &plan)) {
      return absl::InvalidArgumentError(absl::StrJoin(errors.errors, "\n"));
    }
  }
  std::vector<std::string> errors = Validator(plan, filename, json ? nullptr : &tree).Run();
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  return plan;
}

absl::StatusOr<v1::Plan> LoadPlanFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParsePlan(*text, path);
}

namespace {

absl::StatusOr<std::vector<std::string>> PlanFiles(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr)
    return absl::NotFoundError(absl::StrCat("plans directory ", dir, " cannot be opened"));
  std::vector<std::string> files;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (absl::EndsWith(name, ".textproto") || absl::EndsWith(name, ".json")) files.push_back(name);
  }
  ::closedir(d);
  std::sort(files.begin(), files.end());
  return files;
}

// Held while a plan is saved, and while a directory is loaded to replace the
// plans in memory, so that neither loses the other's plan.
absl::Mutex& PlanDirMutex() {
  static absl::Mutex mu(absl::kConstInit);
  return mu;
}

}  // namespace

absl::Status SavePlanFile(const std::string& dir, const std::string& name, bool json,
                          const std::string& text, const std::function<void()>& then) {
  if (!IsPlanName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("name: \"", name, "\" is not a plan name"));
  }
  absl::MutexLock lock(&PlanDirMutex());
  std::string file = absl::StrCat(name, json ? ".json" : ".textproto");
  std::string path = absl::StrCat(dir, "/", file);
  if (PathExists(path)) {  // a file placed by hand under this name may hold another plan
    auto there = LoadPlanFile(path);
    if (there.ok() && there->name() != name) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " holds plan \"", there->name(), "\", not \"", name, "\": rename one of them"));
    }
  }
  RETURN_IF_ERROR(WriteFileAtomic(path, text, 0644));
  // Older files of the same plan go; one left behind by a crash here loses
  // to this one at the next start (LoadPlanDir prefers <name>.<ext>).
  auto files = PlanFiles(dir);
  if (!files.ok()) return files.status();
  for (const auto& f : *files) {
    if (f == file) continue;
    std::string other_path = absl::StrCat(dir, "/", f);
    auto other = LoadPlanFile(other_path);
    if (other.ok() && other->name() == name && ::unlink(other_path.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("plan ", name, " saved as ", file,
                                              " but its older file ", other_path,
                                              " cannot be removed"));
    }
  }
  if (then) then();
  return absl::OkStatus();
}

namespace {

// Of two files defining one plan, the one named after it wins (a re-upload
// interrupted before its older file was removed); of two so named, the newer.
absl::StatusOr<bool> Prefer(const std::string& dir, const std::string& name,
                            const std::string& candidate, const std::string& kept) {
  auto named = [&](const std::string& f) {
    return f == name + ".textproto" || f == name + ".json";
  };
  if (named(candidate) != named(kept)) return named(candidate);
  if (!named(candidate)) {
    return absl::InvalidArgumentError(absl::StrCat(dir, "/", candidate, ": name: plan \"", name,
                                                   "\" is defined twice (also in ", kept, ")"));
  }
  struct stat a, b;
  if (::stat(absl::StrCat(dir, "/", candidate).c_str(), &a) != 0 ||
      ::stat(absl::StrCat(dir, "/", kept).c_str(), &b) != 0) {
    return false;
  }
  return a.st_mtim.tv_sec > b.st_mtim.tv_sec ||
         (a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec > b.st_mtim.tv_nsec);
}

}  // namespace

absl::StatusOr<std::map<std::string, v1::Plan>> LoadPlanDir(const std::string& dir) {
  auto files_or = PlanFiles(dir);
  if (!files_or.ok()) return files_or.status();
  std::map<std::string, v1::Plan> plans;
  std::map<std::string, std::string> file_of;
  for (const auto& f : *files_or) {
    std::string path = absl::StrCat(dir, "/", f);
    auto plan = LoadPlanFile(path);
    if (!plan.ok()) return plan.status();
    std::string name = plan->name();
    if (file_of.count(name)) {
      ASSIGN_OR_RETURN(bool replace, Prefer(dir, name, f, file_of[name]));
      if (!replace) continue;
    }
    file_of[name] = f;
    plans[name] = *std::move(plan);
  }
  return plans;
}

absl::Status ReloadPlanDir(const std::string& dir,
                           const std::function<void(std::map<std::string, v1::Plan>)>& install) {
  absl::MutexLock lock(&PlanDirMutex());
  ASSIGN_OR_RETURN(auto plans, LoadPlanDir(dir));
  install(std::move(plans));
  return absl::OkStatus();
}

}  // namespace purser
