"""Atomic writes and the lock that keeps two runs off one model file."""

import multiprocessing
import os

import pytest

from scalefree.formats.atomic import OutputError, atomic_path, held, remove_stale, write_text


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.pkl"
    target.write_text("good")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        with open(tmp, "w") as f:
            f.write("half")
        raise RuntimeError("crash mid-save")
    assert target.read_text() == "good"
    assert os.listdir(tmp_path) == ["model.pkl"]
    write_text(target, "better")
    assert target.read_text() == "better" and os.listdir(tmp_path) == ["model.pkl"]


def test_temporary_names_are_hidden_and_keep_the_extension(tmp_path):
    with atomic_path(tmp_path / "run.mp4") as tmp:
        name = os.path.basename(tmp)
        assert name.startswith(".run.mp4.") and name.endswith(".tmp.mp4")
        open(tmp, "w").close()


def _child_pid():
    return 0


def test_what_a_dead_writer_left_is_removed_and_a_live_ones_is_not(tmp_path):
    process = multiprocessing.get_context("spawn").Process(target=_child_pid)
    process.start()
    process.join()
    dead = tmp_path / f".model.pkl.{process.pid}-abcd.tmp.pkl"
    live = tmp_path / f".model.pkl.{os.getppid()}-abcd.tmp.pkl"
    dead.write_text("")
    live.write_text("")
    remove_stale(tmp_path / "model.pkl")
    assert not dead.exists() and live.exists()


def test_writing_into_a_directory_or_an_unwritable_place_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="is a directory"), atomic_path(tmp_path):
        pass
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="cannot write"):
        write_text(tmp_path / "file" / "below.txt", "x")


def _hold_and_report(path, queue):
    try:
        with held(path):
            queue.put("held")
    except OutputError as err:
        queue.put(str(err))


def test_a_second_holder_is_refused_while_the_first_holds_and_let_in_after(tmp_path):
    path = str(tmp_path / "model.pkl")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    with held(path):
        other = context.Process(target=_hold_and_report, args=(path, queue))
        other.start()
        other.join()
        refused = queue.get(timeout=10)
        assert "being trained by another run" in refused and str(os.getpid()) in refused
    other = context.Process(target=_hold_and_report, args=(path, queue))
    other.start()
    other.join()
    assert queue.get(timeout=10) == "held"
    assert not (tmp_path / ".model.pkl.lock").exists()
