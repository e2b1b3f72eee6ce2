#include "hbone/receive_budget.h"

namespace warren::hbone {

ReceiveBudget& ReceiveBudget::process() {
  static ReceiveBudget budget(kDefaultReceiveBudgetBytes);
  return budget;
}

void ReceiveBudget::setProcessLimit(size_t limitBytes) {
  process().limit_.store(limitBytes, std::memory_order_relaxed);
}

}  // namespace warren::hbone
