"""Tests for ensemble_helpers.cache: the validated table of an unchanged data file is reused,
anything else is validated (and reported) again."""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from ensemble_helpers import cache, schema
from ensemble_helpers.schema import DataContractError, load_patients
from ensemble_helpers.synthetic import generate_cohort, write_cohort


@pytest.fixture
def data_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("ENSEMBLE_CACHE_DIR", raising=False)  # the default: beside the data
    path = tmp_path / "data" / "cohort.csv"
    path.parent.mkdir()
    write_cohort(generate_cohort(n=60, n_sites=5, seed=3), path)
    return path


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("patients-*.arrow"))


def forbid_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("validated although the cache holds this file")

    monkeypatch.setattr(schema, "_validate", fail)


def test_an_unchanged_file_is_validated_once(data_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_patients(data_file)
    folder = data_file.parent / ".ensemble-cache"
    assert len(entries(folder)) == 1
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # patient-level copy: owner only
    assert stat.S_IMODE(entries(folder)[0].stat().st_mode) == 0o600
    forbid_validation(monkeypatch)
    second = load_patients(data_file)
    pd.testing.assert_frame_equal(second, first)  # same values and dtypes
    assert second is not first
    second.loc[0, "age"] = 99  # a caller changing its copy does not change the cache
    pd.testing.assert_frame_equal(load_patients(data_file), first)


def test_the_cached_table_equals_a_fresh_validation(data_file: Path) -> None:
    load_patients(data_file)
    expected = load_patients(data_file, use_cache=False)
    pd.testing.assert_frame_equal(load_patients(data_file), expected)


def test_an_edited_file_is_validated_again_and_its_error_reported(data_file: Path) -> None:
    load_patients(data_file)
    df = pd.read_csv(data_file, dtype=str, keep_default_na=False)
    df.loc[3, "age"] = "200"
    df.to_csv(data_file, index=False)
    with pytest.raises(DataContractError, match="age"):
        load_patients(data_file)
    with pytest.raises(DataContractError, match="age"):  # never cached: reported every time
        load_patients(data_file)
    assert len(entries(data_file.parent / ".ensemble-cache")) == 1  # only the good version


def test_cache_off(data_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENSEMBLE_CACHE_DIR", "off")
    load_patients(data_file)
    assert not (data_file.parent / ".ensemble-cache").exists()
    monkeypatch.setenv("ENSEMBLE_CACHE_DIR", "")
    assert cache.cache_dir(data_file) is None


def test_cache_dir_from_the_environment(data_file: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENSEMBLE_CACHE_DIR", str(tmp_path / "elsewhere"))
    load_patients(data_file)
    assert len(entries(tmp_path / "elsewhere")) == 1
    assert not (data_file.parent / ".ensemble-cache").exists()


def test_use_cache_false_neither_reads_nor_writes(data_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_patients(data_file, use_cache=False)
    assert not (data_file.parent / ".ensemble-cache").exists()


def test_a_damaged_entry_is_rebuilt(data_file: Path) -> None:
    expected = load_patients(data_file)
    entry = entries(data_file.parent / ".ensemble-cache")[0]
    entry.write_bytes(b"not an Arrow file")
    pd.testing.assert_frame_equal(load_patients(data_file), expected)
    assert entry.read_bytes() != b"not an Arrow file"  # overwritten by the fresh validation


def test_an_unwritable_cache_never_fails_the_load(data_file: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("ENSEMBLE_CACHE_DIR", str(blocker / "cache"))  # cannot be created
    expected = load_patients(data_file, use_cache=False)
    pd.testing.assert_frame_equal(load_patients(data_file), expected)


def test_the_key_covers_data_contract_code_and_format(data_file: Path, tmp_path: Path) -> None:
    code = tmp_path / "schema_copy.py"
    code.write_text("RULES = 1\n")
    key = cache.cache_key(data_file, code)
    assert cache.cache_key(data_file, code) == key
    code.write_text("RULES = 2\n")
    assert cache.cache_key(data_file, code) != key
    code.write_text("RULES = 1\n")
    renamed = data_file.with_suffix(".txt")
    renamed.write_bytes(data_file.read_bytes())
    assert cache.cache_key(renamed, code) != key  # .txt and .csv are read differently


def test_only_the_newest_entries_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENSEMBLE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "MAX_ENTRIES", 2)
    for seed in range(4):
        path = tmp_path / f"cohort{seed}.csv"
        write_cohort(generate_cohort(n=20, n_sites=3, seed=seed), path)
        load_patients(path)
    assert len(entries(tmp_path / "cache")) == 2


def test_an_entry_that_does_not_match_its_checksum_is_not_used(data_file: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    expected = load_patients(data_file)
    entry = entries(data_file.parent / ".ensemble-cache")[0]
    # a well-formed Arrow file with other values, planted under the key: the checksum catches it
    other = expected.copy()
    other["age"] = 99.0
    table = pa.Table.from_pandas(other, preserve_index=False)
    with pa.ipc.new_file(str(entry), table.schema) as writer:
        writer.write_table(table)
    calls = []
    real = schema._validate
    monkeypatch.setattr(schema, "_validate", lambda *a, **k: calls.append(1) or real(*a, **k))
    pd.testing.assert_frame_equal(load_patients(data_file), expected)
    assert calls == [1]  # validated again, not read from the planted entry


def test_a_planted_pickle_is_never_executed(data_file: Path, tmp_path: Path) -> None:
    load_patients(data_file)
    folder = data_file.parent / ".ensemble-cache"
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    payload = pickle.dumps(Payload())
    entry = entries(folder)[0]
    # under the old pickle name, under the Arrow name, with a matching checksum file
    (folder / entry.name.replace(".arrow", ".pkl")).write_bytes(payload)
    entry.write_bytes(payload)
    (folder / (entry.name + ".sha256")).write_text(hashlib.sha256(payload).hexdigest())
    frame = load_patients(data_file)
    assert not marker.exists()
    pd.testing.assert_frame_equal(frame, load_patients(data_file, use_cache=False))
    assert entry.read_bytes()[:6] == b"ARROW1"  # replaced by a fresh entry


def test_an_open_cache_folder_is_tightened(data_file: Path) -> None:
    folder = data_file.parent / ".ensemble-cache"
    folder.mkdir(mode=0o777)
    os.chmod(folder, 0o777)
    load_patients(data_file)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert len(entries(folder)) == 1


def test_a_folder_of_another_user_is_not_used(data_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = data_file.parent / ".ensemble-cache"
    folder.mkdir(mode=0o700)
    uid = os.getuid()
    monkeypatch.setattr(cache.os, "getuid", lambda: uid + 1)  # the folder now belongs to "someone else"
    with pytest.warns(cache.CacheWarning, match="another user"):
        frame = load_patients(data_file)
    pd.testing.assert_frame_equal(frame, load_patients(data_file, use_cache=False))
    assert entries(folder) == []


def test_a_cached_load_does_not_validate_or_import_pandera(data_file: Path) -> None:
    load_patients(data_file)
    code = ("import sys\nfrom ensemble_helpers import schema\n"
            "schema._validate = None\n"  # a cached load never calls it
            f"schema.load_patients({str(data_file)!r})\nprint('pandera' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "ENSEMBLE_CACHE_DIR"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    assert out.stdout.strip() == "False"
