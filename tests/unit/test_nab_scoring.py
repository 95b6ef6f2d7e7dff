"""The NAB score as the benchmark defines it: rewards, costs, probation, normalisation, threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.nab_scoring import PROFILES, nab_score, probation_rows, sweep_weights

STANDARD = PROFILES["standard"]


def score(rows: int, spans: list[tuple[int, int]], hits: list[int], profile=STANDARD) -> float:
    values = np.zeros(rows)
    values[hits] = 1.0
    return nab_score([(values, *sweep_weights(rows, spans, profile))], profile)[1]


def test_probation_is_15_percent_capped_at_750_rows():
    assert probation_rows(100) == 15 and probation_rows(4032) == 604 and probation_rows(20000) == 750


def test_nothing_detected_scores_zero_and_the_left_edge_scores_almost_100():
    assert score(100, [(40, 60)], []) == 0.0
    assert score(100, [(40, 60)], [40]) == pytest.approx(100.0)
    early, late = score(100, [(40, 60)], [42]), score(100, [(40, 60)], [58])
    assert 99 < early < 100 and 50 < late < 70  # earlier is worth more; the right edge is worth 0


def test_only_the_first_detection_in_a_window_counts():
    assert score(100, [(40, 60)], [45]) == score(100, [(40, 60)], [45, 50, 55, 59])


def test_false_positives_cost_by_profile_and_by_distance_after_a_window():
    before = score(200, [(100, 120)], [50, 100])  # before any window: the full cost
    assert before == pytest.approx(100.0 * (2.0 - 0.11) / 2.0)
    low_fp = score(200, [(100, 120)], [50, 100], PROFILES["reward_low_FP_rate"])
    assert low_fp == pytest.approx(100.0 * (2.0 - 0.22) / 2.0)
    just_after, far_after = score(200, [(100, 120)], [100, 121]), score(200, [(100, 120)], [100, 190])
    assert before == pytest.approx(far_after) and far_after < just_after < 100.0  # 3+ widths on: full


def test_detections_in_probation_are_ignored():
    assert score(100, [(40, 60)], [3, 40]) == score(100, [(40, 60)], [40])


def test_the_threshold_is_chosen_once_for_all_files_to_maximise_the_score():
    # File a: its anomaly scores 0.9, a false alarm 0.5. File b: its anomaly scores only 0.4. The best
    # single threshold takes in all three (two hits outweigh one false positive's 0.11).
    a, b = np.zeros(100), np.zeros(100)
    a[45], a[80], b[45] = 0.9, 0.5, 0.4
    files = [(s, *sweep_weights(100, [(40, 60)], STANDARD)) for s in (a, b)]
    threshold, best = nab_score(files, STANDARD)
    assert threshold == 0.4
    assert best > nab_score(files[:1], STANDARD)[1] * 0.5
    assert math.isnan(nab_score([(np.zeros(10), *sweep_weights(10, [], STANDARD))], STANDARD)[1])
