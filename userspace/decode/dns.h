#pragma once

// DNS messages (RFC 1035) as the network probes copy them out of UDP
// datagrams: untrusted bytes, possibly cut at the probe's copy limit.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace vigil::decode {

struct DnsMessage {
  uint16_t id = 0;
  bool response = false;
  uint8_t rcode = 0;
  std::string name;  // the one question, no trailing dot; "." for the root
  uint16_t type = 0;
  std::vector<std::string> addresses;  // A and AAAA answers, in order
  uint32_t min_ttl = 0;                // lowest TTL of those answers
};

// Parses a message with exactly one question. Everything is bounds-checked:
// truncation, a label over 63 bytes, a name over 255, a compression pointer
// that does not point backwards (so loops are impossible), a reserved label
// type, or counts the bytes cannot hold are InvalidArgument. `cut` says the
// bytes are only a prefix of the datagram: answers that run past the end are
// then left out instead of being an error.
absl::StatusOr<DnsMessage> ParseDns(absl::Span<const uint8_t> packet, bool cut = false);

// "A", "AAAA", ... or "TYPE<n>" (RFC 3597).
std::string DnsTypeName(uint16_t type);

// A query for `name` (dot-separated, no trailing dot), one question of
// class IN, recursion desired: what a stub resolver sends. For self-tests.
std::vector<uint8_t> EncodeDnsQuery(uint16_t id, const std::string& name, uint16_t type);

// The answer to `query` (as EncodeDnsQuery makes it): one A record of the
// 4-byte `ipv4` with `ttl`, its name a pointer to the question.
std::vector<uint8_t> EncodeDnsAnswerA(std::vector<uint8_t> query, absl::Span<const uint8_t> ipv4, uint32_t ttl);

// The text inet_ntop gives a 4- or 16-byte address, byte for byte (RFC 5952
// zero compression, IPv4-mapped tails dotted), written without glibc's
// sprintf calls: those cost ~1,800 instructions per address, an eighth of
// the pipeline's on a node busy with TCP. Empty for another size.
void AssignIp(absl::Span<const uint8_t> addr, std::string& out);  // reuses out's buffer
std::string IpString(absl::Span<const uint8_t> addr);

}  // namespace vigil::decode
