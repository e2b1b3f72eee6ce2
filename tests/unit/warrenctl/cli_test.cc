// The command framework over a toy table, and warrenctl's real table: help, the
// generated docs and the documented JSON fields against what the decoders emit.

#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

#include "audit/chain.h"
#include "audit/signing_key.h"
#include "common/file_io.h"
#include "tools/warrenctl/commands.h"
#include "tools/warrenctl/decode.h"
#include "tools/warrenctl/progs.h"

namespace warren::ctl {
namespace {

struct CliRun {
  int status;
  std::string out, err;
};

CliRun run(const CommandTable& t, std::vector<std::string> args) {
  args.insert(args.begin(), "warrenctl");
  std::ostringstream out, err;
  int status = runCli(t, args, out, err);
  return {status, out.str(), err.str()};
}

// A toy table: records what the framework handed the verb.
struct Toy {
  Context seen;
  std::string ran;
  CommandTable table;

  Toy() {
    auto ok = [this](const std::string& name) {
      return [this, name](const Context& c) -> Result<Output> {
        seen = c;
        ran = name;
        return Output{Json{{"k", "v"}, {"n", 1}}, Table{{"K", "N"}, {{"v", "1"}}}};
      };
    };
    table = CommandTable{
        "warrenctl",
        "A toy.",
        "/sys/fs/bpf/toy",
        {Object{"alpha",
                "First object.",
                {Verb{"show", "", "show it", "Shows alpha.", {{"k", "a key"}, {"n", "a number"}}, ok("alpha show")},
                 Verb{"stats", "NAME", "stats of one", "Stats.", {}, ok("alpha stats")},
                 Verb{"fail",
                      "",
                      "fails",
                      "Fails.",
                      {},
                      [](const Context&) -> Result<Output> { return makeError("two\nlines"); }},
                 Verb{"throw",
                      "",
                      "throws",
                      "Throws.",
                      {},
                      [](const Context&) -> Result<Output> { throw std::runtime_error("boom"); }},
                 Verb{"bytes",
                      "",
                      "bad utf-8",
                      "Bad UTF-8.",
                      {},
                      [](const Context&) -> Result<Output> {
                        return Output{Json{{"name", std::string("bad\xff")}}, Table{}};
                      }}}},
         Object{"beta", "Second object.", {Verb{"list", "", "list them", "Lists beta.", {}, ok("beta list")}}}}};
  }
};

void expectOneLineError(const CliRun& r, const std::string& contains) {
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(r.err.rfind("Error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(contains), std::string::npos) << r.err;
}

TEST(Cli, TableByDefaultCompactJsonWithJPrettyWithP) {
  Toy toy;
  CliRun r = run(toy.table, {"alpha", "show"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "K  N\nv  1\n");
  EXPECT_TRUE(r.err.empty());
  r = run(toy.table, {"-j", "alpha", "show"});
  EXPECT_EQ(r.out, "{\"k\":\"v\",\"n\":1}\n");
  r = run(toy.table, {"alpha", "show", "-p"});  // options may follow the command, as in bpftool
  EXPECT_EQ(r.out, "{\n  \"k\": \"v\",\n  \"n\": 1\n}\n");
  r = run(toy.table, {"-jp", "alpha", "show"});
  EXPECT_EQ(nlohmann::json::parse(r.out)["n"], 1);
}

TEST(Cli, PinRootDefaultsAndOverrides) {
  Toy toy;
  ASSERT_EQ(run(toy.table, {"alpha", "show"}).status, 0);
  EXPECT_EQ(toy.seen.pinRoot, "/sys/fs/bpf/toy");
  ASSERT_EQ(run(toy.table, {"--bpffs", "/x/y", "alpha", "show"}).status, 0);
  EXPECT_EQ(toy.seen.pinRoot, "/x/y");
  ASSERT_EQ(run(toy.table, {"alpha", "show", "--bpffs=/z"}).status, 0);
  EXPECT_EQ(toy.seen.pinRoot, "/z");
}

TEST(Cli, DefaultVerbPrefixesAndArguments) {
  Toy toy;
  ASSERT_EQ(run(toy.table, {"alpha"}).status, 0);
  EXPECT_EQ(toy.ran, "alpha show");
  ASSERT_EQ(run(toy.table, {"b", "l"}).status, 0);
  EXPECT_EQ(toy.ran, "beta list");
  ASSERT_EQ(run(toy.table, {"al", "st", "one", "two"}).status, 0);
  EXPECT_EQ(toy.ran, "alpha stats");
  EXPECT_EQ(toy.seen.args, (std::vector<std::string>{"one", "two"}));
  ASSERT_EQ(run(toy.table, {"alpha", "show", "--", "-j"}).status, 1);  // after --, -j is an argument
}

TEST(Cli, EveryUsageErrorIsOneLineAndExitsOne) {
  Toy toy;
  expectOneLineError(run(toy.table, {"gamma", "show"}), "unknown object 'gamma' (objects: alpha, beta");
  expectOneLineError(run(toy.table, {"alpha", "frob"}), "unknown command 'alpha frob'");
  expectOneLineError(run(toy.table, {"alpha", "s"}), "'s' is ambiguous: show, stats");
  expectOneLineError(run(toy.table, {"--bogus", "alpha"}), "unknown option '--bogus'");
  expectOneLineError(run(toy.table, {"-jx", "alpha"}), "unknown option '-x'");
  expectOneLineError(run(toy.table, {"alpha", "--bpffs"}), "--bpffs needs a directory");
  expectOneLineError(run(toy.table, {"beta", "list", "extra"}), "unexpected argument 'extra' for 'beta list'");
  EXPECT_TRUE(toy.ran.empty());  // none of them ran a verb
}

TEST(Cli, VerbFailuresAreOneLineToo) {
  Toy toy;
  expectOneLineError(run(toy.table, {"alpha", "fail"}), "Error: two lines");
  expectOneLineError(run(toy.table, {"alpha", "throw"}), "internal error: boom");
}

TEST(Cli, InvalidUtf8FromAMapDoesNotBreakJson) {
  Toy toy;
  CliRun r = run(toy.table, {"-j", "alpha", "bytes"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(nlohmann::json::parse(r.out)["name"], "bad\xEF\xBF\xBD");
}

TEST(Cli, HelpAtEveryLevelGoesToStdout) {
  Toy toy;
  for (auto args : std::vector<std::vector<std::string>>{{}, {"-h"}, {"--help"}, {"help"}}) {
    CliRun r = run(toy.table, args);
    EXPECT_EQ(r.status, 0);
    EXPECT_TRUE(r.err.empty());
    EXPECT_EQ(r.out, globalHelp(toy.table));
  }
  for (auto args : std::vector<std::vector<std::string>>{{"alpha", "help"}, {"alpha", "-h"}, {"-h", "al"}}) {
    CliRun r = run(toy.table, args);
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, objectHelp(toy.table, toy.table.objects[0]));
  }
  CliRun r = run(toy.table, {"alpha", "show", "--help"});
  EXPECT_EQ(r.out, verbHelp(toy.table, toy.table.objects[0], toy.table.objects[0].verbs[0]));
  EXPECT_NE(r.out.find("JSON fields (-j):\n  k  a key\n  n  a number\n"), std::string::npos) << r.out;
  EXPECT_TRUE(toy.ran.empty());
}

TEST(Cli, GenDocsIsHidden) {
  Toy toy;
  CliRun r = run(toy.table, {"gen-docs"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, markdownDocs(toy.table));
  EXPECT_EQ(globalHelp(toy.table).find("gen-docs"), std::string::npos);
}

TEST(Cli, WrapKeepsWordsWholeWithinTheWidth) {
  std::string w = wrap("aaa bbb ccc ddd", 9, "  ");
  EXPECT_EQ(w, "  aaa bbb\n  ccc ddd\n");
  EXPECT_EQ(wrap("averyveryverylongword x", 8, ""), "averyveryverylongword\nx\n");
}

// A verbless object streaming its own lines, and one with several tables.
struct StreamToy {
  Context seen;
  StreamOptions opts;
  CommandTable table;
  StreamToy() {
    Verb follow{"",
                "[--n N]",
                "follow it",
                "Follows.",
                {{"i", "line number"}},
                nullptr,
                [this](const Context& c, const StreamOptions& o, std::ostream& out) -> Status {
                  seen = c;
                  opts = o;
                  out << "line 1\n";
                  if (!c.args.empty() && c.args[0] == "--fail") return makeError("lost it");
                  return okStatus();
                }};
    Verb many{"", "", "tables", "Two tables.", {}, [](const Context&) -> Result<Output> {
                Output o{Json::object(), Table{{}, {{"key", "value"}}}};
                o.extra.push_back(Table{{"A", "B"}, {{"1", "2"}}});
                return o;
              }};
    table = CommandTable{"warrenctl",
                         "A toy.",
                         "/sys/fs/bpf/toy",
                         {Object{"follow", "Follows.", {follow}}, Object{"many", "Many.", {many}}}};
  }
};

TEST(Cli, VerblessObjectTakesItsOptionsAndStreams) {
  StreamToy toy;
  CliRun r = run(toy.table, {"follow", "--n", "3", "-j"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "line 1\n");
  EXPECT_EQ(toy.seen.args, (std::vector<std::string>{"--n", "3"}));  // the verb judges them
  EXPECT_TRUE(toy.opts.json);
  r = run(toy.table, {"fol", "--fail"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "line 1\n");  // what streamed stays; then the one Error line
  EXPECT_EQ(r.err, "Error: lost it\n");
  EXPECT_FALSE(toy.opts.json);
  // Help of a verbless object is its verb's, with the fields; no "follow  ..." verb word.
  for (auto args : std::vector<std::vector<std::string>>{{"follow", "help"}, {"follow", "--help"}}) {
    r = run(toy.table, args);
    EXPECT_EQ(r.out, objectHelp(toy.table, toy.table.objects[0]));
    EXPECT_NE(r.out.find("Usage: warrenctl [OPTIONS] follow [--n N]\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("JSON fields (-j):\n  i  line number\n"), std::string::npos) << r.out;
  }
  EXPECT_EQ(synopsis(toy.table, toy.table.objects[0], toy.table.objects[0].verbs[0]), "warrenctl follow [--n N]");
  // Before any object, an unknown --option is still the tool's error.
  expectOneLineError(run(toy.table, {"--n", "follow"}), "unknown option '--n'");
}

TEST(Cli, ExtraTablesFollowAfterABlankLineAndHeaderlessTablesHaveNoHeaderLine) {
  StreamToy toy;
  CliRun r = run(toy.table, {"many"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "key  value\n\nA  B\n1  2\n");
  expectOneLineError(run(toy.table, {"many", "extra"}), "unexpected argument 'extra' for 'many'");
}

// ---- warrenctl's own table ----------------------------------------------------------

// The help's summaries keep a readable column whatever the longest synopsis: a
// long one (explain's) once made every summary one word a line at column 74.
TEST(Warrenctl, GlobalHelpKeepsItsTextWithinEightyColumns) {
  const CommandTable& t = commandTable();
  std::set<std::string> synopses;
  for (const auto& o : t.objects)
    for (const auto& v : o.verbs) synopses.insert("  " + synopsis(t, o, v));
  std::istringstream help(globalHelp(t));
  std::string line;
  int lines = 0;
  while (std::getline(help, line)) {
    ++lines;
    if (synopses.count(line)) continue;  // a synopsis too long for the column stands alone
    EXPECT_LE(line.size(), 80u) << line;
    const size_t text = line.find_first_not_of(' ');
    if (text != std::string::npos && line.find(' ', text) == std::string::npos && text > 34)
      ADD_FAILURE() << "one word alone at column " << text << ": " << line;
  }
  EXPECT_LT(lines, 200) << globalHelp(t);
}

TEST(Warrenctl, HelpAndDocsCoverEveryObjectVerbAndField) {
  const CommandTable& t = commandTable();
  const std::string help = globalHelp(t), docs = markdownDocs(t);
  std::set<std::string> objects;
  for (const auto& o : t.objects) {
    EXPECT_TRUE(objects.insert(o.name).second) << "duplicate object " << o.name;
    EXPECT_FALSE(o.summary.empty());
    EXPECT_NE(help.find(o.summary), std::string::npos) << o.name;
    EXPECT_NE(docs.find("## " + o.name + "\n\n" + o.summary), std::string::npos) << o.name;
    const std::string oh = objectHelp(t, o);
    for (const auto& v : o.verbs) {
      EXPECT_FALSE(v.help.empty());
      EXPECT_FALSE(v.summary.empty());
      EXPECT_TRUE(v.run || v.stream) << v.name;
      EXPECT_NE(help.find(synopsis(t, o, v)), std::string::npos) << v.name;
      EXPECT_NE(oh.find(synopsis(t, o, v)), std::string::npos) << v.name;
      EXPECT_NE(docs.find("### `" + synopsis(t, o, v) + "`\n\n" + v.help + "\n"), std::string::npos) << v.name;
      const std::string vh = verbHelp(t, o, v);
      for (const auto& f : v.fields) {
        EXPECT_NE(docs.find("| `" + f.path + "` | "), std::string::npos) << f.path;
        // A row: the path, then its text beside it or, for a long path, below it.
        EXPECT_TRUE(vh.find("  " + f.path + " ") != std::string::npos ||
                    vh.find("  " + f.path + "\n") != std::string::npos)
            << f.path;
      }
    }
  }
  // The kernel's objects (pinned maps and links), then the tunnel's (admin endpoint).
  EXPECT_EQ(objects,
            (std::set<std::string>{"prog", "link", "map", "pod", "conn", "trace", "stats", "workload", "service",
                                   "policy", "waypoint", "cert", "config", "log", "explain", "audit"}));
}

TEST(Warrenctl, CommittedDocsAreWhatGenDocsPrints) {
  std::ifstream in(WARREN_SOURCE_DIR "/docs/warrenctl.md");
  std::stringstream committed;
  committed << in.rdbuf();
  EXPECT_EQ(committed.str(), markdownDocs(commandTable())) << "regenerate: warrenctl gen-docs > docs/warrenctl.md";
}

// Every key path of a JSON value, in the notation the field docs use.
void keyPaths(const Json& j, const std::string& prefix, std::set<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      std::string p = prefix.empty() ? k : prefix + "." + k;
      out.insert(p);
      keyPaths(v, p, out);
    }
  } else if (j.is_array()) {
    for (const auto& e : j) keyPaths(e, prefix + "[]", out);
  }
}

std::set<std::string> documented(const std::string& object, const std::string& verb) {
  std::set<std::string> fields;
  for (const auto& o : commandTable().objects)
    for (const auto& v : o.verbs)
      if (o.name == object && v.name == verb)
        for (const auto& f : v.fields) fields.insert(f.path);
  return fields;
}

TEST(Warrenctl, PodListJsonHasExactlyTheDocumentedFields) {
  std::vector<warren_counters> perCpu(1);
  warren_pod pod{};
  pod.flags = WARREN_POD_HAS_IP4;
  PodView v = decodePod(1, pod, nullptr, &perCpu);
  v.listeners = {{"10.0.0.1", ListenerState::Up, 5}};
  std::set<std::string> paths;
  keyPaths(podJson(v), "", paths);
  EXPECT_EQ(paths, documented("pod", "list"));
}

TEST(Warrenctl, ProgShowJsonHasExactlyTheDocumentedFields) {
  bpf_prog_info info{};
  ProgView p = decodeProg(info, "x", 0, {1});
  bpf_link_info li{};
  li.type = BPF_LINK_TYPE_NETNS;
  p.links = {decodeLink("sk_lookup_1", li)};
  std::set<std::string> paths;
  keyPaths(progJson(p), "", paths);
  EXPECT_EQ(paths, documented("prog", "show"));
}

// `audit verify` on files made here: its JSON is the documented fields, and its
// exit status is the verdict (0 verified, 3 tampered), not warrenctl's usual 0/1.
TEST(Warrenctl, AuditVerifyTellsItsVerdictInTheExitStatusAndDocumentedJson) {
  char tmpl[] = "/tmp/warrenctl-audit-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ossl::EvpPkeyPtr key(EVP_EC_gen("P-256"));
  ASSERT_TRUE(writeFileAtomic(dir + "/audit-pub.pem", *audit::publicKeyPem(key.get()), 0644));
  audit::ChainHead head = audit::startChain(audit::kNoPreviousFile);
  std::vector<std::string> lines = {audit::chainLine(head, "header", audit::headerFields("n", 0, "t"))};
  for (int i = 0; i < 3; ++i) lines.push_back(audit::chainLine(head, "conn", "\"bytes_sent\":" + std::to_string(i)));
  lines.push_back(*audit::checkpointLine(head, audit::checkpointFields(3, true, "t"),
                                         [&](std::string_view m) { return audit::sign(key.get(), m); }));
  auto write = [&] {
    std::string content;
    for (const auto& l : lines) content += l + "\n";
    return writeFileAtomic(dir + "/n-00000000.audit.jsonl", content, 0644);
  };
  ASSERT_TRUE(write());
  std::ostringstream out, err;
  EXPECT_EQ(runWarrenctl({"warrenctl", "-j", "audit", "verify", dir + "/n-00000000.audit.jsonl"}, out, err), 0)
      << out.str() << err.str();
  Json j = Json::parse(out.str());
  EXPECT_EQ(j["verdict"], "verified");
  EXPECT_EQ(j["records"], 3);

  lines[2][lines[2].size() - 2] = '7';  // bytes_sent 1 -> 7
  ASSERT_TRUE(write());
  std::ostringstream out2, err2;
  EXPECT_EQ(runWarrenctl({"warrenctl", "-j", "audit", "verify", dir + "/n-00000000.audit.jsonl"}, out2, err2), 3)
      << out2.str() << err2.str();
  j = Json::parse(out2.str());
  EXPECT_EQ(j["verdict"], "tampered");
  std::set<std::string> paths;
  keyPaths(j, "", paths);
  EXPECT_EQ(paths, documented("audit", "verify"));
  EXPECT_EQ(j["findings"][0]["line"], 3) << j.dump(2);
  std::filesystem::remove_all(dir);
}

// `audit report` on two nodes' files made here: its JSON is the documented
// fields, the connection both tunnels recorded counts once, --html writes the
// file, and a tampered file's records are left out with exit status 3.
TEST(Warrenctl, AuditReportCountsOnceAndHasExactlyTheDocumentedFields) {
  char tmpl[] = "/tmp/warrenctl-audit-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ossl::EvpPkeyPtr key(EVP_EC_gen("P-256"));
  for (const char* node : {"n1", "n2", "w1", "c1", "a1"}) {
    std::filesystem::create_directories(dir + "/" + node);
    ASSERT_TRUE(writeFileAtomic(dir + "/" + node + "/audit-pub.pem", *audit::publicKeyPem(key.get()), 0644));
  }
  const std::string common =
      R"("protocol":"hbone","security":"mutual_tls","tls_version":"TLSv1.3","tls_cipher":"TLS_AES_128_GCM_SHA256",)"
      R"("src_identity":"spiffe://cluster.local/ns/a/sa/c","dst_identity":"spiffe://cluster.local/ns/b/sa/s",)"
      R"("src_namespace":"a","src_workload":"c","dst_namespace":"b","dst_workload":"s","dst_service":"",)"
      R"("src_addr":"10.0.0.1","dst_addr":"10.0.0.2","dst_port":"80","start":"2026-12-06T10:00:00.000Z",)"
      R"("end":"2026-12-06T10:00:01.000Z",)";
  const std::string out1 = R"("direction":"outbound",)" + common + R"("src_port":"4000","verdict":"none",)" +
                           R"("policy":"","policy_sha256":"","via":"10.0.0.2:15008")";
  const std::string in2 = R"("direction":"inbound",)" + common + R"("src_port":"","verdict":"allow",)" +
                          R"("policy":"b/p","policy_sha256":"abc")";
  const std::string plain =
      R"("direction":"outbound","protocol":"tcp","security":"none","tls_version":"none","tls_cipher":"none",)"
      R"("tls_none_reason":"plaintext passthrough: the destination is outside the mesh","src_namespace":"a",)"
      R"("src_workload":"c","dst_addr":"192.0.2.1","dst_port":"443","verdict":"none",)"
      R"("start":"2026-12-06T10:00:02.000Z","end":"2026-12-06T10:00:03.000Z")";
  // A waypoint's request, denied by policy b/deny-delete.
  const std::string request =
      R"("method":"DELETE","path":"/x","authority":"s.b","protocol":"HTTP/1.1","response_code":403,)"
      R"("response_flags":"-","security":"mutual_tls","tls_version":"TLSv1.3","tls_cipher":"TLS_AES_128_GCM_SHA256",)"
      R"("src_identity":"spiffe://cluster.local/ns/a/sa/c","dst_identity":"spiffe://cluster.local/ns/b/sa/s",)"
      R"("request_principal":"","src_namespace":"a","src_workload":"c","src_addr":"10.0.0.1",)"
      R"("dst_namespace":"b","dst_workload":"s","dst_service":"s.b.svc.cluster.local","dst_port":"80",)"
      R"("verdict":"deny","policy":"b/deny-delete","policy_sha256":"def","policy_reason":"",)"
      R"("start":"2026-12-06T10:00:00.100Z","end":"2026-12-06T10:00:00.200Z","bytes_sent":50,)"
      R"("bytes_received":60,"waypoint":"b/waypoint")";
  auto write = [&](const std::string& node, const std::vector<std::string>& records, const char* type = "conn") {
    audit::ChainHead head = audit::startChain(audit::kNoPreviousFile);
    std::string content = audit::chainLine(head, "header", audit::headerFields(node, 0, "t")) + "\n";
    for (const auto& r : records) content += audit::chainLine(head, type, r) + "\n";
    content += *audit::checkpointLine(head, audit::checkpointFields(records.size(), true, "t"),
                                      [&](std::string_view m) { return audit::sign(key.get(), m); }) +
               "\n";
    const std::string path = dir + "/" + node + "/" + node + "-00000000.audit.jsonl";
    EXPECT_TRUE(writeFileAtomic(path, content, 0644));
    return path;
  };
  // A certificate rotated on a node.
  const std::string cert =
      R"("event":"rotated","spiffe_id":"spiffe://cluster.local/ns/b/sa/s","serial":"0B","issuer":"O=cluster.local",)"
      R"("not_before":"2026-12-06T09:59:00.000Z","not_after":"2026-12-07T10:00:00.000Z","previous_serial":"0A",)"
      R"("reason":"","time":"2026-12-06T10:00:00.500Z")";
  const std::string f1 = write("n1", {out1, plain}), f2 = write("n2", {in2}), f3 = write("w1", {request}, "request"),
                    f4 = write("c1", {cert}, "cert");
  std::ostringstream out, err;
  EXPECT_EQ(runWarrenctl({"warrenctl", "-j", "audit", "report", "--html", dir + "/r.html", f1, f2, f3, f4}, out, err),
            0)
      << out.str() << err.str();
  Json j = Json::parse(out.str());
  EXPECT_EQ(j["summary"]["connections"], 2) << j.dump(2);
  EXPECT_EQ(j["summary"]["mtls"], 1);
  EXPECT_EQ(j["summary"]["paired_records"], 1);
  EXPECT_EQ(j["flows"].size(), 2u);
  EXPECT_EQ(j["non_mtls_flows"][0]["destination"], "192.0.2.1");
  EXPECT_EQ(j["policies"][0]["sha256"], "abc");
  EXPECT_EQ(j["summary"]["requests"], 1);
  EXPECT_EQ(j["summary"]["requests_denied"], 1);
  EXPECT_EQ(j["requests"][0]["destination"], "s.b.svc.cluster.local");
  EXPECT_EQ(j["requests"][0]["policies"][0]["sha256"], "def");
  EXPECT_EQ(j["summary"]["certificates_rotated"], 1);
  EXPECT_EQ(j["certificates"][0]["previous_serial"], "0A");
  EXPECT_EQ(j["certificates"][0]["node"], "c1");
  EXPECT_TRUE(std::filesystem::exists(dir + "/r.html"));
  EXPECT_TRUE(j["coverage"].is_null());  // no agent's file: said in not_recorded
  std::set<std::string> paths;
  keyPaths(j, "", paths);

  // With an agent's file: the coverage section instead. Between them the two
  // reports have every documented field, and nothing else.
  const std::string capture =
      R"("event":"uncaptured","node":"a1","namespace":"a","pod":"c","uid":"u","previous":"captured",)"
      R"("reason":"opted_out","detail":"pod a/c opts out","time":"2026-12-06T10:00:00.000Z")";
  const std::string f5 = write("a1", {capture}, "capture");
  std::ostringstream outC, errC;
  EXPECT_EQ(runWarrenctl({"warrenctl", "-j", "audit", "report", f1, f2, f3, f4, f5}, outC, errC), 0)
      << outC.str() << errC.str();
  const Json withAgent = Json::parse(outC.str());
  EXPECT_EQ(withAgent["coverage"]["pods_seen"], 1) << withAgent.dump(2);
  EXPECT_EQ(withAgent["coverage"]["uncaptured"][0]["intervals"][0]["reason"], "opted_out");
  EXPECT_TRUE(withAgent["not_recorded"].empty());
  keyPaths(withAgent, "", paths);
  EXPECT_EQ(paths, documented("audit", "report"));

  // `audit assert` over the same files: a spec they keep, one they contradict.
  ASSERT_TRUE(writeFileAtomic(
      dir + "/keep.yaml", "rules: [{name: s only from a, to: {workload: s}, only_from: [{namespace: a}]}]\n", 0644));
  ASSERT_TRUE(
      writeFileAtomic(dir + "/break.yaml", "rules: [{name: mtls to anywhere, to: {}, require_mtls: true}]\n", 0644));
  std::ostringstream outA, errA;
  EXPECT_EQ(runWarrenctl({"warrenctl", "-j", "audit", "assert", dir + "/keep.yaml", f1, f2}, outA, errA), 0)
      << outA.str() << errA.str();
  EXPECT_EQ(Json::parse(outA.str())["verdict"], "holds");
  std::ostringstream outB, errB;
  EXPECT_EQ(runWarrenctl({"warrenctl", "-j", "audit", "assert", dir + "/break.yaml", f1, f2}, outB, errB), 5)
      << outB.str() << errB.str();
  j = Json::parse(outB.str());
  EXPECT_EQ(j["verdict"], "contradicted");
  ASSERT_EQ(j["contradictions"].size(), 1u) << j.dump(2);
  EXPECT_EQ(j["contradictions"][0]["destination"], "192.0.2.1");
  paths.clear();
  keyPaths(j, "", paths);
  // Files only: every documented field but --live's (the e2e audit test checks those).
  std::set<std::string> windowFields;
  for (const auto& f : documented("audit", "assert"))
    if (!f.starts_with("live")) windowFields.insert(f);
  EXPECT_EQ(paths, windowFields);

  // n2's record edited: left out, n1's outbound record counts in its place.
  std::string content = *readFile(f2);
  content.replace(content.find("\"allow\""), 7, "\"deny\" ");
  ASSERT_TRUE(writeFileAtomic(f2, content, 0644));
  std::ostringstream out2, err2;
  EXPECT_EQ(runWarrenctl({"warrenctl", "-j", "audit", "report", f1, f2}, out2, err2), 3) << out2.str() << err2.str();
  j = Json::parse(out2.str());
  EXPECT_EQ(j["summary"]["connections"], 2) << j.dump(2);
  EXPECT_EQ(j["summary"]["denied"], 0);
  EXPECT_EQ(j["summary"]["excluded_records"], 1);
  EXPECT_EQ(j["files"][1]["verdict"], "tampered");
  EXPECT_EQ(j["files"][1]["counted"], false);
  std::ostringstream out3, err3;
  EXPECT_EQ(runWarrenctl({"warrenctl", "audit", "report", "--since", "yesterday", f1}, out3, err3), 1);
  EXPECT_NE(err3.str().find("not a UTC time"), std::string::npos) << err3.str();
  std::filesystem::remove_all(dir);
}

TEST(Warrenctl, MissingPinRootIsTheOneLineHint) {
  for (const char* object : {"pod", "prog", "link", "map", "conn", "stats", "trace"}) {
    std::ostringstream out, err;
    EXPECT_EQ(runWarrenctl({"warrenctl", "--bpffs", "/nonexistent/warren", object}, out, err), 1);
    EXPECT_EQ(err.str(),
              "Error: no Warren objects pinned at /nonexistent/warren (is warren-agent running? --bpffs to point "
              "elsewhere)\n");
  }
}

}  // namespace
}  // namespace warren::ctl
