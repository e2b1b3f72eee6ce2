#include "tools/warrenctl/commands.h"

#include "tools/warrenctl/audit_commands.h"
#include "tools/warrenctl/kernel_commands.h"
#include "tools/warrenctl/pinned.h"
#include "tools/warrenctl/tunnel_commands.h"
#include "warren_abi.h"

namespace warren::ctl {

namespace {

Result<Output> podList(const Context& ctx) { return listing(readPods(ctx.pinRoot), podHeaders(), podJson, podRow); }

Result<Output> progShow(const Context& ctx) {
  return listing(readProgs(ctx.pinRoot), progHeaders(), progJson, progRow);
}

Object progObject() {
  Verb show{"show",
            "",
            "Warren's BPF programs, found through their pinned links",
            "Warren's BPF programs, found through the links warren-agent pinned under PIN_ROOT/links, so only "
            "what Warren attached: one entry per program with its id, type, full name, tag and load time, and "
            "every link that runs it with the link id, attach type and target (TARGET is the cgroup id for the "
            "connect4/6, getpeername4/6 and sockops links, the netns inode for the per-pod sk_lookup links; "
            "\"(detached)\" once the target is gone). RUN_CNT and RUN_TIME_NS only count while "
            "kernel.bpf_stats_enabled=1 and are 0 otherwise. LOADED_AT is UTC. JSON: an array ordered by program "
            "id.",
            {
                {"id", "program id"},
                {"type", "program type (libbpf's name: cgroup_sock_addr, sock_ops, sk_lookup)"},
                {"name", "full function name (from BTF when the kernel's 15-character name is cut)"},
                {"tag", "program tag, hex: changes whenever the instructions do"},
                {"gpl_compatible", "whether the program was loaded with a GPL-compatible license"},
                {"loaded_at", "load time, Unix seconds (0 when unknown)"},
                {"uid", "uid that loaded it"},
                {"run_cnt", "runs counted while kernel.bpf_stats_enabled=1, else 0"},
                {"run_time_ns", "total run time counted while kernel.bpf_stats_enabled=1, else 0"},
                {"bytes_xlated", "size of the verified program"},
                {"bytes_jited", "size of the JITed image (0 when not JITed)"},
                {"map_ids", "ids of the maps the program uses"},
                {"links", "the pinned links that run this program, ordered by pin name"},
                {"links[].pin", "file name of the link under PIN_ROOT/links"},
                {"links[].id", "link id"},
                {"links[].type", "link type: cgroup or netns"},
                {"links[].attach_type", "attach type, e.g. cgroup_inet4_connect or sk_lookup"},
                {"links[].target_type", "cgroup or netns"},
                {"links[].target_id", "cgroup id or netns inode; 0 once the target is gone"},
                {"links[].attached", "whether the target still exists (target_id != 0)"},
            },
            progShow};
  return {"prog", "Warren's BPF programs and the links that attach them.", {show}};
}

Object podObject() {
  Verb list{
      "list",
      "",
      "Enrolled pods, decoded from the pinned maps",
      "Pods enrolled in capture, decoded from the pinned maps, so it works while warren-agent is down: one "
      "entry per netns cookie in warren_enrolled with the pod's namespace, name, service account and uid "
      "(from warren_pod_meta; \"?\" when the agent wrote none), its IPs, and its counters summed over all "
      "CPUs: OUT connects captured outbound, IN connections captured inbound, PASSED connects left alone, "
      "FAILED_CLOSED connects refused because the tunnel's listener was missing, QUOTA_REFUSED connects refused "
      "over the pod's quota, UDP_SENDS UDP sends left uncaptured (\"-\" when the pod has no "
      "counters entry, which means nothing is being counted for it). LISTENER says whether the tunnel's "
      "inbound listener is registered in warren_inbound for the pod's IPs: up, partial (some IPs), missing, "
      "or unknown when the kernel cannot look sockets up from userspace. SK_LOOKUP says whether the pod's "
      "sk_lookup link is pinned and attached to its netns: attached, detached, missing. JSON: an array "
      "ordered by namespace and name.",
      {
          {"netns_cookie", "the pod's network namespace cookie, the key of every per-pod map"},
          {"namespace", "Kubernetes namespace (\"\" without a warren_pod_meta entry)"},
          {"name", "pod name (\"\" without a warren_pod_meta entry)"},
          {"service_account", "service account (\"\" without a warren_pod_meta entry)"},
          {"uid", "pod uid (\"\" without a warren_pod_meta entry)"},
          {"ips", "pod IPs, IPv4 first"},
          {"counters", "counters summed over all CPUs; null when the pod has no counters entry"},
          {"counters.captured_out", "outbound connects redirected to the tunnel"},
          {"counters.captured_in", "inbound connections steered to the tunnel"},
          {"counters.passed", "connects of the pod left alone (loopback, to itself, not TCP)"},
          {"counters.failed_closed", "connects refused because the tunnel's listener was missing"},
          {"counters.quota_refused", "connects refused because the pod held its quota of original-destination entries"},
          {"counters.udp_sends", "UDP sends and connects, not captured (only TCP is)"},
          {"inbound_listener", "up, partial, missing or unknown, over all of the pod's IPs"},
          {"listeners", "the warren_inbound entry of each pod IP"},
          {"listeners[].ip", "pod IP"},
          {"listeners[].state", "up, missing or unknown"},
          {"listeners[].socket_cookie", "cookie of the registered listener socket; 0 unless up"},
          {"sk_lookup_link", "attached, detached, missing or unknown"},
          {"sk_lookup_link_id", "id of the pod's sk_lookup link; 0 when there is none"},
      },
      podList};
  return {"pod", "Pods enrolled in Warren's capture, as the BPF maps see them.", {list, podShowVerb()}};
}

// The kernel's objects first, then the tunnel's (admin endpoint) ones.
std::vector<Object> withTunnelObjects(std::vector<Object> kernel) {
  for (auto& o : tunnelObjects()) kernel.push_back(std::move(o));
  kernel.push_back(auditObject());
  return kernel;
}

}  // namespace

const CommandTable& commandTable() {
  static const CommandTable table{
      "warrenctl",
      "warrenctl is Warren's bpftool-style debug CLI. It reads the objects warren-agent pinned (maps by name "
      "under the pin root PIN_ROOT, links under PIN_ROOT/links) directly, so it works while the agent is down, and "
      "it never writes to a map or changes what is attached. Run it as root.",
      WARREN_PIN_ROOT_DEFAULT,
      withTunnelObjects(
          {progObject(), linkObject(), mapObject(), podObject(), connObject(), traceObject(), statsObject()}),
  };
  return table;
}

int runWarrenctl(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  return runCli(commandTable(), argv, out, err);
}

}  // namespace warren::ctl
