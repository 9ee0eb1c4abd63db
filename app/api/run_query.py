"""The runs list's extra query parameters (`GET /runs`), read into a RunQuery: a bad value
is the usual 422 naming the parameter."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from app.domain.states import TriggerKind
from app.services.run_search import Order, RunQuery, Sort, View


def run_query(
    agent: Annotated[str | None, Query(max_length=200)] = None,
    trigger_kind: TriggerKind | None = None,
    instance: Annotated[str | None, Query(max_length=100)] = None,
    business_date: date | None = None,
    view: View = "",
    sort: Sort = "",
    order: Order = "desc",
) -> RunQuery:
    return RunQuery(
        agent=agent or None,
        trigger_kind=trigger_kind,
        instance=instance or None,
        business_date=business_date,
        view=view,
        sort=sort,
        order=order,
    )


RunQueryDep = Annotated[RunQuery, Depends(run_query)]
