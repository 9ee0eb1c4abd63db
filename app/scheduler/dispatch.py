"""Dispatch: choose an agent for each ACTIVE run and mark it TRIGGER (sent, awaiting ack)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from app.db.policies import PassPolicies
from app.db.run_commands import apply
from app.db.run_inputs import PassCache, context_for, expand_spec
from app.db.run_results import (
    upstream_environment,
    upstream_outputs,
    upstream_results,
    upstream_runs,
)
from app.db.sealing import box_or_none, spec_env
from app.db.tables import Agent, Run
from app.db.variable_sets import pin_variables
from app.domain import run_commands as c
from app.domain import run_spec
from app.domain.admission import Ask, ask_of_row
from app.domain.capacity import Allocation, capacity_of
from app.domain.placeholders import PlaceholderContext, PlaceholderError
from app.domain.placement import AgentSlot, Policy
from app.domain.placer import Placement, Placer
from app.domain.run_policy import filled_in_violations, reshaped_mounts
from app.domain.states import ON_AGENT
from app.env_secrets import EnvBox
from app.protocol.frames import StartRun
from app.scheduler.admission import (
    DISPATCH_BATCH,
    Held,
    Ready,
    claim,
    load_held,
    lookahead,
    ready_page,
    write_reasons,
)
from app.scheduler.group_runs import Blockers

# A pass reads the next page of ready runs (queue order) while the page before placed
# some, so a burst of 10,000 starts in one pass; at most this many pages a pass. A page
# that placed nothing ends the pass, after a look behind it for runs of pools that are open
# (app/scheduler/admission.py `lookahead`).
DISPATCH_PAGES = 10

__all__ = ["DISPATCH_BATCH", "dispatch_pending", "running_counts", "start_message"]


def start_message(
    run: Run,
    box: EnvBox | None = None,
    context: PlaceholderContext | None = None,
    inputs: dict[str, str] | None = None,
) -> StartRun:
    """The start frame: the only place a run's sealed environment is opened. With a
    `context`, placeholders are expanded and the run-context variables added (after the
    approval check: the approved spec is what expands). PlaceholderError when the run lacks
    a value a placeholder names. `inputs`: the environment its variable sets and upstream
    results add (never stored in plain text)."""
    spec = run.spec
    values = spec_env(spec, box)
    if context is None:
        command, env = str(spec["command"]), values.for_command()
        workdir, mounts = spec.get("workdir"), list(spec.get("mounts") or [])
    else:
        done = expand_spec(spec, values.env, values.secrets, run, context)
        command, env, workdir, mounts = done.command, done.env, done.workdir, done.mounts
    return StartRun(
        run_id=run.id or 0,
        attempt=run.attempt,
        command=command,
        image=spec.get("image"),
        env={**env, **(inputs or {})},
        workdir=workdir,
        run_as_user=spec.get("run_as_user"),
        cpus=spec.get("cpus"),
        memory=spec.get("memory"),
        gpus=_gpus_held(run),
        numa_node=spec.get("numa_node"),
        mounts=mounts,
        max_run_seconds=spec.get("max_run_seconds"),
    )


def _gpus_held(run: Run) -> list[int]:
    """The GPUs placement gave the run (any N free ones for `gpu_count`), else those it
    names."""
    if run.allocation:
        return sorted(Allocation.from_json(run.allocation).gpus)
    return list(run.spec.get("gpus") or [])


def dispatch_pending(
    session: Session,
    *,
    now: datetime,
    agents: Sequence[AgentSlot],
    observe_hop: Callable[[float], None] | None = None,
    policy: Policy = "spread",
    held: Held | None = None,
    first: list[Ready] | None = None,
) -> list[tuple[str, StartRun]]:
    """Assign ready ACTIVE runs to agents, in queue order; returns the start messages to
    send after commit. `held`: what the runs on agents hold, when the caller read it to
    build `agents` (`load_held`); else read here. `first`: the first page of ready runs,
    when the caller read it (to see whether there is anything to do)."""
    this = _Pass(session, now, agents, policy, observe_hop, held or load_held(session))
    after: Ready | None = None
    for _ in range(DISPATCH_PAGES):
        page = (
            first
            if after is None and first is not None
            else ready_page(session, now=now, after=after)
        )
        placed_before = len(this.sends)
        this.judge_page(page)
        if len(page) < DISPATCH_BATCH:
            break  # read all that is ready
        if len(this.sends) == placed_before:  # the head waits: look behind it, then stop
            this.judge_all(lookahead(session, now=now, gates=this.gates, last=page[-1]))
            break
        after = page[-1]
    write_reasons(session, this.waits)
    return this.sends


class _Pass:
    """One dispatch pass: what it read once (agents' room, gates, key ring, rows its runs
    name) and the starts it decided."""

    def __init__(
        self,
        session: Session,
        now: datetime,
        agents: Sequence[AgentSlot],
        policy: Policy,
        observe_hop: Callable[[float], None] | None,
        held: Held,
    ) -> None:
        self.session, self.now, self.observe_hop = session, now, observe_hop
        self.sends: list[tuple[str, StartRun]] = []
        # Why the runs judged from plain rows wait, where that changed: written in bulk.
        self.waits: dict[str, list[int]] = {}
        # (spec, instance) -> why runs of that spec wait (`_alone`); the spec is kept so
        # its id is not reused while the pass lasts.
        self.hopeless: dict[tuple[int, str], tuple[dict[str, Any], str]] = {}
        # Tasks with `queue` concurrency run one at a time, oldest first.
        self.busy = set(held.tasks)
        self.cache = PassCache()  # one read of each task, group and calendar
        self.policies = PassPolicies()  # read only for runs whose mounts have placeholders
        self.blockers = Blockers(session, self.cache.upstreams)  # one read of each DAG
        self.box = box_or_none(session)  # one key ring for the pass
        # The offline agents are read only when a reason needs them.
        self.placer = Placer(agents, policy=policy, offline=lambda: offline_slots(session, agents))
        self.gates = held.gates  # pools, locks, quotas (app/domain/admission.py)

    def judge_page(self, page: Sequence[Ready]) -> None:
        """Judge a page of plain rows in queue order; only the runs admitted and placed are
        then read as ORM rows (locked: `claim`) and started, in the same order. What each
        admitted run takes of the gates counts at once for the runs behind it; one that does
        not start after all (another pass holds it, it left the queue, its approval or its
        placeholders fail) gives that back, while what the placer gave it stays unused for
        the rest of the pass (never more than is free)."""
        admitted: list[tuple[int, Ask, Placement]] = []
        for row in page:
            got = self._admit(row)
            if got is not None:
                self.gates.take(got[0])
                admitted.append((row.id, *got))
        if not admitted:
            return
        claimed = claim(self.session, now=self.now, ids=[run_id for run_id, _, _ in admitted])
        self.cache.preload(self.session, claimed)
        runs = {run.id: run for run in claimed}
        for run_id, ask, placed in admitted:
            run = runs.get(run_id)
            if run is None or not self._start(run, placed):
                self.gates.release(ask)

    def judge_all(self, runs: Sequence[Run]) -> None:
        self.cache.preload(self.session, runs)
        for run in runs:
            self.judge(run)

    def judge(self, run: Run) -> None:
        """Start `run` on an agent, or say why it waits."""
        admitted = self._admit(run)
        if admitted is not None and self._start(run, admitted[1]):
            self.gates.take(admitted[0])

    def _admit(self, run: Run | Ready) -> tuple[Ask, Placement] | None:
        """What `run` asks of the gates and where it would go (both now counted as taken
        by the placer), or None: it waits, and the reason is noted."""
        plain = isinstance(run, Ready)
        if plain:
            hopeless = self.hopeless.get((id(run.spec), run.instance))
            if hopeless is not None and run.group_run_id is None:
                self._wait(run, hopeless[1])
                return None
        reason = self._blocked(run)
        if reason is not None:
            self._wait(run, reason)
            return None
        ask = ask_of_row(run)
        denials = self.gates.denials(ask)
        if denials:
            self.gates.refuse(ask, denials)
            self._wait(run, denials[0].detail)
            return None
        placed = self.placer.place(run.spec, shared=plain)
        if isinstance(placed, str):
            if plain and self._alone(run, ask):
                self.hopeless[(id(run.spec), run.instance)] = (run.spec, placed)
            self._wait(run, placed)
            return None
        return ask, placed

    def _alone(self, run: Run | Ready, ask: Ask) -> bool:
        """Whether only placement kept `run` waiting, whatever its place in the queue: no
        group run, no `queue` concurrency, no pool, lock or quota. A placement that failed
        fails for the rest of the pass, so the next runs of the same spec (the page shares
        one) and instance wait for the same reason, without being judged one by one."""
        return (
            run.group_run_id is None
            and run.spec.get("concurrency") != "queue"
            and not ask.pool
            and not ask.locks
            and ask.instance not in self.gates.quotas
        )

    def _start(self, run: Run, placed: Placement) -> bool:
        """Dispatch `run` where it was placed; False: it failed instead (its approved spec
        changed, or a placeholder names a value it lacks)."""
        if not _as_approved(self.session, run, self.now):
            return False
        run.allocation = placed.allocation.to_json()
        # The frame reads other rows only: the allocation is written with the dispatch in
        # one UPDATE, not flushed on its own by the first of those reads.
        with self.session.no_autoflush:
            message = self._message(run, placed.agent.name)
        if message is None:
            return False
        released = self.blockers.released_at(run) if self.observe_hop else None
        if self.observe_hop and released is not None:
            self.observe_hop((self.now - released).total_seconds())
        apply(self.session, run, c.Dispatch(placed.agent.name), now=self.now)
        self.sends.append((placed.agent.name, message))
        return True

    def _wait(self, run: Run | Ready, reason: str) -> None:
        """Say why `run` waits; a reason that did not change is not written (a pass over
        many waiting runs then writes nothing)."""
        if run.reason == reason:
            return
        if isinstance(run, Ready):
            self.waits.setdefault(reason, []).append(run.id)
        else:
            run.reason = reason

    def _blocked(self, run: Run | Ready) -> str | None:
        """Upstreams not done, or the previous run of a `queue` task still going."""
        waiting = self.blockers.of(run)
        if waiting:
            more = f" (+{len(waiting) - 1} more)" if len(waiting) > 1 else ""
            return str(waiting[0]["detail"]) + more
        queued = run.spec.get("concurrency") == "queue" and run.task_id is not None
        if queued and run.task_id in self.busy:
            return "waiting for the previous run of this task to finish"
        if queued:
            self.busy.add(run.task_id or 0)
        return None

    def _message(self, run: Run, agent: str) -> StartRun | None:
        """The start frame for `agent` with placeholders expanded; None (the run failed) when
        one names a value the run lacks or fills a mount in outside a policy."""
        # Its upstreams (the DAG's, in its group run) feed placeholders, variables and files.
        upstreams = upstream_runs(self.session, run, self.cache.upstreams)
        try:
            upstream = upstream_results(self.session, run, upstreams)
            environment = run_inputs_environment(self.session, run, upstream)  # pins variables
            context = context_for(self.session, run, self.cache, upstream)
            message = start_message(run, self.box, context, environment)
        except PlaceholderError as exc:
            run.allocation = None  # it holds nothing: it ends here
            apply(self.session, run, c.ExpansionFailed(str(exc)), now=self.now)
            return None
        refusal = self._refusal(run, message, agent)
        if refusal is not None:
            run.allocation = None  # it holds nothing: it ends here
            apply(self.session, run, c.PolicyRefused(refusal), now=self.now)
            return None
        message.inputs = upstream_outputs(self.session, run, upstreams, self.cache.upstreams)
        return message

    def _refusal(self, run: Run, message: StartRun, agent: str) -> str | None:
        """Why the filled-in mounts break the policy of the run's instance or of the agent it
        was placed on (the policies judged the spec as written, before placeholders)."""
        written = [str(m) for m in run.spec.get("mounts") or []]
        if written == message.mounts:
            return None  # nothing filled in: what was checked at save is what is sent
        reshaped = reshaped_mounts(written, message.mounts)
        if reshaped:
            return f"refused: {reshaped[0]}"
        for where, policy in self.policies.of(self.session, run.instance, agent):
            found = filled_in_violations(written, message.mounts, policy)
            if found:
                return f"refused by the policy of {where}: {found[0]}"
        return None


def run_inputs_environment(
    session: Session, run: Run, upstream: dict[str, dict[str, Any]] | None = None
) -> dict[str, str]:
    """`ALMANAC_VAR_*` (the variables, pinned for this dispatch) and `ALMANAC_UPSTREAM_*`."""
    variables = pin_variables(session, run)
    if upstream is None:
        upstream = upstream_results(session, run)
    return {**variables.environment(), **upstream_environment(upstream)}


def offline_slots(session: Session, connected: Sequence[AgentSlot]) -> list[AgentSlot]:
    """Agents the database knows as offline: reasons name them."""
    here = {a.name for a in connected}
    rows = session.exec(
        select(Agent.name, Agent.labels, Agent.docker, Agent.resources).where(
            Agent.status == "offline"
        )
    ).all()
    return [
        AgentSlot(
            name=name,
            labels=dict(labels or {}),
            max_runs=None,
            running=0,
            docker=bool(docker),
            capacity=capacity_of(resources) if "cpus" in (resources or {}) else None,
        )
        for name, labels, docker, resources in rows
        if name not in here
    ]


def _as_approved(session: Session, run: Run, now: datetime) -> bool:
    """An approved run runs the spec that was approved or nothing: one changed since (by
    whatever path) fails instead."""
    approved = run.spec.get(run_spec.APPROVED)
    if approved is None or run_spec.digest(run.spec) == approved:
        return True
    apply(session, run, c.SpecChanged(str(approved)), now=now)
    return False


def running_counts(session: Session) -> dict[str, int]:
    """Runs each agent holds now, from the database (the truth across restarts)."""
    stmt = select(Run.agent).where(col(Run.status).in_(ON_AGENT))
    counts: dict[str, int] = {}
    for name in session.exec(stmt).all():
        if name:
            counts[name] = counts.get(name, 0) + 1
    return counts


def allocations(session: Session) -> dict[str, Allocation]:
    """What the runs each agent holds now hold, from the database: a run releases what it
    held by leaving the statuses an agent holds it in, whichever way it leaves."""
    return agent_load(session)[1]


def agent_load(session: Session) -> tuple[dict[str, int], dict[str, Allocation]]:
    """The runs each agent holds and what they hold, in one read (`load_held`)."""
    held = load_held(session)
    return held.running, held.allocated
