"""CoachIQ as an RV-C node on one interface: address claim (3.3) and REQUEST answers (4.1).

The node claims its source address when its interface comes up and defends it: a contesting
ADDRESS_CLAIMED with a lower ADDRESS_CLAIM value (higher priority) makes a dynamically addressed
node request and claim the next lower address; a lower-priority contender, or any contender of a
static node, gets our ADDRESS_CLAIMED again. It answers a REQUEST for ADDRESS_CLAIMED and for
PRODUCT_ID (multi-packet, 50 ms between data packets), and NAKs other DGNs requested from its
address specifically.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from enum import StrEnum

from backend.integrations.can import message_factory as mf
from backend.integrations.can.errors import CANError
from backend.integrations.can.tasks import cancel_and_wait

logger = logging.getLogger(__name__)

SendRaw = Callable[[int, bytes], None]


class ClaimState(StrEnum):
    """Address-claim state of the node."""

    UNCLAIMED = "unclaimed"
    CLAIMING = "claiming"
    CLAIMED = "claimed"
    CANNOT_CLAIM = "cannot_claim"


class RVCNode:
    """Address claim and network answers for one interface; frames go out through ``send``."""

    def __init__(
        self,
        interface: str,
        name: mf.ClaimName,
        preferred_address: int,
        product_id: str,
        send: SendRaw,
        *,
        claim_wait: float = 0.25,
        packet_gap: float = 0.05,
    ) -> None:
        self.interface = interface
        self.name = name
        self.preferred_address = preferred_address
        self.product_id = product_id
        self.state = ClaimState.UNCLAIMED
        self.address = mf.NULL_ADDRESS
        self.contests = 0
        self.requests_answered = 0
        self._send = send
        self._claim_wait = claim_wait
        self._packet_gap = packet_gap
        self._value = name.value
        self._candidate = preferred_address
        self._candidate_taken = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def transmit_address(self) -> int:
        """The address to send from: the claimed one, else the preferred one."""
        return self.address if self.state is ClaimState.CLAIMED else self.preferred_address

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        """Tasks of the node still running."""
        return [t for t in self._tasks if not t.done()]

    def _spawn(self, coro: object, name: str) -> None:
        task = asyncio.create_task(coro, name=f"{name}-{self.interface}")  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cancel_claims(self) -> None:
        for task in list(self._tasks):
            if task.get_name().startswith("can-claim"):
                task.cancel()

    def start_claim(self, start_at: int | None = None) -> None:
        """(Re)start the claim procedure, at ``start_at`` or the preferred address."""
        self._cancel_claims()
        self._spawn(
            self._claim(self.preferred_address if start_at is None else start_at), "can-claim"
        )

    async def stop(self) -> None:
        """Cancel and await every task of the node. Idempotent."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            await cancel_and_wait(task)
        self._tasks.clear()

    def _emit(self, frame: mf.Frame) -> bool:
        try:
            self._send(*frame)
        except CANError as exc:
            logger.warning("RV-C node on %s could not send %08X: %s", self.interface, frame[0], exc)
            return False
        return True

    async def _claim(self, candidate: int) -> None:
        self.state = ClaimState.CLAIMING
        self.address = mf.NULL_ADDRESS
        if not self.name.arbitrary_address_capable:
            # Static addressing (00S-S-01): claim the configured address, nothing before it.
            self._claimed(self.preferred_address)
            return
        while candidate >= 0:
            self._candidate = candidate
            self._candidate_taken = False
            self._emit(mf.address_request(candidate))
            await asyncio.sleep(self._claim_wait)
            if not self._candidate_taken:
                self._claimed(candidate)
                return
            candidate -= 1
        self.state = ClaimState.CANNOT_CLAIM
        logger.error("RV-C node on %s: no source address left to claim", self.interface)

    def _claimed(self, address: int) -> None:
        self.address = address
        self.state = ClaimState.CLAIMED
        self._emit(mf.address_claimed(self.name, address))
        logger.info("RV-C node on %s claimed source address %d", self.interface, address)

    def on_frame(self, arbitration_id: int, data: bytes) -> None:
        """Handle a received frame (only network DGNs matter; anything else returns at once)."""
        pf = (arbitration_id >> 16) & 0xFF
        if pf == 0xEE:
            self._on_claim(arbitration_id & 0xFF, data)
        elif pf == 0xEA:
            self._on_request(arbitration_id & 0xFF, (arbitration_id >> 8) & 0xFF, data)

    def _on_claim(self, source: int, data: bytes) -> None:
        value = mf.claim_value(data)
        if value == self._value:
            return  # our own NAME (an echo)
        if self.state is ClaimState.CLAIMING and source == self._candidate:
            if value < self._value:
                self._candidate_taken = True
            return
        if self.state is not ClaimState.CLAIMED or source != self.address:
            return
        self.contests += 1
        if value < self._value and self.name.arbitrary_address_capable:
            logger.warning(
                "RV-C node on %s: address %d taken by a higher-priority node; claiming another",
                self.interface,
                self.address,
            )
            lost = self.address
            self.state = ClaimState.CLAIMING
            self.address = mf.NULL_ADDRESS
            self.start_claim(lost - 1)
        else:
            self._emit(mf.address_claimed(self.name, self.address))

    def _on_request(self, source: int, destination: int, data: bytes) -> None:
        if self.state is not ClaimState.CLAIMED:
            return
        if destination not in (self.address, mf.GLOBAL_ADDRESS):
            return
        dgn = mf.requested_dgn(data)
        if dgn is None:
            return
        if dgn == mf.DGN_ADDRESS_CLAIMED or dgn == 0x0EEFF:
            self.requests_answered += 1
            self._emit(mf.address_claimed(self.name, self.address))
        elif dgn == mf.DGN_PRODUCT_ID:
            self.requests_answered += 1
            if not any(t.get_name().startswith("can-product-id") for t in self._tasks):
                self._spawn(self._send_product_id(), "can-product-id")
        elif destination == self.address:
            self.requests_answered += 1
            self._emit(mf.acknowledgment(mf.NAK, self.address, source, dgn))

    async def _send_product_id(self) -> None:
        frames = mf.product_id_frames(self.product_id, self.address)
        for index, frame in enumerate(frames):
            if index > 0:
                await asyncio.sleep(self._packet_gap)
            if not self._emit(frame):
                return
