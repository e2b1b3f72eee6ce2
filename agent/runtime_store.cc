#include "agent/runtime_store.h"

#include "common/file_io.h"

#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace warren::agent {
namespace fs = std::filesystem;

Status RuntimeStore::init() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return makeError("create " + dir_ + ": " + ec.message());
  return okStatus();
}

std::string RuntimeStore::pathFor(const std::string& containerId) const {
  // Container ids are [A-Za-z0-9_.-]; anything else must not escape the dir.
  std::string safe;
  for (char c : containerId) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return dir_ + "/" + safe + ".json";
}

Status RuntimeStore::put(const RuntimePod& pod) {
  nlohmann::json j = {{"containerId", pod.containerId},   {"netns", pod.netnsPath}, {"podName", pod.podName},
                      {"podNamespace", pod.podNamespace}, {"podUid", pod.podUid},   {"ips", pod.ips}};
  // Atomic: a crash leaves the old or the new record.
  return writeFileAtomic(pathFor(pod.containerId), j.dump() + "\n", 0644);
}

void RuntimeStore::remove(const std::string& containerId) {
  std::error_code ec;
  fs::remove(pathFor(containerId), ec);
}

std::map<std::string, RuntimePod> RuntimeStore::loadAll() const {
  std::map<std::string, RuntimePod> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("containerId") || !j.contains("netns")) {
      spdlog::warn("ignoring unreadable pod record {}", entry.path().string());
      continue;
    }
    RuntimePod p;
    p.containerId = j.value("containerId", "");
    p.netnsPath = j.value("netns", "");
    p.podName = j.value("podName", "");
    p.podNamespace = j.value("podNamespace", "");
    p.podUid = j.value("podUid", "");
    if (j.contains("ips") && j["ips"].is_array())
      for (const auto& ip : j["ips"])
        if (ip.is_string()) p.ips.push_back(ip.get<std::string>());
    out[p.containerId] = std::move(p);
  }
  return out;
}

}  // namespace warren::agent
