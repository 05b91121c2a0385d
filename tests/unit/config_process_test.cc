// The real daemons read a configuration file, print the effective
// configuration and exit with the documented codes (docs/configuration.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  int exit_code;
  std::string out;
  std::string err;
};

class ConfigProcessTest : public ::testing::Test {
 protected:
  ConfigProcessTest() {
    char tmpl[] = "/tmp/vigil-config-process-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~ConfigProcessTest() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  static std::string Slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // Runs `env -i <env> binary args` with stdout and stderr in files.
  Result Exec(const std::string& binary, const std::string& args, const std::string& env = "") {
    const std::string out = dir_ + "/out", err = dir_ + "/err";
    const std::string cmd = "env -i " + env + " " + binary + " " + args + " >" + out + " 2>" + err;
    const int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, Slurp(out), Slurp(err)};
  }

  std::string dir_;
};

TEST_F(ConfigProcessTest, CollectorPrintsTheEffectiveConfiguration) {
  const std::string file = Write("collector.yaml",
                                 "listen: 127.0.0.1:0\n"
                                 "max-streams-per-node: 2\n"
                                 "azure-proxy: http://me:s3cret@proxy.example:3128\n");
  Result r = Exec(VIGIL_COLLECTOR_BINARY, "--config=" + file + " --print-config --log-level=debug",
                  "VIGIL_COLLECTOR_SPOOL_DIR=/tmp/spool");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\nlisten: 127.0.0.1:0  # file " + file + ":1\n"));
  EXPECT_THAT(r.out, HasSubstr("\nmax-streams-per-node: 2  # file " + file + ":2\n"));
  EXPECT_THAT(r.out, HasSubstr("\nspool-dir: /tmp/spool  # env VIGIL_COLLECTOR_SPOOL_DIR\n"));
  EXPECT_THAT(r.out, HasSubstr("\nlog-level: debug  # flag --log-level\n"));
  EXPECT_THAT(r.out, HasSubstr("\nplaintext: false  # default\n"));
  EXPECT_THAT(r.out, HasSubstr("azure-proxy: http://me:<redacted>@proxy.example:3128"));
  EXPECT_THAT(r.out, Not(HasSubstr("s3cret")));

  // Its output is a configuration file the collector takes as it is.
  const std::string printed = Write("printed.yaml", r.out);
  Result again = Exec(VIGIL_COLLECTOR_BINARY, "--config=" + printed + " --print-config");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("\nmax-streams-per-node: 2  # file " + printed));
}

TEST_F(ConfigProcessTest, SensorPrintsTheEffectiveConfiguration) {
  const std::string file = Write("sensor.yaml", "ring-buffer-bytes: 16777216\ndisable: [dns, file/open]\n");
  Result r = Exec(VIGIL_SENSOR_BINARY, "--print-config --max_args=12", "VIGIL_SENSOR_CONFIG=" + file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("# File: " + file + ";"));
  EXPECT_THAT(r.out, HasSubstr("\nring-buffer-bytes: 16777216  # file " + file + ":1\n"));
  EXPECT_THAT(r.out, HasSubstr("\ndisable: [dns, file/open]  # file " + file + ":2\n"));
  EXPECT_THAT(r.out, HasSubstr("\nmax-args: 12  # flag --max_args\n"));
}

TEST_F(ConfigProcessTest, ConfigurationErrorsExitWith2) {
  const std::string file = Write("bad.yaml", "listen: 127.0.0.1:0\nlisten-address: x\n");
  Result r = Exec(VIGIL_COLLECTOR_BINARY, "--config=" + file);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "vigil-collector: " + file + ":2:1: unknown key \"listen-address\"\n");
  EXPECT_EQ(r.out, "");

  r = Exec(VIGIL_SENSOR_BINARY, "--config=" + Write("s.yaml", "max-args: many\n"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("s.yaml:1:11: max-args: bad value \"many\""));

  r = Exec(VIGIL_SENSOR_BINARY, "--print-config --config=" + dir_ + "/missing.yaml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("missing.yaml: cannot read"));

  r = Exec(VIGIL_COLLECTOR_BINARY, "--max-streams-per-node=x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--max-streams-per-node: max-streams-per-node: bad value \"x\""));
}

TEST_F(ConfigProcessTest, HelpShowsKebabCase) {
  Result r = Exec(VIGIL_SENSOR_BINARY, "--help");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\n  --ring-buffer-bytes=<unsigned>  (default: 8388608)\n"));
  EXPECT_THAT(r.out, HasSubstr("VIGIL_SENSOR_<KEY>"));
  EXPECT_THAT(r.out, Not(HasSubstr("ring_buffer_bytes")));
}

}  // namespace
