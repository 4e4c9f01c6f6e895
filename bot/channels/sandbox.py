"""The sandbox channel: deliveries land in the store's sandbox inbox, shown in /sim."""

from __future__ import annotations

from bot.channels import Outcome, Outgoing
from bot.clock import Clock
from bot.store import Store


class SandboxChannel:
    name = "sandbox"
    batch_size = 500

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def send(self, batch: list[Outgoing]) -> list[Outcome]:
        now = self.clock.now().isoformat()
        with self.store.transaction() as db:
            for item in batch:
                # The delivery key is unique in the inbox: a retried batch adds nothing.
                db.execute(
                    "INSERT INTO sandbox_inbox (member_id, external_id, text, at, delivery_key)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (delivery_key) DO NOTHING",
                    [item.member_id, item.external_id, item.text, now, item.key])
        return [Outcome(item.delivery_id, "sent") for item in batch]
