#include "tools/warrenctl/table.h"

#include <algorithm>

namespace warren::ctl {

std::string printable(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return out;
}

std::string joinLimited(const std::vector<std::string>& items, size_t max) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < max; ++i) out += (i ? "," : "") + items[i];
  if (items.size() > max) out += " +" + std::to_string(items.size() - max);
  return out;
}

std::string Table::render() const {
  size_t columns = headers.size();
  for (const auto& r : rows) columns = std::max(columns, r.size());
  std::vector<size_t> width(columns, 0);
  auto measure = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) width[i] = std::max(width[i], cells[i].size());
  };
  measure(headers);
  for (const auto& r : rows) measure(r);

  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < columns; ++i) {
      std::string cell = i < cells.size() ? printable(cells[i]) : "";
      out += cell;
      if (i + 1 < columns) out += std::string(width[i] - cell.size() + 2, ' ');
    }
    // Empty trailing cells would otherwise leave blanks at the end of the line.
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  // No headers: a key/value listing (`pod show`), rows only.
  std::string out = headers.empty() ? "" : line(headers);
  for (const auto& r : rows) out += line(r);
  return out;
}

}  // namespace warren::ctl
