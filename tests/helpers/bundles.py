"""Submission bundles taken apart and packed again with an edit (the validator's tests break them on purpose)."""
import json
import zipfile
from pathlib import Path
from typing import Callable, Dict

from s3prl_crosscorpus.submission.format import BUNDLE_INDEX, sha256_bytes

#: (members by name, bundle.json) -> None: changes them in place
Edit = Callable[[Dict[str, bytes], dict], None]


def members_of(path: Path) -> Dict[str, bytes]:
    """name -> bytes of every member of a zip."""
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def repack(good: Path, tmp_path: Path, edit: Edit, rehash: bool = True) -> Path:
    """A copy of ``good`` changed by ``edit(members, meta)``; with ``rehash`` bundle.json's hashes follow the edit."""
    members = members_of(good)
    meta = json.loads(members.pop(BUNDLE_INDEX))
    edit(members, meta)
    if rehash:
        meta["files"] = {name: sha256_bytes(data) for name, data in sorted(members.items())}
    out = tmp_path / "edited.zip"
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(BUNDLE_INDEX, json.dumps(meta))
        for name, data in members.items():
            zf.writestr(name, data)
    return out
