"""posekit.eval against pycocotools, live, on random adversarial cases; and every bad input."""

import json

import numpy as np
import pytest

from posekit.core.errors import ConfigError, InputError
from posekit.eval import PROTOCOLS, evaluate, load_ground_truth, load_results
from posekit.eval.cocoeval import COCO_STATS

from eval_cases import pycocotools_stats, random_case

OPTIONS = {
    "plain": {},
    "results_with_bbox": {"with_bbox": True},
    "two_categories": {"categories": (1, 3)},
    "gt_id_0": {"odd_id": 0},
    "gt_id_minus_1": {"odd_id": -1},
    "many_images": {"num_images": 40},
}


def stats_array(result) -> np.ndarray:
    return np.array([result.stats[name] for name, *_ in COCO_STATS])


@pytest.mark.parametrize("option", list(OPTIONS))
def test_identical_to_pycocotools_on_random_cases(option):
    for seed in range(25):
        rng = np.random.default_rng([seed, list(OPTIONS).index(option)])
        gt, results = random_case(rng, **{"num_images": int(rng.integers(1, 10)), **OPTIONS[option]})
        want = pycocotools_stats(gt, results)
        got = stats_array(evaluate(gt, results))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, err_msg=f"{option} seed {seed}")


def test_cases_hold_what_trips_evaluators():
    """The random cases must really contain the hard parts, or the comparison above proves little."""
    seen = {"crowd": 0, "no_keypoints_field": 0, "empty_image": 0, "over_20": 0, "tied_scores": 0}
    for seed in range(12):
        gt, results = random_case(np.random.default_rng([seed, 0]), num_images=8)
        anns = gt["annotations"]
        seen["crowd"] += sum(a["iscrowd"] for a in anns)
        seen["no_keypoints_field"] += sum(a["num_keypoints"] == 0 and not a["iscrowd"] for a in anns)
        with_people = {a["image_id"] for a in anns}
        seen["empty_image"] += sum(im["id"] not in with_people for im in gt["images"])
        per_image = np.bincount([r["image_id"] for r in results]) if results else np.zeros(1)
        seen["over_20"] += int((per_image > 20).sum())
        scores = [r["score"] for r in results]
        seen["tied_scores"] += len(scores) - len(set(scores))
    assert all(count > 0 for count in seen.values()), seen


def test_ochuman_is_the_coco_protocol():
    gt, results = random_case(np.random.default_rng(7), num_images=6)
    assert evaluate(gt, results, dataset="ochuman").stats == evaluate(gt, results, dataset="coco").stats


def test_sigmas_override_matches_pycocotools():
    gt, results = random_case(np.random.default_rng(8), num_images=6, num_keypoints=5)
    sigmas = [0.05, 0.06, 0.07, 0.08, 0.09]
    np.testing.assert_allclose(stats_array(evaluate(gt, results, sigmas=sigmas)),
                               pycocotools_stats(gt, results, sigmas=sigmas), rtol=0, atol=1e-12)
    assert evaluate(gt, results, sigmas=sigmas).protocol["sigmas"] == sigmas


def test_only_the_top_20_results_of_an_image_count():
    """One person; 24 far-off results outscore... or not: the good one counts only if in the top 20."""
    k = 17
    person = np.c_[np.linspace(100, 200, k), np.linspace(100, 300, k), np.full(k, 2)]
    gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "person"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": person.ravel().tolist(),
                           "num_keypoints": k, "bbox": [100, 100, 100, 200], "area": 15000, "iscrowd": 0}]}
    far = np.c_[person[:, :2] + 400, np.ones(k)].ravel().tolist()
    good = np.c_[person[:, :2], np.ones(k)].ravel().tolist()
    for rank, found in ((19, True), (20, False)):
        results = [{"image_id": 1, "category_id": 1, "keypoints": far, "score": 1.0 - i / 100}
                   for i in range(rank)] + [{"image_id": 1, "category_id": 1, "keypoints": good, "score": 0.5}]
        result = evaluate(gt, results)
        assert (result.stats["AR"] == 1.0) is found
        np.testing.assert_allclose(stats_array(result), pycocotools_stats(gt, results), rtol=0, atol=1e-12)


def test_empty_results_give_zero_where_there_is_gt_and_minus_one_where_not():
    gt, _ = random_case(np.random.default_rng(3), num_images=6)
    result = evaluate(gt, [])
    np.testing.assert_array_equal(stats_array(result), pycocotools_stats(gt, []))
    assert result.stats["AP"] == 0.0 and result.counts["results"] == 0
    no_people = {"images": [{"id": 1}], "annotations": [], "categories": [{"id": 1, "name": "person"}]}
    assert set(evaluate(no_people, []).stats.values()) == {-1.0}


def test_results_of_unknown_categories_are_not_evaluated():
    gt, results = random_case(np.random.default_rng(4), num_images=5)
    stray = [dict(r, category_id=42) for r in results[:10]]
    assert evaluate(gt, results + stray).stats == evaluate(gt, results).stats


