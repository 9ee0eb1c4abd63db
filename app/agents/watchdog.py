"""The agent's watchdog: a small process started with the agent, there only to end the host
process groups of the agent's life that are still running when the agent dies (SIGKILL
included), so that a run the server retries elsewhere does not go on unseen beside its retry.

It learns of the agent's end when its stdin, a pipe whose only writer is the agent, reaches
end of file. It then reads the spool's journals: each attempt of this life with a recorded
process and no final state has its group ended (`process_groups.end_groups`). The next life
of the agent reports those attempts FAILED (`agent restarted: process lost`) and ends any
group the watchdog could not (it may have been killed with the agent).

Started once per agent life, so the launch path stays a plain vfork: a parent-death signal
for every child would need a `preexec_fn`, which rules vfork out.

    python -m app.agents.watchdog SPOOL_DIR LIFE
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from app.agents.process_groups import ProcessRecord, end_groups, unfinished


def start(spool_root: Path, life: str) -> subprocess.Popen[bytes]:
    """Start the watchdog of this agent life; the agent keeps its stdin open until it ends."""
    package_root = str(Path(__file__).resolve().parents[2])
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": package_root}
    return subprocess.Popen(
        [sys.executable, "-m", "app.agents.watchdog", str(spool_root), life],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # a terminal's Ctrl+C to the agent does not reach it
    )


def orphans(spool_root: Path, life: str) -> list[ProcessRecord]:
    """The process groups of `life` whose attempts have not ended."""
    found = []
    for journal in spool_root.glob("*/journal.jsonl"):
        try:
            record = unfinished(journal.read_bytes())
        except OSError:
            continue
        if record is not None and record.life == life:
            found.append(record)
    return found


def main(argv: list[str]) -> int:
    spool_root, life = Path(argv[1]), argv[2]
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            if not os.read(0, 4096):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    records = orphans(spool_root, life)
    for said in end_groups(records):
        sys.stderr.write(f"almanac watchdog: the agent ended; {said}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
