"""Shared hypothesis settings of the property tests (tests/test_properties_*.py): fast, and no files written."""
from hypothesis import HealthCheck, Phase

#: ``settings(max_examples=N, **QUICK)``: no deadline (shared CI cores), no example database in the checkout,
#: and no "explain" phase (it re-runs a failing example hundreds of times to annotate it).
QUICK = dict(deadline=None, database=None, phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
             suppress_health_check=(HealthCheck.too_slow,))
