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
    )


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
    return GpuInfo(
        index=index,
        name=_text(nvml.nvmlDeviceGetName(handle)),
        uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
        memory_total=int(memory.total),
        memory_used=int(memory.used),
        utilization_percent=utilization,
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
