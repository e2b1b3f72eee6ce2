// TcpMetrics: the exact Prometheus text, label escaping, "unknown" for empty labels,
// deterministic order, the series cap, and the extra callback metrics.

#include "telemetry/metrics.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace warren::telemetry {
namespace {

TcpLabels outboundLabels() {
  TcpLabels l;
  l.reporter = "source";
  l.source_workload = "sleep";
  l.source_workload_namespace = "default";
  l.source_principal = "spiffe://cluster.local/ns/default/sa/sleep";
  l.destination_workload = "httpbin";
  l.destination_workload_namespace = "default";
  l.destination_principal = "spiffe://cluster.local/ns/default/sa/httpbin";
  l.destination_service = "httpbin.default.svc.cluster.local";
  l.connection_security_policy = "mutual_tls";
  l.response_flags = "-";
  return l;
}

const std::string kDroppedZero =
    "# HELP warren_metrics_series_dropped_total Metric series not created because the series limit was reached.\n"
    "# TYPE warren_metrics_series_dropped_total counter\n"
    "warren_metrics_series_dropped_total 0\n";

TEST(TcpMetrics, OneConnectionRendersTheExactIstioText) {
  TcpMetrics m;
  const TcpLabels l = outboundLabels();
  m.connectionOpened(l);
  m.connectionClosed(l, /*sentBytes=*/512, /*receivedBytes=*/128);

  const std::string labels =
      "{reporter=\"source\",source_workload=\"sleep\",source_workload_namespace=\"default\","
      "source_principal=\"spiffe://cluster.local/ns/default/sa/sleep\",destination_workload=\"httpbin\","
      "destination_workload_namespace=\"default\","
      "destination_principal=\"spiffe://cluster.local/ns/default/sa/httpbin\","
      "destination_service=\"httpbin.default.svc.cluster.local\",connection_security_policy=\"mutual_tls\","
      "response_flags=\"-\"}";
  const std::string expected =
      "# HELP istio_tcp_connections_opened_total The total number of TCP connections opened.\n"
      "# TYPE istio_tcp_connections_opened_total counter\n"
      "istio_tcp_connections_opened_total" +
      labels +
      " 1\n"
      "# HELP istio_tcp_connections_closed_total The total number of TCP connections closed.\n"
      "# TYPE istio_tcp_connections_closed_total counter\n"
      "istio_tcp_connections_closed_total" +
      labels +
      " 1\n"
      "# HELP istio_tcp_sent_bytes_total The size of total bytes sent during response in case of a TCP connection.\n"
      "# TYPE istio_tcp_sent_bytes_total counter\n"
      "istio_tcp_sent_bytes_total" +
      labels +
      " 512\n"
      "# HELP istio_tcp_received_bytes_total The size of total bytes received during request in case of a TCP "
      "connection.\n"
      "# TYPE istio_tcp_received_bytes_total counter\n"
      "istio_tcp_received_bytes_total" +
      labels + " 128\n" + kDroppedZero;
  EXPECT_EQ(m.render(), expected);
}

TEST(TcpMetrics, NothingRecordedStillRendersEveryFamily) {
  TcpMetrics m;
  const std::string text = m.render();
  for (const char* family : {"istio_tcp_connections_opened_total", "istio_tcp_connections_closed_total",
                             "istio_tcp_sent_bytes_total", "istio_tcp_received_bytes_total"})
    EXPECT_NE(text.find(std::string("# TYPE ") + family + " counter\n"), std::string::npos) << family;
  EXPECT_NE(text.find(kDroppedZero), std::string::npos);
}

TEST(TcpMetrics, AddBytesAccumulatesWithoutCountingAConnection) {
  TcpMetrics m;
  const TcpLabels l = outboundLabels();
  m.connectionOpened(l);
  m.addBytes(l, 10, 20);
  m.addBytes(l, 5, 1);
  m.connectionClosed(l, 0, 0);
  const std::string text = m.render();
  EXPECT_NE(text.find("response_flags=\"-\"} 15\n"), std::string::npos) << text;  // sent
  EXPECT_NE(text.find("response_flags=\"-\"} 21\n"), std::string::npos) << text;  // received
  EXPECT_EQ(m.seriesCount(), 1u);
}

TEST(TcpMetrics, EscapesBackslashQuoteAndNewlineInLabelValues) {
  EXPECT_EQ(escapeLabelValue("plain"), "plain");
  EXPECT_EQ(escapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");

  TcpMetrics m;
  TcpLabels l = outboundLabels();
  l.source_workload = "evil\"} 999\nfake_metric 1";
  m.connectionOpened(l);
  const std::string text = m.render();
  EXPECT_NE(text.find("source_workload=\"evil\\\"} 999\\nfake_metric 1\""), std::string::npos) << text;
  // The injection attempt did not produce a line of its own.
  EXPECT_EQ(text.find("\nfake_metric 1"), std::string::npos);
}

TEST(TcpMetrics, EmptyLabelValuesRenderAsUnknown) {
  TcpMetrics m;
  TcpLabels l;
  l.reporter = "destination";
  m.connectionOpened(l);
  EXPECT_NE(m.render().find("istio_tcp_connections_opened_total{reporter=\"destination\",source_workload=\"unknown\","
                            "source_workload_namespace=\"unknown\",source_principal=\"unknown\","
                            "destination_workload=\"unknown\",destination_workload_namespace=\"unknown\","
                            "destination_principal=\"unknown\",destination_service=\"unknown\","
                            "connection_security_policy=\"unknown\",response_flags=\"unknown\"} 1\n"),
            std::string::npos)
      << m.render();
}

TEST(TcpMetrics, OneSeriesPerLabelSetInADeterministicOrder) {
  TcpMetrics a, b;
  TcpLabels denied = outboundLabels(), ok = outboundLabels(), inbound = outboundLabels();
  denied.response_flags = "DENIED";
  inbound.reporter = "destination";
  // Same events, different recording orders: the text must be identical.
  for (const TcpLabels* l : {&denied, &ok, &inbound, &ok}) a.connectionOpened(*l);
  for (const TcpLabels* l : {&ok, &inbound, &ok, &denied}) b.connectionOpened(*l);
  EXPECT_EQ(a.seriesCount(), 3u);
  EXPECT_EQ(a.render(), b.render());
  const std::string text = a.render();
  const auto posDenied = text.find("response_flags=\"DENIED\"} 1\n");
  const auto posOk = text.find("response_flags=\"-\"} 2\n");
  EXPECT_NE(posDenied, std::string::npos);
  EXPECT_NE(posOk, std::string::npos);
  EXPECT_LT(posOk, posDenied);  // sorted by label values: "-" < "DENIED"
}

TEST(TcpMetrics, SeriesCapDropsNewLabelSetsAndCountsThem) {
  TcpMetrics m(/*maxSeries=*/3);
  for (int i = 0; i < 5; ++i) {
    TcpLabels l = outboundLabels();
    l.destination_workload = "w" + std::to_string(i);
    m.connectionOpened(l);
  }
  EXPECT_EQ(m.seriesCount(), 3u);
  EXPECT_EQ(m.droppedSeries(), 2u);
  // Existing series keep counting after the cap.
  TcpLabels first = outboundLabels();
  first.destination_workload = "w0";
  m.connectionClosed(first, 7, 9);
  const std::string text = m.render();
  EXPECT_NE(text.find("warren_metrics_series_dropped_total 2\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("destination_workload=\"w3\""), std::string::npos);
  EXPECT_NE(text.find("istio_tcp_sent_bytes_total{reporter=\"source\",source_workload=\"sleep\","), std::string::npos);
  EXPECT_NE(text.find("destination_workload=\"w0\",destination_workload_namespace=\"default\","
                      "destination_principal=\"spiffe://cluster.local/ns/default/sa/httpbin\","
                      "destination_service=\"httpbin.default.svc.cluster.local\","
                      "connection_security_policy=\"mutual_tls\",response_flags=\"-\"} 7\n"),
            std::string::npos)
      << text;
}

TEST(TcpMetrics, ExtraCountersAndGaugesAreReadAtRenderTime) {
  TcpMetrics m;
  std::atomic<uint64_t> active{3};
  ASSERT_TRUE(m.addGauge("warren_tunnel_active_connections", "Connections the tunnel relays now.", [&] {
                 return static_cast<double>(active.load());
               }).ok());
  ASSERT_TRUE(
      m.addCounter("warren_identity_refusals_total", "Connections refused on identity.", [] { return 4.0; }).ok());
  ASSERT_TRUE(m.addGauge("warren_test_ratio", "A fraction.", [] { return 0.25; }).ok());

  std::string text = m.render();
  EXPECT_NE(text.find("# HELP warren_tunnel_active_connections Connections the tunnel relays now.\n"
                      "# TYPE warren_tunnel_active_connections gauge\n"
                      "warren_tunnel_active_connections 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE warren_identity_refusals_total counter\nwarren_identity_refusals_total 4\n"),
            std::string::npos);
  EXPECT_NE(text.find("warren_test_ratio 0.25\n"), std::string::npos);
  // Sorted by name after the built-in families.
  EXPECT_LT(text.find("warren_metrics_series_dropped_total 0"), text.find("# HELP warren_identity_refusals_total"));
  EXPECT_LT(text.find("# HELP warren_identity_refusals_total"), text.find("# HELP warren_test_ratio"));
  EXPECT_LT(text.find("# HELP warren_test_ratio"), text.find("# HELP warren_tunnel_active_connections"));

  active = 7;
  EXPECT_NE(m.render().find("warren_tunnel_active_connections 7\n"), std::string::npos);
}

TEST(TcpMetrics, ExtraMetricNamesAreValidatedAndUnique) {
  TcpMetrics m;
  auto zero = [] { return 0.0; };
  EXPECT_FALSE(m.addCounter("bad name", "h", zero).ok());
  EXPECT_FALSE(m.addCounter("9lives", "h", zero).ok());
  EXPECT_FALSE(m.addCounter("", "h", zero).ok());
  EXPECT_FALSE(m.addCounter("no_callback", "h", nullptr).ok());
  EXPECT_FALSE(m.addCounter("istio_tcp_sent_bytes_total", "h", zero).ok());  // a built-in
  EXPECT_TRUE(m.addCounter("warren_x_total", "h", zero).ok());
  EXPECT_FALSE(m.addGauge("warren_x_total", "h", zero).ok());
  EXPECT_TRUE(isValidMetricName("ns:sub_name_2"));
}

TEST(TcpMetrics, CounterGroupIsReadOncePerRenderForAllItsMembers) {
  TcpMetrics m;
  int reads = 0;
  ASSERT_TRUE(m.addCounterGroup({{"warren_g_b_total", "Second."},
                                 {"warren_g_a_total", "First."},
                                 {"warren_g_c_total", "Missing from a short answer."}},
                                [&] {
                                  ++reads;
                                  return std::vector<double>{2, 5};
                                })
                  .ok());
  std::string text = m.render();
  EXPECT_EQ(reads, 1);
  EXPECT_NE(text.find("# HELP warren_g_b_total Second.\n# TYPE warren_g_b_total counter\nwarren_g_b_total 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("warren_g_a_total 5\n"), std::string::npos);
  EXPECT_NE(text.find("warren_g_c_total 0\n"), std::string::npos);
  // Members sort among the other extras by name, as single metrics do.
  EXPECT_LT(text.find("warren_g_a_total"), text.find("warren_g_b_total"));
  m.render();
  EXPECT_EQ(reads, 2);
}

TEST(TcpMetrics, CounterGroupRegistersNothingWhenOneMemberIsRefused) {
  TcpMetrics m;
  ASSERT_TRUE(m.addCounter("warren_taken_total", "h", [] { return 0.0; }).ok());
  auto read = [] { return std::vector<double>{1, 1}; };
  EXPECT_FALSE(m.addCounterGroup({{"warren_fresh_total", "h"}, {"warren_taken_total", "h"}}, read).ok());
  EXPECT_FALSE(m.addCounterGroup({{"warren_twice_total", "h"}, {"warren_twice_total", "h"}}, read).ok());
  EXPECT_FALSE(m.addCounterGroup({{"warren_fresh_total", "h"}}, nullptr).ok());
  EXPECT_EQ(m.render().find("warren_fresh_total"), std::string::npos);
  EXPECT_EQ(m.render().find("warren_twice_total"), std::string::npos);
}

TEST(TcpMetrics, ConcurrentRecordingAndRenderingKeepEveryCount) {
  TcpMetrics m;
  const TcpLabels l = outboundLabels();
  constexpr int kPerThread = 20000;
  std::atomic<bool> done{false};
  std::thread renderer([&] {
    while (!done) (void)m.render();
  });
  std::thread a([&] {
    for (int i = 0; i < kPerThread; ++i) m.connectionClosed(l, 1, 2);
  });
  std::thread b([&] {
    for (int i = 0; i < kPerThread; ++i) m.connectionClosed(l, 1, 2);
  });
  a.join();
  b.join();
  done = true;
  renderer.join();
  const std::string text = m.render();
  EXPECT_NE(text.find("response_flags=\"-\"} 40000\n"), std::string::npos);  // closed and sent
  EXPECT_NE(text.find("response_flags=\"-\"} 80000\n"), std::string::npos);  // received
}

}  // namespace
}  // namespace warren::telemetry
