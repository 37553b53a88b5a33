# bench/openflow_osken_switch.py: a MAC-learning switch application on os-ken
# (Debian's python3-os-ken ships the framework without its sample apps), doing
# what examples/of-controller does, for bench/openflow.sh to measure beside it:
# per switch, learn which port each source address is behind; a packet for an
# address known gets a flow (in_port, source, destination -> that port) and is
# sent on; any other is flooded. OpenFlow 1.0, as cbench speaks it.
#
#   osken-manager --ofp-tcp-listen-port PORT bench/openflow_osken_switch.py
from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import MAIN_DISPATCHER, set_ev_cls
from os_ken.lib.packet import ethernet, packet
from os_ken.ofproto import ofproto_v1_0


class LearningSwitch(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_0.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ports = {}  # datapath id -> {address: port}

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        dp = msg.datapath
        ofp, parser = dp.ofproto, dp.ofproto_parser
        eth = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        if eth is None:
            return
        seen = self.ports.setdefault(dp.id, {})
        seen[eth.src] = msg.in_port
        out = seen.get(eth.dst, ofp.OFPP_FLOOD)
        if out == msg.in_port:
            return  # it came from where it is going
        actions = [parser.OFPActionOutput(out)]
        if out != ofp.OFPP_FLOOD:
            match = parser.OFPMatch(in_port=msg.in_port, dl_src=eth.src, dl_dst=eth.dst)
            dp.send_msg(parser.OFPFlowMod(datapath=dp, match=match, command=ofp.OFPFC_ADD, idle_timeout=60,
                                          priority=1, actions=actions))
        data = msg.data if msg.buffer_id == ofp.OFP_NO_BUFFER else None
        dp.send_msg(parser.OFPPacketOut(datapath=dp, buffer_id=msg.buffer_id, in_port=msg.in_port,
                                        actions=actions, data=data))
