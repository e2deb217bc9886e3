"""``hf_auto`` loads through the base HF upstream's one loader (class attributes say which classes): it refuses
weights that would be random exactly as ``hf_*_custom`` does, and reads the folder's feature extractor."""
import shutil

import pytest
import transformers
from safetensors.torch import load_file, save_file

from s3prl_crosscorpus.superb import upstreams
from test_downstream_hf import save_tiny


def test_hf_auto_refuses_missing_weights_like_the_specific_upstreams(tmp_path):
    folder = save_tiny(tmp_path / "w2v", "hf_wav2vec2_custom")
    weights = load_file(folder / "model.safetensors")
    save_file({k: v for k, v in weights.items() if not k.startswith("encoder.layers.1.")}, folder / "model.safetensors")
    for name in ("hf_auto", "hf_wav2vec2_custom"):
        with pytest.raises(upstreams.UpstreamError, match="weights of Wav2Vec2Model are missing or mismatched"):
            upstreams.build_upstream(name, str(folder))


def test_hf_auto_reads_the_feature_extractor_the_folder_names(tmp_path):
    folder = save_tiny(tmp_path / "w2v", "hf_wav2vec2_custom")
    transformers.Wav2Vec2FeatureExtractor(do_normalize=False).save_pretrained(folder)
    extractor, origin = upstreams.HFAuto.make_extractor(folder)
    assert origin == upstreams.PREPROCESSOR and extractor.do_normalize is False
    shutil.rmtree(folder)
    folder.mkdir()
    assert upstreams.HFAuto.make_extractor(folder)[1] == upstreams.STANDARD_EXTRACTOR
