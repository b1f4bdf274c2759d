"""The x axis of the server-rendered charts: labels thinned so they never collide."""

import math

from railsaas import charts


def test_thinned_labels_keep_first_and_last_and_never_crowd():
    for n in range(1, 60):
        idx = charts._thin([str(i) for i in range(n)])
        assert idx[0] == 0, n
        assert idx[-1] == n - 1, n
        assert len(idx) <= charts._MAX_X_LABELS + 1, n
        if n > charts._MAX_X_LABELS:
            step = math.ceil(n / charts._MAX_X_LABELS)
            gaps = [b - a for a, b in zip(idx, idx[1:], strict=False)]
            assert min(gaps) >= step, (n, idx)


def test_twelve_months_end_on_this_month_without_last_month_beside_it():
    assert charts._thin([f"m{i}" for i in range(12)]) == [0, 2, 4, 6, 8, 11]
