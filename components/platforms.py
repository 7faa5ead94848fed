"""The core-device platforms the component is built for, in Greengrass's and in pip's terms."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Platform:
    """A Linux platform: its recipe ``Platform`` attributes and the wheel tags pip may pick for it."""

    name: str
    """As given on the command line: ``linux/<arch>``."""
    architecture: str
    """Greengrass's ``architecture`` attribute."""
    pip_platforms: tuple[str, ...]
    detail: str | None = None
    """Greengrass's ``architecture.detail`` attribute, where the architecture alone is ambiguous."""

    @property
    def slug(self) -> str:
        return self.name.replace("/", "-")

    def recipe_platform(self) -> dict[str, str]:
        attributes = {"os": "linux", "architecture": self.architecture}
        if self.detail:
            attributes["architecture.detail"] = self.detail
        return {**attributes, "runtime": "*"}


PLATFORMS: dict[str, Platform] = {p.name: p for p in (
    Platform("linux/amd64", "amd64", ("manylinux_2_28_x86_64", "manylinux2014_x86_64", "linux_x86_64")),
    Platform("linux/aarch64", "aarch64", ("manylinux_2_28_aarch64", "manylinux2014_aarch64", "linux_aarch64")),
    Platform("linux/armv7l", "arm", ("manylinux_2_31_armv7l", "manylinux2014_armv7l", "linux_armv7l"),
             detail="armv7l"),
)}
PYTHONS = ("3.11", "3.12", "3.13")
"""CPython versions a wheelhouse serves (Debian 12, Ubuntu 24.04, Debian 13); the device's
``python3`` picks its own wheels from the set."""


def host_platform() -> Platform:
    """The platform of this machine."""
    import platform as runtime

    machine = runtime.machine()
    for candidate in PLATFORMS.values():
        if machine in candidate.pip_platforms[-1]:
            return candidate
    raise ValueError(f"no component platform for this machine ({machine})")
