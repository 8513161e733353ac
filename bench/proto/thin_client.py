"""Prototype: ``triage filter --connect ADDR`` without importing the model stack.

    .venv/bin/python bench/proto/thin_client.py unix:/path/to.sock < message.eml

``import classifier`` runs classifier/__init__.py, which imports .triage -> .model -> scikit-learn,
SciPy and NumPy: about 1-4 s before a byte is sent, for a client that only needs socket and json.
mailfilter.py imports nothing heavy at the top, so this script registers an empty ``classifier``
package (no __init__ run) and calls the same ``run_filter``. If the daemon is down, the filter's
own fallback still scores locally (it imports .triage lazily). The package change it stands for:
make classifier/__init__.py lazy (PEP 562 ``__getattr__``) and keep cli.py's imports lazy.
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
