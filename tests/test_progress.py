"""The progress bar draws nothing where no person watches: in tests, and in any process whose stderr is not a
terminal; the loop it wraps runs the same."""

from __future__ import annotations

from seisbind.progress import drawing, progress


def test_progress_is_silent_in_tests_and_the_loop_runs_the_same(capsys):
    steps = []
    with progress("refit permutations", total=3) as advance:
        for k in range(3):
            steps.append(k)
            advance()
    assert not drawing() and steps == [0, 1, 2]
    assert capsys.readouterr() == ("", "")
