#include "tools/warrenctl/cli.h"

#include <algorithm>
#include <exception>
#include <ostream>
#include <sstream>

namespace warren::ctl {

namespace {

constexpr size_t kWidth = 80;

struct OptionDoc {
  std::string flags, help;
};

std::vector<OptionDoc> globalOptions(const CommandTable& t) {
  return {
      {"-j, --json", "JSON output, one compact document on one line"},
      {"-p, --pretty", "indented JSON output (implies -j)"},
      {"--bpffs DIR", "warren-agent's pin root, PIN_ROOT in the help below (default " + t.defaultPinRoot + ")"},
      {"--admin HOST:PORT",
       "warren-tunnel's admin endpoint, for the tunnel's objects (default " + t.defaultAdminAddress + ")"},
      {"--admin-token-file FILE",
       "the admin token warren-tunnel writes at start, sent with the requests that "
       "change it (`log level LEVEL`); readable by root only (default " +
           t.defaultAdminTokenFile + ")"},
      {"-h, --help", "help for the tool, an OBJECT, or OBJECT VERB"},
  };
}

const char* kUsageNotes =
    "OBJECT and VERB may be shortened to any unique prefix; VERB defaults to the object's first verb. "
    "Exit status is 0 on success; on any error it is 1 and stderr has exactly one line starting "
    "with \"Error: \".";

// The widest left column a two-column list gives its names: past it the text
// would be squeezed into a few characters a line.
constexpr size_t kNameColumnMax = 30;

// Two-column list ("  name   text") with the text wrapped under itself. A name
// wider than kNameColumnMax stands on its own line, its text on the lines below.
std::string twoColumns(const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t w = 0;
  for (const auto& [l, r] : rows)
    if (l.size() <= kNameColumnMax) w = std::max(w, l.size());
  const std::string indent(2 + w + 2, ' ');
  std::string out;
  for (const auto& [l, r] : rows) {
    std::string text = wrap(r, kWidth, indent);
    if (l.size() <= w)
      out += "  " + l + text.substr(2 + l.size());
    else
      out += "  " + l + "\n" + text;
  }
  return out;
}

// "pod show", or "stats" for a verbless object.
std::string commandName(const Object& o, const Verb& v) { return v.name.empty() ? o.name : o.name + " " + v.name; }

std::string verbList(const Object& o) {
  std::string s = "{ ";
  for (const auto& v : o.verbs) s += v.name + " | ";
  return s + "help }";
}

std::string mdCell(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

// Errors must stay one line whatever the OS or a map handed us.
std::string oneLine(const std::string& s) {
  std::string out = s;
  std::replace(out.begin(), out.end(), '\n', ' ');
  return out;
}

struct Parsed {
  bool json = false, pretty = false, help = false;
  std::string pinRoot, adminAddress, adminTokenFile;
  std::vector<std::string> words;
};

template <typename T>
Result<const T*> resolve(const std::vector<T>& items, const std::string& word);

// Index of the first argument word: after OBJECT VERB, or after OBJECT alone when
// the object is verbless. A verb's own options are only taken from there on.
size_t argsStart(const CommandTable& t, const std::vector<std::string>& words) {
  if (words.empty()) return 2;
  auto o = resolve(t.objects, words[0]);
  return o && *o && (*o)->verbless() ? 1 : 2;
}

Result<Parsed> parseArgs(const CommandTable& t, const std::vector<std::string>& argv) {
  Parsed p;
  p.pinRoot = t.defaultPinRoot;
  p.adminAddress = t.defaultAdminAddress;
  p.adminTokenFile = t.defaultAdminTokenFile;
  bool optionsDone = false;
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    // Options may come anywhere (getopt's permuting, as bpftool accepts them).
    if (optionsDone || a.size() < 2 || a[0] != '-') {
      p.words.push_back(a);
    } else if (a == "--") {
      optionsDone = true;
    } else if (a == "--json") {
      p.json = true;
    } else if (a == "--pretty") {
      p.json = p.pretty = true;
    } else if (a == "--help") {
      p.help = true;
    } else if (a == "--bpffs") {
      if (i + 1 >= argv.size()) return makeError("option " + a + " needs a directory");
      p.pinRoot = argv[++i];
    } else if (a.rfind("--bpffs=", 0) == 0) {
      p.pinRoot = a.substr(8);
    } else if (a == "--admin") {
      if (i + 1 >= argv.size()) return makeError("option " + a + " needs HOST:PORT");
      p.adminAddress = argv[++i];
    } else if (a.rfind("--admin=", 0) == 0) {
      p.adminAddress = a.substr(8);
    } else if (a == "--admin-token-file") {
      if (i + 1 >= argv.size()) return makeError("option " + a + " needs a file");
      p.adminTokenFile = argv[++i];
    } else if (a.rfind("--admin-token-file=", 0) == 0) {
      p.adminTokenFile = a.substr(19);
    } else if (a[1] == '-' && !p.words.empty() && p.words.size() >= argsStart(t, p.words)) {
      p.words.push_back(a);  // a verb's own option (`conn list --tunnel`): the verb judges it
    } else if (a[1] == '-') {
      return makeError("unknown option '" + a + "' (see " + t.tool + " --help)");
    } else {
      for (size_t k = 1; k < a.size(); ++k) {  // bundled short flags: -jp
        switch (a[k]) {
          case 'j': p.json = true; break;
          case 'p': p.json = p.pretty = true; break;
          case 'h': p.help = true; break;
          default: return makeError("unknown option '-" + std::string(1, a[k]) + "' (see " + t.tool + " --help)");
        }
      }
    }
  }
  if (p.pinRoot.empty()) return makeError("--bpffs needs a non-empty directory");
  return p;
}

// Exact name, else the only item the word is a prefix of. nullptr when nothing
// matches; an error when the prefix is ambiguous.
template <typename T>
Result<const T*> resolve(const std::vector<T>& items, const std::string& word) {
  for (const auto& it : items)
    if (it.name == word) return &it;
  std::vector<const T*> hits;
  for (const auto& it : items)
    if (it.name.rfind(word, 0) == 0) hits.push_back(&it);
  if (hits.size() == 1) return hits[0];
  if (hits.empty()) return static_cast<const T*>(nullptr);
  std::string names;
  for (const T* h : hits) names += (names.empty() ? "" : ", ") + h->name;
  return makeError("'" + word + "' is ambiguous: " + names);
}

template <typename T>
std::string names(const std::vector<T>& items) {
  std::string s;
  for (const auto& it : items) s += (s.empty() ? "" : ", ") + it.name;
  return s;
}

int fail(std::ostream& err, const std::string& message) {
  err << "Error: " << oneLine(message) << "\n";
  return 1;
}

int dispatch(const CommandTable& t, const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  auto parsed = parseArgs(t, argv);
  if (!parsed) return fail(err, parsed.error().message);
  const Parsed& p = *parsed;

  if (p.words.empty() || p.words[0] == "help") {
    out << globalHelp(t);
    return 0;
  }
  if (p.words[0] == "gen-docs") {  // hidden: regenerates docs/warrenctl.md
    out << markdownDocs(t);
    return 0;
  }
  auto object = resolve(t.objects, p.words[0]);
  if (!object) return fail(err, object.error().message + " (see " + t.tool + " --help)");
  if (!*object)
    return fail(err,
                "unknown object '" + p.words[0] + "' (objects: " + names(t.objects) + "; see " + t.tool + " --help)");
  const Object& o = **object;

  if (p.words.size() >= 2 && p.words[1] == "help") {
    out << objectHelp(t, o);
    return 0;
  }
  const Verb* verb = &o.verbs.front();
  if (p.words.size() >= 2 && !o.verbless()) {
    auto v = resolve(o.verbs, p.words[1]);
    if (!v) return fail(err, v.error().message + " (see " + t.tool + " " + o.name + " help)");
    if (!*v)
      return fail(err, "unknown command '" + o.name + " " + p.words[1] + "' (verbs: " + names(o.verbs) + "; see " +
                           t.tool + " " + o.name + " help)");
    verb = *v;
  }
  if (p.help) {
    out << (p.words.size() >= 2 && !o.verbless() ? verbHelp(t, o, *verb) : objectHelp(t, o));
    return 0;
  }

  const size_t first = o.verbless() ? 1 : 2;
  Context ctx{p.pinRoot,
              std::vector<std::string>(p.words.begin() + std::min<size_t>(first, p.words.size()), p.words.end()),
              p.adminAddress, p.adminTokenFile};
  if (verb->args.empty() && !ctx.args.empty())
    return fail(err, "unexpected argument '" + ctx.args[0] + "' for '" + commandName(o, *verb) + "' (see " + t.tool +
                         " " + o.name + " help)");
  if (verb->stream) {
    // Lines are already out; a failure midway still ends with the one Error line.
    auto done = verb->stream(ctx, StreamOptions{p.json}, out);
    out.flush();
    if (!done) return fail(err, done.error().message);
    return 0;
  }
  auto result = verb->run(ctx);
  if (!result) return fail(err, result.error().message);
  if (p.json) {
    // Map contents are not guaranteed UTF-8; replace bad bytes rather than throw.
    out << result->json.dump(p.pretty ? 2 : -1, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    out << result->table.render();
    for (const auto& t : result->extra) out << "\n" << t.render();
  }
  return result->exitCode;
}

}  // namespace

std::string wrap(const std::string& text, size_t width, const std::string& indent) {
  std::istringstream words(text);
  std::string word, out, line = indent;
  bool lineHasWord = false;
  while (words >> word) {
    if (lineHasWord && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = indent;
      lineHasWord = false;
    }
    line += (lineHasWord ? " " : "") + word;
    lineHasWord = true;
  }
  return out + line + "\n";
}

std::string synopsis(const CommandTable& t, const Object& o, const Verb& v) {
  return t.tool + " " + commandName(o, v) + (v.args.empty() ? "" : " " + v.args);
}

std::string globalHelp(const CommandTable& t) {
  std::string s = "Usage: " + t.tool + " [OPTIONS] OBJECT [VERB] [ARGS]\n       " + t.tool + " OBJECT help\n\n";
  s += wrap(t.about, kWidth, "") + "\nCommands:\n";
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& o : t.objects)
    for (const auto& v : o.verbs) rows.emplace_back(synopsis(t, o, v), v.summary);
  s += twoColumns(rows) + "\nObjects:\n";
  rows.clear();
  for (const auto& o : t.objects) rows.emplace_back(o.name, o.summary);
  s += twoColumns(rows) + "\nOptions:\n";
  rows.clear();
  for (const auto& opt : globalOptions(t)) rows.emplace_back(opt.flags, opt.help);
  return s + twoColumns(rows) + "\n" + wrap(kUsageNotes, kWidth, "");
}

std::string fieldList(const Verb& v) {
  if (v.fields.empty()) return "";
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& f : v.fields) rows.emplace_back(f.path, f.help);
  return "\nJSON fields (-j):\n" + twoColumns(rows);
}

