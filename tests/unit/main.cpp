#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <uni/posix/console.hpp>

int main(int argc, char* argv[]) {
  uni::posix::install_console(uni::log_level::warn);
  return Catch::Session().run(argc, argv);
}
