"""The one read the API has no endpoint for: the AVSs to offer in the explorer's AVS pickers.

Everything a page *shows* comes from :mod:`indexer.api.queries` (the API's own functions); this
only fills drop-downs, so nobody has to paste a 40-hex-digit address to get started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, select

from storage.models import avs_table, committee_table

MAX_AVS_CHOICES: Final = 500
"""A picker longer than this is unusable anyway; beyond it the address field of the URL still works."""


@dataclass(frozen=True)
class AvsChoice:
    address: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.address})" if self.name else self.address


def known_avss(conn: Connection) -> list[AvsChoice]:
    """Registered AVSs by name, then any AVS only seen through a committee (an indexer that started
    after the registration)."""
    a, c = avs_table, committee_table
    registered = [
        AvsChoice(r.avs_address, r.name or "")
        for r in conn.execute(
            select(a.c.avs_address, a.c.name).order_by(a.c.name, a.c.avs_address).limit(MAX_AVS_CHOICES)
        )
    ]
    seen = {choice.address for choice in registered}
    elected = conn.execute(
        select(c.c.avs_address).distinct().order_by(c.c.avs_address).limit(MAX_AVS_CHOICES)
    ).scalars()
    return registered + [AvsChoice(address, "") for address in elected if address not in seen]