std::string objectHelp(const CommandTable& t, const Object& o) {
  if (o.verbless()) {  // the object is the command: its help is the verb's, fields included
    const Verb& v = o.verbs.front();
    std::string s = "Usage: " + t.tool + " [OPTIONS] " + o.name + (v.args.empty() ? "" : " " + v.args) + "\n";
    s += "       " + t.tool + " " + o.name + " help\n\n" + wrap(o.summary, kWidth, "");
    return s + "\n" + synopsis(t, o, v) + "\n" + wrap(v.help, kWidth, "    ") + fieldList(v);
  }
  std::string s = "Usage: " + t.tool + " [OPTIONS] " + o.name + " " + verbList(o) + "\n\n";
  s += wrap(o.summary, kWidth, "");
  for (const auto& v : o.verbs) s += "\n" + synopsis(t, o, v) + "\n" + wrap(v.help, kWidth, "    ");
  return s;
}

std::string verbHelp(const CommandTable& t, const Object& o, const Verb& v) {
  std::string s = "Usage: " + t.tool + " [OPTIONS] " + commandName(o, v) + (v.args.empty() ? "" : " " + v.args) +
                  "\n\n" + wrap(v.help, kWidth, "");
  return s + fieldList(v);
}

std::string markdownDocs(const CommandTable& t) {
  std::string s = "# " + t.tool + "\n\n<!-- Generated by `" + t.tool +
                  " gen-docs` from the command table in tools/warrenctl/commands.cc; do not edit by hand. -->\n\n";
  s += t.about + "\n\n```\n" + t.tool + " [OPTIONS] OBJECT [VERB] [ARGS]\n" + t.tool + " OBJECT help\n```\n\n";
  s += "## Options\n\n| Option | Meaning |\n|---|---|\n";
  for (const auto& opt : globalOptions(t)) {
    std::string flags;
    std::istringstream parts(opt.flags);
    for (std::string part; std::getline(parts, part, ',');) {
      part.erase(0, part.find_first_not_of(' '));
      flags += (flags.empty() ? "" : ", ") + ("`" + part + "`");
    }
    s += "| " + flags + " | " + mdCell(opt.help) + " |\n";
  }
  s += "\n" + std::string(kUsageNotes) + "\n";
  for (const auto& o : t.objects) {
    s += "\n## " + o.name + "\n\n" + o.summary + "\n";
    for (const auto& v : o.verbs) {
      s += "\n### `" + synopsis(t, o, v) + "`\n\n" + v.help + "\n";
      if (v.fields.empty()) continue;
      s += "\nJSON fields (`-j`):\n\n| Field | Meaning |\n|---|---|\n";
      for (const auto& f : v.fields) s += "| `" + f.path + "` | " + mdCell(f.help) + " |\n";
    }
  }
  return s;
}

int runCli(const CommandTable& t, const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  // Last line of defence for the no-exceptions rule (bad_alloc, a library throw).
  try {
    return dispatch(t, argv, out, err);
  } catch (const std::exception& e) {
    return fail(err, std::string("internal error: ") + e.what());
  }
}

}  // namespace warren::ctl
