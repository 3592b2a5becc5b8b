"""nnfast.plotting draws what it is given, on axes a reader can trust."""

import pytest

pytest.importorskip("matplotlib")


def test_the_epoch_axis_has_whole_ticks_only(tmp_path, monkeypatch):
    import matplotlib.figure

    from nnfast import plotting
    seen = []
    real_savefig = matplotlib.figure.Figure.savefig

    def keep_ticks(fig, *args, **kw):
        real_savefig(fig, *args, **kw)  # draw first: the locator picks the ticks as it draws
        seen.extend(t for ax in fig.axes for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1])
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep_ticks)
    history = [{"epoch": j, "accuracy": 0.5 + 0.1 * j} for j in range(3)]  # 3 epochs: matplotlib would put 0.5s
    plotting.plot_history(history, str(tmp_path / "c.png"), "t")
    assert seen and all(float(t).is_integer() for t in seen)
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
