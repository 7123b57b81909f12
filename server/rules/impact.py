"""What a batch of twin ``Changes`` means for the rules: which device units depend on it
beyond the devices it names, and what of the changed zones changed (RuleSpec.reads,
RuleSpec.reads_profiles).

State kept between evaluations (rebuilt by ``reset`` on a full evaluation): each node's
(online, born_at), each node's devices that are not online, and who was in custody.
"""

from __future__ import annotations

from collections.abc import Iterable

from server.rules.context import SiteIndex
from server.twin import Changes, Twin

# Bits of an evaluation's "what changed" mask (which rules run at all): for zones, what of
# them changed (RuleSpec.reads), then the other scopes, then one bit per device profile
# that a zone rule reads alone (RuleSpec.reads_profiles; ChangeImpact.profile_bit).
Z_CUSTODY, Z_PEOPLE, Z_DEVICES, PERSON, DEVICE, NODE, Z_OCCUPIED = (1 << i for i in range(7))
P_CUSTODY = 1 << 7  # a changed person is or was in custody (person rules: needs_custody)
ZONE_BITS = {"custody": Z_CUSTODY, "people": Z_PEOPLE | Z_CUSTODY | Z_OCCUPIED,
             "occupied": Z_OCCUPIED, "devices": Z_DEVICES}
FIRST_PROFILE_BIT = 1 << 8


class ChangeImpact:
    def __init__(self, index: SiteIndex, profiles: Iterable[str] = ()) -> None:
        """``profiles``: the device profiles that some zone rule reads alone; a change to a
        device of one of them sets its own bit as well as Z_DEVICES."""
        self.index = index
        self.profile_bit = {p: FIRST_PROFILE_BIT << i
                            for i, p in enumerate(sorted(set(profiles)))}
        # Everything of a zone: what a zone re-run for time, or for no known reason, reads.
        self.zone_all = Z_CUSTODY | Z_PEOPLE | Z_DEVICES | Z_OCCUPIED \
            | sum(self.profile_bit.values())
        self._node_epoch: dict[str, tuple[bool, float | None]] = {}  # (online, born_at)
        self._quiet: dict[str, set[str]] = {}  # node -> its devices that are not online
        self._custody: set[str] = set()  # people in custody at the last evaluation
        self._occupied: set[str] = set()  # zones with someone in them, ditto

    def reset(self, twin: Twin) -> None:
        self._node_epoch = {n.id: (n.online, n.born_at) for n in twin.nodes.values()}
        self._custody = {p.id for p in twin.people.values() if p.in_custody}
        self._occupied = {z.id for z in twin.zones.values() if z.occupants}
        self._quiet = {}
        for d in twin.devices.values():
            if d.status != "online":
                self._quiet.setdefault(d.node, set()).add(d.id)

    def devices(self, twin: Twin, changes: Changes, devices: set[str]) -> None:
        """Add to ``devices`` the devices whose rules' answers may have changed too.  Device
        rules also read whether the device's node is online and since when, and (for
        devices that are not online) the device's ``last_seen``, which a node's message may
        refresh without reporting the device (a replayed event)."""
        quiet, index = self._quiet, self.index
        for d in changes.devices:
            device = twin.devices.get(d)
            if device is None:
                continue
            if device.status == "online":
                bucket = quiet.get(device.node)
                if bucket:
                    bucket.discard(d)
            else:
                quiet.setdefault(device.node, set()).add(d)
        for n in changes.nodes:
            node = twin.nodes.get(n)
            if node is None:
                continue
            epoch = (node.online, node.born_at)
            if self._node_epoch.get(n) != epoch:
                self._node_epoch[n] = epoch
                devices.update(index.devices_of_node.get(n, ()))
            else:
                bucket = quiet.get(n)
                if bucket:
                    devices.update(bucket)

    def zone_bits(self, twin: Twin, changes: Changes) -> int:
        """What of the changed zones changed (RuleSpec.reads).  The twin reports a person's
        zone with every change to the person, and a device's zone with every change to the
        device; a person who is or was in custody changes the zone's custody; a zone that
        became empty or stopped being empty changes whether it is occupied."""
        bits = 0
        if changes.devices:
            bits |= Z_DEVICES
            profile_bit = self.profile_bit
            if profile_bit:
                profile_of = self.index.device_profile
                for d in changes.devices:
                    bits |= profile_bit.get(profile_of.get(d, ""), 0)
        if changes.zones:
            occupied, zones = self._occupied, twin.zones
            for zid in changes.zones:
                zone = zones.get(zid)
                if zone is None:
                    continue
                if zone.occupants:
                    if zid not in occupied:
                        occupied.add(zid)
                        bits |= Z_OCCUPIED
                elif zid in occupied:
                    occupied.discard(zid)
                    bits |= Z_OCCUPIED
        if changes.people:
            bits |= Z_PEOPLE
            custody, people = self._custody, twin.people
            for pid in changes.people:
                person = people.get(pid)
                if person is not None and person.in_custody:
                    custody.add(pid)
                    bits |= Z_CUSTODY | P_CUSTODY
                elif pid in custody:
                    custody.discard(pid)
                    bits |= Z_CUSTODY | P_CUSTODY
        return bits or self.zone_all  # a zone changed for a reason not known here: all
