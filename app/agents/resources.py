"""What an agent has to offer: CPUs, memory, disk, Docker and GPUs (for hello and heartbeats)."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pynvml

from app import __version__

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class GpuInfo:
    index: int
    name: str
    uuid: str
    memory_total: int  # bytes
    memory_used: int  # bytes
    utilization_percent: int | None  # None where the device does not report it (e.g. MIG)
    pci_bus_id: str | None = None  # "0000:3b:00.0"
    numa_node: int | None = None  # the NUMA node the board sits on, where the host says


@dataclass(frozen=True, kw_only=True)
class AgentResources:
    cpus: int
    load_1m: float
    memory_total: int  # bytes
    memory_used: int  # bytes: total minus what is available, page cache not counted
    disk_total: int  # bytes, of the file system holding the data directory
    disk_used: int
    docker: bool
    gpus: list[GpuInfo] = field(default_factory=list)
    # NUMA nodes: {"node", "cores" (CPU ids), "memory" (bytes)}; [] where the host has no
    # /sys/devices/system/node.
    numa: list[dict[str, Any]] = field(default_factory=list)
    version: str = __version__

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the wire protocol."""
        return asdict(self)


def probe_resources(docker_ok: bool, data_dir: str | Path = ".") -> AgentResources:
    """Measure this host now. `docker_ok` comes from the executor's own ping."""
    memory = psutil.virtual_memory()
    disk = shutil.disk_usage(_existing(Path(data_dir)))
    return AgentResources(
        cpus=os.cpu_count() or 1,
        load_1m=psutil.getloadavg()[0],
        memory_total=memory.total,
        memory_used=memory.total - memory.available,
        disk_total=disk.total,
        disk_used=disk.used,
        docker=docker_ok,
        gpus=probe_gpus(),
        numa=probe_numa(),
    )


NODES = Path("/sys/devices/system/node")
PCI_DEVICES = Path("/sys/bus/pci/devices")


def probe_numa(root: Path = NODES) -> list[dict[str, Any]]:
    """The host's NUMA nodes with their CPUs and memory; [] when it cannot be read."""
    nodes: list[dict[str, Any]] = []
    try:
        folders = sorted(root.glob("node[0-9]*"), key=lambda p: int(p.name[4:]))
        for folder in folders:
            cores = parse_cpu_list((folder / "cpulist").read_text())
            nodes.append(
                {"node": int(folder.name[4:]), "cores": cores, "memory": _node_memory(folder)}
            )
    except (OSError, ValueError):
        log.debug("NUMA topology unreadable", exc_info=True)
        return []
    return nodes


def parse_cpu_list(text: str) -> list[int]:
    """ "0-3,8,10-11" -> [0, 1, 2, 3, 8, 10, 11] (the kernel's list format)."""
    cores: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        cores.extend(range(int(first), int(last or first) + 1))
    return cores


def _node_memory(folder: Path) -> int:
    try:
        for line in (folder / "meminfo").read_text().splitlines():
            if "MemTotal:" in line:  # "Node 0 MemTotal:  24683784 kB"
                return int(line.split()[-2]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def gpu_numa_node(bus_id: str | None, devices: Path = PCI_DEVICES) -> int | None:
    """The NUMA node of the PCI device `bus_id` (NVML's "00000000:3B:00.0"), or None."""
    if not bus_id:
        return None
    try:
        node = int((devices / pci_address(bus_id) / "numa_node").read_text().strip())
    except (OSError, ValueError):
        return None
    return node if node >= 0 else None  # -1: the host does not say


def pci_address(bus_id: str) -> str:
    """NVML writes an 8-digit PCI domain, sysfs a 4-digit one, in lower case."""
    domain, _, rest = bus_id.strip().lower().partition(":")
    return f"{domain[-4:].rjust(4, '0')}:{rest}"


def probe_gpus(nvml: Any = pynvml) -> list[GpuInfo]:
    """GPUs through NVML; [] when the library or driver is absent. Never raises.

    `nvml` is the `pynvml` module, or any object with the same functions (tests).
    """
    try:
        nvml.nvmlInit()
    except Exception:  # no library, no driver, no device: a GPU-less host, not an error
        log.debug("NVML unavailable", exc_info=True)
        return []
    try:
        return [_gpu(nvml, index) for index in range(nvml.nvmlDeviceGetCount())]
    except Exception:
        log.warning("NVML failed while listing GPUs", exc_info=True)
        return []
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            log.debug("NVML shutdown failed", exc_info=True)


def _gpu(nvml: Any, index: int) -> GpuInfo:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    try:
        utilization: int | None = int(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
    except Exception:  # NVML_ERROR_NOT_SUPPORTED on MIG instances and some boards
        utilization = None
    try:
        bus_id: str | None = _text(nvml.nvmlDeviceGetPciInfo(handle).busId)
    except Exception:  # an older library or a stand-in without PCI info
        bus_id = None
    return GpuInfo(
        index=index,
        name=_text(nvml.nvmlDeviceGetName(handle)),
        uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
        memory_total=int(memory.total),
        memory_used=int(memory.used),
        utilization_percent=utilization,
        pci_bus_id=pci_address(bus_id) if bus_id else None,
        numa_node=gpu_numa_node(bus_id),
    )


def _text(value: str | bytes) -> str:
    # Older nvidia-ml-py releases return bytes.
    return value.decode() if isinstance(value, bytes) else value


def _existing(path: Path) -> Path:
    """The data directory may not exist yet: measure the file system that will hold it."""
    for candidate in (path, *path.absolute().parents):
        if candidate.exists():
            return candidate
    return Path("/")


def host_numa() -> list[dict[str, Any]]:
    """This host's NUMA nodes, read once per agent process (they do not change)."""
    global _HOST_NUMA
    if _HOST_NUMA is None:
        _HOST_NUMA = probe_numa()
    return _HOST_NUMA


_HOST_NUMA: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class NumaBinding:
    cpus: str | None  # cpuset "0-7,16-23"
    mems: str | None  # "1"
    note: str


def bind_to_node(node: int | None, nodes: list[dict[str, Any]]) -> NumaBinding:
    """The cpuset of NUMA node `node`, or a no-op (with the reason) where the host has one
    node or does not say."""
    if node is None:
        return NumaBinding(None, None, "")
    if len(nodes) <= 1:
        return NumaBinding(None, None, f"NUMA node {node}: a no-op, this host has one node")
    found = next((n for n in nodes if n.get("node") == node), None)
    if found is None or not found.get("cores"):
        return NumaBinding(None, None, f"NUMA node {node}: not on this host, not bound")
    cores = ",".join(str(c) for c in found["cores"])
    return NumaBinding(cores, str(node), f"bound to NUMA node {node} (cores {cores})")
