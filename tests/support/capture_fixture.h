#pragma once
// One node with four pods, for the capture suites (capture_test, capture_gaps_test):
//
//   ns "mesh" (warren.io/mode=enabled)        ns "plain" (no label)
//   a1 10.244.1.11   b1 10.244.1.12:8080       c1 10.244.1.13   d1 10.244.1.14:8080
//        \               |                        |               /
//         +-------------- wbr0 (node netns, CNI bridge + host-local) -----+
//
// warren-agent and warren-tunnel run as real processes; the apps are sockets the
// test opens inside the pods' namespaces (echo servers on b1 and d1 port 8080).

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/cluster.h"

namespace warren::e2e {

inline const std::map<std::string, std::string> kCaptureEnabled = {{"warren.io/mode", "enabled"}};

// Dials from a pod until a connection succeeds or `within` passes (for capture
// state with no event to wait on: a tunnel's listeners, a freed quota slot).
// The last attempt is left in *last.
inline bool connectsWithin(const Pod& from, const std::string& ip, uint16_t port, const std::string& payload,
                           std::chrono::milliseconds within, ConnectResult* last) {
  return eventually(
      [&] {
        *last = connectFrom(from.netnsPath(), ip, port, payload, std::chrono::seconds(2));
        return last->error == 0;
      },
      within);
}

class CaptureNodeTest : public ::testing::Test {
 protected:
  // A suite's agent and tunnel flags.
  virtual NodeOptions nodeOptions() const { return {}; }

  void SetUp() override {
    node_ = std::make_unique<TestNode>(nodeOptions());
    node_->writeNamespace("mesh", kCaptureEnabled);
    node_->writeNamespace("plain", {});
    ASSERT_TRUE(node_->startAgent().ok()) << node_->logTail("agent");
    ASSERT_TRUE(node_->startTunnel().ok()) << node_->logTail("tunnel");
    a1_ = node_->addPod("mesh", "a1", "10.244.1.11");
    b1_ = node_->addPod("mesh", "b1", "10.244.1.12");
    c1_ = node_->addPod("plain", "c1", "10.244.1.13");
    d1_ = node_->addPod("plain", "d1", "10.244.1.14");
    ASSERT_FALSE(HasFailure());
    // The tunnel reads the pods from its own watch of the YAML directory, after
    // the agent did (CNI ADD waited for the agent only): a connection made before
    // the tunnel has them finds its destination unknown and passes it through in
    // plaintext, as ztunnel does with an address it does not know.
    ASSERT_TRUE(eventually(
        [&] {
          auto s = node_->tunnelState();
          return s && s->workloads >= 4 && s->captured >= 2;
        },
        std::chrono::seconds(10)))
        << node_->logTail("tunnel");
    serverB_ = PodServer::start(b1_.netnsPath(), 8080);
    serverD_ = PodServer::start(d1_.netnsPath(), 8080);
    ASSERT_TRUE(serverB_ && serverD_);
  }

  void TearDown() override {
    if (HasFailure() && node_) {
      std::cerr << "---- agent log ----\n"
                << node_->logTail("agent", 60) << "---- tunnel log ----\n"
                << node_->logTail("tunnel", 60);
    }
    serverB_.reset();
    serverD_.reset();
    node_.reset();
  }

  std::unique_ptr<TestNode> node_;
  Pod a1_, b1_, c1_, d1_;
  std::unique_ptr<PodServer> serverB_, serverD_;
};

}  // namespace warren::e2e
