import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pynvml
import pytest

from app import __version__
from app.agents.resources import (
    AgentResources,
    GpuInfo,
    gpu_numa_node,
    probe_gpus,
    probe_numa,
    probe_resources,
)


def nvml_present() -> bool:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    pynvml.nvmlShutdown()
    return True


def test_probe_measures_this_machine(tmp_path: Path) -> None:
    resources = probe_resources(docker_ok=False, data_dir=tmp_path)

    assert resources.cpus == os.cpu_count()
    assert resources.load_1m >= 0
    assert 0 < resources.memory_used <= resources.memory_total
    assert 0 < resources.disk_used <= resources.disk_total
    assert resources.docker is False
    assert resources.version == __version__


def test_missing_data_dir_measures_the_file_system_that_will_hold_it(tmp_path: Path) -> None:
    resources = probe_resources(docker_ok=True, data_dir=tmp_path / "not" / "yet")

    assert resources.disk_total > 0
    assert resources.docker is True


@pytest.mark.skipif(nvml_present(), reason="this host has NVML; the GPU-less case needs none")
def test_no_nvml_means_no_gpus_and_no_error() -> None:
    assert probe_gpus() == []
    assert probe_resources(docker_ok=False).gpus == []


def test_to_dict_is_json_ready() -> None:
    resources = AgentResources(
        cpus=4,
        load_1m=0.5,
        memory_total=8,
        memory_used=4,
        disk_total=100,
        disk_used=10,
        docker=True,
        gpus=[
            GpuInfo(
                index=0,
                name="Tesla T4",
                uuid="GPU-1",
                memory_total=16,
                memory_used=1,
                utilization_percent=None,
            )
        ],
    )

    wire = json.loads(json.dumps(resources.to_dict()))

    assert wire["gpus"] == [
        {
            "index": 0,
            "name": "Tesla T4",
            "uuid": "GPU-1",
            "memory_total": 16,
            "memory_used": 1,
            "utilization_percent": None,
            "pci_bus_id": None,
            "numa_node": None,
        }
    ]
    assert wire["cpus"] == 4 and wire["docker"] is True and wire["version"] == __version__


class FakeNvml:
    """Stands in for pynvml on GPU-less machines: two boards, the second without utilisation."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def nvmlInit(self) -> None:
        self.calls.append("init")

    def nvmlShutdown(self) -> None:
        self.calls.append("shutdown")

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> Any:
        return b"NVIDIA A100" if handle == 0 else "NVIDIA H100"

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        return f"GPU-{handle}"

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(total=80 * 2**30, used=handle * 2**30)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:
        if handle == 1:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return SimpleNamespace(gpu=37, memory=5)


def test_gpus_are_read_through_nvml_and_it_is_shut_down() -> None:
    nvml = FakeNvml()

    gpus = probe_gpus(nvml)

    assert gpus == [
        GpuInfo(
            index=0,
            name="NVIDIA A100",
            uuid="GPU-0",
            memory_total=80 * 2**30,
            memory_used=0,
            utilization_percent=37,
        ),
        GpuInfo(
            index=1,
            name="NVIDIA H100",
            uuid="GPU-1",
            memory_total=80 * 2**30,
            memory_used=2**30,
            utilization_percent=None,
        ),
    ]
    assert nvml.calls == ["init", "shutdown"]


class LostGpuNvml(FakeNvml):
    def nvmlDeviceGetCount(self) -> int:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)


def test_nvml_failing_midway_gives_no_gpus_and_still_shuts_down() -> None:
    nvml = LostGpuNvml()

    assert probe_gpus(nvml) == []
    assert nvml.calls == ["init", "shutdown"]


class FakeNvmlWithPci(FakeNvml):
    def nvmlDeviceGetPciInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(busId=f"00000000:{0x3B + handle:02X}:00.0".encode())


def test_gpus_carry_their_pci_address_and_numa_node_where_the_host_says(tmp_path: Path) -> None:
    gpus = probe_gpus(FakeNvmlWithPci())
    assert [g.pci_bus_id for g in gpus] == ["0000:3b:00.0", "0000:3c:00.0"]
    (tmp_path / "0000:3b:00.0").mkdir()
    (tmp_path / "0000:3b:00.0" / "numa_node").write_text("1\n")
    (tmp_path / "0000:3c:00.0").mkdir()
    (tmp_path / "0000:3c:00.0" / "numa_node").write_text("-1\n")
    assert gpu_numa_node("00000000:3B:00.0", tmp_path) == 1
    assert gpu_numa_node("00000000:3C:00.0", tmp_path) is None  # -1: the host does not say
    assert gpu_numa_node("00000000:99:00.0", tmp_path) is None


def test_numa_nodes_are_read_from_sysfs(tmp_path: Path) -> None:
    for node, cpus in ((0, "0-3"), (1, "4-7")):
        folder = tmp_path / f"node{node}"
        folder.mkdir()
        (folder / "cpulist").write_text(cpus + "\n")
        (folder / "meminfo").write_text(f"Node {node} MemTotal:       1024 kB\n")
    assert probe_numa(tmp_path) == [
        {"node": 0, "cores": [0, 1, 2, 3], "memory": 1024 * 1024},
        {"node": 1, "cores": [4, 5, 6, 7], "memory": 1024 * 1024},
    ]
    assert probe_numa(tmp_path / "absent") == []
    assert probe_resources(docker_ok=False).numa == probe_numa()
