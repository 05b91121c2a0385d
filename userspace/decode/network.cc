// Network family: TCP connect/accept/listen/bind/close, DNS queries and responses.
#include "decode/dns.h"
#include "decode/families.h"
#include "decode/record.h"
#include "vigil_abi.h"

namespace vigil::decode {

namespace {

constexpr uint16_t kAfInet = 2;
constexpr uint16_t kAfInet6 = 10;
constexpr uint16_t kIpprotoTcp = 6;
constexpr uint16_t kIpprotoUdp = 17;

absl::Status CheckFamily(const vigil_sock_tuple& t) {
  if (t.family == kAfInet || t.family == kAfInet6) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("socket family ", t.family, " is not AF_INET or AF_INET6"));
}

std::string FamilyName(const vigil_sock_tuple& t) { return t.family == kAfInet ? "ipv4" : "ipv6"; }

void SetAddress(const vigil_sock_tuple& t, const uint8_t (&addr)[16], uint16_t port, v1::SocketAddress* out) {
  AssignIp(absl::MakeConstSpan(addr, t.family == kAfInet ? 4 : 16), *out->mutable_ip());
  out->set_port(port);
}

// The fields every TCP record shares, into any message that has them.
template <typename M>
void SetTuple(const vigil_sock_tuple& t, M* m) {
  m->set_family(FamilyName(t));
  SetAddress(t, t.local_addr, t.local_port, m->mutable_local());
  SetAddress(t, t.remote_addr, t.remote_port, m->mutable_remote());
}

uint32_t Errno(int32_t error) { return error > 0 ? static_cast<uint32_t>(error) : 0; }

absl::Status DecodeConnect(absl::Span<const uint8_t> record, v1::Event& out) {
  if (auto s = ExpectSize<vigil_tcp_connect>(record, "tcp connect"); !s.ok()) return s;
  const auto e = Load<vigil_tcp_connect>(record);
  if (auto s = CheckFamily(e.tuple); !s.ok()) return s;
  if (e.result < VIGIL_CONNECT_ESTABLISHED || e.result > VIGIL_CONNECT_FAILED) {
    return absl::InvalidArgumentError(absl::StrCat("tcp connect result ", e.result));
  }
  out.set_kind(v1::EVENT_KIND_TCP_CONNECT);
  v1::TcpConnect* c = out.mutable_tcp_connect();
  SetTuple(e.tuple, c);
  // VIGIL_CONNECT_* and ConnectResult share their numbers.
  c->set_result(static_cast<v1::ConnectResult>(e.result));
  c->set_error(Errno(e.error));
  return absl::OkStatus();
}

absl::Status DecodeDns(uint16_t kind, absl::Span<const uint8_t> record, v1::Event& out) {
  if (auto s = ExpectAtLeast<vigil_dns>(record, "dns"); !s.ok()) return s;
  const auto e = Load<vigil_dns>(record);
  if (auto s = CheckFamily(e.tuple); !s.ok()) return s;
  if (e.tuple.protocol != kIpprotoUdp && e.tuple.protocol != kIpprotoTcp) {
    return absl::InvalidArgumentError(absl::StrCat("dns record of protocol ", e.tuple.protocol));
  }
  if (e.payload_len > VIGIL_DNS_MAX || sizeof(vigil_dns) + e.payload_len != record.size() ||
      e.payload_len > e.payload_total) {
    return absl::InvalidArgumentError(absl::StrCat("dns record of ", record.size(), " bytes holds payload_len ",
                                                   e.payload_len, " of ", e.payload_total));
  }
  const bool cut = e.payload_len < e.payload_total;
  auto msg = ParseDns(record.subspan(sizeof(vigil_dns)), cut);
  if (!msg.ok()) return msg.status();
  const bool query = kind == VIGIL_KIND_DNS_QUERY;
  const char* transport = e.tuple.protocol == kIpprotoTcp ? "tcp" : "udp";
  if (msg->response == query) {
    return absl::InvalidArgumentError(query ? "DNS response sent to port 53" : "DNS query received from port 53");
  }
  if (query) {
    out.set_kind(v1::EVENT_KIND_DNS_QUERY);
    v1::DnsQuery* q = out.mutable_dns_query();
    SetAddress(e.tuple, e.tuple.remote_addr, e.tuple.remote_port, q->mutable_server());
    q->set_id(msg->id);
    q->set_name(msg->name);
    q->set_type(msg->type);
    q->set_type_name(DnsTypeName(msg->type));
    q->set_transport(transport);
    return absl::OkStatus();
  }
  out.set_kind(v1::EVENT_KIND_DNS_RESPONSE);
  v1::DnsResponse* r = out.mutable_dns_response();
  SetAddress(e.tuple, e.tuple.remote_addr, e.tuple.remote_port, r->mutable_server());
  r->set_id(msg->id);
  r->set_name(msg->name);
  r->set_type(msg->type);
  r->set_type_name(DnsTypeName(msg->type));
  r->set_rcode(msg->rcode);
  for (std::string& a : msg->addresses) r->add_addresses(std::move(a));
  r->set_ttl(msg->min_ttl);
  r->set_truncated(cut);
  r->set_transport(transport);
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeNetwork(uint16_t kind, absl::Span<const uint8_t> record, const DecoderOptions&, v1::Event& out) {
  switch (kind) {
    case VIGIL_KIND_TCP_CONNECT:
      return DecodeConnect(record, out);
    case VIGIL_KIND_TCP_ACCEPT: {
      if (auto s = ExpectSize<vigil_tcp_accept>(record, "tcp accept"); !s.ok()) return s;
      const auto e = Load<vigil_tcp_accept>(record);
      if (auto s = CheckFamily(e.tuple); !s.ok()) return s;
      out.set_kind(v1::EVENT_KIND_TCP_ACCEPT);
      SetTuple(e.tuple, out.mutable_tcp_accept());
      return absl::OkStatus();
    }
    case VIGIL_KIND_LISTEN: {
      if (auto s = ExpectSize<vigil_listen>(record, "listen"); !s.ok()) return s;
      const auto e = Load<vigil_listen>(record);
      if (auto s = CheckFamily(e.tuple); !s.ok()) return s;
      out.set_kind(v1::EVENT_KIND_LISTEN);
      v1::Listen* l = out.mutable_listen();
      l->set_family(FamilyName(e.tuple));
      SetAddress(e.tuple, e.tuple.local_addr, e.tuple.local_port, l->mutable_local());
      l->set_backlog(e.backlog);
      l->set_error(Errno(e.error));
      return absl::OkStatus();
    }
    case VIGIL_KIND_BIND: {
      if (auto s = ExpectSize<vigil_bind>(record, "bind"); !s.ok()) return s;
      const auto e = Load<vigil_bind>(record);
      if (auto s = CheckFamily(e.tuple); !s.ok()) return s;
      out.set_kind(v1::EVENT_KIND_BIND);
      v1::Bind* b = out.mutable_bind();
      b->set_family(FamilyName(e.tuple));
      b->set_protocol(e.tuple.protocol == kIpprotoTcp   ? "tcp"
                      : e.tuple.protocol == kIpprotoUdp ? "udp"
                                                        : absl::StrCat(e.tuple.protocol));
      SetAddress(e.tuple, e.tuple.local_addr, e.tuple.local_port, b->mutable_local());
      b->set_error(Errno(e.error));
      return absl::OkStatus();
    }
    case VIGIL_KIND_TCP_CLOSE: {
      if (auto s = ExpectSize<vigil_tcp_close>(record, "tcp close"); !s.ok()) return s;
      const auto e = Load<vigil_tcp_close>(record);
      if (auto s = CheckFamily(e.tuple); !s.ok()) return s;
      out.set_kind(v1::EVENT_KIND_TCP_CLOSE);
      v1::TcpClose* c = out.mutable_tcp_close();
      SetTuple(e.tuple, c);
      c->set_inbound((e.flags & VIGIL_CLOSE_INBOUND) != 0);
      c->set_duration_ns(e.duration_ns);
      c->set_bytes_sent(e.bytes_sent);
      c->set_bytes_received(e.bytes_received);
      return absl::OkStatus();
    }
    case VIGIL_KIND_DNS_QUERY:
    case VIGIL_KIND_DNS_RESPONSE:
      return DecodeDns(kind, record, out);
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown event kind ", kind));
  }
}

}  // namespace vigil::decode
