"""Offline data sets: IDX / npz files written here by the format spec, MNIST-1D by its procedure."""

from __future__ import annotations

import gzip
import json
import re
import struct
import warnings

import numpy as np
import pytest
import torch

from graphnet.core.errors import GraphError, GraphFileError
from graphnet.train.data import digits
from graphnet.train.datasets import DATASETS, dataset_info, load_dataset, preprocess, subsample
from graphnet.train.image_files import read_idx
from graphnet.train.mnist1d import PUBLISHED, make_mnist1d, templates

STEMS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def write_idx(path, array):
    """IDX by the spec: magic 0x000008NN (unsigned bytes, NN dims), big-endian uint32 sizes."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    data = struct.pack(">I", 0x0800 | a.ndim) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def tiny_images(seed=0):
    """20 train and 10 test 28x28 images, two per class in training; the border is always 0."""
    rng = np.random.default_rng(seed)
    x_tr = np.zeros((20, 28, 28), np.uint8)
    x_te = np.zeros((10, 28, 28), np.uint8)
    x_tr[:, 1:-1, 1:-1] = rng.integers(0, 256, (20, 26, 26))
    x_te[:, 1:-1, 1:-1] = rng.integers(0, 256, (10, 26, 26))
    x_te[0, 0, 0] = 255  # a pixel constant in training that varies in the test set
    return {"x_train": x_tr, "y_train": np.arange(20) % 10, "x_test": x_te, "y_test": np.arange(10)}


def write_idx_dir(root, arrays, gz=False, stems=STEMS):
    root.mkdir(parents=True, exist_ok=True)
    for key, stem in stems.items():
        write_idx(root / (stem + (".gz" if gz else "")), arrays[key])
    return root


@pytest.fixture(scope="module")
def published():
    return make_mnist1d()


# ---------------------------------------------------------------- image files


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_directory_is_flattened_scaled_and_standardised(tmp_path, gz, name):
    arrays = tiny_images()
    d = load_dataset(name, path=write_idx_dir(tmp_path, arrays, gz=gz))
    assert d.x_train.shape == (20, 784) and d.x_test.shape == (10, 784) and d.num_classes == 10
    assert d.y_train.tolist() == arrays["y_train"].tolist() and d.y_train.dtype == torch.int64
    assert torch.allclose(d.x_train.mean(0), torch.zeros(784), atol=1e-5)
    inner = d.x_train.reshape(20, 28, 28)[:, 1:-1, 1:-1]
    assert torch.allclose(inner.std(0, unbiased=False), torch.ones(26, 26), atol=1e-4)
    # the border is constant in training: left unscaled (divided by 255, not by ~0)
    assert d.x_train.reshape(20, 28, 28)[:, 0].abs().max() == 0
    assert d.x_test[0, 0].item() == pytest.approx(1.0)
    prep = d.preprocessing
    assert prep["kind"] == "standardise" and prep["name"] == name
    assert prep["source"]["format"] == "idx" and prep["source"]["pixel_range"] == 255.0
    assert prep["source"]["image_shape"] == [28, 28]
    assert json.loads(json.dumps(prep)) == prep


def test_transform_reproduces_the_stored_pipeline_on_raw_rows(tmp_path):
    arrays = tiny_images()
    d = load_dataset("mnist", path=write_idx_dir(tmp_path, arrays))
    assert torch.equal(d.transform(arrays["x_train"].reshape(20, -1)), d.x_train)
    reloaded = json.loads(json.dumps(d.preprocessing))  # as stored with a model
    assert torch.equal(preprocess(arrays["x_test"], reloaded), d.x_test)  # images flattened
    with pytest.raises(GraphError, match=r"expects 784 features"):
        preprocess(np.zeros((2, 10)), reloaded)


@pytest.mark.parametrize(
    "keys",
    [
        ("x_train", "y_train", "x_test", "y_test"),
        ("train_images", "train_labels", "test_images", "test_labels"),
    ],
)
def test_npz_matches_idx_and_float_pixels_match_bytes(tmp_path, keys):
    arrays = tiny_images()
    from_idx = load_dataset("mnist", path=write_idx_dir(tmp_path / "idx", arrays))
    np.savez(tmp_path / "mnist.npz", **dict(zip(keys, arrays.values())))
    from_npz = load_dataset("mnist", path=tmp_path / "mnist.npz")
    assert torch.equal(from_npz.x_train, from_idx.x_train)
    assert from_npz.preprocessing["source"]["format"] == "npz"
    scaled = {k: (v / 255.0 if k.startswith("x") else v) for k, v in arrays.items()}
    np.savez_compressed(tmp_path / "float.npz", **dict(zip(keys, scaled.values())))
    from_float = load_dataset("mnist", path=str(tmp_path / "float.npz"))
    assert from_float.preprocessing["source"]["pixel_range"] == 1.0
    assert torch.allclose(from_float.x_test, from_idx.x_test, atol=1e-4)


@pytest.mark.parametrize("layout", ["raw", "FashionMNIST/raw", "dotted"])
def test_idx_files_are_found_in_common_layouts(tmp_path, layout):
    arrays = tiny_images()
    if layout == "dotted":  # train-images.idx3-ubyte, as some mirrors name them
        write_idx_dir(
            tmp_path, arrays, stems={k: s.replace("-idx", ".idx") for k, s in STEMS.items()}
        )
    else:
        write_idx_dir(tmp_path / layout, arrays, gz=True)
    assert load_dataset("fashion-mnist", path=tmp_path).x_train.shape == (20, 784)


def test_read_idx_round_trips_the_spec(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert read_idx(write_idx(tmp_path / "a.gz", a), 0x00000803).tolist() == a.tolist()
    assert read_idx(write_idx(tmp_path / "b", a[0, 0])).tolist() == [0, 1, 2, 3]


def _break(tmp_path, how):
    """A directory of tiny IDX files with one defect; returns (path, pattern of the error)."""
    root = write_idx_dir(tmp_path, tiny_images())
    images, labels = root / STEMS["x_train"], root / STEMS["y_train"]
    esc = re.escape
    if how == "missing":
        (root / STEMS["y_test"]).unlink()
        return root, esc(
            f"{root}: t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz) not found; nothing is downloaded"
        )
    if how == "magic":
        images.write_bytes(labels.read_bytes())
        return root, esc(f"{images}: bad IDX magic number, expected 0x00000803, got 0x00000801")
    if how == "short":
        images.write_bytes(images.read_bytes()[:-5])
        return root, esc(
            f"{images}: IDX payload has 15675 bytes, the header's shape (20, 28, 28) needs 15680"
        )
    if how == "empty":
        labels.write_bytes(b"")
        return root, esc(f"{labels}: bad IDX magic number, expected 0x00000801, got a file shorter")
    if how == "bad-gz":
        (root / STEMS["x_test"]).rename(root / (STEMS["x_test"] + ".gz"))  # not gzip inside
        return root, esc(f"{root / STEMS['x_test']}.gz: cannot read the file")
    if how == "count":
        write_idx(labels, np.arange(19) % 10)
        return root, esc(f"{images}: 20 train images but {labels.name} has 19 labels")
    if how == "label-range":
        write_idx(labels, np.full(20, 12))
        return root, esc(f"{labels}: labels must lie in 0..9, got 12..12")
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how", ["missing", "magic", "short", "empty", "bad-gz", "count", "label-range"]
)
def test_broken_idx_files_are_named_in_the_error(tmp_path, how):
    root, pattern = _break(tmp_path, how)
    with pytest.raises(GraphFileError, match=pattern):
        load_dataset("mnist", path=root)


def test_absent_paths_and_bad_npz_files_are_refused_without_download(tmp_path):
    with pytest.raises(
        GraphFileError, match=r"mnist is read from files.*pass path=.*nothing is downloaded"
    ):
        load_dataset("mnist")
    gone = tmp_path / "nowhere"
    with pytest.raises(
        GraphFileError, match=re.escape(f"{gone}: not found; nothing is downloaded")
    ):
        load_dataset("fashion-mnist", path=gone)
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(GraphFileError, match=r"junk\.npz: cannot read the \.npz file"):
        load_dataset("mnist", path=tmp_path / "junk.npz")
    np.savez(tmp_path / "keys.npz", images=np.zeros((2, 4)))
    with pytest.raises(
        GraphFileError, match=r"keys\.npz: the \.npz needs arrays x_train.*found images"
    ):
        load_dataset("mnist", path=tmp_path / "keys.npz")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(
        GraphFileError, match=r"notes\.txt: expected a directory of IDX files or an \.npz"
    ):
        load_dataset("mnist", path=tmp_path / "notes.txt")


# ---------------------------------------------------------------- registry, splits, subsets


def test_dataset_info_covers_every_name_and_matches_what_loads():
    assert DATASETS == ("digits", "mnist1d", "mnist", "fashion-mnist")
    for name in DATASETS:
        info = dataset_info(name)
        assert info["name"] == name and info["classes"] == 10
    for name in ("digits", "mnist1d"):
        d = load_dataset(name)
        assert (d.num_features, d.num_classes) == tuple(dataset_info(name).values())[1:3]
    assert dataset_info("Fashion_MNIST")["features"] == 784
    with pytest.raises(GraphError, match=r"unknown data set 'cifar'; known: digits, mnist1d"):
        dataset_info("cifar")


def test_digits_are_delegated_and_record_their_source():
    d = load_dataset("digits", seed=3, test_fraction=0.2)
    ref = digits(test_fraction=0.2, seed=3)
    assert torch.equal(d.x_train, ref.x_train) and torch.equal(d.y_test, ref.y_test)
    assert d.preprocessing["name"] == "digits"
    assert d.preprocessing["source"] == {
        "kind": "embedded",
        "package": "scikit-learn",
        "test_fraction": 0.2,
        "seed": 3,
    }
    with pytest.raises(GraphError, match=r"digits is embedded, not read from files"):
        load_dataset("digits", path="x.npz")
    with pytest.raises(GraphError, match=r"test_fraction must lie in \(0, 1\), got 1.5"):
        load_dataset("mnist1d", test_fraction=1.5)


def test_mnist1d_dataset_keeps_the_published_split_unless_asked(published):
    d = load_dataset("mnist1d")
    assert torch.equal(d.y_train, torch.from_numpy(published["y"]))
    assert torch.equal(d.transform(published["x_test"]), d.x_test)
    assert torch.allclose(d.x_train.mean(0), torch.zeros(40), atol=1e-5)
    assert d.preprocessing["source"]["params"] == PUBLISHED
    a = load_dataset("mnist1d", test_fraction=0.5, seed=1)
    b = load_dataset("mnist1d", test_fraction=0.5, seed=2)
    assert a.x_train.shape == (2500, 40) and torch.bincount(a.y_test).tolist() == [250] * 10
    assert not torch.equal(a.y_train, b.y_train)
    assert torch.equal(a.x_train, load_dataset("mnist1d", test_fraction=0.5, seed=1).x_train)


def test_subsample_is_class_balanced_seeded_and_leaves_the_input_alone():
    d = digits()
    before = d.x_train.clone()
    s = subsample(d, 33, seed=4)
    assert s.x_train.shape == (33, 64) and torch.equal(s.x_test, d.x_test)
    counts = torch.bincount(s.y_train, minlength=10)
    assert counts.sum() == 33 and counts.max() - counts.min() <= 1
    assert torch.equal(s.x_train, subsample(d, 33, seed=4).x_train)
    assert not torch.equal(s.x_train, subsample(d, 33, seed=5).x_train)
    assert torch.equal(d.x_train, before) and "train_subset" not in d.preprocessing.get(
        "source", {}
    )
    assert s.preprocessing["source"]["train_subset"] == {"n": 33, "seed": 4}
    assert torch.equal(
        load_dataset("mnist1d", samples=200).y_train.bincount(), torch.full((10,), 20)
    )
    with pytest.raises(GraphError, match=r"n must lie in 1..1347 \(the training rows\), got 0"):
        subsample(d, 0)


# ---------------------------------------------------------------- MNIST-1D generator


def test_mnist1d_shapes_and_exact_class_balance(published):
    assert published["x"].shape == (4000, 40) and published["x_test"].shape == (1000, 40)
    y = np.concatenate([published["y"], published["y_test"]])
    assert np.bincount(y).tolist() == [500] * 10  # num_samples // 10 per class, as published
    assert np.bincount(published["y"], minlength=10).min() > 350  # the shuffle mixes classes
    x = np.concatenate([published["x"], published["x_test"]])
    assert abs(x.mean()) < 1e-9 and abs(x.std() - 1) < 1e-9
    t = templates()
    assert t.shape == (10, 12) and np.allclose(t[:, 0], 0) and np.allclose(t[:, -1], 0)


def test_mnist1d_is_deterministic_by_seed(published):
    again = make_mnist1d()
    assert all(np.array_equal(again[k], published[k]) for k in published)
    other = make_mnist1d(seed=7, num_samples=500)
    assert other["x"].shape == (400, 40)
    assert not np.allclose(other["x"], published["x"][:400])
    shuffled = make_mnist1d(seed=7, num_samples=500, shuffle_seq=True)
    assert np.array_equal(shuffled["y"], other["y"])
    assert not np.allclose(shuffled["x"], other["x"])
    with pytest.raises(GraphError, match=r"num_samples must be at least 10"):
        make_mnist1d(num_samples=9)
    with pytest.raises(GraphError, match=r"padding must satisfy 0 <= low <= high, got \(5, 2\)"):
        make_mnist1d(padding=(5, 2))


def test_mnist1d_classes_are_learnable(published):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier((100,), max_iter=60, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(published["x"], published["y"])
    assert clf.score(published["x_test"], published["y_test"]) > 0.4  # chance is 0.1


def test_mnist1d_matches_the_reference_package():
    ref = pytest.importorskip("mnist1d.data")
    args = ref.get_dataset_args()
    assert {k: getattr(args, k) for k in PUBLISHED} == PUBLISHED
    state = np.random.get_state()  # the package seeds numpy's global generator
    try:
        args.num_samples, args.seed = 600, 3
        theirs = ref.make_dataset(args)
    finally:
        np.random.set_state(state)
    ours = make_mnist1d(num_samples=600, seed=3)
    assert ours["x"].shape == theirs["x"].shape == (480, 40)
    assert np.array_equal(ours["y"], theirs["y"]) and np.array_equal(
        ours["y_test"], theirs["y_test"]
    )
    assert np.allclose(ours["x"], theirs["x"], atol=1e-9)
    assert np.allclose(ours["x_test"], theirs["x_test"], atol=1e-9)
