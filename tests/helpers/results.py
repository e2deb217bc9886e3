"""Result files as the tests read them."""
from pathlib import Path
from typing import List

from s3prl_crosscorpus.results.schema import load_result_files


def load_results(results_dir: Path) -> List[dict]:
    """Every result under ``results_dir``, validated, each with its file in ``"_path"``."""
    return [dict(result, _path=str(path)) for path, result in load_result_files(results_dir)]
