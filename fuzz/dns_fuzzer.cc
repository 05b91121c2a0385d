// DNS messages copied out of UDP datagrams by the network probes: any bytes,
// possibly cut at the probe's copy limit. The first byte chooses whether the
// rest is taken as cut.
#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"
#include "decode/dns.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool cut = data[0] & 1;
  auto message = vigil::decode::ParseDns(absl::MakeConstSpan(data + 1, size - 1), cut);
  if (!message.ok()) return 0;
  // A name is at most 255 bytes on the wire; in text each byte is at most
  // four characters (RFC 1035 \DDD for the unprintable ones).
  if (message->name.size() > 4 * 255) __builtin_trap();
  (void)vigil::decode::DnsTypeName(message->type);
  return 0;
}
