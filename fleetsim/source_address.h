// Binds a channel's outgoing connections to a chosen loopback source address
// (127.0.0.x), so a fleet of thousands of connections is spread over several
// addresses and never runs out of ephemeral ports on one.
#pragma once
#include <string>

#include "grpcpp/support/channel_arguments.h"

namespace purser::fleetsim {

// Every connection the channel made with `args` opens from `ip` (port chosen
// by the kernel at connect time).
void BindSourceAddress(grpc::ChannelArguments* args, const std::string& ip);

}  // namespace purser::fleetsim
