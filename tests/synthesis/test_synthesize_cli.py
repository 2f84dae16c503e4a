"""``keras-hdl synthesize``: written twin, assess on its output, de-identification, and bad input."""

from __future__ import annotations

import socket
import sys

import numpy as np
import pydicom
import pytest
from click.testing import CliRunner
from twin_helpers import BATCH_ATOL_RAW_PHASE

from keras_hdl import runtime
from keras_hdl.cli import main
from keras_hdl.errors import InputError
from keras_hdl.series import Series


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def full_npz(phantom_series, tmp_path_factory):
    return phantom_series.save_npz(tmp_path_factory.mktemp("input") / "full.npz")


def test_synthesize_writes_a_twin_that_assess_reads(full_npz, tiny_models_dir, local_models, tmp_path):
    out = tmp_path / "twin"
    result = run("synthesize", full_npz, "--downsample", 3, "--out", out, "--model", tiny_models_dir, "--seed", 4)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["seg.dcm", "series.dcm", "twin.npz"]
    assert "50 frames, 2 slices" in result.output
    stated = [line[line.index("networks: ") :] for line in result.output.splitlines() if "networks: " in line]
    assert len(stated) == 1 and stated[0].startswith(("networks: Keras fp32", "networks: TFLite fp32"))
    if len(runtime.backend_candidates("auto", "fp32")) > 1:  # a CPU with ai-edge-litert: timed, and it says so
        assert "(--backend auto: the fastest here, " in stated[0]

    twin = Series.load_npz(out / "twin.npz")
    source = Series.load_npz(full_npz)
    kept = np.arange(0, 50, 4)
    np.testing.assert_array_equal(twin.magnitude[kept], source.magnitude[kept])
    assert twin.provenance["k"] == 3 and twin.provenance["seed"] == 4
    assert twin.provenance["model_version"] == local_models.version

    ds = pydicom.dcmread(out / "series.dcm", stop_before_pixels=True)
    assert ds.SeriesDescription == f"SYNTHETIC HDL K=3 model {local_models.version}"
    assert ds.ImageType[0] == "DERIVED" and ds.PatientIdentityRemoved == "YES"

    assessed = run("assess", out / "series.dcm", "--out", tmp_path / "assessment")
    assert assessed.exit_code == 0, assessed.output
    assert "radial" in assessed.output and (tmp_path / "assessment" / "markers.csv").is_file()
    # the DICOM twin reads back as the .npz twin (phase quantised to integers by the writer)
    from keras_hdl.readers import read_series

    read_back = read_series(out / "series.dcm")
    np.testing.assert_array_equal(read_back.masks, twin.masks)
    np.testing.assert_allclose(read_back.phase, np.round(twin.phase), atol=1)


def test_input_without_masks_is_segmented_automatically(phantom_series, tiny_models_dir, tmp_path):
    from keras_hdl.segmentation import METHOD

    bare = phantom_series.replace(masks=None).save_npz(tmp_path / "bare.npz")
    out = tmp_path / "twin"
    result = run("synthesize", bare, "--downsample", 3, "--out", out, "--model", tiny_models_dir, "--no-progress")
    assert result.exit_code == 0, result.output
    assert f"bare.npz has no myocardium masks: segmented automatically ({METHOD}" in result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["input_masks.npz", "input_segmentation.png", "seg.dcm", "series.dcm", "twin.npz"]
    automatic = np.load(out / "input_masks.npz")["masks"]
    overlap = (automatic & phantom_series.masks).sum() / phantom_series.masks.sum()
    assert overlap >= 0.85  # masks of the full input, not only its kept frames
    twin = Series.load_npz(out / "twin.npz")
    np.testing.assert_array_equal(twin.masks[::4], automatic[::4])  # kept frames carry the automatic masks


def test_low_frame_rate_npz_input(phantom_series, tiny_models_dir, tmp_path):
    """The documented convention: INPUT holds only the kept frames; --k and --frames give the cycle."""
    from keras_hdl.synthesis import downsample

    low = downsample(phantom_series, 6).save_npz(tmp_path / "low.npz")  # 8 kept frames
    out = tmp_path / "twin"
    args = ("synthesize", low, "--k", 6, "--frames", 50, "--out", out, "--model", tiny_models_dir, "--no-progress")
    result = run(*args)
    assert result.exit_code == 0, result.output
    twin = Series.load_npz(out / "twin.npz")
    assert twin.num_frames == 50
    np.testing.assert_array_equal(twin.magnitude[::7], phantom_series.magnitude[::7])
    without_frames = run("synthesize", low, "--k", 6, "--out", tmp_path / "twin56", "--model", tiny_models_dir)
    assert without_frames.exit_code == 0 and Series.load_npz(tmp_path / "twin56" / "twin.npz").num_frames == 56