def test_crowdpose_drops_results_without_any_keypoint_score():
    gt, results = random_case(np.random.default_rng(5), num_images=6, num_keypoints=14, crowd_index=True)
    unscored = [dict(r, keypoints=(np.array(r["keypoints"]) * np.tile([1, 1, 0], 14)).tolist(), score=2.0)
                for r in results[:5]]
    assert evaluate(gt, results + unscored, dataset="crowdpose").stats == \
        evaluate(gt, results, dataset="crowdpose").stats
    assert evaluate(gt, results + unscored, sigmas=[.05] * 14).stats != evaluate(gt, results, sigmas=[.05] * 14).stats


def test_eval_result_reports_its_protocol():
    gt, results = random_case(np.random.default_rng(6), num_images=3)
    result = evaluate(gt, results)
    assert list(result.stats) == [name for name, *_ in COCO_STATS]
    assert result.protocol["max_dets"] == 20 and result.protocol["recall_points"] == 101
    assert result.protocol["oks_thresholds"][0] == 0.5 and result.protocol["oks_thresholds"][-1] == 0.95
    assert "pycocotools" in result.header() and "maxDets 20" in result.header()
    assert json.loads(json.dumps(result.to_dict()))["stats"] == result.stats
    assert result.precision.shape == (10, 101, 1, 3, 1)


def test_fast_file_reading_equals_plain_json(tmp_path):
    """Keypoint arrays read in bulk from the file give exactly what json.loads gives, however the
    file is laid out; layouts the bulk reader does not expect fall back to plain JSON."""
    gt, results = random_case(np.random.default_rng(9), num_images=6)
    truth = load_ground_truth(gt)
    reference = load_results(results, truth)
    nested = [dict(r, extra={"keypoints": [1, 2]}) for r in results]
    for name, text in {"compact": json.dumps(results), "indented": json.dumps(results, indent=2),
                       "reordered": json.dumps([dict(reversed(list(r.items()))) for r in results]),
                       "nested": json.dumps(nested)}.items():
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        loaded = load_results(path, truth)
        for field in ("image_index", "category_index", "keypoints", "scores", "areas"):
            np.testing.assert_array_equal(getattr(loaded, field), getattr(reference, field), err_msg=name)


def _person(k=17):
    return {"image_id": 1, "category_id": 1, "keypoints": [10.0, 20.0, 1.0] * k, "score": 0.9}


@pytest.mark.parametrize("results, message", [
    ({"image_id": 1}, "must be a JSON list"),
    ([_person(), 3], "entry 1 is a int"),
    ([_person(), {k: v for k, v in _person().items() if k != "score"}], "entry 1 lacks ['score']"),
    ([_person(), dict(_person(), image_id=7), dict(_person(), image_id=8)],
     "2 entries refer to image ids that are not in the GT (first: image_id 7 at entry 1)"),
    ([_person(), dict(_person(), keypoints=[1.0] * 42)], "entry 1 has 42 values in 'keypoints', expected 51"),
    ([dict(_person(), keypoints=[float("nan")] * 51)], "entry 0 has NaN or infinity in 'keypoints'"),
    ([dict(_person(), score=float("inf"))], "entry 0 has NaN or infinity in 'score'"),
    ([dict(_person(), score="high")], "entry 0 has a non-number in 'score'"),
    ([dict(_person(), image_id="1")], "entry 0 has image_id '1'"),
    ([dict(_person(), bbox=[0, 0, 5, 5]), _person()], "entry 0 has a 'bbox', so every entry needs one"),
])
def test_bad_results_raise_one_clear_input_error(results, message):
    gt, _ = random_case(np.random.default_rng(0), num_images=1)
    gt["images"] = [{"id": 1}]
    gt["annotations"] = [dict(a, image_id=1) for a in gt["annotations"]]
    with pytest.raises(InputError) as error:
        evaluate(gt, results)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_bad_files_and_options_raise_clear_errors(tmp_path):
    gt, results = random_case(np.random.default_rng(1), num_images=2)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"image_id": 1,')
    with pytest.raises(InputError, match="is not valid JSON"):
        evaluate(gt, broken)
    with pytest.raises(InputError, match="does not exist"):
        evaluate(tmp_path / "missing.json", results)
    with pytest.raises(ConfigError, match="unknown evaluation dataset 'mpii'"):
        evaluate(gt, results, dataset="mpii")
    with pytest.raises(ConfigError, match="the given sigmas are 3 values but the GT has 17 keypoints"):
        evaluate(gt, results, sigmas=[0.1, 0.1, 0.1])
    with pytest.raises(ConfigError, match="the crowdpose sigmas are 14 values"):
        evaluate(gt, results, dataset="crowdpose")
    with pytest.raises(ConfigError, match="positive numbers"):
        evaluate(gt, results, sigmas=[0.1] * 16 + [-1])
    with pytest.raises(InputError, match="lack 'crowdIndex'"):
        evaluate(gt, results, dataset="crowdpose", sigmas=[0.1] * 17)
    with pytest.raises(InputError, match="needs a 'categories' list"):
        evaluate(dict(gt, categories=[]), results)


def test_protocols_are_data():
    assert set(PROTOCOLS) == {"coco", "crowdpose", "ochuman"}
    crowd = PROTOCOLS["crowdpose"]
    assert crowd.box_area and crowd.drop_unscored and crowd.crowd_split and crowd.unmatched_id == -1
    np.testing.assert_array_equal(crowd.sigmas, np.array([.79, .79, .72, .72, .62, .62, 1.07, 1.07, .87,
                                                          .87, .89, .89, .79, .79]) / 10.0)
