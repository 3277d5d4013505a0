#include "fleetsim/source_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

#include "grpc/support/sync.h"

// gRPC's socket mutator is public as an opaque type and a channel argument;
// its vtable lives in a private header (src/core/lib/iomgr/socket_mutator.h).
// These declarations mirror that header in gRPC 1.51 (Debian 12): the only
// way gRPC offers to act on a client socket before it connects.
typedef struct {
  bool (*mutate_fd)(int fd, grpc_socket_mutator* mutator);
  int (*compare)(grpc_socket_mutator* a, grpc_socket_mutator* b);
  void (*destroy)(grpc_socket_mutator* mutator);
  void* mutate_fd_2;  // unused: null makes gRPC call mutate_fd for client sockets
} grpc_socket_mutator_vtable;

struct grpc_socket_mutator {
  const grpc_socket_mutator_vtable* vtable;
  gpr_refcount refcount;
};

void grpc_socket_mutator_init(grpc_socket_mutator* mutator,
                              const grpc_socket_mutator_vtable* vtable);

namespace purser::fleetsim {
namespace {

struct SourceMutator {
  grpc_socket_mutator base;  // first: gRPC hands back a pointer to it
  in_addr addr;
};

bool MutateFd(int fd, grpc_socket_mutator* m) {
  auto* self = reinterpret_cast<SourceMutator*>(m);
  // Pick the port at connect(), by the full 4-tuple, not at bind().
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
  int family = AF_INET;
  socklen_t len = sizeof(family);
  getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len);
  if (family == AF_INET6) {  // gRPC dials IPv4 from dual-stack sockets: ::ffff:127.0.0.x
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_addr.s6_addr[10] = 0xff;
    sa.sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&sa.sin6_addr.s6_addr[12], &self->addr, 4);
    return bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr = self->addr;
  return bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
}

int Compare(grpc_socket_mutator* a, grpc_socket_mutator* b) {
  uint32_t x = reinterpret_cast<SourceMutator*>(a)->addr.s_addr;
  uint32_t y = reinterpret_cast<SourceMutator*>(b)->addr.s_addr;
  return x < y ? -1 : x > y ? 1 : 0;
}

void Destroy(grpc_socket_mutator* m) { delete reinterpret_cast<SourceMutator*>(m); }

const grpc_socket_mutator_vtable kVtable = {MutateFd, Compare, Destroy, nullptr};

}  // namespace

void BindSourceAddress(grpc::ChannelArguments* args, const std::string& ip) {
  auto* m = new SourceMutator;
  inet_pton(AF_INET, ip.c_str(), &m->addr);
  grpc_socket_mutator_init(&m->base, &kVtable);
  args->SetSocketMutator(&m->base);  // the arguments take the reference
}

}  // namespace purser::fleetsim
