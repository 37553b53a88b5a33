// uni/openflow/error.hpp: ERROR messages (OpenFlow 1.0 §5.4.4, 1.3 §A.4.4):
// a type, a code and at least 64 bytes of the offending message, and the
// refusals uni sends, named once and numbered per version (1.3 inserted
// BAD_INSTRUCTION and BAD_MATCH before FLOW_MOD_FAILED, so most types moved).
#pragma once

#include <algorithm>
#include <cstdint>

#include <uni/openflow/header.hpp>

namespace uni::openflow {

// Why a message is refused, whatever the version.
enum class refusal : std::uint8_t {
  incompatible,      // HELLO_FAILED/INCOMPATIBLE: no common version
  bad_version,       // BAD_REQUEST/BAD_VERSION: a message of another version than negotiated
  bad_type,          // BAD_REQUEST/BAD_TYPE: a type uni does not know or handle
  bad_stat,          // BAD_REQUEST/BAD_STAT (1.3 BAD_MULTIPART): a statistics kind uni does not serve
  bad_experimenter,  // BAD_REQUEST/BAD_VENDOR (1.3 BAD_EXPERIMENTER): vendor extensions are refused
  bad_len,           // BAD_REQUEST/BAD_LEN: a length that does not add up
  buffer_unknown,    // BAD_REQUEST/BUFFER_UNKNOWN
  bad_action,        // BAD_ACTION/BAD_TYPE
  bad_action_len,    // BAD_ACTION/BAD_LEN
  bad_out_port,      // BAD_ACTION/BAD_OUT_PORT
  too_many_actions,  // BAD_ACTION/TOO_MANY
  bad_out_group,     // BAD_ACTION/BAD_OUT_GROUP (1.3; 1.0 has no groups: BAD_TYPE)
  bad_instruction,   // BAD_INSTRUCTION/UNSUP_INST (1.3: meters and experimenter instructions)
  bad_match_field,   // BAD_MATCH/BAD_FIELD (1.3; 1.0: FLOW_MOD_FAILED/UNSUPPORTED)
  bad_match_mask,    // BAD_MATCH/BAD_MASK
  bad_prereq,        // BAD_MATCH/BAD_PREREQ (1.3)
  table_full,        // FLOW_MOD_FAILED/ALL_TABLES_FULL (1.3 TABLE_FULL)
  overlap,           // FLOW_MOD_FAILED/OVERLAP: check_overlap found an entry of the same priority
  eperm,             // FLOW_MOD_FAILED/EPERM: a switch refuses flows it cannot run (1.3: goto an earlier table)
  bad_hw_addr,       // PORT_MOD_FAILED/BAD_HW_ADDR
  bad_table,         // FLOW_MOD_FAILED/BAD_TABLE_ID (1.3; 1.0: UNSUPPORTED)
  bad_command,       // FLOW_MOD_FAILED/BAD_COMMAND
  no_groups,         // GROUP_MOD_FAILED/OUT_OF_GROUPS (1.3): groups are not supported
  no_meters,         // METER_MOD_FAILED/OUT_OF_METERS (1.3): meters are not supported
  bad_port,          // PORT_MOD_FAILED/BAD_PORT
  bad_queue_port,    // QUEUE_OP_FAILED/BAD_PORT: queue configuration of a port that does not exist
};

struct error_code {
  std::uint16_t type = 0;
  std::uint16_t code = 0;
  friend constexpr bool operator==(error_code, error_code) noexcept = default;
};

constexpr error_code code_of(version v, refusal r) noexcept {
  const bool v13 = v == version::of13;
  switch (r) {
    case refusal::incompatible: return {0, 0};
    case refusal::bad_version: return {1, 0};
    case refusal::bad_type: return {1, 1};
    case refusal::bad_stat: return {1, 2};
    case refusal::bad_experimenter: return {1, 3};
    case refusal::bad_len: return {1, 6};
    case refusal::buffer_unknown: return {1, 8};
    case refusal::bad_action: return {2, 0};
    case refusal::bad_action_len: return {2, 1};
    case refusal::bad_out_port: return {2, 4};
    case refusal::too_many_actions: return {2, 7};
    case refusal::bad_out_group: return v13 ? error_code{2, 9} : error_code{2, 0};
    case refusal::bad_instruction: return v13 ? error_code{3, 1} : error_code{1, 1};
    case refusal::bad_match_field: return v13 ? error_code{4, 6} : error_code{3, 5};
    case refusal::bad_match_mask: return v13 ? error_code{4, 8} : error_code{3, 5};
    case refusal::bad_prereq: return v13 ? error_code{4, 9} : error_code{3, 5};
    case refusal::table_full: return v13 ? error_code{5, 1} : error_code{3, 0};
    case refusal::overlap: return v13 ? error_code{5, 3} : error_code{3, 1};
    case refusal::eperm: return v13 ? error_code{5, 5} : error_code{3, 2};
    case refusal::bad_hw_addr: return v13 ? error_code{7, 1} : error_code{4, 1};
    case refusal::bad_table: return v13 ? error_code{5, 2} : error_code{3, 5};
    case refusal::bad_command: return v13 ? error_code{5, 6} : error_code{3, 4};
    case refusal::no_groups: return v13 ? error_code{6, 3} : error_code{1, 1};
    case refusal::no_meters: return v13 ? error_code{12, 10} : error_code{1, 1};
    case refusal::bad_port: return v13 ? error_code{7, 0} : error_code{4, 0};
    case refusal::bad_queue_port: return v13 ? error_code{9, 0} : error_code{5, 0};
  }
  return {1, 1};
}

struct error_msg {
  error_code what;
  std::span<const std::uint8_t> data;  // the start of the offending message (or text, for HELLO_FAILED)

  static constexpr std::size_t data_kept = 64;  // what the spec asks to echo back, at least

  static constexpr result<error_msg> parse(const message& m) noexcept {
    reader r(m.body());
    error_msg e{{r.u16(), r.u16()}, {}};
    e.data = r.rest();
    if (!r.ok()) return fail(error::truncated);
    return e;
  }
  constexpr result<std::size_t> emit(version v, std::uint32_t xid, std::span<std::uint8_t> out) const noexcept {
    writer w(out);
    begin(w, v, kind::error, xid);
    w.u16(what.type);
    w.u16(what.code);
    w.bytes(data);
    return finish(w);
  }
};

// The error refusing `offending` for `why`, echoing its first 64 bytes.
constexpr result<std::size_t> emit_refusal(version v, refusal why, std::span<const std::uint8_t> offending,
                                           std::uint32_t xid, std::span<std::uint8_t> out) noexcept {
  const error_msg e{code_of(v, why), offending.first(std::min(offending.size(), error_msg::data_kept))};
  return e.emit(v, xid, out);
}

}  // namespace uni::openflow
