#include "tools/warrenctl/kernel_commands.h"

#include "tools/warrenctl/maps.h"
#include "tools/warrenctl/pinned.h"
#include "tools/warrenctl/pinned_maps.h"
#include "tools/warrenctl/trace.h"
#include "tools/warrenctl/tunnel_commands.h"

namespace warren::ctl {

namespace {

Result<Output> linkShow(const Context& ctx) {
  return listing(readLinks(ctx.pinRoot), linkHeaders(), linkShowJson, linkRow);
}

Result<Output> mapShow(const Context& ctx) {
  return listing(readMapInfos(ctx.pinRoot), mapInfoHeaders(), mapInfoJson, mapInfoRow);
}

Result<Output> mapDump(const Context& ctx) {
  if (ctx.args.size() != 1 || ctx.args[0].rfind("--", 0) == 0)
    return makeError("map dump takes one map NAME (see warrenctl map help)");
  return dumpMap(ctx.pinRoot, ctx.args[0]);
}

Result<Output> podShow(const Context& ctx) {
  if (ctx.args.size() != 1 || ctx.args[0].rfind("--", 0) == 0)
    return makeError("pod show takes one POD: NAMESPACE/NAME, NAME, IP or netns cookie");
  return showPod(ctx.pinRoot, ctx.args[0]);
}

Result<Output> connList(const Context& ctx) {
  for (const auto& a : ctx.args) {
    if (a == "--tunnel" && ctx.args.size() == 1) return tunnelConnList(ctx);  // the tunnel's HBONE view
    return makeError("unexpected argument '" + a + "' for 'conn list' (see warrenctl conn help)");
  }
  return listing(readConns(ctx.pinRoot), connHeaders(), connJson, connRow);
}

Result<Output> statsRun(const Context& ctx) { return readStats(ctx.pinRoot); }

std::vector<Field> counterFields(const std::string& prefix, const std::string& what) {
  std::vector<Field> f;
  for (const auto& c : kCounterFields) f.push_back({prefix + c.name, c.help + what});
  return f;
}

std::vector<Field> concat(std::vector<Field> a, const std::vector<Field>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

Object linkObject() {
  Verb show{
      "show",
      "",
      "Warren's pinned links: what runs where",
      "Every BPF link warren-agent pinned under PIN_ROOT/links, the same links `prog show` reads: one entry per "
      "link with its id, type, the id of the program it runs, its attach type and target (TARGET is the cgroup id "
      "for the connect4/6, getpeername4/6 and sockops links, the netns inode for the per-pod sk_lookup links, "
      "\"(detached)\" once the target is gone) and the file name it is pinned under. JSON: an array ordered by "
      "pin name.",
      {
          {"id", "link id"},
          {"type", "link type: cgroup or netns"},
          {"prog_id", "id of the program the link runs"},
          {"pin", "file name of the link under PIN_ROOT/links"},
          {"attach_type", "attach type, e.g. cgroup_inet4_connect or sk_lookup"},
          {"target_type", "cgroup or netns"},
          {"target_id", "cgroup id or netns inode; 0 once the target is gone"},
          {"attached", "whether the target still exists (target_id != 0)"},
      },
      linkShow};
  return {"link", "Warren's pinned BPF links.", {show}};
}

Object mapObject() {
  Verb show{
      "show",
      "",
      "Every map pinned under PIN_ROOT, with its fill level",
      "Every BPF map pinned directly under PIN_ROOT (warren-agent pins them by name): its id, type, key and value "
      "size, max entries, how many entries it holds now and its flags. ENTRIES is counted by walking the keys, so "
      "it is a snapshot of a map the programs keep changing; it is \"-\" (JSON null) for the ring buffer "
      "warren_events and the socket storage warren_sk_state, which userspace cannot walk. JSON: an array ordered "
      "by name.",
      {
          {"name", "the map's pin name under PIN_ROOT (its name in warren_abi.h)"},
          {"id", "map id"},
          {"type", "map type (libbpf's name: hash, percpu_hash, sockhash, ringbuf, sk_storage)"},
          {"key_size", "key size in bytes"},
          {"value_size", "value size in bytes (per CPU for percpu maps)"},
          {"max_entries", "capacity (for the ring buffer: its size in bytes)"},
          {"entries", "entries now; null when the map type cannot be walked"},
          {"flags", "map_flags as a number"},
          {"flag_names", "map_flags by name, e.g. no_prealloc; unknown bits as hex"},
      },
      mapShow};
  Verb dump{
      "dump",
      "NAME",
      "One map's entries, decoded with the ABI structs",
      "The entries of one of Warren's maps, decoded with the structs of warren_abi.h (never as hex): "
      "warren_enrolled (netns cookie -> pod flags and IPs), warren_pod_ips (pod IP -> netns cookie), "
      "warren_inbound (pod IP -> the tunnel's inbound listener socket; the value is the socket cookie when the "
      "kernel hands it to userspace, else state unknown), warren_hbone (the same for the tunnel's HBONE "
      "listener on 15008), warren_orig_dst (captured connection: pod netns cookie "
      "and the app socket's local address -> the original destination), warren_pod_conns (netns cookie -> "
      "warren_orig_dst entries the pod holds against its quota, --conns-per-pod), warren_counters (netns cookie -> "
      "counters, summed and per CPU; the table shows the sum and the CPUs that counted anything) and "
      "warren_pod_meta (netns cookie -> namespace, name, service account, uid). warren_events is a ring buffer: "
      "read it with `warrenctl trace`. JSON: an array of {key, value} objects in the map's walk order; which of "
      "the fields below appear depends on the map.",
      {
          {"key", "the entry's key, decoded"},
          {"key.netns_cookie",
           "pod netns cookie (warren_enrolled, warren_counters, warren_pod_meta, warren_orig_dst, warren_pod_conns)"},
          {"key.family", "ipv4 or ipv6 (warren_pod_ips, warren_inbound, warren_hbone, warren_orig_dst)"},
          {"key.ip", "pod IP (warren_pod_ips, warren_inbound, warren_hbone)"},
          {"key.src_ip", "the app socket's local address (warren_orig_dst)"},
          {"key.src_port", "the app socket's local port (warren_orig_dst)"},
          {"value", "the entry's value, decoded"},
          {"value.flags", "WARREN_POD_HAS_* bits (warren_enrolled)"},
          {"value.flag_names", "has_ip4, has_ip6 (warren_enrolled)"},
          {"value.ip4", "the pod's IPv4 address, \"\" without has_ip4 (warren_enrolled)"},
          {"value.ip6", "the pod's IPv6 address, \"\" without has_ip6 (warren_enrolled)"},
          {"value.netns_cookie", "the pod's netns cookie (warren_pod_ips, warren_orig_dst)"},
          {"value.family", "ipv4 or ipv6 of the original destination (warren_orig_dst)"},
          {"value.ip", "original destination address (warren_orig_dst)"},
          {"value.port", "original destination port (warren_orig_dst)"},
          {"value.captured_out", "outbound connects captured, all CPUs (warren_counters)"},
          {"value.captured_in", "inbound connections captured, all CPUs (warren_counters)"},
          {"value.passed", "connects left alone, all CPUs (warren_counters)"},
          {"value.failed_closed", "connects refused, all CPUs (warren_counters)"},
          {"value.quota_refused", "connects refused over the pod's quota, all CPUs (warren_counters)"},
          {"value.udp_sends", "UDP sends and connects left uncaptured, all CPUs (warren_counters)"},
          {"value.per_cpu", "one entry per possible CPU (warren_counters)"},
          {"value.per_cpu[].cpu", "CPU number"},
          {"value.per_cpu[].captured_out", "outbound connects captured on this CPU"},
          {"value.per_cpu[].captured_in", "inbound connections captured on this CPU"},
          {"value.per_cpu[].passed", "connects left alone on this CPU"},
          {"value.per_cpu[].failed_closed", "connects refused on this CPU"},
          {"value.per_cpu[].quota_refused", "connects refused over the pod's quota on this CPU"},
          {"value.per_cpu[].udp_sends", "UDP sends and connects left uncaptured on this CPU"},
          {"value.namespace", "Kubernetes namespace (warren_pod_meta)"},
          {"value.name", "pod name (warren_pod_meta)"},
          {"value.service_account", "service account (warren_pod_meta)"},
          {"value.uid", "pod uid (warren_pod_meta)"},
          {"value.state",
           "up, or unknown when the kernel cannot look sockets up from userspace (warren_inbound, warren_hbone)"},
          {"value.socket_cookie",
           "cookie of the registered listener socket; 0 unless up (warren_inbound, warren_hbone)"},
          {"value.held", "warren_orig_dst entries the pod holds now, against --conns-per-pod (warren_pod_conns)"},
      },
      mapDump};
  return {"map", "Warren's pinned BPF maps and their contents.", {show, dump}};
}

Verb podShowVerb() {
  std::vector<Field> fields = {
      {"netns_cookie", "the pod's network namespace cookie"},
      {"namespace", "Kubernetes namespace (\"\" without a warren_pod_meta entry)"},
      {"name", "pod name (\"\" without a warren_pod_meta entry)"},
      {"service_account", "service account (\"\" without a warren_pod_meta entry)"},
      {"uid", "pod uid (\"\" without a warren_pod_meta entry)"},
      {"ips", "pod IPs, IPv4 first"},
      {"counters", "counters summed over all CPUs; null when the pod has no counters entry"},
  };
  fields = concat(fields, counterFields("counters.", ""));
  fields = concat(fields, {
                              {"inbound_listener", "up, partial, missing or unknown, over all of the pod's IPs"},
                              {"listeners", "the warren_inbound entry of each pod IP"},
                              {"listeners[].ip", "pod IP"},
                              {"listeners[].state", "up, missing or unknown"},
                              {"listeners[].socket_cookie", "cookie of the registered listener socket; 0 unless up"},
                              {"sk_lookup_link", "attached, detached, missing or unknown"},
                              {"sk_lookup_link_id", "id of the pod's sk_lookup link; 0 when there is none"},
                              {"counters_per_cpu", "the counters entry per possible CPU; [] without an entry"},
                              {"counters_per_cpu[].cpu", "CPU number"},
                          });
  fields = concat(fields, counterFields("counters_per_cpu[].", ", on this CPU"));
  fields = concat(fields, {
                              {"sk_lookup", "the pod's pinned sk_lookup link as `link show` has it; null if none"},
                              {"sk_lookup.id", "link id"},
                              {"sk_lookup.type", "link type (netns)"},
                              {"sk_lookup.prog_id", "id of the sk_lookup program it runs"},
                              {"sk_lookup.pin", "file name under PIN_ROOT/links"},
                              {"sk_lookup.attach_type", "sk_lookup"},
                              {"sk_lookup.target_type", "netns"},
                              {"sk_lookup.target_id", "the pod's netns inode; 0 once the netns is gone"},
                              {"sk_lookup.attached", "whether the netns still exists"},
                          });
  return Verb{
      "show",
      "POD",
      "One enrolled pod in detail",
      "One pod, named by NAMESPACE/NAME, by NAME alone when only one namespace has it, by one of its IPs or by its "
      "netns cookie: everything `pod list` shows, then its listeners (the warren_inbound entry of each IP), its "
      "counters per CPU and its sk_lookup link (id, program, netns inode). A name that matches no enrolled pod is "
      "an error (\"no enrolled pod matches 'X'\"), as is a bare NAME that several namespaces have. JSON: one "
      "object, `pod list`'s fields plus counters_per_cpu and sk_lookup.",
      fields,
      podShow};
}

Object connObject() {
  Verb list{
      "list",
      "[--tunnel]",
      "Captured connections in flight, with their original destinations",
      "Connections captured outbound and still open, from warren_orig_dst: the pod that dialed (resolved from "
      "the netns cookie through warren_pod_meta, \"?\" without metadata), the app socket's local address and port "
      "(the pod IP, or 127.0.0.1 / ::1, and an ephemeral port: what the tunnel's in-pod outbound listener sees as "
      "its peer) and the original destination the app dialed, before connect4/6 redirected it to the tunnel. An entry "
      "is written "
      "when the app's SYN leaves and removed when the socket closes. JSON: an array ordered by namespace, name "
      "and source. With --tunnel, the tunnel's own view instead, from its admin endpoint (--admin): every HBONE "
      "connection (JSON hbone[]: id, direction, peer, peer_identity, state, streams[] with id, authority, "
      "status, bytes_to_peer, bytes_from_peer, age_ms) and the inbound connections authorization admitted and "
      "still open (inbound_authorized[]: pod, src_ip, src_identity, dst), which a policy change would re-judge.",
      {
          {"netns_cookie", "netns cookie of the pod that dialed"},
          {"namespace", "its Kubernetes namespace (\"\" without a warren_pod_meta entry)"},
          {"name", "its pod name (\"\" without a warren_pod_meta entry)"},
          {"family", "ipv4 or ipv6 of the app socket"},
          {"src_ip", "the app socket's local address"},
          {"src_port", "the app socket's local port"},
          {"orig_dst_ip", "the address the app dialed"},
          {"orig_dst_port", "the port the app dialed"},
      },
      connList};
  return {"conn", "Connections Warren captured, as the BPF maps see them.", {list}};
}

Object traceObject() {
  Verb trace{
      "",
      "[--pod POD] [--port N]",
      "Capture events as they happen, one line each",
      "Options: --pod POD, --port N, --count N, --timeout SECONDS. Reads the warren_events ring buffer and prints "
      "one line per capture event as it happens (time in UTC, "
      "kind, pod, source, original destination, what happened) until SIGINT or SIGTERM. --pod shows only one "
      "pod's events (NAMESPACE/NAME, NAME, IP or netns cookie, as `pod show` takes it; the pod need not be "
      "enrolled yet), --port only those whose (original) destination port is N. --count N stops after N matching "
      "events, --timeout SECONDS after that long (both exit 0), for scripts. With -j each event is one compact "
      "JSON object on its own line (JSON Lines; -p is the same). Kinds: captured_outbound, captured_inbound, "
      "fail_closed_outbound, fail_closed_inbound, orig_dst_map_full. Events from before the trace started (queued "
      "while nobody read the ring) are skipped. A BPF ring buffer has one reader: a running trace takes the "
      "events, and two traces at once each see only part of them. A full ring drops new events (never a capture "
      "decision) until a trace reads it.",
      {
          {"time", "when the program saw it, UTC with microseconds"},
          {"ts_ns", "the program's timestamp, CLOCK_MONOTONIC nanoseconds"},
          {"kind",
           "captured_outbound, captured_inbound, fail_closed_outbound, fail_closed_inbound or "
           "orig_dst_map_full"},
          {"kind_id", "the numeric WARREN_EVENT_* kind"},
          {"netns_cookie", "the pod's netns cookie (0 when unknown)"},
          {"namespace", "the pod's namespace (\"\" when the cookie has no warren_pod_meta entry)"},
          {"name", "the pod's name (\"\" when the cookie has no warren_pod_meta entry)"},
          {"family", "ipv4 or ipv6"},
          {"src_ip", "the peer's address for inbound events; \"\" for outbound ones (not bound yet)"},
          {"src_port", "the peer's port for inbound events; 0 for outbound ones"},
          {"dst_ip", "the original destination address (the pod IP for inbound events)"},
          {"dst_port", "the original destination port"},
          {"reason", "what the event means for the connection, one phrase"},
      },
      nullptr,
      runTrace};
  return {"trace", "Capture events, streamed from the warren_events ring buffer.", {trace}};
}

Object statsObject() {
  std::vector<Field> fields = {{"totals", "counters summed over every enrolled pod"},
                               {"totals.pods", "enrolled pods"},
                               {"totals.pods_without_counters", "enrolled pods with no counters entry (a fault)"}};
  fields = concat(fields, counterFields("totals.", ", all pods"));
  fields = concat(fields, {{"pods", "one entry per pod with a counters entry, ordered by namespace and name"},
                           {"pods[].namespace", "Kubernetes namespace (\"\" without metadata)"},
                           {"pods[].name", "pod name (\"\" without metadata)"},
                           {"pods[].netns_cookie", "the pod's netns cookie"}});
  fields = concat(fields, counterFields("pods[].", ""));
  fields = concat(fields, {{"maps", "fill level of every map with an entry count, ordered by name"},
                           {"maps[].name", "map name"},
                           {"maps[].entries", "entries now"},
                           {"maps[].max_entries", "capacity"},
                           {"maps[].fill_percent", "entries / max_entries in percent, one decimal"}});
  Verb stats{
      "",
      "",
      "Capture totals, per-pod counters and map fill levels",
      "Warren's counters at a glance: warren_counters summed over all CPUs for every enrolled pod (OUT captured "
      "outbound, IN captured inbound, PASSED left alone, FAILED_CLOSED refused because the tunnel's listener was "
      "missing, QUOTA_REFUSED refused over the pod's quota, UDP_SENDS UDP sends left uncaptured) with a TOTAL row over "
      "all pods, then how full each map is (entries against max_entries) for the "
      "maps that have a capacity to run out of: a full warren_orig_dst makes the tunnel refuse new connections, a "
      "full warren_enrolled refuses new pods. JSON: one object with totals, pods and maps.",
      fields,
      statsRun};
  return {"stats", "Warren's counters and map fill levels.", {stats}};
}

}  // namespace warren::ctl
