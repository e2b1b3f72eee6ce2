// Linked only into the unit test executables declared STARTS_THREADS
// (warren_discover_unit_tests): tests/support/thread_census.cc reads it.
extern "C" {
extern const bool warren_test_declares_threads;
const bool warren_test_declares_threads = true;
}
