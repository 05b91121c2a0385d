#include "common/config_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/time/time.h"
#include "status_matchers.h"

// The keys of this test's "daemon".
ABSL_FLAG(uint32_t, ring_buffer_bytes, 4096, "kernel ring buffer size");
ABSL_FLAG(std::string, collector, "", "collector address");
ABSL_FLAG(bool, detection, true, "evaluate rules");
ABSL_FLAG(absl::Duration, exit_grace, absl::Seconds(30), "grace");
ABSL_FLAG(std::vector<std::string>, disable, {}, "probes not to load");
ABSL_FLAG(std::string, azure_proxy, "", "proxy URL");
ABSL_FLAG(std::string, api_token, "", "a secret value itself");
ABSL_FLAG(std::string, output, "-", "where events go");

namespace vigil {
namespace {

using test::IsOk;
using test::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class ConfigFileTest : public ::testing::Test {
 protected:
  ConfigFileTest() {
    char tmpl[] = "/tmp/vigil-config-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    spec_ = {.program = "vigil-test",
             .description = "test daemon",
             .default_path = dir_ + "/default.yaml",
             .env_prefix = "VIGIL_TEST_",
             .flags_file = __FILE__};
  }
  ~ConfigFileTest() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  absl::StatusOr<LoadedConfig> Load(std::vector<std::string> args) {
    args.insert(args.begin(), "vigil-test");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    return LoadConfig(static_cast<int>(argv.size()), argv.data(), spec_,
                      [this](const std::string& name) -> std::optional<std::string> {
                        auto it = env_.find(name);
                        if (it == env_.end()) return std::nullopt;
                        return it->second;
                      });
  }

