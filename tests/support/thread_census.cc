// Keeps the ThreadSanitizer stage complete (scripts/test.sh). That stage builds and
// runs only the unit test executables declared STARTS_THREADS
// (warren_discover_unit_tests in tests/CMakeLists.txt): TSan reports races between
// threads, so a test process that never starts one has nothing to show it, and
// building the other ~80 executables under TSan would cost CI a quarter of an hour.
// The risk of a list is that it goes stale; this object makes it fail instead.
// Linked into every unit test executable of the other trees, it counts the threads
// the process starts (any caller: std::thread, gRPC's pools, a library's workers)
// and fails the run when an executable not declared STARTS_THREADS started one.
//
// The count comes from interposing pthread_create: the executable's definition
// comes first in the dynamic symbol lookup, so libstdc++'s and every other
// library's calls land here, and the real one is found with RTLD_NEXT (which is
// ASan's interceptor in the ASan tree, then glibc's). Not linked in the TSan tree,
// whose runtime intercepts pthread_create itself.

#include <dlfcn.h>
#include <pthread.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include <gtest/gtest.h>

// Defined (true) only in the executables declared STARTS_THREADS, by the object
// tests/support/declares_threads.cc; weak, so the others link without it.
extern "C" __attribute__((weak)) const bool warren_test_declares_threads;

namespace {

std::atomic<unsigned> threadsStarted{0};

using PthreadCreate = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);

PthreadCreate realPthreadCreate() {
  static const PthreadCreate real = reinterpret_cast<PthreadCreate>(dlsym(RTLD_NEXT, "pthread_create"));
  return real;
}

class ThreadCensus : public ::testing::Environment {
 public:
  void TearDown() override {
    const unsigned started = threadsStarted.load();
    if (started == 0 || &warren_test_declares_threads != nullptr) return;
    ADD_FAILURE() << "this test process started " << started
                  << " thread(s), but its executable is not declared STARTS_THREADS: add STARTS_THREADS to its "
                     "warren_discover_unit_tests(...) call so that the ThreadSanitizer stage builds and runs it";
  }
};

// Registered before main: gtest_main's RUN_ALL_TESTS runs TearDown after the last test.
const bool registered = (::testing::AddGlobalTestEnvironment(new ThreadCensus), true);

}  // namespace

extern "C" int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  const PthreadCreate real = realPthreadCreate();
  if (real == nullptr) {
    std::fputs("thread_census: no pthread_create after this one (dlsym RTLD_NEXT)\n", stderr);
    std::abort();
  }
  threadsStarted.fetch_add(1, std::memory_order_relaxed);
  return real(thread, attr, start, arg);
}
