// The one source of warren_test_pch (tests/support/CMakeLists.txt): CMake builds a
// precompiled header only for a target that compiles something.
