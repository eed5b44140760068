"""ensemble-run under faults (issue 19, "Why"): its parent killed with SIGKILL, the data file
replaced during a run, a read-only or full output folder.

Each test states the fault and what must happen instead of what used to happen. Fixtures come
from test_batch.py (``light.ipynb`` with ``fail_mode=sleep`` in its title writes
``data/pids-<kernel>-<worker>`` and sleeps for two minutes).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from test_batch import LIGHT, batch_in, repo, write_params  # noqa: F401 - repo is a fixture

ROOT = Path(__file__).resolve().parents[1]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux /proc")


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ensemble_helpers.batch", *args]


def cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (a dead child not yet reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# kill -9 of ensemble-run used to leave its workers and kernels running; they published reports
# after the parent died, without the lock.
# ---------------------------------------------------------------------------------------------
@linux_only
def test_sigkill_of_the_parent_ends_workers_and_kernels_and_nothing_is_published(repo: Path) -> None:
    write_params(repo, "sleepy", fail_mode="sleep")
    quick = write_params(repo, "quick")
    proc = subprocess.Popen(cli_command("params/sleepy.yaml", "--notebooks", str(LIGHT), "--jobs", "1",
                                        "--no-progress"),
                            cwd=repo, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        started = wait_for(lambda: any((repo / "data").glob("pids-*")) or proc.poll() is not None, 300)
        assert started and proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        name = next((repo / "data").glob("pids-*")).name
        kernel, worker = (int(part) for part in name.split("-")[1:3])
        assert alive(kernel) and alive(worker)

        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # the kernel would sleep for two minutes: both must be gone within seconds
        assert wait_for(lambda: not alive(worker), 30), "worker outlived its parent"
        assert wait_for(lambda: not alive(kernel), 30), "kernel outlived its worker"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = repo / "reports"
    assert not list(out.glob("sleepy/*"))  # nothing published by anyone
    # the next batch takes the lock and cleans the dead batch's temporary folder
    result = batch_in(repo, [quick], [LIGHT], jobs=1)
    assert result.runs[0].status == "ok", result.runs[0].error
    assert not list(out.glob(".tmp-*"))


# ---------------------------------------------------------------------------------------------
# A data file replaced during a batch gave reports computed from the new file with the old file's
# hash in their provenance; restoring the file then skipped them as unchanged.
# ---------------------------------------------------------------------------------------------
def mutating_notebook(path: Path) -> Path:
    """Reads the data, then (while a marker file exists) appends a patient to it, as if the file
    were replaced during the run; writes results.json."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                            "display_name": "Python 3"}})
    nb.cells = [
        nbformat.v4.new_code_cell('title = ""\ndata_path = ""\nconf_level = 0.95\nparams_file = None\n'
                                  'output_dir = "."', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(textwrap.dedent("""\
            import json, pathlib
            data = pathlib.Path(data_path)
            n = len(data.read_text().splitlines()) - 1
            if (data.parent / "MUTATE").exists():
                with open(data, "a") as fh:
                    fh.write("P999,1.0,1,2.0,1,PR\\n")
            pathlib.Path(output_dir, "results.json").write_text(json.dumps(
                [{"analysis": "count", "endpoint": "N", "group": "Overall", "n": n}]))
            print(f"{n} patients")""")),
    ]
    nbformat.write(nb, path)
    return path


def test_data_file_changed_during_a_run_fails_that_run_and_publishes_nothing(repo: Path) -> None:
    notebook = mutating_notebook(repo / "mutate.ipynb")
    params = write_params(repo, "alpha")
    data = repo / "data" / "patients.csv"
    original = data.read_bytes()
    (repo / "data" / "MUTATE").touch()

    result = batch_in(repo, [params], [notebook], jobs=1)
    run = result.runs[0]
    assert run.status == "failed" and run.error.ename == "DataFileChanged"
    assert "data/patients.csv changed while this run was in progress" in run.error.evalue
    assert not (repo / "reports" / "alpha" / "mutate.html").exists()
    assert not (repo / "reports" / "alpha" / "mutate.provenance.json").exists()

    # the file restored: the run is done again (not skipped as unchanged), and its provenance
    # names exactly the bytes it analysed
    (repo / "data" / "MUTATE").unlink()
    data.write_bytes(original)
    again = batch_in(repo, [params], [notebook], jobs=1).runs[0]
    assert again.status == "ok", again.error
    prov = (repo / "reports" / "alpha" / "mutate.provenance.json").read_text()
    assert hashlib.sha256(original).hexdigest() in prov
    assert "40 patients" in (repo / "reports" / "alpha" / "mutate.html").read_text()


# ---------------------------------------------------------------------------------------------
# A read-only or full disk ended in a raw OSError traceback and left a temporary manifest behind.
# ---------------------------------------------------------------------------------------------
def _can_mount_tmpfs() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


FAULTS_SCRIPT = r"""
set -u
OUT="$1"; RES="$2"; shift 2
snapshot() { (cd "$OUT" && find . -type f | sort | xargs -r sha256sum) > "$RES/$1.txt"; }
mount -t tmpfs -o size=8m tmpfs "$OUT"
"$@" --no-progress > /dev/null 2> "$RES/first.err"; echo $? > "$RES/first.rc"
snapshot before
mount -o remount,ro "$OUT"
"$@" --no-progress --force > /dev/null 2> "$RES/ro.err"; echo $? > "$RES/ro.rc"
mount -o remount,rw "$OUT"
dd if=/dev/zero of="$OUT/filler" bs=64k 2> /dev/null
"$@" --no-progress --force > /dev/null 2> "$RES/full.err"; echo $? > "$RES/full.rc"
# room for the start-up probe (64 KiB) but not for the rendered report
truncate -s -160K "$OUT/filler"
"$@" --no-progress --force > /dev/null 2> "$RES/almost.err"; echo $? > "$RES/almost.rc"
rm "$OUT/filler"
snapshot after
(cd "$OUT" && find . | sort) > "$RES/names.txt"
"""


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs Linux user namespaces (unshare -rm) to"
                                                    " mount a small tmpfs")
def test_read_only_or_full_output_folder_one_line_exit_2_nothing_left_reports_kept(
        repo: Path, tmp_path: Path) -> None:
    write_params(repo, "alpha")
    out, res = repo / "reports", tmp_path / "results"
    out.mkdir()
    res.mkdir()
    script = tmp_path / "faults.sh"
    script.write_text(FAULTS_SCRIPT)
    command = cli_command("params/alpha.yaml", "--notebooks", str(LIGHT), "--jobs", "1",
                          "--output-dir", str(out))
    subprocess.run(["unshare", "-rm", "sh", str(script), str(out), str(res), *command],
                   cwd=repo, env=cli_env(), check=True, timeout=900)

    def read(name: str) -> str:
        return (res / name).read_text()

    assert read("first.rc").strip() == "0", read("first.err")
    for case, errno_name in (("ro", "EROFS"), ("full", "ENOSPC"), ("almost", "ENOSPC")):
        assert read(f"{case}.rc").strip() == "2", (case, read(f"{case}.err"))
        lines = read(f"{case}.err").splitlines()
        assert len(lines) == 1, (case, lines)  # one clear line, no traceback
        assert lines[0].startswith(f"ensemble-run: error: cannot write to the output folder {out}")
        assert errno_name in lines[0] and "previous reports are unchanged" in lines[0]
    assert read("before.txt") == read("after.txt")  # every previous report byte for byte
    assert "./alpha/light.html" in read("before.txt")
    leftovers = [n for n in read("names.txt").split() if ".tmp" in n or "probe" in n]
    assert leftovers == []