  absl::FlagSaver saver_;  // every test starts from the built-in defaults
  std::string dir_;
  ConfigSpec spec_;
  std::map<std::string, std::string> env_;
};

TEST_F(ConfigFileTest, NoFileIsNeeded) {
  auto loaded = Load({});
  ASSERT_THAT(loaded.status(), IsOk());
  EXPECT_EQ(loaded->action, LoadedConfig::Action::kRun);
  EXPECT_EQ(loaded->file, "");
  EXPECT_THAT(loaded->origins, IsEmpty());
  EXPECT_EQ(absl::GetFlag(FLAGS_ring_buffer_bytes), 4096u);
}

TEST_F(ConfigFileTest, DefaultPathIsReadWhenItExists) {
  Write("default.yaml", "ring-buffer-bytes: 8192\n");
  auto loaded = Load({});
  ASSERT_THAT(loaded.status(), IsOk());
  EXPECT_EQ(loaded->file, spec_.default_path);
  EXPECT_EQ(absl::GetFlag(FLAGS_ring_buffer_bytes), 8192u);
}

TEST_F(ConfigFileTest, FileThenEnvironmentThenCommandLine) {
  const std::string file = Write("c.yaml",
                                 "# comment\n"
                                 "ring-buffer-bytes: 8192\n"
                                 "collector: file:1\n"
                                 "output: /from/file\n");
  env_["VIGIL_TEST_COLLECTOR"] = "env:2";
  env_["VIGIL_TEST_OUTPUT"] = "/from/env";
  auto loaded = Load({"--config=" + file, "--output=/from/flag"});
  ASSERT_THAT(loaded.status(), IsOk());
  EXPECT_EQ(absl::GetFlag(FLAGS_ring_buffer_bytes), 8192u);
  EXPECT_EQ(absl::GetFlag(FLAGS_collector), "env:2");
  EXPECT_EQ(absl::GetFlag(FLAGS_output), "/from/flag");
  EXPECT_EQ(loaded->origins["ring-buffer-bytes"].source, ConfigSource::kFile);
  EXPECT_EQ(loaded->origins["ring-buffer-bytes"].where, file + ":2");
  EXPECT_EQ(loaded->origins["collector"].source, ConfigSource::kEnvironment);
  EXPECT_EQ(loaded->origins["collector"].where, "VIGIL_TEST_COLLECTOR");
  EXPECT_EQ(loaded->origins["output"].source, ConfigSource::kCommandLine);
  EXPECT_FALSE(loaded->origins.contains("detection"));
}

TEST_F(ConfigFileTest, EnvironmentNamesTheFile) {
  env_["VIGIL_TEST_CONFIG"] = Write("e.yaml", "detection: false\n");
  Write("default.yaml", "detection: true\nring-buffer-bytes: 1\n");
  ASSERT_THAT(Load({}).status(), IsOk());
  EXPECT_FALSE(absl::GetFlag(FLAGS_detection));
  EXPECT_EQ(absl::GetFlag(FLAGS_ring_buffer_bytes), 4096u);  // the default file is not read
}

TEST_F(ConfigFileTest, KebabAndSnakeSpellings) {
  const std::string file = Write("c.yaml", "exit_grace: 5s\nring-buffer-bytes: 16\n");
  ASSERT_THAT(Load({"--config", file, "--ring_buffer_bytes=32", "--no-detection", "-azure-proxy", "http://p:3128",
                    "--disable=file,dns"})
                  .status(),
              IsOk());
  EXPECT_EQ(absl::GetFlag(FLAGS_exit_grace), absl::Seconds(5));
  EXPECT_EQ(absl::GetFlag(FLAGS_ring_buffer_bytes), 32u);
  EXPECT_FALSE(absl::GetFlag(FLAGS_detection));
  EXPECT_EQ(absl::GetFlag(FLAGS_azure_proxy), "http://p:3128");
  EXPECT_THAT(absl::GetFlag(FLAGS_disable), ElementsAre("file", "dns"));

  ASSERT_THAT(Load({"--nodetection"}).status(), IsOk());
  EXPECT_FALSE(absl::GetFlag(FLAGS_detection));
  ASSERT_THAT(Load({"--detection"}).status(), IsOk());
  EXPECT_TRUE(absl::GetFlag(FLAGS_detection));
  env_["VIGIL_TEST_DETECTION"] = "no";
  ASSERT_THAT(Load({}).status(), IsOk());
  EXPECT_FALSE(absl::GetFlag(FLAGS_detection));
}

TEST_F(ConfigFileTest, ListsAreSequencesOrCommaSeparated) {
  ASSERT_THAT(Load({"--config=" + Write("a.yaml", "disable:\n  - file/open\n  - dns\n")}).status(), IsOk());
  EXPECT_THAT(absl::GetFlag(FLAGS_disable), ElementsAre("file/open", "dns"));
  ASSERT_THAT(Load({"--config=" + Write("b.yaml", "disable: exec,file\n")}).status(), IsOk());
  EXPECT_THAT(absl::GetFlag(FLAGS_disable), ElementsAre("exec", "file"));
  ASSERT_THAT(Load({"--config=" + Write("c.yaml", "disable: []\n")}).status(), IsOk());
  EXPECT_THAT(absl::GetFlag(FLAGS_disable), IsEmpty());
  EXPECT_THAT(Load({"--config=" + Write("d.yaml", "collector: [a, b]\n")}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "d.yaml:1:12: collector: takes a single string"));
  EXPECT_THAT(Load({"--config=" + Write("e.yaml", "disable: [a, 'b,c']\n")}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "e.yaml:1:14: disable: a list item"));
}

TEST_F(ConfigFileTest, UnknownKeyIsRefusedWithItsLine) {
  const std::string file = Write("c.yaml", "collector: a:1\n\n  # indented comment\nring-bufer-bytes: 8\n");
  EXPECT_THAT(Load({"--config=" + file}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, file + ":4:1: unknown key \"ring-bufer-bytes\""));
  // --config is an option, not a key; and the sections of other tools are not keys either.
  EXPECT_THAT(Load({"--config=" + Write("d.yaml", "config: x.yaml\n")}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "d.yaml:1:1: unknown key \"config\""));
}

TEST_F(ConfigFileTest, BadValueIsRefusedWithLineAndKey) {
  const std::string file = Write("c.yaml", "collector: a:1\nring-buffer-bytes: lots\n");
  EXPECT_THAT(Load({"--config=" + file}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, file + ":2:20: ring-buffer-bytes: bad value \"lots\""));
  EXPECT_THAT(Load({"--config=" + Write("d.yaml", "exit-grace: 30\n")}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "d.yaml:1:13: exit-grace: bad value \"30\""));
  EXPECT_THAT(Load({"--config=" + Write("e.yaml", "detection: maybe\n")}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "e.yaml:1:12: detection: bad value"));
  EXPECT_THAT(Load({"--config=" + Write("f.yaml", "output:\n")}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "f.yaml:1:1: output: no value"));
  EXPECT_THAT(Load({"--config=" + Write("g.yaml", "output: {a: 1}\n")}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "g.yaml:1:9: output: takes a single string"));
}

// Found by fuzz/config_file_fuzzer.cc: a value that is not UTF-8 was taken,
// and --print-config then printed it with U+FFFD in place of its bytes, a
// file that no longer says what is in force.
TEST_F(ConfigFileTest, ValueThatIsNotUtf8IsRefused) {
  EXPECT_THAT(Load({"--config=" + Write("h.yaml", "output: /var/log/caf\xe9\n")}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "h.yaml:1:9: output: not UTF-8"));
  EXPECT_THAT(Load({"--config=" + Write("i.yaml", "disable:\n  - dns\n  - \xff\n")}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "disable: not UTF-8"));
  ASSERT_THAT(Load({"--config=" + Write("j.yaml", "output: /var/log/caf\xc3\xa9\n")}).status(), IsOk());
  EXPECT_EQ(absl::GetFlag(FLAGS_output), "/var/log/caf\xc3\xa9");
}

TEST_F(ConfigFileTest, BadEnvironmentOrFlagValueNamesIt) {
  env_["VIGIL_TEST_RING_BUFFER_BYTES"] = "-1";
  EXPECT_THAT(Load({}).status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                          "environment VIGIL_TEST_RING_BUFFER_BYTES: ring-buffer-bytes: "
                                          "bad value \"-1\""));
  env_.clear();
  EXPECT_THAT(Load({"--exit-grace=soon"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "--exit-grace: exit-grace: bad value \"soon\""));
  EXPECT_THAT(Load({"--ring-bufer-bytes=1"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "unknown flag --ring-bufer-bytes (--help lists them)"));
  EXPECT_THAT(Load({"--collector"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "--collector: missing value"));
  EXPECT_THAT(Load({"stray"}).status(), StatusIs(absl::StatusCode::kInvalidArgument, "\"stray\""));
}

TEST_F(ConfigFileTest, MissingExplicitFileIsAnError) {
  EXPECT_THAT(Load({"--config=" + dir_ + "/nope.yaml"}).status(),
              StatusIs(absl::StatusCode::kNotFound, dir_ + "/nope.yaml: cannot read"));
  env_["VIGIL_TEST_CONFIG"] = dir_ + "/nope.yaml";
  EXPECT_THAT(Load({}).status(), StatusIs(absl::StatusCode::kNotFound, "nope.yaml"));
}

TEST_F(ConfigFileTest, MalformedFilesAreRefused) {
  EXPECT_THAT(Load({"--config=" + Write("a.yaml", "collector: a\nout: [1,\n")}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "a.yaml:3:1: not valid YAML"));
  EXPECT_THAT(Load({"--config=" + Write("b.yaml", "- collector\n- output\n")}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "b.yaml:1:1: the file must be a mapping"));
  EXPECT_THAT(Load({"--config=" + Write("c.yaml", "collector: a\noutput: b\ncollector: c\n")}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "c.yaml:3:1: duplicate key \"collector\" (first at " + dir_ + "/c.yaml:1:1)"));
  EXPECT_THAT(Load({"--config=" + Write("d.yaml", "exit-grace: 1s\nexit_grace: 2s\n")}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "d.yaml:2:1: duplicate key \"exit_grace\""));
  // Empty, or only comments: nothing set.
  EXPECT_THAT(Load({"--config=" + Write("e.yaml", "# nothing\n")}).status(), IsOk());
}

TEST_F(ConfigFileTest, HelpReadsNoFile) {
  auto loaded = Load({"--config=/nonexistent.yaml", "--help"});
  ASSERT_THAT(loaded.status(), IsOk());
  EXPECT_EQ(loaded->action, LoadedConfig::Action::kHelp);
  std::ostringstream help;
  PrintConfigHelp(spec_, help);
  EXPECT_THAT(help.str(),
              HasSubstr("  --ring-buffer-bytes=<unsigned>  (default: 4096)\n      kernel ring buffer size\n"));
  EXPECT_THAT(help.str(), HasSubstr("VIGIL_TEST_<KEY>"));
  EXPECT_THAT(help.str(), Not(HasSubstr("ring_buffer_bytes")));
}

TEST_F(ConfigFileTest, PrintConfigRedactsSecretsAndReadsBack) {
  const std::string file = Write("c.yaml",
                                 "api-token: hunter2\n"
                                 "azure-proxy: http://user:pa55@proxy:3128\n"
                                 "disable: [file, dns]\n"
                                 "output: ''\n");
  env_["VIGIL_TEST_EXIT_GRACE"] = "1m";
  auto loaded = Load({"--config=" + file, "--print-config", "--collector=c:7443"});
  ASSERT_THAT(loaded.status(), IsOk());
  EXPECT_EQ(loaded->action, LoadedConfig::Action::kPrintConfig);
  std::ostringstream out;
  PrintEffectiveConfig(spec_, *loaded, out);
  const std::string yaml = out.str();
  EXPECT_THAT(yaml, Not(HasSubstr("hunter2")));
  EXPECT_THAT(yaml, Not(HasSubstr("pa55")));
  EXPECT_THAT(yaml, HasSubstr("api-token: <redacted>  # file " + file + ":1, redacted\n"));
  EXPECT_THAT(yaml, HasSubstr("azure-proxy: http://user:<redacted>@proxy:3128  # file " + file + ":2, redacted\n"));
  EXPECT_THAT(yaml, HasSubstr("# probes not to load\ndisable: [file, dns]  # file " + file + ":3\n"));
  EXPECT_THAT(yaml, HasSubstr("output: \"\"  # file " + file + ":4\n"));
  EXPECT_THAT(yaml, HasSubstr("exit-grace: 1m  # env VIGIL_TEST_EXIT_GRACE\n"));
  EXPECT_THAT(yaml, HasSubstr("collector: c:7443  # flag --collector\n"));
  EXPECT_THAT(yaml, HasSubstr("ring-buffer-bytes: 4096  # default\n"));

  // The output is a configuration file that gives the same values.
  const std::string printed = Write("printed.yaml", yaml);
  {
    absl::FlagSaver fresh;
    env_.clear();
    ASSERT_THAT(Load({"--config=" + printed}).status(), IsOk());
    EXPECT_EQ(absl::GetFlag(FLAGS_collector), "c:7443");
    EXPECT_EQ(absl::GetFlag(FLAGS_exit_grace), absl::Minutes(1));
    EXPECT_THAT(absl::GetFlag(FLAGS_disable), ElementsAre("file", "dns"));
    EXPECT_EQ(absl::GetFlag(FLAGS_output), "");
    EXPECT_EQ(absl::GetFlag(FLAGS_api_token), "<redacted>");
  }
}

// List items that are plain scalars alone but not inside [...] (found by
// fuzz/config_file_fuzzer), and empty items, load back as they were.
TEST_F(ConfigFileTest, PrintedListsLoadBackItemForItem) {
  for (const char* list :
       {"disable: h[dns, security]\n", "disable: [\"it's\", \"\"]\n", "disable: ['{a}', 'b:c', '#d']\n"}) {
    SCOPED_TRACE(list);
    absl::FlagSaver restore;
    ASSERT_THAT(Load({"--config=" + Write("l.yaml", list)}).status(), IsOk());
    auto loaded = Load({"--config=" + Write("l.yaml", list), "--print-config"});
    ASSERT_THAT(loaded.status(), IsOk());
    const std::vector<std::string> before = absl::GetFlag(FLAGS_disable);
    std::ostringstream out;
    PrintEffectiveConfig(spec_, *loaded, out);
    absl::SetFlag(&FLAGS_disable, {});
    ASSERT_THAT(Load({"--config=" + Write("printed.yaml", out.str())}).status(), IsOk()) << out.str();
    EXPECT_EQ(absl::GetFlag(FLAGS_disable), before) << out.str();
  }
}

TEST(RedactSecrets, OnlyPasswordsOfUrls) {
  EXPECT_EQ(RedactSecrets("http://proxy:3128"), "http://proxy:3128");
  EXPECT_EQ(RedactSecrets("http://u:p@proxy:3128/x?y=1"), "http://u:<redacted>@proxy:3128/x?y=1");
  EXPECT_EQ(RedactSecrets("http://u@proxy"), "http://u@proxy");
  EXPECT_EQ(RedactSecrets("a=https://x:y@h,b=http://h:1"), "a=https://x:<redacted>@h,b=http://h:1");
  EXPECT_EQ(RedactSecrets("/etc/vigil/tls/key.pem"), "/etc/vigil/tls/key.pem");
  EXPECT_TRUE(IsSecretKey("azure-client-secret"));
  EXPECT_FALSE(IsSecretKey("azure-client-secret-file"));
  EXPECT_FALSE(IsSecretKey("collector-key"));  // a path to a key file
}

TEST(ConfigNames, KeyAndEnvironmentVariable) {
  EXPECT_EQ(FlagKey("ring_buffer_bytes"), "ring-buffer-bytes");
  EXPECT_EQ(KeyEnvVar("VIGIL_SENSOR_", "ring-buffer-bytes"), "VIGIL_SENSOR_RING_BUFFER_BYTES");
}

}  // namespace
}  // namespace vigil
