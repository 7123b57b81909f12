"""What a batch of twin ``Changes`` means for the rules: which device units depend on it
beyond the devices it names, and what of the changed zones changed (RuleSpec.reads).

State kept between evaluations (rebuilt by ``reset`` on a full evaluation): each node's
(online, born_at), each node's devices that are not online, and who was in custody.
"""

from __future__ import annotations

from server.rules.context import SiteIndex
from server.twin import Changes, Twin

# Bits of an evaluation's "what changed" mask (which rules run at all): for zones, what of
# them changed (RuleSpec.reads), then the other scopes.
Z_CUSTODY, Z_PEOPLE, Z_DEVICES, PERSON, DEVICE, NODE = (1 << i for i in range(6))
ZONE_BITS = {"custody": Z_CUSTODY, "people": Z_PEOPLE | Z_CUSTODY, "devices": Z_DEVICES}
ZONE_ALL = Z_CUSTODY | Z_PEOPLE | Z_DEVICES
MASKS = 1 << 6


class ChangeImpact:
    def __init__(self, index: SiteIndex) -> None:
        self.index = index
        self._node_epoch: dict[str, tuple[bool, float | None]] = {}  # (online, born_at)
        self._quiet: dict[str, set[str]] = {}  # node -> its devices that are not online
        self._custody: set[str] = set()  # people in custody at the last evaluation

    def reset(self, twin: Twin) -> None:
        self._node_epoch = {n.id: (n.online, n.born_at) for n in twin.nodes.values()}
        self._custody = {p.id for p in twin.people.values() if p.in_custody}
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
        device; a person who is or was in custody changes the zone's custody."""
        bits = 0
        if changes.devices:
            bits |= Z_DEVICES
        if changes.people:
            bits |= Z_PEOPLE
            custody, people = self._custody, twin.people
            for pid in changes.people:
                person = people.get(pid)
                if person is not None and person.in_custody:
                    custody.add(pid)
                    bits |= Z_CUSTODY
                elif pid in custody:
                    custody.discard(pid)
                    bits |= Z_CUSTODY
        return bits or ZONE_ALL  # a zone changed for a reason not known here: everything
