#include "tools/warrenctl/table.h"

#include <algorithm>

namespace warren::ctl {

std::string Table::render() const {
  std::vector<size_t> width(headers.size(), 0);
  for (size_t i = 0; i < headers.size(); ++i) width[i] = headers[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < width.size(); ++i) {
      std::string cell = i < cells.size() ? cells[i] : "";
      out += cell;
      // No trailing spaces after the last column.
      if (i + 1 < width.size()) out += std::string(width[i] - cell.size() + 2, ' ');
    }
    return out + "\n";
  };
  std::string out = line(headers);
  for (const auto& r : rows) out += line(r);
  return out;
}

}  // namespace warren::ctl