def test_help_states_the_input_convention():
    result = run("synthesize", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "ONLY the kept frames 0, K+1, 2(K+1)" in text and "--downsample" in text and "--server" in text


def test_twin_carries_no_identity_of_its_source(phantom_series, tiny_models_dir, tmp_path):
    """A DICOM source with a patient's name, ID, institution and UIDs yields a twin with none of them."""
    from keras_hdl.dicom import write_dicom_scan

    scan = write_dicom_scan(phantom_series, tmp_path / "source")
    ds = pydicom.dcmread(scan / "series.dcm")
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "MRN-4711-XY"
    ds.PatientBirthDate = "19600101"
    ds.InstitutionName = "St Elsewhere Hospital"
    ds.AccessionNumber = "ACC-99887"
    ds.save_as(scan / "series.dcm")
    identifying = [b"Doe^Jane", b"MRN-4711-XY", b"19600101", b"St Elsewhere", b"ACC-99887"]
    identifying += [str(uid).encode() for uid in (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)]

    out = tmp_path / "twin"
    result = run("synthesize", scan / "series.dcm", "--downsample", 2, "--out", out, "--model", tiny_models_dir)
    assert result.exit_code == 0, result.output
    for name in ("series.dcm", "seg.dcm", "twin.npz"):
        data = (out / name).read_bytes()
        assert not [value for value in identifying if value in data], name
    twin_ds = pydicom.dcmread(out / "series.dcm", stop_before_pixels=True)
    assert str(twin_ds.PatientName) == "SYNTHETIC^TWIN"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("k_out_of_range", "K = 9 is out of range"),
        ("k_and_downsample_disagree", "--k 2 and --downsample 3 disagree"),
        ("no_k", "give --k K"),
        ("masks_missing", "masks missing for 1 kept frame"),
        ("no_masks_no_lv", "no myocardium masks found, and automatic segmentation failed: slice 1: no left ventricle"),
        ("not_a_models_folder", "not a keras-hdl models folder"),
        ("swapped_networks", "holds a PhaseGenerator, not an interpolation network"),
        ("unreachable_server", "cannot reach TensorFlow Serving at http://127.0.0.1:"),
        ("bad_server_url", "expected an http:// or https:// URL"),
        ("model_and_server", "either --model MODELS_DIR or --server URL"),
        ("backend_and_server", "--backend applies to local models"),
        ("tflite_bf16", "--backend tflite computes in fp32 only"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(case, message, phantom_series, full_npz, tiny_models_dir, tmp_path):
    import shutil

    source, models, extra = full_npz, tiny_models_dir, ["--downsample", 3]
    if case == "k_out_of_range":
        extra = ["--k", 9]
    elif case == "k_and_downsample_disagree":
        extra = ["--k", 2, "--downsample", 3]
    elif case == "no_k":
        extra = []
    elif case == "masks_missing":
        masks = phantom_series.masks.copy()
        masks[8, 1] = False  # frame 8 is kept with K = 3
        source = phantom_series.replace(masks=masks).save_npz(tmp_path / "in.npz")
    elif case == "no_masks_no_lv":
        frozen = phantom_series.magnitude.copy()
        frozen[:, 1] = frozen[:1, 1]  # no masks, and a slice whose LV does not beat
        source = phantom_series.replace(magnitude=frozen, masks=None).save_npz(tmp_path / "in.npz")
    elif case == "not_a_models_folder":
        models = tmp_path / "empty"
        models.mkdir()
    elif case == "swapped_networks":
        models = tmp_path / "swapped"
        shutil.copytree(tiny_models_dir, models)
        (models / "interpolator.keras").write_bytes((tiny_models_dir / "phase.keras").read_bytes())
    elif case == "unreachable_server":
        extra += ["--server", f"http://127.0.0.1:{closed_port()}"]
    elif case == "bad_server_url":
        extra += ["--server", "localhost:8501"]
    elif case == "model_and_server":
        extra += ["--server", "http://127.0.0.1:1"]
    elif case == "backend_and_server":
        extra += ["--server", "http://127.0.0.1:1", "--backend", "keras"]
    elif case == "tflite_bf16":
        extra += ["--backend", "tflite", "--precision", "bf16"]
    model_args = [] if "server" in case and case != "model_and_server" else ["--model", models]
    model_args = [] if case == "backend_and_server" else model_args
    out = tmp_path / "twin"
    result = run("synthesize", source, *extra, "--out", out, *model_args, "--no-progress")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".twin")]  # no partial folder left


def test_out_dir_with_other_files_is_refused(full_npz, tiny_models_dir, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = run("synthesize", full_npz, "--downsample", 3, "--out", out, "--model", tiny_models_dir)
    assert result.exit_code == 2 and "holds other files (notes.txt)" in result.output
    assert (out / "notes.txt").read_text() == "keep me"


def test_default_models_are_the_shipped_weights_or_a_clear_error(tmp_path, monkeypatch):
    from keras_hdl.synthesis import networks

    monkeypatch.setattr(networks, "SHIPPED_MODELS", tmp_path / "weights")
    with pytest.raises(InputError, match="no shipped weights in this installation"):
        networks.resolve_models_folder()
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "model_info.json").write_text("{}")
    assert networks.resolve_models_folder() == tmp_path / "weights"
    assert networks.resolve_models_folder(run=tmp_path / "run") == tmp_path / "run" / "models"


