#include "source/yaml_documents.h"

#include <string_view>

namespace warren::source {
namespace {

// "---" at the start of a line, alone or followed by a space: a directives-end
// marker, which starts a document wherever it appears (YAML 1.2 9.1.2; content
// cannot start a line with it, not even inside a block scalar).
bool isDocumentMarker(std::string_view line) {
  if (line.substr(0, 3) != "---") return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r' || line[3] == '\n';
}

// "..." alone on a line: a document-end marker; what follows is the next document.
bool isEndMarker(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
    line.remove_suffix(1);
  return line == "...";
}

struct Piece {
  std::string text;
  int firstLine = 0;
};

std::vector<Piece> splitDocuments(const std::string& text) {
  std::vector<Piece> pieces(1);
  // Directive lines ("%YAML 1.2") just before a marker belong to the document it starts.
  size_t directivesAt = std::string::npos;
  int directivesLine = 0;
  int line = 0;
  for (size_t pos = 0; pos < text.size(); ++line) {
    size_t end = text.find('\n', pos);
    end = end == std::string::npos ? text.size() : end + 1;
    const std::string_view l(text.data() + pos, end - pos);
    Piece& cur = pieces.back();
    if (isDocumentMarker(l)) {
      Piece next;
      next.firstLine = line;
      if (directivesAt != std::string::npos) {
        next.text = cur.text.substr(directivesAt);
        next.firstLine = directivesLine;
        cur.text.resize(directivesAt);
      }
      next.text.append(l);
      pieces.push_back(std::move(next));
      directivesAt = std::string::npos;
    } else if (isEndMarker(l)) {
      cur.text.append(l);
      pieces.push_back(Piece{"", line + 1});
      directivesAt = std::string::npos;
    } else {
      if (!l.empty() && l[0] == '%') {
        if (directivesAt == std::string::npos) {
          directivesAt = cur.text.size();
          directivesLine = line;
        }
      } else {
        directivesAt = std::string::npos;
      }
      cur.text.append(l);
    }
    pos = end;
  }
  return pieces;
}

}  // namespace

std::vector<YAML::Node> loadAllDocuments(const std::string& text) {
  std::vector<YAML::Node> docs;
  for (const auto& piece : splitDocuments(text)) {
    // As many empty lines as came before it: every mark (the line numbers errors
    // and notes quote) stays that of the whole file.
    docs.push_back(YAML::Load(std::string(static_cast<size_t>(piece.firstLine), '\n') + piece.text));
  }
  return docs;
}

}  // namespace warren::source
