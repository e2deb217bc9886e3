"""``s3prl-crosscorpus run-downstream ARGS...``: s3prl's own ``run_downstream.py`` with ``crosscorpus_emotion``.

The arguments are exactly s3prl's (``-m``, ``-u``, ``-k``, ``-d``, ``-c``, ``-o``, ``-p``, ``-e``, ``-t``,
``--seed``, ``--device``, ``--backend``...); ``-h`` prints s3prl's help. DDP runs start with
``torchrun --nproc_per_node=N -m s3prl_crosscorpus run-downstream ...``;
``python -m s3prl_crosscorpus.commands.run_downstream`` is the same command.
"""
import sys
from typing import List, Optional

PROG = "s3prl-crosscorpus run-downstream"


def main(argv: Optional[List[str]] = None) -> int:
    """Run s3prl's ``run_downstream`` main with ``argv``; 2 on a configuration error."""
    from ..cache.format import CacheError
    from ..superb.dataset import ConfigError
    from ..superb.runner import run
    from ..superb.upstreams import UpstreamError

    try:
        run(sys.argv[1:] if argv is None else argv, prog=PROG)
    except (ConfigError, CacheError, UpstreamError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
