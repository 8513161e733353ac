"""A lower bound for ``triage filter --connect ADDR``: the client alone, without the ``triage`` CLI.

    .venv/bin/python bench/proto/thin_client.py unix:/path/to.sock < message.eml

This prototype led to the lazy classifier/__init__.py (PEP 562) and cli.py: ``triage filter --connect``
itself no longer imports scikit-learn, SciPy, NumPy or spaCy when the daemon is up
(tests/test_mailfilter.py checks it). It stays as the floor bench/filter_bench.py compares that
command with: it skips the package's __init__ and the argument parser (with the ledger commands'
imports), the only difference left. If the daemon is down, the filter's own fallback scores locally.
"""

from __future__ import annotations

import importlib.util
import sys
import types

# Where ``import classifier`` would come from (PYTHONPATH, the editable install...), found without
# running its __init__.
spec = importlib.util.find_spec("classifier")
package = types.ModuleType("classifier")
package.__path__ = list(spec.submodule_search_locations)
sys.modules["classifier"] = package

from classifier import mailfilter  # noqa: E402


def main() -> int:
    options = mailfilter.FilterOptions(connect=sys.argv[1])
    return mailfilter.run_filter(mailfilter.read_stdin(sys.stdin.buffer), options, sys.stdout.buffer, sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
