#pragma once
// warrenctl's command framework, bpftool style: `warrenctl [OPTIONS] OBJECT [VERB]
// [ARGS]`. Objects and verbs are data (a command table) carrying their own help, so
// --help, `warrenctl OBJECT help` and docs/warrenctl.md cannot drift apart.

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "tools/warrenctl/table.h"

namespace warren::ctl {

// JSON that keeps insertion order, so objects read id-first as bpftool's do.
using Json = nlohmann::ordered_json;

// What a verb sees: global options already parsed away.
struct Context {
  std::string pinRoot;
  std::vector<std::string> args;  // words after OBJECT VERB, verb options ("--tunnel") included
  std::string adminAddress;       // the tunnel's admin endpoint, host:port
  std::string adminTokenFile;     // its token for requests that change it (see admin_client.h)
};

// Every verb produces both renderings; the CLI prints the one asked for.
struct Output {
  Json json;
  Table table;
  // More tables for the human rendering (`pod show`, `stats`), each after a blank line.
  std::vector<Table> extra = {};
  // The process's exit status after printing (`audit verify` tells scripts its
  // verdict; 1 stays "Error:").
  int exitCode = 0;
};

using Handler = std::function<Result<Output>(const Context&)>;

// The common shape of a list verb: read items, one JSON object and one table row
// each, in the order read.
template <typename T, typename ToJson, typename ToRow>
Result<Output> listing(Result<std::vector<T>> items, std::vector<std::string> headers, ToJson toJson, ToRow toRow) {
  if (!items) return items.error();
  Output out{Json::array(), Table{std::move(headers), {}}};
  for (const auto& it : *items) {
    out.json.push_back(toJson(it));
    out.table.rows.push_back(toRow(it));
  }
  return out;
}

// A verb that streams (`trace`) cannot hand back one Output: it writes its own lines
// to `out` as they come, and returns when done. `json` is -j/-p; a stream's JSON is
// JSON Lines, one compact object per line, so -p means the same as -j there.
struct StreamOptions {
  bool json = false;
};
using Streamer = std::function<Status(const Context&, const StreamOptions&, std::ostream& out)>;

// One field of a verb's JSON output, documented next to the verb. Nested fields use
// dotted paths ("counters.passed", "links[].id"); a test holds the real JSON to this list.
struct Field {
  std::string path;
  std::string help;
};

struct Verb {
  std::string name;
  std::string args;     // synopsis of the arguments, "" when it takes none
  std::string summary;  // one line, for lists
  std::string help;     // a paragraph
  std::vector<Field> fields;
  Handler run;
  // Set instead of `run` for a verb that streams; errors still end in one "Error:" line.
  Streamer stream = {};
};

// An object whose only verb has the empty name is a command by itself (`warrenctl
// stats`, `warrenctl trace --count 1`): its arguments and options follow the object.
struct Object {
  std::string name;
  std::string summary;
  std::vector<Verb> verbs;  // the first is the default (`warrenctl pod` = `warrenctl pod list`)

  bool verbless() const { return verbs.size() == 1 && verbs.front().name.empty(); }
};

struct CommandTable {
  std::string tool;   // "warrenctl"
  std::string about;  // a paragraph on what the tool is for
  std::string defaultPinRoot;
  std::vector<Object> objects;
  std::string defaultAdminAddress = "127.0.0.1:15000";
  std::string defaultAdminTokenFile = "/run/warren/admin-token";
};

std::string synopsis(const CommandTable& t, const Object& o, const Verb& v);
std::string globalHelp(const CommandTable& t);
std::string objectHelp(const CommandTable& t, const Object& o);
std::string verbHelp(const CommandTable& t, const Object& o, const Verb& v);
std::string markdownDocs(const CommandTable& t);

// The whole CLI over a table, for main() and for tests. argv[0] is the program name.
// Returns the exit status: 0, or 1 with exactly one "Error: ..." line on `err`.
int runCli(const CommandTable& t, const std::vector<std::string>& argv, std::ostream& out, std::ostream& err);

// Word-wraps a paragraph to `width` columns, each line prefixed by `indent`.
std::string wrap(const std::string& text, size_t width, const std::string& indent);

}  // namespace warren::ctl
