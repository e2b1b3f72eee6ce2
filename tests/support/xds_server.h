#pragma once
// A test-only delta ADS server on 127.0.0.1 speaking the real protocol (what
// istiod serves ztunnels): it holds resources per type URL, answers a stream's
// first request of each type with everything the client lacks (honouring
// initial_resource_versions), pushes changes to the open stream, and records
// every request so a test can wait for the ACK or NACK of a given nonce.
// A test can also break the stream and stop/restart the server on its port. With
// TLS files it serves over TLS, as istiod does on 15012.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/any.pb.h>

namespace grpc {
class Server;
}

namespace warren::testxds {

// One request the server received, flattened for assertions.
struct SeenRequest {
  int stream = 0;  // 1 for the first stream the server accepted, and so on
  std::string typeUrl;
  std::string nonce;  // empty on a subscription
  bool hasError = false;
  std::string errorMessage;
  std::vector<std::string> subscribe;
  std::map<std::string, std::string> initialVersions;
  std::string nodeId;
  std::map<std::string, std::string> nodeMetadata;  // the node's metadata fields that are strings
  std::string authorization;                        // the stream's "authorization" metadata
  std::string clusterId;                            // the stream's "clusterid" metadata

  bool isAck() const { return !nonce.empty() && !hasError; }
  bool isNack() const { return !nonce.empty() && hasError; }
};

// The server's certificate chain and key, PEM text.
struct ServerTls {
  std::string certChainPem;
  std::string keyPem;
};

class XdsTestServer {
 public:
  // Listens on 127.0.0.1:`port` (0: an ephemeral one); over TLS when `tls` is set.
  static std::unique_ptr<XdsTestServer> start(int port = 0, std::optional<ServerTls> tls = std::nullopt);
  ~XdsTestServer();

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Stores adds (name -> body) and drops removals, then sends them to the open
  // stream if it has subscribed to the type. Returns the response's nonce, or ""
  // when no stream got it (it will get the stored state when it subscribes).
  std::string push(const std::string& typeUrl, const std::map<std::string, google::protobuf::Any>& adds,
                   const std::vector<std::string>& removals = {});

  // Every request so far, in arrival order.
  std::vector<SeenRequest> requests() const;
  // Waits for the first request at index >= `from` that satisfies `pred`.
  std::optional<SeenRequest> waitFor(const std::function<bool(const SeenRequest&)>& pred, size_t from = 0,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
  std::optional<SeenRequest> waitForReply(const std::string& nonce,
                                          std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
  // Waits until the open stream has subscribed to `typeUrl` (and was answered).
  bool waitSubscribed(const std::string& typeUrl, std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
  int streamsAccepted() const;

  // Ends the open stream (the client sees CANCELLED); the server keeps running.
  void breakStream();
  // Stops listening and ends every stream; stored resources are kept.
  void stop();
  // Listens again on the same port.
  bool restart();

 private:
  class Service;
  XdsTestServer(int port, std::optional<ServerTls> tls);
  bool listen();

  int port_;
  std::optional<ServerTls> tls_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace warren::testxds