def test_precision_bf16_is_recorded_and_close_to_fp32(full_npz, tiny_models_dir, tmp_path):
    """--precision bf16 runs the local networks in bf16: kept frames unchanged, phase near the fp32 one."""
    twins = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / precision
        common = ("--downsample", 3, "--out", out, "--model", tiny_models_dir, "--no-progress")
        result = run("synthesize", full_npz, *common, "--precision", precision)
        assert result.exit_code == 0, result.output
        twins[precision] = Series.load_npz(out / "twin.npz")
    fp32, bf16 = twins["fp32"], twins["bf16"]
    np.testing.assert_array_equal(bf16.magnitude[::4], fp32.magnitude[::4])  # kept frames are the input's
    difference = np.abs(bf16.phase.astype(np.float64) - fp32.phase)  # raw phase, 2048 = one venc
    assert difference.max() > 0  # the phase came from bf16 networks
    # untrained tiny networks; the shipped weights' tolerance is tested in test_inference_precision.py
    assert np.percentile(difference, 99) <= 0.02 * 2048 and difference.max() <= 0.1 * 2048

    refused = run(
        "synthesize",
        full_npz,
        "--downsample",
        3,
        "--out",
        tmp_path / "x",
        "--server",
        "http://localhost:1",
        "--precision",
        "bf16",
    )
    assert refused.exit_code == 2 and "--precision applies to local models" in refused.output
    assert not (tmp_path / "x").exists()


def test_backend_option_runs_the_named_back_end(full_npz, tiny_models_dir, tmp_path):
    """--backend keras, xla, tflite and auto: stated in the output; their twins within float32 reordering of
    TFLite's."""
    twins, statements = {}, {}
    for backend in ("tflite", "keras", "xla", "auto"):
        out = tmp_path / backend
        common = ("--downsample", 3, "--out", out, "--model", tiny_models_dir, "--no-progress")
        result = run("synthesize", full_npz, *common, "--backend", backend)
        assert result.exit_code == 0, result.output
        statements[backend] = [line for line in result.output.splitlines() if line.startswith("networks: ")]
        twins[backend] = Series.load_npz(out / "twin.npz")
    assert statements["tflite"] == [f"networks: TFLite fp32 (ai-edge-litert {runtime.litert_version()})"]
    assert statements["keras"] == ["networks: Keras fp32"]
    assert statements["xla"] == ["networks: XLA-compiled Keras fp32"]
    assert len(statements["auto"]) == 1
    assert statements["auto"][0].startswith((statements["keras"][0], statements["tflite"][0]))
    # raw phase units (of 4096). A pixel whose interpolated magnitude lies within rounding of the foreground
    # threshold may switch between generator and background noise (and a mask probability near 0.5 flip):
    # at most 1e-4 of the pixels, as bf16 and TF Serving are allowed
    for backend in ("keras", "xla", "auto"):
        assert (np.abs(twins[backend].phase - twins["tflite"].phase) > BATCH_ATOL_RAW_PHASE).mean() <= 1e-4
        assert (twins[backend].masks != twins["tflite"].masks).mean() <= 1e-4


def test_without_litert_auto_runs_keras_and_tflite_names_the_fix(full_npz, tiny_models_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # ai-edge-litert not installed
    common = ("--downsample", 3, "--model", tiny_models_dir, "--no-progress")
    result = run("synthesize", full_npz, *common, "--out", tmp_path / "auto")
    assert result.exit_code == 0, result.output
    assert "networks: Keras fp32" in result.output.splitlines()

    refused = run("synthesize", full_npz, *common, "--out", tmp_path / "tflite", "--backend", "tflite")
    assert refused.exit_code == 2
    assert refused.output.strip().splitlines() == [
        "Error: --backend tflite needs ai-edge-litert, which is not installed: pip install keras-hdl[tflite]"
    ]
    assert not (tmp_path / "tflite").exists()


def test_a_scan_seen_from_the_apex_is_said_and_its_twin_keeps_its_geometry(phantom_series, tiny_models_dir, tmp_path):
    from keras_hdl.viewing import mirror_columns

    from_apex = mirror_columns(phantom_series).save_npz(tmp_path / "from_apex.npz")
    outputs = {}
    for name, path in (("apex", from_apex), ("base", phantom_series.save_npz(tmp_path / "from_base.npz"))):
        outputs[name] = tmp_path / name
        result = run("synthesize", path, "--downsample", 3, "--out", outputs[name], "--model", tiny_models_dir)
        assert result.exit_code == 0, result.output
        assert ("INPUT is seen from the apex" in result.output) == (name == "apex")
    twin = Series.load_npz(outputs["apex"] / "twin.npz")
    assert twin.image_orientation == Series.load_npz(from_apex).image_orientation
    np.testing.assert_array_equal(twin.masks, mirror_columns(Series.load_npz(outputs["base"] / "twin.npz")).masks)
