"""Build the GPU kit: the wheels sweeper's GPU run needs that the lent GPU machine lacks.

    python3 benchmarks/gpu_kit.py                        # Python 3.12 wheels into gpu-kit/
    python3 benchmarks/gpu_kit.py --python-version 3.11  # for a rehearsal on a 3.11 here

The lent machine has no network: whatever sweeper needs beyond what it has
(benchmarks/gpu_machine_packages.txt) travels as wheels in the working tree, which with all it
carries must stay under 64 MiB. The requirements are sweeper's own (pyproject.toml) less torch,
plus the `postgres` extra (the test suite's fixtures import psycopg), with mlflow-skinny for
mlflow: the run needs MLflow's client and SQLite store, not its UI server (12 MB more). pip
resolves them for the target Python on manylinux x86_64; the packages the machine has are left
out, the others are downloaded into the kit folder, and the kit plus the working tree must stay
under --limit-mib. The kit folder also gets:
  kit.txt      the kit's pins, one a line
  machine.txt  the pins of the packages the kit relies on that the machine already has (what
               `make gpu-rehearsal` installs from the registry to stand in for the machine)

    python benchmarks/gpu_kit.py --check-environment   # fails unless this Python's packages
                                                       # are all among the machine's
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MACHINE_LIST = ROOT / "benchmarks" / "gpu_machine_packages.txt"
EXTRAS = ("postgres",)
# Every manylinux tag up to the glibc that both the lent machine (Ubuntu 24.04, glibc 2.39) and
# this one (Debian 12, glibc 2.36) have: pip matches --platform tags exactly, with no range.
PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(17, 36)] + ["manylinux2014_x86_64"]
MIB = 2**20


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return canonical(match.group())


def requirements() -> list[str]:
    """sweeper's dependencies and EXTRAS' for the GPU run: no torch, MLflow's client only."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in EXTRAS:
        wanted += project["optional-dependencies"][extra]
    kept = []
    for requirement in wanted:
        name = requirement_name(requirement)
        if name == "torch":
            continue
        if name == "mlflow":
            requirement = "mlflow-skinny" + requirement[len("mlflow") :]
        kept.append(requirement)
    return kept


def machine_packages() -> set[str]:
    lines = MACHINE_LIST.read_text().splitlines()
    return {canonical(line) for line in lines if line.strip() and not line.startswith("#")}


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], check=True)


def target_flags(python_version: str) -> list[str]:
    flags = ["--only-binary=:all:", "--python-version", python_version, "--implementation", "cp"]
    for platform in PLATFORMS:
        flags += ["--platform", platform]
    return flags


def resolve(python_version: str) -> list[tuple[str, str]]:
    """(name, version) of everything the requirements resolve to for that Python."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        pip(
            "install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
            "--target", str(Path(tmp) / "target"), *target_flags(python_version), *requirements(),
        )  # fmt: skip
        install = json.loads(report.read_text())["install"]
    return [(canonical(item["metadata"]["name"]), item["metadata"]["version"]) for item in install]


def tree_bytes() -> int:
    """What travels besides the kit: tracked files and untracked ones git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    paths = [ROOT / name.decode() for name in listed if name]
    return sum(path.stat().st_size for path in paths if path.is_file())


def check_environment() -> None:
    """Exit 1 naming any package of this Python that the machine does not have: the rehearsal's
    environment must stand for the machine, the kit bringing the rest."""
    names = {canonical(dist.metadata["Name"]) for dist in importlib.metadata.distributions()}
    extra = sorted(names - machine_packages())
    if extra:
        sys.exit(f"{sys.prefix} has packages the GPU machine lacks: {', '.join(extra)}")
    print(f"{sys.prefix}: {len(names)} packages, all of them on the GPU machine")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python-version", default="3.12", help="the target Python")
    parser.add_argument("--out", type=Path, default=ROOT / "gpu-kit", help="the kit folder")
    parser.add_argument("--limit-mib", type=float, default=48, help="kit plus tree, at most")
    parser.add_argument(
        "--check-environment", action="store_true", help="check this Python's packages instead"
    )
    args = parser.parse_args()
    if args.check_environment:
        check_environment()
        return

    resolved = resolve(args.python_version)
    machine = machine_packages()
    kit = [pin for pin in resolved if pin[0] not in machine]
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.whl"):
        old.unlink()
    pins = [f"{name}=={version}" for name, version in kit]
    pip("download", "--no-deps", "--quiet", "--dest", str(args.out),
        *target_flags(args.python_version), *pins)  # fmt: skip
    (args.out / "kit.txt").write_text("\n".join(pins) + "\n")
    provided = [f"{name}=={version}" for name, version in resolved if name in machine]
    (args.out / "machine.txt").write_text("\n".join(provided) + "\n")

    wheels = sorted(args.out.glob("*.whl"), key=lambda path: -path.stat().st_size)
    kit_size = sum(path.stat().st_size for path in wheels)
    tree = tree_bytes()
    print(f"GPU kit for Python {args.python_version}: {len(wheels)} wheels in {args.out}")
    small = [wheel for wheel in wheels if wheel.stat().st_size < MIB / 2]
    for wheel in wheels[: len(wheels) - len(small)]:
        print(f"  {wheel.stat().st_size / MIB:6.1f} MiB  {wheel.name}")
    print(f"  and {len(small)} wheels under 0.5 MiB each")
    print(f"relied on, already on the machine: {len(provided)} packages ({args.out}/machine.txt)")
    print(f"kit {kit_size / MIB:.1f} MiB + working tree {tree / MIB:.1f} MiB", end=" ")
    total = (kit_size + tree) / MIB
    if total > args.limit_mib:
        print(f"= {total:.1f} MiB: OVER the {args.limit_mib:g} MiB limit")
        sys.exit(1)
    print(f"= {total:.1f} MiB, under the {args.limit_mib:g} MiB limit")


if __name__ == "__main__":
    main()
