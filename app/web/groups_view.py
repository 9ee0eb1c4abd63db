"""What a group's panel shows, read through the services: the group, its members, its edges,
its recent group runs, and the flow graph as cytoscape elements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.services import group_dag, group_runs, groups
from app.web.calls import Calls, dump
from app.web.status import status_meta

CONDITIONS = (("success", "success"), ("failure", "failure"), ("done", "done"))


@dataclass(frozen=True, kw_only=True)
class GroupView:
    group: dict[str, Any]
    members: list[dict[str, Any]]  # {"tid", "name"}
    edges: list[dict[str, Any]]  # {"upstream", "downstream", "condition"} + names
    group_runs: list[dict[str, Any]] = field(default_factory=list)
    chosen_run: int | None = None  # the group run the graph shows (None: the latest)

    @property
    def member_options(self) -> list[tuple[str, str]]:
        return [(str(m["tid"]), m["name"]) for m in self.members]


async def load_group(calls: Calls, gid: int, group_run: int | None = None) -> GroupView:
    group = dump(await calls.read(groups.read_group, gid=gid))
    graph = dump(await calls.read(group_dag.group_graph, gid=gid))
    names = {n["tid"]: n["name"] for n in graph["nodes"]}
    members = [{"tid": tid, "name": names.get(tid, f"task {tid}")} for tid in group["tasks"]]
    edges = [
        {
            **e,
            "upstream_name": names.get(e["upstream"], e["upstream"]),
            "downstream_name": names.get(e["downstream"], e["downstream"]),
        }
        for e in dump(await calls.read(group_dag.list_edges, gid=gid))
    ]
    runs = dump(await calls.read(group_runs.list_group_runs, group=gid, page_size=10))
    return GroupView(
        group=group, members=members, edges=edges, group_runs=runs, chosen_run=group_run
    )


def elements(graph: dict[str, Any]) -> dict[str, Any]:
    """The API's graph as cytoscape elements, each node with its status colour class."""
    nodes = []
    for node in graph["nodes"]:
        status = node.get("status")
        nodes.append(
            {
                "data": {
                    "id": f"t{node['tid']}",
                    "tid": node["tid"],
                    "label": node["name"],
                    "status": status or "",
                    "run": node.get("run"),
                    "reason": node.get("reason") or "",
                    "css": status_meta(status).css if status else "s-none",
                    "caption": f"{node['name']}\n{status or 'no run yet'}",
                }
            }
        )
    edges = [
        {
            "data": {
                "id": f"e{e['upstream']}-{e['downstream']}",
                "source": f"t{e['upstream']}",
                "target": f"t{e['downstream']}",
                "condition": e["condition"],
            }
        }
        for e in graph["edges"]
    ]
    return {
        "group_run": graph.get("group_run"),
        "group_run_status": graph.get("group_run_status"),
        "nodes": nodes,
        "edges": edges,
    }
