"""s3prl-crosscorpus: cross-corpus speech emotion recognition on s3prl + openSMILE."""
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name="s3prl-crosscorpus",
    version=(HERE / "s3prl_crosscorpus" / "VERSION").read_text().strip(),
    description="Cross-corpus speech emotion recognition (EmoDB, RAVDESS, IEMOCAP) "
    "with an s3prl downstream and an openSMILE + SVM baseline",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["s3prl_crosscorpus*", "baseline_svm*"]),
    package_data={"s3prl_crosscorpus": ["VERSION", "*/*.json", "*/*.md", "report/templates/*.j2"], "baseline_svm": ["*.md"]},
    # The YAML configs live at the top level for s3prl's -c; installs get a copy under <prefix>/share.
    data_files=[("share/s3prl-crosscorpus/downstream_configs",
                 sorted(glob("downstream_configs/*.yaml")))],
    # Every torch requirement must be satisfiable by the CPU build torch==2.13.0.
    install_requires=[
        "torch>=2.1",
        "torchaudio>=2.1",
        "s3prl==0.4.18",
        "opensmile>=2.5",
        "scikit-learn>=1.3",
        "skops>=0.10",  # SVM model files that load without running code (skops.io, trusted types only)
        "numpy>=1.24",
        "scipy>=1.10",
        "soundfile>=0.12",
        "tensorboardX>=2.6",
        "tqdm>=4.60",
        "PyYAML>=6.0",
        "matplotlib>=3.7",
        "jsonschema>=4.0",
        "jinja2>=3.0",  # the HTML report's template
        "audformat>=1.0",  # prepare --audformat (audb-published corpora)
        "transformers>=5.0",  # Hugging Face upstreams (HuBERT, wav2vec2, WavLM, data2vec)
        "audiomentations>=0.43",  # --augment pitch (PitchShift); docs/augmentation.md
        "pyroomacoustics>=0.10",  # --augment reverb: simulated room impulse responses
    ],
    # test: the suite (hypothesis: property tests; mkdocs: tests/test_docs.py builds docs/).
    # mutation: mutation testing (setup.cfg [mutmut], docs/development.md); not needed to run the suite.
    extras_require={"test": ["pytest>=7", "hypothesis>=6.100", "mkdocs>=1.6"],
                    "mutation": ["pytest>=7", "hypothesis>=6.100", "mutmut>=3.3,<4"]},
    entry_points={
        "console_scripts": [
            "s3prl-crosscorpus=s3prl_crosscorpus.commands.main:main",
            "baseline-svm=baseline_svm.cli:main",
        ]
    },
)
