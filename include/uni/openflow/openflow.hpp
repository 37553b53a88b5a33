// uni/openflow/openflow.hpp: every OpenFlow message type, for code that uses
// them all (a controller, a switch, the tests).
#pragma once

#include <uni/openflow/error.hpp>
#include <uni/openflow/experimenter.hpp>
#include <uni/openflow/features.hpp>
#include <uni/openflow/flow_mod.hpp>
#include <uni/openflow/flow_removed.hpp>
#include <uni/openflow/header.hpp>
#include <uni/openflow/hello.hpp>
#include <uni/openflow/packet_in.hpp>
#include <uni/openflow/packet_out.hpp>
#include <uni/openflow/port.hpp>
#include <uni/openflow/stats.hpp>
