"""The htmx request headers as a typed dependency: one URL serves the page or its fragment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request


@dataclass(frozen=True, kw_only=True)
class HtmxDetails:
    request: bool = False  # HX-Request: sent by htmx (a fragment is wanted)
    boosted: bool = False  # HX-Boosted: a boosted link or form (the whole page is wanted)
    target: str | None = None  # HX-Target: id of the element to be swapped
    trigger: str | None = None  # HX-Trigger: id of the element that triggered it
    history_restore: bool = False  # HX-History-Restore-Request: the whole page is wanted

    @property
    def wants_fragment(self) -> bool:
        return self.request and not self.boosted and not self.history_restore


def htmx_details(request: Request) -> HtmxDetails:
    headers = request.headers
    return HtmxDetails(
        request=headers.get("HX-Request") == "true",
        boosted=headers.get("HX-Boosted") == "true",
        target=headers.get("HX-Target"),
        trigger=headers.get("HX-Trigger"),
        history_restore=headers.get("HX-History-Restore-Request") == "true",
    )


HtmxDep = Annotated[HtmxDetails, Depends(htmx_details)]
