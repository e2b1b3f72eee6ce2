#pragma once
// A Kubernetes API server for tests: real HTTPS (a test CA's certificate) on
// 127.0.0.1 with an ephemeral port, HTTP/1.1, one thread per connection. It keeps
// objects per resource (pods, namespaces, services, endpointslices, Istio's
// security policies, Gateways) in the JSON `kubectl get -o json` prints (and
// DaemonSets, read one at a time by GET), numbers every change with a cluster-wide resourceVersion, and serves
// the list/watch protocol as the real one does: lists with limit/continue and a
// spec.nodeName field selector (items without kind/apiVersion), watches as
// chunked streams of one JSON event per line from a resourceVersion, bookmarks.
// Single objects too: GET of one pod, namespace or DaemonSet (404 with a Status
// when absent), and PATCH of a pod with a JSON merge patch (RFC 7386,
// application/merge-patch+json): the patched object is stored with a new
// resourceVersion, watches see MODIFIED, and it is returned, as the real one does.
// Faults on demand: a 401 for any token but the current one, 403, 5xx, 410 (as
// HTTP status or as an ERROR event), a stream cut in the middle of an event, and
// watches ended cleanly as at their timeout. Every request is recorded, and
// tests wait on the record instead of sleeping.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <openssl/ssl.h>
#include <nlohmann/json.hpp>

#include "common/unique_fd.h"

namespace warren::testkube {

class KubeApiServer {
 public:
  struct Request {
    std::string method;      // "GET", "PATCH"
    std::string resource;    // "pods", "namespaces" ("" for an unknown path)
    std::string name;        // one object's key ("ns/name", or "name"); "" for a collection
    std::string apiVersion;  // a collection's group/version as the path names it ("security.istio.io/v1beta1")
    std::string contentType, body;
    bool watch = false;
    std::map<std::string, std::string> query;  // decoded
    std::string authorization;                 // the header's value
    int status = 0;                            // what was answered
  };

  // certChain/key: the server's certificate (IP:127.0.0.1). token: the only
  // bearer token accepted at first.
  KubeApiServer(const std::string& certChain, const std::string& key, std::string token);
  ~KubeApiServer();
  KubeApiServer(const KubeApiServer&) = delete;
  KubeApiServer& operator=(const KubeApiServer&) = delete;

  std::string url() const;
  // Also accepts on 127.0.0.1 at the same port inside that network namespace
  // (a test node's, where its tunnel runs as a hostNetwork pod would): url()
  // then names the server there too.
  void listenIn(const std::string& netnsPath);

  // Stores an object (ADDED if new, else MODIFIED) with a new resourceVersion,
  // which it returns; watches see the event.
  std::string upsert(const std::string& resource, nlohmann::json object);
  // DELETED event; returns its resourceVersion.
  std::string remove(const std::string& resource, const std::string& key);
  // A BOOKMARK carrying a new resourceVersion to every open watch; returns it.
  std::string bookmark(const std::string& resource);
  // Forgets the history before now: a watch from an older resourceVersion gets 410.
  void compact();
  // Changes the current object without any event (what a client misses while
  // its history is compacted); only a list shows it.
  void removeSilently(const std::string& resource, const std::string& key);

  void setToken(std::string token);
  void forbid(const std::string& resource, bool forbidden);
  // While unserved, every request for resource gets 404 (its CRD is not installed).
  void serve(const std::string& resource, bool served);
  // Only these group/versions of resource answer; a list or watch at any other
  // gets 404, as for a CRD that does not serve it (Istio before 1.22 serves its
  // security kinds as v1beta1 only). Empty: every version it has a path for.
  // Objects go out at the version asked for, as the API server converts them.
  void serveVersions(const std::string& resource, std::set<std::string> apiVersions);
  // The next `count` requests for resource get `status` with a Status body.
  void failNext(const std::string& resource, int count, int status = 500);
  // The next watch of resource gets 410: as the HTTP status, or as a 200 with
  // an ERROR event (code 410), as the API server sends after a compaction.
  void goneNextWatch(const std::string& resource, bool asErrorEvent);
  // The next event sent on a watch of resource is cut after half its bytes and
  // the connection reset (no final chunk, no TLS close_notify).
  void dropNextEvent(const std::string& resource);
  // While held, open watches of resource deliver nothing (a watch that lags):
  // lists and single GETs already show the changes; releasing sends them.
  void holdWatches(const std::string& resource, bool held);
  // The object as stored now (null when absent).
  nlohmann::json get(const std::string& resource, const std::string& key) const;
  // Every open watch ends cleanly now (final chunk), as at timeoutSeconds.
  void endWatches();
  // Events of one write are split across two chunks (exercises the client's line
  // reassembly); several pending events always go out in one chunk.
  void splitEvents(bool split);

  std::vector<Request> requests() const;
  // Waits until pred(requests) holds; false after the timeout. pred runs under
  // the server's lock: it must not call the server.
  bool waitFor(const std::function<bool(const std::vector<Request>&)>& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
  // Waits until every open watch of resource (and at least one) has written every
  // event up to rv.
  bool waitDelivered(const std::string& resource, const std::string& rv,
                     std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
  // Waits until `count` watches of resource are open.
  bool waitWatching(const std::string& resource, int count = 1,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;

 private:
  struct Event {
    uint64_t rv;
    std::string type;
    nlohmann::json object;
  };
  struct Resource {
    std::string kind;  // "Pod"
    std::string apiVersion = "v1";
    bool unserved = false;                          // answers 404, as a CRD not installed
    std::set<std::string> servedVersions;           // empty: all
    bool nodeScoped = false;                        // supports fieldSelector spec.nodeName=
    std::map<std::string, nlohmann::json> objects;  // by "ns/name" or "name"
    std::vector<Event> history;
    bool forbidden = false;
    int failCount = 0, failStatus = 500;
    int goneNext = 0;  // 0 none, 1 HTTP 410, 2 ERROR event
    bool dropNext = false;
    bool held = false;
    int openWatches = 0;
    uint64_t delivered = 0;  // the highest resourceVersion a watch has written
    // Each open watch's last written resourceVersion, by watch: waitDelivered
    // waits for every one (the agent's and the tunnel's both watch pods).
    std::map<uint64_t, uint64_t> writtenByWatch;
    uint64_t nextWatchId = 0;
  };

  void acceptLoop();
  void serve(int fd);
  std::string route(SSL* ssl, const std::string& head, Request& req);
  std::string answerList(Resource& r, const Request& req);
  std::string answerObject(Resource& r, const Request& req);
  void streamWatch(SSL* ssl, int fd, const std::string& name, const std::string& apiVersion, uint64_t fromRv,
                   int timeoutSeconds, const std::string& nodeName);
  uint64_t nextRv() { return ++rv_; }

  SSL_CTX* ctx_ = nullptr;
  UniqueFd listener_;
  UniqueFd wake_;  // eventfd: a listener was added
  std::vector<UniqueFd> otherListeners_;
  uint16_t port_ = 0;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t rv_ = 100;
  uint64_t compactedBelow_ = 0;
  uint64_t endGeneration_ = 0;
  bool split_ = false;
  std::string token_;
  std::map<std::string, Resource> resources_;
  struct Collection {
    std::string resource, apiVersion;
  };
  std::map<std::string, Collection> collections_;  // by collection path
  std::vector<Request> requests_;
  std::vector<std::thread> connections_;
  std::thread acceptor_;
};

}  // namespace warren::testkube
