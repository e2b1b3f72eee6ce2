#include "source/yaml_source.h"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "common/ip_literal.h"
#include "source/endpoint_slice.h"
#include "source/istio_objects.h"
#include "source/request_authentication.h"
#include "source/yaml_documents.h"
#include "source/yaml_util.h"

namespace warren::source {
namespace fs = std::filesystem;

namespace {

std::map<std::string, std::string> labelsOf(const YAML::Node& metadata) { return stringMap(at(metadata, "labels")); }

void parseNamespace(const Doc& d, Snapshot& s) {
  const YAML::Node md = at(d.node, "metadata");
  Namespace ns{str(at(md, "name")), labelsOf(md)};
  if (s.namespaces.count(ns.name)) {
    s.errors.push_back(makeError(d.where + ": duplicate Namespace " + ns.name + "; keeping the first"));
    return;
  }
  s.namespaces[ns.name] = std::move(ns);
}

void parsePod(const Doc& d, Snapshot& s) {
  const YAML::Node md = at(d.node, "metadata");
  const YAML::Node spec = at(d.node, "spec");
  Pod p;
  p.name = str(at(md, "name"));
  p.ns = str(at(md, "namespace"), "default");
  p.uid = str(at(md, "uid"), p.ns + "/" + p.name);
  p.labels = labelsOf(md);
  p.annotations = stringMap(at(md, "annotations"));
  p.serviceAccount = str(at(spec, "serviceAccountName"), "default");
  p.nodeName = str(at(spec, "nodeName"));
  const std::string key = p.ns + "/" + p.name;
  if (const YAML::Node hn = at(spec, "hostNetwork")) {
    const std::string v = str(hn);
    if (v == "true" || v == "True" || v == "TRUE")
      p.hostNetwork = true;
    else if (v != "false" && v != "False" && v != "FALSE") {
      s.errors.push_back(
          makeError("pod " + key + " in " + d.where + ": spec.hostNetwork '" + v + "' is not a boolean"));
      return;
    }
  }

  auto addIp = [&](const std::string& ip) -> bool {
    if (!isIpLiteral(ip)) {
      s.errors.push_back(makeError("pod " + key + " in " + d.where + ": '" + ip + "' is not an IP address"));
      return false;
    }
    if (std::find(p.ips.begin(), p.ips.end(), ip) == p.ips.end()) p.ips.push_back(ip);
    return true;
  };
  const YAML::Node status = at(d.node, "status");
  if (at(status, "podIP") && !addIp(str(at(status, "podIP")))) return;
  const YAML::Node list = at(status, "podIPs");
  if (list && list.IsSequence())
    for (const auto& e : list)
      if (!addIp(str(at(e, "ip")))) return;
  const std::string phase = str(at(status, "phase"));
  if (!phase.empty() && phase != "Running") p.ready = false;
  p.finished = phase == "Succeeded" || phase == "Failed";
  const YAML::Node conditions = at(status, "conditions");
  if (conditions && conditions.IsSequence())
    for (const auto& c : conditions)
      if (str(at(c, "type")) == "Ready" && str(at(c, "status")) == "False") p.ready = false;
  const YAML::Node containers = at(spec, "containers");
  if (containers && containers.IsSequence())
    for (const auto& c : containers) {
      const YAML::Node ports = at(c, "ports");
      if (!ports || !ports.IsSequence()) continue;
      for (const auto& port : ports) {
        const std::string name = str(at(port, "name"));
        if (!name.empty() && at(port, "containerPort")) p.namedPorts[name] = at(port, "containerPort").as<uint32_t>();
      }
    }
  // A Pod without status.podIP is kept: on a real cluster every pod is so at
  // its CNI ADD (the kubelet writes the IP after ADD returns), and the agent
  // then takes the runtime's addresses and the Pod's identity.
  if (s.pods.count(key)) {
    s.errors.push_back(makeError(d.where + ": duplicate Pod " + key + "; keeping the first"));
    return;
  }
  s.pods[key] = std::move(p);
}

// Kinds this source understands, with the API versions each is accepted in; the
// same kind in another group (someone's CRD) is a different object and skipped,
// as is any unknown kind.
struct KindParser {
  std::vector<std::string> apiVersions;
  std::function<void(const Doc&, Snapshot&)> parse;
};
const std::map<std::string, KindParser>& parsers() {
  static const std::vector<std::string> core = {"v1"};
  static const std::vector<std::string> discovery = {"discovery.k8s.io/v1"};
  static const std::vector<std::string> gatewayApi = {"gateway.networking.k8s.io/v1",
                                                      "gateway.networking.k8s.io/v1beta1"};
  static const std::vector<std::string> istioSecurity = {"security.istio.io/v1", "security.istio.io/v1beta1"};
  static const std::map<std::string, KindParser> table = {
      {"Namespace", {core, parseNamespace}},
      {"Pod", {core, parsePod}},
      {"Service", {core, parseService}},
      {"EndpointSlice", {discovery, parseEndpointSlice}},
      {"AuthorizationPolicy", {istioSecurity, parseAuthorizationPolicy}},
      {"PeerAuthentication", {istioSecurity, parsePeerAuthentication}},
      {"RequestAuthentication", {istioSecurity, parseRequestAuthentication}},
      {"Gateway", {gatewayApi, parseGateway}},
  };
  return table;
}

// Editors and `kubectl`-style tools write temp files next to the real one
// (".x.yaml.tmp", "x.yaml~", ".x.swp", "#x#"); loading them would briefly
// double every object, so only finished *.yaml / *.yml files count.
bool isConfigFile(const fs::path& p) {
  const std::string name = p.filename().string();
  if (name.empty() || name[0] == '.' || name[0] == '#' || name.back() == '~') return false;
  const std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

}  // namespace

void loadDocuments(const std::string& text, const std::string& fileName, Snapshot& into) {
  std::vector<YAML::Node> docs;
  try {
    docs = loadAllDocuments(text);
  } catch (const YAML::Exception& e) {
    // A half-parsed file could hold half a Pod; drop the whole file instead.
    const std::string line = e.mark.is_null() ? "" : ", line " + std::to_string(e.mark.line + 1);
    into.errors.push_back(makeError(fileName + line + ": malformed YAML: " + e.msg + "; the file is ignored"));
    return;
  }
  for (const auto& node : docs) {
    if (node.IsNull()) continue;  // empty document between '---'
    convertObject(node, fileName + ", line " + std::to_string(node.Mark().line + 1), into);
  }
}

void convertObject(const YAML::Node& node, const std::string& where, Snapshot& into) {
  try {
    if (!node.IsMap()) {
      into.errors.push_back(makeError(where + ": a document must be a mapping"));
      return;
    }
    const std::string kind = str(at(node, "kind"));
    if (kind.empty()) {
      into.errors.push_back(makeError(where + ": document has no kind"));
      return;
    }
    auto it = parsers().find(kind);
    if (it == parsers().end()) return;
    const std::string apiVersion = str(at(node, "apiVersion"), "v1");
    const auto& versions = it->second.apiVersions;
    if (std::find(versions.begin(), versions.end(), apiVersion) == versions.end()) return;
    if (str(at(at(node, "metadata"), "name")).empty()) {
      into.errors.push_back(makeError(where + ": " + kind + " has no metadata.name"));
      return;
    }
    it->second.parse(Doc{node, where}, into);
  } catch (const YAML::Exception& e) {
    into.errors.push_back(makeError(where + ": " + e.msg));
  } catch (const std::exception& e) {
    // No exception may escape the source: one odd object must not stop the reload.
    into.errors.push_back(makeError(where + ": " + e.what()));
  }
}

Result<std::vector<std::string>> listConfigFiles(const std::string& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return makeError("read config directory " + dir + ": " + ec.message(), ec.value());
  std::vector<fs::path> files;
  // Iterate with error codes: a directory swapped mid-listing (ConfigMap's
  // ..data rename) must fail this call, not throw.
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::error_code typeEc;
    // is_regular_file follows symlinks, so ConfigMap-style links to ..data/ count.
    if (it->is_regular_file(typeEc) && isConfigFile(it->path())) files.push_back(it->path());
  }
  if (ec) return makeError("read config directory " + dir + ": " + ec.message(), ec.value());
  std::sort(files.begin(), files.end());  // deterministic "first wins" for duplicates
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(f.string());
  return out;
}

Result<Snapshot> loadDirectory(const std::string& dir, const std::function<void(Snapshot&)>& afterEachFile) {
  auto files = listConfigFiles(dir);
  if (!files) return files.error();
  Snapshot s;
  for (const auto& f : *files) {
    std::ifstream in(f);
    if (!in) {
      s.errors.push_back(makeError("cannot read " + f));
      continue;
    }
    std::stringstream text;
    text << in.rdbuf();
    loadDocuments(text.str(), f, s);
    if (afterEachFile) afterEachFile(s);
  }
  return s;
}

}  // namespace warren::source
