// warren-grpc-demo: the gRPC app of the demo and of the waypoint's gRPC tests.
//   serve PORT                      the Ledger service on 0.0.0.0:PORT (h2c); one
//                                   "grpc: METHOD" line per call it receives
//   call HOST:PORT METHOD [N] [BYTES]   one call; prints "status CODE MESSAGE", the
//                                   reply and the trailing metadata; exits 0 on OK,
//                                   else the gRPC status code
// METHOD: Balance, Transfer, Statement (N entries of BYTES), Upload (N of BYTES).
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "ledger.grpc.pb.h"

namespace {

namespace v1 = warren::demo::ledger::v1;

void witness(const char* method) {
  // Flushed per line: the tests read it while the server runs.
  std::printf("grpc: %s\n", method);
  std::fflush(stdout);
}

class Ledger final : public v1::Ledger::Service {
  grpc::Status Balance(grpc::ServerContext* ctx, const v1::BalanceRequest* req, v1::BalanceReply* reply) override {
    witness("Balance");
    reply->set_account(req->account());
    reply->set_cents(12345);
    ctx->AddTrailingMetadata("x-ledger-audit", "balance-read");
    return grpc::Status::OK;
  }
  grpc::Status Transfer(grpc::ServerContext*, const v1::TransferRequest*, v1::TransferReply* reply) override {
    witness("Transfer");
    reply->set_id("t-1");
    return grpc::Status::OK;
  }
  grpc::Status Statement(grpc::ServerContext* ctx, const v1::StatementRequest* req,
                         grpc::ServerWriter<v1::Entry>* out) override {
    witness("Statement");
    for (int i = 0; i < req->count(); ++i) {
      v1::Entry e;
      e.set_seq(i);
      e.set_memo(std::string(static_cast<size_t>(req->bytes()), 'm'));
      if (!out->Write(e)) return grpc::Status(grpc::StatusCode::ABORTED, "client went away");
    }
    ctx->AddTrailingMetadata("x-ledger-entries", std::to_string(req->count()));
    return grpc::Status::OK;
  }
  grpc::Status Upload(grpc::ServerContext*, grpc::ServerReader<v1::Entry>* in, v1::UploadReply* reply) override {
    witness("Upload");
    v1::Entry e;
    int n = 0;
    int64_t bytes = 0;
    while (in->Read(&e)) {
      ++n;
      bytes += static_cast<int64_t>(e.memo().size());
    }
    reply->set_entries(n);
    reply->set_bytes(bytes);
    return grpc::Status::OK;
  }
};

int serve(int port) {
  Ledger service;
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort("0.0.0.0:" + std::to_string(port), grpc::InsecureServerCredentials(), &bound);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server || bound == 0) {
    std::fprintf(stderr, "cannot serve on port %d\n", port);
    return 1;
  }
  std::printf("listening on %d\n", bound);
  std::fflush(stdout);
  server->Wait();
  return 0;
}

void printTrailers(const grpc::ClientContext& ctx) {
  for (const auto& [k, v] : ctx.GetServerTrailingMetadata())
    std::printf("trailer %s=%s\n", std::string(k.data(), k.size()).c_str(), std::string(v.data(), v.size()).c_str());
}

int call(const std::string& target, const std::string& method, int n, int bytes) {
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = v1::Ledger::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Status status;
  if (method == "Balance") {
    v1::BalanceRequest req;
    req.set_account("acct-1");
    v1::BalanceReply reply;
    status = stub->Balance(&ctx, req, &reply);
    if (status.ok()) std::printf("balance %s %lld\n", reply.account().c_str(), static_cast<long long>(reply.cents()));
  } else if (method == "Transfer") {
    v1::TransferRequest req;
    req.set_from("acct-1");
    req.set_to("acct-2");
    req.set_cents(100);
    v1::TransferReply reply;
    status = stub->Transfer(&ctx, req, &reply);
    if (status.ok()) std::printf("transfer %s\n", reply.id().c_str());
  } else if (method == "Statement") {
    v1::StatementRequest req;
    req.set_account("acct-1");
    req.set_count(n);
    req.set_bytes(bytes);
    auto reader = stub->Statement(&ctx, req);
    v1::Entry e;
    int got = 0;
    size_t total = 0;
    bool ordered = true;
    while (reader->Read(&e)) {
      ordered = ordered && e.seq() == got;
      ++got;
      total += e.memo().size();
    }
    status = reader->Finish();
    std::printf("statement entries %d bytes %zu %s\n", got, total, ordered ? "in order" : "OUT OF ORDER");
  } else if (method == "Upload") {
    v1::UploadReply reply;
    auto writer = stub->Upload(&ctx, &reply);
    for (int i = 0; i < n; ++i) {
      v1::Entry e;
      e.set_seq(i);
      e.set_memo(std::string(static_cast<size_t>(bytes), 'u'));
      if (!writer->Write(e)) break;
    }
    writer->WritesDone();
    status = writer->Finish();
    if (status.ok())
      std::printf("upload entries %d bytes %lld\n", reply.entries(), static_cast<long long>(reply.bytes()));
  } else {
    std::fprintf(stderr, "unknown method %s\n", method.c_str());
    return 64;
  }
  std::printf("status %d %s\n", static_cast<int>(status.error_code()), status.error_message().c_str());
  printTrailers(ctx);
  return status.ok() ? 0 : static_cast<int>(status.error_code());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "serve") return serve(std::atoi(argv[2]));
  if (argc >= 4 && std::string(argv[1]) == "call")
    return call(argv[2], argv[3], argc > 4 ? std::atoi(argv[4]) : 10, argc > 5 ? std::atoi(argv[5]) : 100);
  std::fprintf(stderr, "usage: warren-grpc-demo serve PORT | call HOST:PORT METHOD [N] [BYTES]\n");
  return 64;
}
